"""Speculation stops at SPECULATE_MAX_UTTERANCE_MS: an utterance longer than that is cut at the full pause only,
published once, with nothing withdrawn; shorter ones are still offered at the first short pause."""

from __future__ import annotations

from functools import partial

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import SpeechSegmentPayload
from babelstream.contracts.topics import SPEECH_SEGMENT
from tests.support.gateway_cases import CODEC
from tests.support.harness import frames_of, running_gateway, stream
from tests.support.speech import silence, synthesize

START = {"event": "start", "language": "en", "targets": [], "wait_for_results": False}


async def published_segments(bus: MemoryBus, reader) -> list[SpeechSegmentPayload]:
    segments = []
    while (message := await reader.next(timeout_seconds=0.2)) is not None:
        segments.append(SingleObjectCodec().decode(message.value).payload)
    return segments


async def test_an_utterance_longer_than_the_bound_is_not_speculated_and_a_short_one_is():
    sentence = synthesize("The house is big and the garden is green.")  # about 2.5 s
    talk = frames_of(silence(300) + sentence + silence(800))
    bus = MemoryBus()
    reader = await bus.subscribe([SPEECH_SEGMENT], "test-reader")
    async with running_gateway(bus, CODEC, speculate_max_utterance_ms=4000) as (gateway, address):
        speculations = partial(gateway.metrics.registry.get_sample_value, "babelstream_gateway_speculations_total")
        short = await stream(address, talk, start=START)
        assert short.close_code == 1000 and len(short.of_type("segment")) == 1
        assert speculations({"outcome": "committed"}) == 1 and speculations({"outcome": "skipped_long"}) is None
        withdrawn = speculations({"outcome": "withdrawn"}) or 0
        assert len(await published_segments(bus, reader)) == 1 + withdrawn  # each speculation was published
    async with running_gateway(bus, CODEC, speculate_max_utterance_ms=1000) as (gateway, address):
        speculations = partial(gateway.metrics.registry.get_sample_value, "babelstream_gateway_speculations_total")
        long = await stream(address, talk, start=START)
        assert long.close_code == 1000 and len(long.of_type("segment")) == 1
        assert speculations({"outcome": "skipped_long"}) >= 1
        assert speculations({"outcome": "committed"}) is None and speculations({"outcome": "withdrawn"}) is None
        # Published once, at the full pause: the whole sentence, nothing withdrawn to drop.
        segments = await published_segments(bus, reader)
        assert len(segments) == 1 and segments[0].end_ms - segments[0].start_ms >= 2000
