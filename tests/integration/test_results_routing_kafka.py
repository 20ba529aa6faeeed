"""Results routing on the real broker: a gateway reads its own sessions' results and its rooms', not the others'.

Two result routers (what each gateway runs, gateway/router.py) on the test broker, each with a fixed reply
partition; results are published as the stages publish them (EventPublisher, the real routing decision) for a
session of each gateway and for a room speaker on the first, heard by a listener on the second.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import pytest

from babelstream.bus.event_publisher import EventPublisher
from babelstream.bus.kafka import KafkaBus
from babelstream.bus.reply_route import destinations
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import Event
from babelstream.contracts.topics import HISTORY_REPLY_TOPICS, TTS_AUDIO
from babelstream.gateway.reply_partitions import ReplyPartitions
from babelstream.gateway.router import ResultRouter
from tests.support.harness import running_gateway
from tests.support.rooms import RoomListener, room_results

pytestmark = pytest.mark.kafka

CODEC = SingleObjectCodec()


class Collected:
    """A session's results as its gateway hands them over."""

    def __init__(self):
        self.events: list[Event] = []

    def on_result(self, event: Event) -> None:
        self.events.append(event)


class RoomsSeen:
    """What a gateway's rooms are asked about (every result it reads) and given (what they want)."""

    def __init__(self):
        self.asked: list[str] = []
        self.given: list[Event] = []

    def wants(self, topic: str, key: str) -> bool:
        self.asked.append(key)
        return topic in HISTORY_REPLY_TOPICS or topic == TTS_AUDIO

    def on_result(self, event: Event) -> None:
        self.given.append(event)

    def history_read(self) -> None:
        pass


def session_results(speaker: str) -> list[Event]:
    """One utterance of a session without a room: transcript, translation and its audio."""
    out = []
    for event in room_results("none", speaker=speaker, targets=("es",), audio_bytes=20_000):
        options = getattr(event.payload, "options", None)
        if options is not None:
            event = replace(event, payload=replace(event.payload, options=replace(options, room=None)))
        out.append(event)
    return out


def stamped(router: ResultRouter, results: list[Event]) -> list[Event]:
    """Results as the stages publish them for a session of `router`'s gateway: the gateway stamped the session's
    segment (`route`, from its options), and every event derived from it kept the partition."""
    partition = router.route(results[0]).reply_partition
    return [event.routed_to(partition) for event in results]


async def until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def two_gateways(kafka_settings):
    bus = KafkaBus(kafka_settings, client_id="routing-test")
    await bus.start()
    run = uuid.uuid4().hex[:6]
    rooms = [RoomsSeen(), RoomsSeen()]
    routers = [
        ResultRouter(bus, CODEC, f"gateway-{run}-{i}", rooms=rooms[i], history_seconds=60, reply_partition=partition)
        for i, partition in enumerate((3, 4))
    ]
    for router in routers:
        await router.start()
    try:
        yield bus, routers, rooms
    finally:
        for router in routers:
            await router.stop()
        await bus.stop()


async def test_a_gateway_reads_its_own_sessions_results_and_not_another_gateways(two_gateways):
    bus, (first, second), (first_rooms, second_rooms) = two_gateways
    assert (first.partitions.own, second.partitions.own) == (3, 4)
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    got, snooped = Collected(), Collected()
    first.register(mine, got)
    first.register(theirs, snooped)  # even asked for, another gateway's session's results never reach it
    their_listener = Collected()
    second.register(theirs, their_listener)
    mine_events = stamped(first, session_results(mine))
    theirs_events = stamped(second, session_results(theirs))
    assert {e.reply_partition for e in mine_events} == {3} and {e.reply_partition for e in theirs_events} == {4}
    before = first.fetched_bytes
    publisher = EventPublisher(bus, CODEC)
    for event in [*theirs_events, *mine_events]:
        await publisher.publish(event)
    await until(lambda: len(got.events) == 3 and len(their_listener.events) == 3)
    await asyncio.sleep(1.0)  # time for anything else to arrive, were it routed here
    assert [e.event_id for e in got.events] == [e.event_id for e in mine_events]
    assert snooped.events == [] and theirs not in first_rooms.asked and mine not in second_rooms.asked
    # What the first gateway fetched is exactly its own session's results (key and value, on the reply topics).
    expected = sum(
        len(CODEC.encode(event, d.topic)) + len(mine)
        for event in mine_events for d in destinations(event) if d.partition is not None
    )
    assert first.fetched_bytes - before == expected


