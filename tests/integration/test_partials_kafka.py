"""Interim results over the real broker, with the ASR stage (and its partial worker) in a process of its own, and
the translate stage (and its partial translator) in another."""

from __future__ import annotations

import os
import uuid

import pytest

from babelstream.engines.asr.local_agreement import agrees_with
from tests.support.harness import free_port, frames_of, stream
from tests.support.process import Component
from tests.support.speech import silence, spoken_without_pauses, synthesize

pytestmark = [pytest.mark.kafka, pytest.mark.models]

TALK = (
    "We walked along the beach for a long time and talked about the summer",
    "then everybody went home to have dinner with their families",
)


@pytest.fixture(scope="module")
def gateway_and_asr(kafka_bootstrap):
    env = {**os.environ, "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_SESSION_TIMEOUT_MS": "6000"}
    run = uuid.uuid4().hex[:6]
    port = free_port()
    asr = Component(f"{run}-partials-asr", ["stage", "asr", "--metrics-port", "0"], env)
    translate = Component(f"{run}-partials-translate", ["stage", "translate", "--metrics-port", "0"], env)
    gateway = Component(f"{run}-partials-gateway", ["gateway", "--port", str(port)], env)
    try:
        asr.start()
        translate.start()
        gateway.start()
        asr.wait_for_line("running on kafka")
        translate.wait_for_line("running on kafka")
        gateway.wait_until_ready(f"http://127.0.0.1:{port}/readyz")
        yield f"127.0.0.1:{port}"
    finally:
        gateway.stop()
        translate.stop()
        asr.stop()


async def test_partials_come_from_the_asr_process_before_the_final(gateway_and_asr):
    pcm = silence(300) + spoken_without_pauses(TALK) + silence(1200)
    conversation = await stream(
        gateway_and_asr, frames_of(pcm), start={"event": "start", "language": "en", "targets": []}, pace_seconds=0.02,
    )
    assert conversation.close_code == 1000
    partials = conversation.of_type("partial")
    first_final = next(i for i, m in enumerate(conversation.messages) if m.get("type") == "transcript")
    assert sum(1 for m in conversation.messages[:first_final] if m.get("type") == "partial") >= 4, partials
    stable: dict[int, str] = {}
    for message in partials:
        assert message["stable_text"].startswith(stable.get(message["start_ms"], ""))
        stable[message["start_ms"]] = message["stable_text"]
    assert any(m["stable_text"] for m in partials)
    for transcript in conversation.of_type("transcript"):
        assert transcript["revised"] == (not agrees_with(transcript["text"], stable.get(transcript["start_ms"], "")))


async def test_no_partials_when_the_session_turns_them_off(gateway_and_asr):
    conversation = await stream(
        gateway_and_asr, frames_of(silence(300) + synthesize(TALK[0]) + silence(1200)),
        start={"event": "start", "language": "en", "targets": [], "partials": False}, pace_seconds=0.02,
    )
    assert conversation.close_code == 1000 and conversation.of_type("transcript")
    assert conversation.of_type("partial") == []


async def test_partial_translations_come_from_the_translate_process_before_the_final(gateway_and_asr):
    pcm = silence(300) + spoken_without_pauses(TALK) + silence(1200)
    conversation = await stream(
        gateway_and_asr, frames_of(pcm),
        start={"event": "start", "language": "en", "targets": ["es"], "synthesize": False, "translate_partials": True},
        pace_seconds=0.02,
    )
    assert conversation.close_code == 1000
    assert conversation.of_type("ready")[0]["translate_partials"] is True
    stable = {(m["start_ms"], m["stable_text"]) for m in conversation.of_type("partial")}
    first_translation = next(i for i, m in enumerate(conversation.messages) if m.get("type") == "translation")
    early = [m for m in conversation.messages[:first_translation] if m.get("type") == "partial_translation"]
    assert early, (conversation.of_type("partial_translation"), sorted(stable))
    for message in early:
        assert (message["start_ms"], message["source_text"]) in stable and message["language"] == "es"
    final = next(m for m in conversation.of_type("translation") if m["start_ms"] == early[0]["start_ms"])
    final_words = {word.strip(".,").lower() for word in final["text"].split() if len(word) > 3}
    assert any(final_words & {word.strip(".,").lower() for word in m["text"].split()} for m in early), (
        [m["text"] for m in early], final["text"])
