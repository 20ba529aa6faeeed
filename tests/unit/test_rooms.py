"""The rooms' parts on their own: history, a listener's outbox, presence records, the listen requests."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import pytest

from babelstream.bus.event_publisher import EventPublisher
from babelstream.client.messages import Audio, parse_audio_frame
from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import Event, RoomPresencePayload, utc_now
from babelstream.gateway import messages
from babelstream.gateway.errors import SessionEnded
from babelstream.gateway.rooms.bounded_set import RecentSet
from babelstream.gateway.rooms.history import RoomHistory
from babelstream.gateway.rooms.listen_requests import parse_listen_message, parse_listen_query
from babelstream.gateway.rooms.listener_outbox import ListenerOutbox
from babelstream.gateway.rooms.presence import PresenceBoard, RoomView
from babelstream.gateway.rooms.room_id import parse_room_id
from babelstream.gateway.shared_message import SharedMessage
from tests.support.rooms import room_results


def test_history_keeps_the_newest_utterances_in_the_asked_language():
    history = RoomHistory(size=2)
    for segment in range(3):
        for event in room_results("r", segment=segment, speaker="s", text=f"Sentence {segment}."):
            history.add(event)  # audio events are not history: ignored
    events = history.for_language("pt")
    assert [(e.event_type, e.payload.segment_index) for e in events] == [
        ("TextRecognizedEvent", 1), ("TextTranslatedEvent", 1), ("TextRecognizedEvent", 2), ("TextTranslatedEvent", 2)
    ]
    assert {e.payload.target_language for e in events if e.event_type == "TextTranslatedEvent"} == {"pt"}
    assert [e.event_type for e in history.for_language("fr")] == ["TextRecognizedEvent"] * 2  # captions only
    history.clear()
    assert history.for_language("pt") == []


def test_history_skips_segments_without_speech():
    history = RoomHistory(size=5)
    history.add(room_results("r", text="")[0])
    assert len(history) == 0


def test_recent_set_forgets_the_oldest():
    seen = RecentSet(2)
    assert seen.add("a") and seen.add("b") and not seen.add("a")
    assert seen.add("c") and "a" not in seen and seen.add("a")


class Socket:
    def __init__(self):
        self.sent: list[str] = []
        self.open = True
        self.resumed = asyncio.Event()

    def send_text(self, text: str) -> None:
        self.sent.append(text)

    def send_binary(self, data: bytes) -> None:
        self.sent.append(data)

    def writable(self) -> bool:
        return self.open

    async def drain(self) -> None:
        await self.resumed.wait()


async def test_a_listener_that_keeps_up_is_written_to_at_once():
    socket = Socket()
    outbox = ListenerOutbox(socket, limit_bytes=100, on_overflow=lambda: None, on_audio_skipped=lambda: "warning")
    outbox.put("text")
    outbox.put("a" * 1000, audio=True)  # no queue: nothing is held, whatever its size
    assert socket.sent == ["text", "a" * 1000] and outbox.queued_bytes == 0


async def test_a_listener_that_falls_behind_loses_audio_first_then_is_closed():
    socket = Socket()
    socket.open = False  # its buffer is over the mark: everything queues
    overflowed = []
    outbox = ListenerOutbox(socket, limit_bytes=100, on_overflow=lambda: overflowed.append(True),
                            on_audio_skipped=lambda: "skipped!")
    outbox.put("t" * 20)
    outbox.put("a" * 10, audio=True)  # 30 > 100 // 4: skipped, and the listener told once
    outbox.put("a" * 10, audio=True)
    assert outbox.audio_skipped == 2 and outbox.queued_bytes == 20 + len("skipped!")
    outbox.put("t" * 60)
    assert not overflowed
    outbox.put("t" * 20)  # past the bound
    assert overflowed == [True] and outbox.closed and outbox.queued_bytes == 0
    outbox.put("more")
    assert socket.sent == []


async def test_a_listener_that_is_behind_loses_interim_results_first_never_queued():
    socket = Socket()
    outbox = ListenerOutbox(socket, limit_bytes=1000, on_overflow=lambda: None, on_audio_skipped=lambda: "w")
    outbox.put("partial-1", interim=True)  # nothing waits: written at once, like any message
    socket.open = False
    outbox.put("partial-2", interim=True)  # the socket is full: skipped, not queued
    outbox.put("final")
    outbox.put("a" * 10, audio=True)  # audio still queues (under a quarter of the bound)
    socket.open = True
    outbox.put("partial-3", interim=True)  # the socket takes it, but the final waits before it: skipped
    assert outbox.interim_skipped == 2 and outbox.audio_skipped == 0
    socket.resumed.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ["partial-1", "final", "a" * 10] and outbox.queued_bytes == 0
    outbox.put("partial-4", interim=True)
    assert socket.sent[-1] == "partial-4"


async def test_binary_audio_frames_queue_and_count_like_text():
    socket = Socket()
    socket.open = False
    outbox = ListenerOutbox(socket, limit_bytes=1000, on_overflow=lambda: None, on_audio_skipped=lambda: "w")
    outbox.put("caption")
    outbox.put(b"\0" * 100, audio=True)
    assert outbox.queued_bytes == len("caption") + 100
    socket.open = True
    socket.resumed.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ["caption", b"\0" * 100] and outbox.queued_bytes == 0


def test_a_spoken_translation_is_framed_once_per_form_for_every_listener():
    [_, _, audio_event] = room_results("aula", targets=("es",), ogg_opus=b"OggS-opus")
    header = messages.room_result(audio_event, "aula", history=False, inline_audio=False)
    shared = SharedMessage(header, audio_event.payload)
    opus = shared.audio_frame(opus=True)
    assert shared.audio_frame(opus=True) is opus  # built once, the same bytes for every listener
    length = int.from_bytes(opus[:4], "big")
    head = json.loads(opus[4:4 + length])
    assert opus[4 + length:] == b"OggS-opus" and head["format"] == "ogg_opus" and head["bytes"] == 9
    assert "audio_b64" not in head and head["event_id"] == audio_event.event_id and head["room"] == "aula"
    wav = shared.audio_frame(opus=False)
    assert wav.endswith(audio_event.payload.audio_bytes) and b'"format":"wav"' in wav
    inline = json.loads(shared.text)
    assert base64.b64decode(inline["audio_b64"]) == audio_event.payload.audio_bytes
    assert list(inline)[-2:] == ["audio_b64", "event_id"]  # the id last: a client finds it from the end
    # The client reads back what the server framed.
    parsed = parse_audio_frame(opus)
    assert isinstance(parsed, Audio) and parsed.audio == b"OggS-opus" and parsed.format == "ogg_opus"
    with pytest.raises(ValueError):
        parsed.wav  # not a WAV: .audio says what it is


async def test_a_queued_listener_is_written_to_when_its_socket_drains_in_order():
    socket = Socket()
    socket.open = False
    outbox = ListenerOutbox(socket, limit_bytes=1000, on_overflow=lambda: None, on_audio_skipped=lambda: "w")
    for text in ("one", "two", "three"):
        outbox.put(text)
    socket.open = True
    socket.resumed.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ["one", "two", "three"] and outbox.queued_bytes == 0


def presence(gateway: str, *, seconds_ago: float, listeners=None) -> Event:
    return Event(
        payload=RoomPresencePayload(room="r", gateway=gateway, listeners={"es": 2} if listeners is None else listeners,
                                    speakers={},
                                    spoken_languages=("es",), valid_for_ms=15_000),
        correlation_id=f"r|{gateway}", source_service=gateway,
        timestamp=utc_now() - timedelta(seconds=seconds_ago),
    )


async def test_presence_of_other_gateways_is_kept_while_valid_and_an_emptied_room_is_dropped():
    bus, codec = MemoryBus(), SingleObjectCodec()
    publisher = EventPublisher(bus, codec)
    await publisher.publish(presence("gateway-b", seconds_ago=1))
    await publisher.publish(presence("gateway-dead", seconds_ago=60))  # its gateway stopped renewing it long ago
    changed = []
    board = PresenceBoard(bus, codec, "gateway-me", on_change=changed.append)
    await board.start()  # reads the topic from its start, as a gateway that just started does
    try:
        await until(lambda: len(changed) == 2)
        assert board.remote_views("r") == [RoomView({"es": 2}, {}, frozenset({"es"}))]
        await publisher.publish(presence("gateway-b", seconds_ago=0, listeners={}))  # its last listener left
        await until(lambda: len(changed) == 3)
        assert board.remote_views("r") == []
    finally:
        await board.stop()


async def until(condition, timeout: float = 2.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError


async def test_presence_goes_round_the_bus_between_two_gateways():
    bus = MemoryBus()
    codec = SingleObjectCodec()
    a = PresenceBoard(bus, codec, "gateway-a", on_change=lambda room: None)
    b = PresenceBoard(bus, codec, "gateway-b", on_change=lambda room: None)
    await a.start()
    await b.start()
    try:
        a.announce("r", RoomView({"pt": 1}, {}, frozenset(), interim=frozenset({"pt"})))
        await until(lambda: b.remote_views("r"))
        # With the languages its members read partials in: another gateway's speakers translate them into those.
        assert b.remote_views("r") == [RoomView({"pt": 1}, {}, frozenset(), frozenset({"pt"}))]
        assert a.remote_views("r") == []
        a.announce("r", RoomView())  # empty: the others forget it
        await until(lambda: not b.remote_views("r"))
        assert b.remote_views("r") == []
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.parametrize("room", ["", "a b", "x" * 65, "ümlaut", "a/b", None, 7])
def test_a_room_id_is_url_safe_and_short(room):
    with pytest.raises(SessionEnded) as refused:
        parse_room_id(room)
    assert refused.value.code == 1003 and refused.value.kind == "malformed"


def test_room_ids_that_pass():
    assert parse_room_id("Aula_1-b") == "Aula_1-b" and parse_room_id("x" * 64) == "x" * 64


def test_the_listen_query_and_message():
    assert parse_listen_query("room=aula&lang=PT&voice=0&token=t").language == "pt"
    assert parse_listen_query("room=aula&lang=es").voice is True
    assert parse_listen_query("room=aula&lang=es").audio == "opus"
    assert parse_listen_query("room=aula&lang=es").partials is True
    assert parse_listen_query("room=aula&lang=es&partials=0").partials is False
    assert [parse_listen_query(f"room=aula&lang=es&audio={a}").audio for a in ("OPUS", "wav", "json")] == [
        "opus", "wav", "json"]
    change = parse_listen_message('{"event":"listen","lang":"es","voice":false}')
    assert (change.language, change.voice) == ("es", False)
    for bad in ('{"event":"listen","lang":"xx\\n"}', '{"event":"start"}', "[]", "not json",
                '{"event":"listen","voice":"no"}', '{"event":"listen","colour":1}'):
        with pytest.raises(SessionEnded):
            parse_listen_message(bad)
    for bad in ("room=aula&room=b&lang=es", "room=aula&lang=es&voice=maybe", "room=aula&lang=es&audio=mp3",
                "room=aula&lang=es&partials=some",
                "room=aula&lang=es&audio=opus&audio=wav"):
        with pytest.raises(SessionEnded):
            parse_listen_query(bad)


async def test_a_sealed_outbox_takes_nothing_more_and_sends_what_it_holds():
    socket = Socket()
    socket.open = False
    outbox = ListenerOutbox(socket, limit_bytes=1000, on_overflow=lambda: None, on_audio_skipped=lambda: "w")
    outbox.put("result")
    outbox.put("error")
    outbox.seal()
    outbox.put("too late")
    socket.open = True
    socket.resumed.set()
    await outbox.drained(1.0)
    assert socket.sent == ["result", "error"] and outbox.queued_bytes == 0


async def test_sealing_does_not_wait_for_a_listener_that_never_reads():
    socket = Socket()
    socket.open = False
    outbox = ListenerOutbox(socket, limit_bytes=1000, on_overflow=lambda: None, on_audio_skipped=lambda: "w")
    outbox.put("stuck")
    outbox.seal()
    await asyncio.wait_for(outbox.drained(0.05), 1.0)
    assert socket.sent == []
    outbox.stop()