async def test_a_rooms_results_reach_its_listeners_on_another_gateway_and_only_gateways_in_the_room(two_gateways):
    bus, (first, second), (first_rooms, second_rooms) = two_gateways
    room = f"routing-{uuid.uuid4().hex[:6]}"
    speaker = str(uuid.uuid4())
    first.register(speaker, Collected())
    first.hold_room(room)  # its speaker is here
    second.hold_room(room)  # a listener is there
    partition = first.partitions.of_room(room)
    await until(lambda: partition in first.followed_partitions and partition in second.followed_partitions)
    events = stamped(first, room_results(room, speaker=speaker, targets=("es", "pt")))
    assert {e.reply_partition for e in events} == {partition}
    publisher = EventPublisher(bus, CODEC)
    for event in events:
        await publisher.publish(event)
    # Both read the partition's text from a minute back too: earlier tests' results may come first.
    def heard(rooms: RoomsSeen) -> list[Event]:
        return [e for e in rooms.given if e.correlation_id == speaker]

    await until(lambda: len(heard(second_rooms)) >= len(events) and len(heard(first_rooms)) >= len(events))
    assert sorted(e.event_id for e in heard(second_rooms)) == sorted(e.event_id for e in events)
    # The room emptied on the second gateway: it stops reading the room's partition (unless it is its own).
    second.release_room(room)
    if partition != second.partitions.own:
        await until(lambda: partition not in second.followed_partitions)
        given = len(heard(second_rooms))
        for event in stamped(first, room_results(room, segment=1, speaker=speaker, targets=("es",))):
            await publisher.publish(event)
        await until(lambda: sum(1 for e in heard(first_rooms) if e.payload.segment_index == 1) == 3)
        await asyncio.sleep(0.5)
        assert len(heard(second_rooms)) == given


class Capabilities:
    def source_languages(self):
        return frozenset({"en"})

    def pairs(self):
        return frozenset({("en", "es"), ("en", "pt")})

    def speech_languages(self):
        return frozenset({"es", "pt"})


async def test_a_rooms_first_listener_on_a_gateway_gets_the_whole_history_read_back_then_live_results(kafka_settings):
    """The talk happened before this gateway held the room: it reads the room's partition back when its first
    listener comes, and tells the listener only then (`listening` with the whole history), then live results."""
    bus = KafkaBus(kafka_settings, client_id="routing-history-test")
    await bus.start()
    room = f"history-{uuid.uuid4().hex[:6]}"
    speaker = str(uuid.uuid4())
    partition = ReplyPartitions("any", await bus.partition_count(TTS_AUDIO)).of_room(room)
    publisher = EventPublisher(bus, CODEC)
    try:
        for segment in range(3):
            for event in room_results(room, segment=segment, speaker=speaker, text=f"Sentence {segment}.",
                                      reply_partition=partition):
                await publisher.publish(event)
        async with running_gateway(bus, CODEC, capabilities=Capabilities()) as (gateway, address):
            listener = await RoomListener.join(address, room, "es")
            listening = await listener.heard.wait_for(lambda m: m.get("type") == "listening", timeout=15)
            assert listening["history"] == 6  # three transcripts, three Spanish translations
            history = listener.heard.of_type("translation", history=True)
            assert [m["text"] for m in history] == [f"[es] Sentence {i}." for i in range(3)]
            assert listener.heard.of_type("translation", history=False) == []  # the past is not played as live
            for event in room_results(room, segment=3, speaker=speaker, text="Sentence 3.", reply_partition=partition):
                await publisher.publish(event)
            live = await listener.heard.wait_for(
                lambda m: m.get("type") == "translation" and m.get("history") is False, timeout=15)
            assert live["text"] == "[es] Sentence 3." and live["segment_index"] == 3
            await listener.leave()
    finally:
        await bus.stop()


async def test_a_gateway_adopts_a_session_begun_on_another_and_reads_its_results_until_it_lets_go(two_gateways):
    """The seam a resumed session uses: the second gateway reads the first one's partition for one session."""
    bus, (first, second), _ = two_gateways
    session = str(uuid.uuid4())
    first.register(session, Collected())
    before = stamped(first, session_results(session))
    adopted = Collected()
    await second.adopt(session, adopted, before[0].reply_partition)
    assert first.partitions.own in second.followed_partitions
    publisher = EventPublisher(bus, CODEC)
    for event in before:
        await publisher.publish(event)
    await until(lambda: len(adopted.events) == 3)
    assert [e.event_id for e in adopted.events] == [e.event_id for e in before]
    second.unregister(session, adopted)
    await until(lambda: first.partitions.own not in second.followed_partitions)
