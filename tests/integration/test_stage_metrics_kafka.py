"""`babelstream stage translate` as its own process on the real broker: its /healthz, /readyz and /metrics."""

from __future__ import annotations

import os
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from babelstream.bus.kafka import KafkaBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import Event, SessionOptions, TextRecognizedPayload
from babelstream.contracts.topics import ASR_TEXT, TRANSLATION_TEXT
from tests.support.bus import collect, tail
from tests.support.harness import free_port
from tests.support.process import Component

pytestmark = [pytest.mark.kafka, pytest.mark.models]


def scrape(base: str) -> dict[str, list]:
    """metric family name -> its samples."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def handled(families: dict) -> float:
    return sum(s.value for s in families.get("babelstream_stage_events", [])
               if s.name.endswith("_total") and s.labels == {"stage": "translate", "outcome": "handled"})


@pytest.fixture
def translate_stage(kafka_bootstrap):
    port = free_port()
    env = {**os.environ, "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_SESSION_TIMEOUT_MS": "6000"}
    stage = Component(f"{uuid.uuid4().hex[:6]}-translate-metrics", ["stage", "translate", "--metrics-port", str(port)], env)
    stage.start()
    try:
        yield stage, f"http://127.0.0.1:{port}"
    finally:
        stage.stop()


async def test_a_stage_process_serves_health_readiness_and_metrics_that_move(translate_stage, kafka_settings):
    stage, base = translate_stage
    # Up before its models are: alive at once, ready once they are warm and it has joined its group.
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and stage.process.poll() is None, stage.output()[-2000:]
        time.sleep(0.2)
    stage.wait_until_ready(f"{base}/readyz", timeout=180)
    stage.wait_for_line("running on kafka")
    before = handled(scrape(base))

    bus = KafkaBus(kafka_settings, client_id="metrics-test")
    await bus.start()
    outputs = await tail(bus, [TRANSLATION_TEXT])
    correlation_id = str(uuid.uuid4())
    event = Event(
        payload=TextRecognizedPayload(
            text="Good morning.", language="en", confidence=0.9, segment_index=0, start_ms=0, end_ms=1200,
            options=SessionOptions(source_language="en", target_languages=("es",)),
        ),
        correlation_id=correlation_id, source_service="metrics-test",
    )
    try:
        await bus.publish(ASR_TEXT, correlation_id.encode(), SingleObjectCodec().encode(event, ASR_TEXT))
        [(_, translated)] = await collect(bus, outputs, {correlation_id}, count=1, timeout=60)
    finally:
        await outputs.close()
        await bus.stop()
    assert translated.payload.target_language == "es"

    families = scrape(base)
    assert handled(families) >= before + 1
    processing = [s for s in families["babelstream_stage_processing_seconds"]
                  if s.name.endswith("_count") and s.labels["stage"] == "translate"]
    assert processing and processing[0].value >= 1
    # One lag series per partition of its input this process consumes: all of them, being the group's only member.
    lags = {s.labels["partition"]: s.value for s in families["babelstream_stage_consumer_lag"]
            if s.labels["stage"] == "translate" and s.labels["topic"] == ASR_TEXT}
    assert set(lags) == {str(p) for p in range(kafka_settings.kafka_topic_partitions)}, lags
    assert all(lag >= 0 for lag in lags.values())
    assert httpx.get(f"{base}/readyz", timeout=5).json() == {"ready": True}
