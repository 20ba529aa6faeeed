"""The routing decision: where each event is published (bus/reply_route.py), which reply partition a gateway
stamps (gateway/reply_partitions.py, gateway/router.py), and the in-memory bus's partition reader."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from babelstream.bus.memory import MemoryBus
from babelstream.bus.reply_route import REPLY_COPY_TOPIC_OF_EVENT_TYPE, Destination, destinations
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.errors import MalformedEvent
from babelstream.contracts.events import utc_now
from babelstream.contracts.topics import (
    ASR_PARTIAL,
    ASR_TEXT,
    ASR_TEXT_REPLIES,
    ROOM_PRESENCE,
    SPEECH_SEGMENT,
    SPEECH_WINDOW,
    TRANSLATION_TEXT,
    TRANSLATION_TEXT_REPLIES,
    TTS_AUDIO,
)
from babelstream.gateway.reply_partitions import ReplyPartitions, partition_of
from babelstream.gateway.router import ResultRouter
from tests.support.events import sample_event

CODEC = SingleObjectCodec()


@pytest.mark.parametrize("event_type, expected", [
    # Results a stage reads too: by key where the stage reads them, and a copy on the reply partition.
    ("TextRecognizedEvent", (Destination(ASR_TEXT, None), Destination(ASR_TEXT_REPLIES, 7))),
    ("TextTranslatedEvent", (Destination(TRANSLATION_TEXT, None), Destination(TRANSLATION_TEXT_REPLIES, 7))),
    # Results only gateways read: on the reply partition of their own topic, once.
    ("AudioSynthesisEvent", (Destination(TTS_AUDIO, 7),)),
    ("PartialTranscriptEvent", (Destination(ASR_PARTIAL, 7),)),
    # The pipeline's inputs carry the route along, and go by key: the stages' balance is the key's.
    ("SpeechSegmentEvent", (Destination(SPEECH_SEGMENT, None),)),
    ("SpeechWindowEvent", (Destination(SPEECH_WINDOW, None),)),
])
def test_a_routed_event_goes_where_its_readers_read(event_type, expected):
    event = sample_event(event_type).routed_to(7)
    assert destinations(event) == expected


@pytest.mark.parametrize("event_type", ["TextRecognizedEvent", "AudioSynthesisEvent", "RoomPresenceEvent"])
def test_an_event_without_a_route_goes_by_key_to_its_topic_only(event_type):
    event = sample_event(event_type).routed_to(None)
    assert len(destinations(event)) == 1 and destinations(event)[0].partition is None
    assert destinations(sample_event("RoomPresenceEvent"))[0].topic == ROOM_PRESENCE


def test_the_reply_copies_are_the_text_results():
    assert REPLY_COPY_TOPIC_OF_EVENT_TYPE == {
        "TextRecognizedEvent": ASR_TEXT_REPLIES, "TextTranslatedEvent": TRANSLATION_TEXT_REPLIES,
    }


def test_every_derived_event_keeps_the_route_so_stages_need_not_know_it():
    segment = sample_event("SpeechSegmentEvent").routed_to(12)
    transcript = segment.derive(sample_event("TextRecognizedEvent").payload, stage="asr", service="a", started_at=utc_now())
    audio = transcript.derive(sample_event("AudioSynthesisEvent").payload, stage="tts", service="t", started_at=utc_now())
    assert (transcript.reply_partition, audio.reply_partition) == (12, 12)
    assert CODEC.decode(CODEC.encode(audio, TTS_AUDIO)).reply_partition == 12


def test_a_partition_no_broker_can_have_is_malformed():
    event = sample_event("AudioSynthesisEvent").routed_to(2**31)
    with pytest.raises(Exception):
        CODEC.encode(event, TTS_AUDIO)  # Avro's int refuses it on the way out
    body = CODEC.encode(event.routed_to(5), TTS_AUDIO)
    # The field is last: a negative varint (zigzag 5 -> 10; -1 -> 1) written in its place.
    with pytest.raises(MalformedEvent):
        CODEC.decode(body[:-1] + b"\x01")


def test_a_rooms_partition_is_the_same_on_every_gateway_and_a_gateways_is_its_own():
    first, second = ReplyPartitions("gateway-a1", 32), ReplyPartitions("gateway-b2", 32)
    assert first.of_room("aula") == second.of_room("aula") == partition_of("room:aula", 32)
    assert first.own == partition_of("gateway-a1", 32) and 0 <= first.own < 32
    assert first.for_session(None) == first.own and first.for_session("aula") == first.of_room("aula")
    assert ReplyPartitions("gateway-a1", 32, fixed=35).own == 3  # numbered gateways: the number, within range
    assert ReplyPartitions("anything", 1).for_session("aula") == 0  # one partition (the in-memory bus): all there
    with pytest.raises(ValueError):
        ReplyPartitions("gateway", 0)


def test_hashed_partitions_spread_names_that_differ_only_at_the_end():
    """CRC-32 put gateway-…-0 … gateway-…-15 on 10 partitions of 32; a hash that mixes spreads them."""
    owners = [partition_of(f"gateway-1a2b3c-{i}", 32) for i in range(16)]
    assert len(set(owners)) >= 11  # 16 balls in 32 bins: about 12.6 distinct expected
    many = [partition_of(f"gateway-{i:012x}", 32) for i in range(3200)]
    assert max(many.count(p) for p in range(32)) < 140  # about 100 each


async def test_the_router_stamps_its_sessions_events_with_their_reply_partition():
    router = ResultRouter(MemoryBus(), CODEC, "gateway-x", reply_partition=0)
    with pytest.raises(RuntimeError):
        router.route(sample_event("SpeechSegmentEvent"))  # not started: it does not know the partitions yet
    await router.start()
    try:
        segment = sample_event("SpeechSegmentEvent")
        in_room = dataclasses.replace(segment, payload=dataclasses.replace(
            segment.payload, options=dataclasses.replace(segment.payload.options, room="aula")))
        alone = dataclasses.replace(segment, payload=dataclasses.replace(
            segment.payload, options=dataclasses.replace(segment.payload.options, room=None)))
        assert router.route(alone).reply_partition == router.partitions.own == 0
        assert router.route(in_room).reply_partition == router.partitions.of_room("aula")
        assert router.followed_partitions == {0}
    finally:
        await router.stop()


async def test_the_memory_reader_hands_out_only_the_partitions_it_follows():
    bus = MemoryBus()
    reader = await bus.read_partitions("r")
    await bus.publish(TTS_AUDIO, b"k", b"before", partition=1)  # before following, from the end: not read
    await reader.follow([(TTS_AUDIO, 1)])
    await bus.publish(TTS_AUDIO, b"k", b"other", partition=2)
    await bus.publish(TTS_AUDIO, b"k", b"mine", partition=1)
    message = await reader.next(timeout_seconds=0.5)
    assert (message.value, message.partition) == (b"mine", 1)
    assert await reader.next(timeout_seconds=0.05) is None
    assert reader.fetched_bytes == len(b"mine") + 1
    await reader.unfollow([(TTS_AUDIO, 1)])
    await bus.publish(TTS_AUDIO, b"k", b"after", partition=1)
    assert await reader.next(timeout_seconds=0.05) is None
    # From the oldest message held (the bus keeps what was read up to its retention: all of these).
    await reader.follow([(TTS_AUDIO, 1)], since_seconds=60)
    values = []
    while (message := await reader.next(timeout_seconds=0.05)) is not None:
        values.append(message.value)
    assert values == [b"before", b"mine", b"after"]
    await reader.close()


async def test_the_memory_reader_lets_the_log_be_trimmed_behind_it():
    bus = MemoryBus(retain_bytes=10, keep_committed_bytes=10)
    reader = await bus.read_partitions("r")
    await reader.follow([(TTS_AUDIO, 0)])
    for _ in range(100):
        await bus.publish(TTS_AUDIO, b"k", b"x" * 1000)
        assert (await reader.next(timeout_seconds=0.5)).value == b"x" * 1000
    assert bus._topic(TTS_AUDIO).bytes <= 50 * 1000  # read, then dropped (every 50): nothing grows while it keeps up
    await reader.close()
    await asyncio.sleep(0)
