"""StageMetrics as a real StageRunner's observer on the in-memory bus, and a stage process's HTTP endpoints."""

from __future__ import annotations

import asyncio
import os

import httpx
from prometheus_client.parser import text_string_to_metric_families

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.events import Event, SessionOptions, SpeechSegmentPayload, TextRecognizedPayload
from babelstream.contracts.topics import ASR_TEXT, SPEECH_SEGMENT
from babelstream.contracts.wav import wrap_pcm16
from babelstream.stages.http_server import StageHttpServer
from babelstream.stages.metrics import StageMetrics
from babelstream.stages.runtime import StageRunner
from tests.support.stages import CODEC, FakeTranslateStage, collect, recognized, send, wait_until


def sample(metrics: StageMetrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_handled_events_dead_letters_and_processing_time_are_counted_per_stage():
    bus = MemoryBus()
    metrics = StageMetrics()
    outputs = await bus.subscribe(["speech.translation.text"], "test-outputs")
    runner = StageRunner(FakeTranslateStage(), bus, CODEC, service="fake-1", observer=metrics)
    await runner.start()
    try:
        for text in ("eins", "zwei", "boom"):
            await send(bus, recognized(text))
        await bus.publish(ASR_TEXT, b"poison", b"\x00\x01" + os.urandom(32))
        await collect(outputs, 2)
        await wait_until(lambda: runner.counters.dead_lettered == 2)
    finally:
        await runner.stop()
    stage = "fake-translate"
    assert sample(metrics, "babelstream_stage_events_total", stage=stage, outcome="handled") == 2
    assert sample(metrics, "babelstream_stage_events_total", stage=stage, outcome="dead_lettered") == 2
    assert sample(metrics, "babelstream_stage_processing_seconds_count", stage=stage) == 2
    assert sample(metrics, "babelstream_stage_processing_seconds_sum", stage=stage) > 0
    assert sample(metrics, "babelstream_stage_dead_letters_total", stage=stage, reason="RuntimeError") == 1
    assert sample(metrics, "babelstream_stage_dead_letters_total", stage=stage, reason="MalformedEvent") == 1
    # A translation stage's input carries no audio: no real-time factor.
    assert sample(metrics, "babelstream_stage_real_time_factor_count", stage=stage) is None


class FakeAsrStage:
    """Takes 50 ms per segment, whatever its length."""

    name = "fake-asr"
    input_topic = SPEECH_SEGMENT

    def warm_up(self) -> None:
        pass

    async def handle(self, event: Event) -> list[Event]:
        await asyncio.sleep(0.05)
        payload = event.payload
        return [event.derive(
            TextRecognizedPayload(text="hello", language="en", confidence=1.0, segment_index=payload.segment_index,
                                  start_ms=payload.start_ms, end_ms=payload.end_ms, options=payload.options),
            stage=self.name, service="fake-asr-1", started_at=event.timestamp,
        )]


async def test_the_real_time_factor_is_handle_seconds_per_second_of_audio():
    bus = MemoryBus()
    metrics = StageMetrics()
    runner = StageRunner(FakeAsrStage(), bus, CODEC, service="fake-asr-1", observer=metrics)
    await runner.start()
    try:
        segment = Event(
            payload=SpeechSegmentPayload(
                audio_bytes=wrap_pcm16(b"\x00\x00" * 16000, 16000), sample_rate_hz=16000, segment_index=0,
                start_ms=1000, end_ms=3000, options=SessionOptions(),
            ),
            correlation_id="session-1", source_service="gateway-1",
        )
        await bus.publish(SPEECH_SEGMENT, b"session-1", CODEC.encode(segment, SPEECH_SEGMENT))
        await wait_until(lambda: runner.counters.handled == 1)
    finally:
        await runner.stop()
    assert sample(metrics, "babelstream_stage_real_time_factor_count", stage="fake-asr") == 1
    factor = sample(metrics, "babelstream_stage_real_time_factor_sum", stage="fake-asr")
    processing = sample(metrics, "babelstream_stage_processing_seconds_sum", stage="fake-asr")
    assert 0.05 / 2 <= factor < 0.5 and abs(factor - processing / 2) < 1e-9


async def test_a_partition_no_longer_consumed_drops_out_of_the_lag():
    metrics = StageMetrics()
    metrics.set_lags("asr", {("speech.audio.speech_segment", 0): 3, ("speech.audio.speech_segment", 1): 0})
    metrics.set_lags("asr", {("speech.audio.speech_segment", 1): 5})
    assert sample(metrics, "babelstream_stage_consumer_lag", stage="asr", topic="speech.audio.speech_segment", partition="0") is None
    assert sample(metrics, "babelstream_stage_consumer_lag", stage="asr", topic="speech.audio.speech_segment", partition="1") == 5


def get(app, path: str) -> httpx.Response:
    """A request to a WSGI app, without a socket (unit tests open none)."""
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://stage") as client:
        return client.get(path)


async def test_a_stage_process_serves_health_readiness_and_metrics_with_its_lag():
    bus = MemoryBus()
    metrics = StageMetrics()
    runner = StageRunner(FakeTranslateStage(), bus, CODEC, service="fake-1", observer=metrics)
    app = StageHttpServer("127.0.0.1", 0, bus=bus, runners=[runner], metrics=metrics).app
    # From a thread, as the server serves it: /metrics reads the lag through this loop.
    assert (await asyncio.to_thread(get, app, "/healthz")).status_code == 200
    assert (await asyncio.to_thread(get, app, "/readyz")).status_code == 503  # models not warm yet
    for text in ("eins", "zwei"):
        await send(bus, recognized(text))
    await runner.start()
    try:
        await wait_until(lambda: runner.counters.handled == 2)
        assert (await asyncio.to_thread(get, app, "/readyz")).json() == {"ready": True}
        response = await asyncio.to_thread(get, app, "/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        [lag] = families["babelstream_stage_consumer_lag"].samples
        assert lag.labels == {"stage": "fake-translate", "topic": ASR_TEXT, "partition": "0"} and lag.value == 0
        handled = [s for s in families["babelstream_stage_events"].samples if s.labels.get("outcome") == "handled"]
        assert handled[0].value == 2
        assert (await asyncio.to_thread(get, app, "/nothing")).status_code == 404
    finally:
        await runner.stop()
    assert (await asyncio.to_thread(get, app, "/readyz")).status_code == 503


async def test_the_lag_of_the_in_memory_bus_counts_what_the_group_has_not_committed():
    bus = MemoryBus()
    subscription = await bus.subscribe([ASR_TEXT], "group")
    for text in ("eins", "zwei", "drei"):
        await send(bus, recognized(text))
    assert await subscription.lags() == {(ASR_TEXT, 0): 3}
    await subscription.commit(await subscription.next(timeout_seconds=1))
    assert await subscription.lags() == {(ASR_TEXT, 0): 2}


def test_the_process_stages_show_zero_before_their_first_event():
    metrics = StageMetrics(["asr"])
    assert sample(metrics, "babelstream_stage_events_total", stage="asr", outcome="handled") == 0
    assert sample(metrics, "babelstream_stage_processing_seconds_count", stage="asr") == 0


def test_the_stage_command_sets_the_metrics_port(monkeypatch):
    from babelstream.cli import _settings, build_parser

    monkeypatch.delenv("METRICS_PORT", raising=False)
    args = build_parser().parse_args(["stage", "asr", "--kafka", "127.0.0.1:9092", "--metrics-port", "0"])
    assert _settings(args).stages.metrics_port == 0
    assert _settings(build_parser().parse_args(["stage", "asr"])).stages.metrics_port == 9100
