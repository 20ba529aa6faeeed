"""The gateway against the real Kafka broker that `make test` starts."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import time
import wave
from pathlib import Path

import httpx
import pytest

from babelstream.bus.base import BusError
from babelstream.bus.kafka import KafkaBus
from babelstream.bus.settings import BusSettings
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.topics import AUDIO_INGRESS
from tests.support.bus import collect, tail
from tests.support.harness import frames_of, running_gateway, stream
from tests.support.gateway_cases import LIMIT_CASES

pytestmark = pytest.mark.kafka

CODEC = SingleObjectCodec()
REPO = Path(__file__).resolve().parents[2]
SINGLE = {"event": "start", "mode": "single", "wait_for_results": False}


def speech_like(seconds: float, seed: int) -> bytes:
    return bytes((i * seed + i // 7) % 256 for i in range(int(seconds * 32000)))


async def started_bus(settings: BusSettings) -> KafkaBus:
    bus = KafkaBus(settings, client_id="test")
    await bus.start()
    return bus


async def test_streamed_audio_reaches_kafka_intact_keyed_by_correlation_id(kafka_settings):
    bus = await started_bus(kafka_settings)
    watcher = await tail(bus, [AUDIO_INGRESS])
    pcm = speech_like(3.0, seed=3)
    try:
        async with running_gateway(bus, CODEC) as (_, address):
            talk = await stream(address, frames_of(pcm), start=SINGLE)
        [(message, event)] = await collect(bus, watcher, {talk.correlation_id}, count=1)
    finally:
        await watcher.close()
        await bus.stop()
    assert talk.close_code == 1000
    assert talk.of_type("ack")[0]["event_id"] == event.event_id
    assert message.key == talk.correlation_id.encode()
    assert event.correlation_id == talk.correlation_id
    assert event.event_type == "AudioInputEvent" and event.payload.audio_format == "wav"
    with wave.open(io.BytesIO(event.payload.audio_bytes)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.readframes(wav.getnframes()) == pcm
    assert [hop.stage for hop in event.timings] == ["gateway"]  # the trail starts here; stages append hops


async def test_twelve_clients_against_ten_slots(kafka_settings):
    """The original load test: exactly 10 served to completion, 2 refused with 1013, served ones undisturbed."""
    bus = await started_bus(kafka_settings)
    watcher = await tail(bus, [AUDIO_INGRESS])
    sent = {n: speech_like(1.0, seed=n + 1) for n in range(12)}
    try:
        async with running_gateway(bus, CODEC, max_connections=10) as (gateway, address):

            async def client(n: int):
                await asyncio.sleep(n * 0.01)  # the first ten hold their slots while the last two knock
                return n, await stream(address, frames_of(sent[n]), start=SINGLE, pace_seconds=0.02)

            outcomes = await asyncio.gather(*(client(n) for n in range(12)))
            served = {n: talk for n, talk in outcomes if talk.close_code == 1000}
            refused = [talk for _, talk in outcomes if talk.close_code == 1013]
            published = await collect(bus, watcher, {t.correlation_id for t in served.values()}, count=len(served))
    finally:
        await watcher.close()
        await bus.stop()
    assert len(served) == 10 and len(refused) == 2
    assert all(t.messages[0]["type"] == "error" and "full" in t.messages[0]["reason"] for t in refused)
    by_correlation = {event.correlation_id: event for _, event in published}
    for n, talk in served.items():
        with wave.open(io.BytesIO(by_correlation[talk.correlation_id].payload.audio_bytes)) as wav:
            assert wav.readframes(wav.getnframes()) == sent[n]


@pytest.mark.parametrize("frames, settings, code, kind, reason_part", LIMIT_CASES)
async def test_each_limit_on_kafka(kafka_settings, frames, settings, code, kind, reason_part):
    bus = await started_bus(kafka_settings)
    try:
        async with running_gateway(bus, CODEC, **settings) as (_, address):
            talk = await stream(address, frames)
    finally:
        await bus.stop()
    assert talk.close_code == code
    error = talk.of_type("error")[0]
    assert error["code"] == code and error["kind"] == kind and reason_part in error["reason"]


def kafka_script(*args: str) -> None:
    subprocess.run([str(REPO / "scripts" / "kafka.sh"), *args], check=True, env=os.environ.copy(), timeout=180)


async def test_broker_down_mid_session_gives_1011_refuses_new_sessions_then_recovers(kafka_settings):
    settings = kafka_settings.model_copy(update={"kafka_delivery_timeout_ms": 3000})
    bus = await started_bus(settings)
    stopping: list[asyncio.Future] = []

    def stop_broker_once_connected(message: dict) -> None:
        if message.get("status") == "connected" and not stopping:
            stopping.append(asyncio.ensure_future(asyncio.to_thread(kafka_script, "stop")))

    try:
        # The backlog watch on (admission's default): it asks the broker every second through the outage.
        async with running_gateway(bus, CODEC, idle_timeout_seconds=30, admission_max_asr_backlog=1000) as (
            gateway, address,
        ):
            async with httpx.AsyncClient(base_url=f"http://{address}") as http:
                assert (await http.get("/readyz")).status_code == 200
                try:
                    started = time.monotonic()
                    # The broker goes away while the client streams (4 s, paced; the stop takes about 2 s).
                    talk = await stream(address, frames_of(speech_like(4.0, seed=5)), start=SINGLE, pace_seconds=0.02,
                                        on_message=stop_broker_once_connected)
                    elapsed = time.monotonic() - started
                    await stopping[0]
                    ready_while_down = None
                    for _ in range(20):
                        ready_while_down = (await http.get("/readyz")).status_code
                        if ready_while_down == 503:
                            break
                        await asyncio.sleep(0.5)
                    refused = await stream(address, frames_of(speech_like(1.0, seed=7)), start=SINGLE)
                finally:
                    await asyncio.to_thread(kafka_script, "start")
                metrics = (await http.get("/metrics")).text
                recovered = None
                for _ in range(30):  # the client reconnects on its own; no gateway restart
                    recovered = await stream(address, frames_of(speech_like(1.0, seed=6)), start=SINGLE)
                    if recovered.close_code == 1000:
                        break
                    await asyncio.sleep(1)
    finally:
        await bus.stop()
    assert talk.close_code == 1011 and talk.messages[0]["status"] == "connected"
    assert talk.of_type("error")[0]["kind"] == "publish_failed"
    assert talk.of_type("error")[0]["code"] == 1011 and "could not publish" in talk.of_type("error")[0]["reason"]
    assert elapsed < 15, "the bounded retry must end the session, not hang it"
    assert ready_while_down == 503
    # While the bus is down a new session is refused at once, before `connected` (docs/protocol.md).
    assert refused.close_code == 1013 and refused.messages[0]["kind"] == "pipeline_unavailable"
    assert "babelstream_gateway_publish_failures_total 1.0" in metrics
    assert 'babelstream_gateway_rejections_total{reason="pipeline_unavailable",transport="websocket"}' in metrics
    assert recovered.close_code == 1000 and recovered.of_type("ack")


async def test_startup_gives_up_on_an_absent_broker_with_a_clear_message():
    settings = BusSettings(bus="kafka", kafka_bootstrap_servers="127.0.0.1:1", kafka_startup_timeout_seconds=2)
    started = time.monotonic()
    with pytest.raises(BusError, match="did not answer within 2 s"):
        await KafkaBus(settings).start()
    assert time.monotonic() - started < 10
