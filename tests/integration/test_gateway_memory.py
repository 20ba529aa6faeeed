"""The gateway over the in-memory bus: handshake, single-event publishing, every limit
with its close code."""

from __future__ import annotations

import asyncio
import io
import json
import wave

import pytest

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.topics import AUDIO_INGRESS
from tests.support.gateway_cases import CODEC, LIMIT_CASES, PCM, consume_all
from tests.support.harness import frames_of, running_gateway, stream
from tests.support.unreachable_bus import UnreachableBus


async def test_single_mode_publishes_one_wav_event_keyed_by_correlation_id():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (_, address):
        talk = await stream(address, frames_of(PCM), start={"event": "start", "mode": "single", "wait_for_results": False})
    assert talk.messages[0]["status"] == "connected"
    ack = talk.of_type("ack")[0]
    assert ack["correlation_id"] == talk.correlation_id
    assert talk.close_code == 1000
    [(message, event)] = await consume_all(bus, AUDIO_INGRESS)
    assert message.key == talk.correlation_id.encode()
    assert event.correlation_id == talk.correlation_id and event.event_id == ack["event_id"]
    with wave.open(io.BytesIO(event.payload.audio_bytes)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.readframes(wav.getnframes()) == PCM




@pytest.mark.parametrize("frames, settings, code, kind, reason_part", LIMIT_CASES)
async def test_each_limit_closes_with_its_code_after_an_error_message(frames, settings, code, kind, reason_part):
    async with running_gateway(MemoryBus(), CODEC, **settings) as (_, address):
        talk = await stream(address, frames)
    assert talk.close_code == code
    error = talk.of_type("error")[0]
    assert error["code"] == code and error["kind"] == kind and reason_part in error["reason"]


async def test_a_new_session_is_refused_while_the_bus_is_unreachable_and_taken_once_it_is_back():
    bus = UnreachableBus()
    async with running_gateway(bus, CODEC) as (gateway, address):
        refused = await stream(address, frames_of(PCM), start={"event": "start", "mode": "single"})
        bus.reachable = True
        served = await stream(address, frames_of(PCM), start={"event": "start", "mode": "single", "wait_for_results": False})
        assert gateway.slots.in_use == 0  # the refusal held no slot
    assert refused.close_code == 1013 and len(refused.messages) == 1  # refused before `connected`
    error = refused.messages[0]
    assert error["type"] == "error" and error["kind"] == "pipeline_unavailable" and error["code"] == 1013
    assert "pipeline is unavailable" in error["reason"] and error["retry_after_ms"] == 2000
    assert served.close_code == 1000 and served.of_type("ack")


async def test_done_without_audio_is_an_empty_stream():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        talk = await stream(address, [])
    assert talk.close_code == 1003 and "empty stream" in talk.of_type("error")[0]["reason"]


async def test_idle_session_closes_1001_and_keeps_what_was_said():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, idle_timeout_seconds=0.5, default_mode="single") as (_, address):
        talk = await stream(address, frames_of(PCM[:6400]), done=False)
    assert talk.close_code == 1001 and "idle" in talk.of_type("error")[0]["reason"]
    [(_, event)] = await consume_all(bus, AUDIO_INGRESS)
    assert event.correlation_id == talk.correlation_id


async def test_session_deadline_applies_while_waiting_for_a_frame():
    async with running_gateway(MemoryBus(), CODEC, max_session_seconds=0.6, idle_timeout_seconds=30) as (_, address):
        talk = await stream(address, [b"\0" * 640], done=False)
    assert talk.close_code == 1008 and "session longer than" in talk.of_type("error")[0]["reason"]


async def test_rate_abuse_drops_the_buffered_audio():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, max_messages_per_second=5, default_mode="single") as (_, address):
        talk = await stream(address, [b"\1" * 640] * 20)
    assert talk.close_code == 1008
    assert await consume_all(bus, AUDIO_INGRESS) == []


