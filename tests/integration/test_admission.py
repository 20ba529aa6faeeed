"""Admission from what is measured, on the real gateway: a new speaker is refused at once while the ASR stage is
behind, the speakers already in are not touched, and speakers are admitted again once the backlog clears."""

from __future__ import annotations

import asyncio
import time
from functools import partial

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.topics import SPEECH_SEGMENT
from babelstream.gateway.pipeline_load import ASR_GROUP
from tests.support.gateway_cases import CODEC
from tests.support.harness import HOLD, frames_of, running_gateway, stream
from tests.support.speech import silence, synthesize


async def test_a_new_speaker_is_refused_at_once_while_the_asr_backlog_is_over_its_bound():
    bus = MemoryBus()
    asr = await bus.subscribe([SPEECH_SEGMENT], ASR_GROUP)  # the ASR stage's group, doing nothing
    async with running_gateway(bus, CODEC, admission_max_asr_backlog=3, max_connections=5) as (gateway, address):
        first = None
        for index in range(6):  # six segments the "stage" never gets to
            await bus.publish(SPEECH_SEGMENT, f"k{index}".encode(), b"segment")
            if first is None:
                first = await asr.next(0.1)
                await asr.commit(first)  # it committed once: its backlog is measurable
        await asyncio.sleep(1.3)  # the gateway reads the backlog every second
        assert gateway.load.asr_backlog == 5
        started = time.perf_counter()
        refused = await stream(address, frames_of(silence(200)))
        took = time.perf_counter() - started
        [error] = refused.of_type("error")
        assert refused.close_code == 1013 and error["kind"] == "overloaded" and error["retry_after_ms"] == 5000
        assert "5 utterances are waiting for speech recognition" in error["reason"]
        assert took < 0.5  # refused from what is already measured: no wait
        assert gateway.slots.in_use == 0
        # The stage catches up: speakers are admitted again.
        while (message := await asr.next(0.1)) is not None:
            await asr.commit(message)
        await asyncio.sleep(1.3)
        admitted = await stream(address, frames_of(silence(200)))
        assert admitted.close_code == 1000


async def test_a_speaker_admitted_before_the_backlog_grew_streams_on():
    bus = MemoryBus()
    asr = await bus.subscribe([SPEECH_SEGMENT], ASR_GROUP)
    async with running_gateway(bus, CODEC, admission_max_asr_backlog=1, idle_timeout_seconds=2) as (gateway, address):
        holding = asyncio.create_task(stream(address, [*frames_of(silence(400)), HOLD], pace_seconds=0.02,
                                             timeout=10))
        await asyncio.sleep(0.3)
        for index in range(4):
            await bus.publish(SPEECH_SEGMENT, f"k{index}".encode(), b"segment")
            if index == 0:
                await asr.commit(await asr.next(0.1))
        await asyncio.sleep(1.3)
        assert (await stream(address, frames_of(silence(200)))).close_code == 1013
        held = await holding  # ends at the idle limit, not refused
        assert held.close_code == 1001 and held.of_type("error")[0]["kind"] == "idle"


async def test_sessions_do_not_speculate_while_the_asr_stage_is_behind():
    bus = MemoryBus()
    asr = await bus.subscribe([SPEECH_SEGMENT], ASR_GROUP)  # the ASR stage's group, doing nothing
    talk = frames_of(silence(300) + synthesize("The house is big and the garden is green.") + silence(800))
    start = {"event": "start", "language": "en", "targets": [], "wait_for_results": False}
    async with running_gateway(bus, CODEC, speculate_max_asr_backlog=2) as (gateway, address):
        speculations = partial(gateway.metrics.registry.get_sample_value, "babelstream_gateway_speculations_total")
        # The stage keeps up: the utterance is published at the first short pause, and shown when the pause holds.
        idle = await stream(address, talk, start=start)
        assert idle.close_code == 1000 and len(idle.of_type("segment")) == 1
        assert speculations({"outcome": "committed"}) == 1 and speculations({"outcome": "skipped_busy"}) is None
        withdrawn = speculations({"outcome": "withdrawn"})
        await asr.commit(await asr.next(0.1))  # it committed once: its backlog is measurable
        for index in range(4):
            await bus.publish(SPEECH_SEGMENT, f"k{index}".encode(), b"segment")
        await asyncio.sleep(1.3)  # the gateway reads the backlog every second
        assert gateway.load.asr_backlog >= 4  # and whatever the first session published that the stage did not take
        # Behind: no speculation, the utterance is cut at the full pause and published once, as without it.
        busy = await stream(address, talk, start=start)
        assert busy.close_code == 1000 and len(busy.of_type("segment")) == 1
        assert speculations({"outcome": "skipped_busy"}) >= 1
        assert speculations({"outcome": "committed"}) == 1 and speculations({"outcome": "withdrawn"}) == withdrawn