async def test_origin_not_on_the_allowlist_is_refused_1008():
    async with running_gateway(MemoryBus(), CODEC, origin_allowlist=("http://good.example",)) as (_, address):
        refused = await stream(address, [], origin="http://evil.example")
        allowed = await stream(address, frames_of(PCM), origin="http://good.example", start={"event": "start", "mode": "single", "wait_for_results": False})
    assert refused.close_code == 1008 and refused.messages[0]["type"] == "error"
    assert allowed.close_code == 1000


async def test_over_capacity_is_refused_1013_and_others_are_undisturbed():
    async with running_gateway(MemoryBus(), CODEC, max_connections=2, default_mode="single") as (_, address):
        slow = [asyncio.create_task(stream(address, frames_of(PCM), pace_seconds=0.02, start={"event": "start", "wait_for_results": False})) for _ in range(2)]
        await asyncio.sleep(0.3)
        refused = await stream(address, [])
        served = await asyncio.gather(*slow)
    assert refused.close_code == 1013 and "full" in refused.messages[0]["reason"]
    assert [t.close_code for t in served] == [1000, 1000]


async def test_start_message_after_audio_is_refused():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        talk = await stream(address, [b"\0" * 640, json.dumps({"event": "start"})])
    assert talk.close_code == 1003


async def test_declared_sample_rate_is_resampled_to_16k():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (_, address):
        pcm48 = b"\0\1" * 48000  # 1 s at 48 kHz
        talk = await stream(address, frames_of(pcm48, sample_rate_hz=48000), start={"event": "start", "mode": "single", "sample_rate_hz": 48000, "wait_for_results": False})
    assert talk.close_code == 1000
    [(_, event)] = await consume_all(bus, AUDIO_INGRESS)
    with wave.open(io.BytesIO(event.payload.audio_bytes)) as wav:
        assert wav.getframerate() == 16000 and abs(wav.getnframes() - 16000) < 200


async def test_an_observer_sees_each_session_start_cut_send_and_end_without_patching_it():
    from babelstream.gateway.session_context import SessionObserver

    class Recorder(SessionObserver):
        def __init__(self):
            self.seen = []

        def session_started(self, session):
            self.seen.append(("started", session.correlation_id))

        def segment_cut(self, session, index):
            self.seen.append(("cut", index))

        def message_sent(self, session, message):
            self.seen.append(("sent", message.get("type", message.get("status"))))

        def session_ended(self, session, ended):
            self.seen.append(("ended", ended.kind if ended else None))

    recorder = Recorder()
    async with running_gateway(MemoryBus(), CODEC, observer=recorder, max_messages_per_second=10) as (_, address):
        talk = await stream(address, [b"\0" * 640] * 30)
    assert talk.close_code == 1008
    assert recorder.seen[0] == ("started", talk.correlation_id)
    assert ("sent", "connected") in recorder.seen and ("sent", "error") in recorder.seen
    assert recorder.seen[-1] == ("ended", "rate")


async def test_auto_asks_for_detection_and_is_not_replaced_by_the_default_language():
    """Audit finding: "language":"auto" silently became the operator's default (en)."""
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, default_source_language="en") as (_, address):
        talk = await stream(address, frames_of(PCM), start={"event": "start", "mode": "single", "language": "auto",
                                                             "wait_for_results": False})
    assert talk.of_type("ready")[0]["source_language"] is None
    [(_, event)] = await consume_all(bus, AUDIO_INGRESS)
    assert event.payload.options.source_language is None and event.payload.language_hint is None


@pytest.mark.parametrize("language", ["en\n", "e", "english", "en-US", 7])
async def test_a_language_that_is_not_a_bare_code_is_malformed(language):
    """Audit finding: "en\\n" passed the language check."""
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        talk = await stream(address, frames_of(PCM), start={"event": "start", "language": language})
    assert talk.close_code == 1003 and talk.of_type("error")[0]["kind"] == "malformed"
