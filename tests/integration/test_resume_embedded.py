"""Resuming a session on the same process after the network dropped (the embedded platform, real models):
nothing said is lost, nothing is shown twice, numbering and the timeline go on."""

from __future__ import annotations

import pytest

from tests.support.harness import running_embedded_platform
from tests.support.pipeline_checks import UTTERANCES
from tests.support.resume import (
    CuttableProxy, ResumingSpeaker, Talk, assert_each_result_once, assert_resumed_without_loss,
    stream_cut_in_the_second_pause,
)
from tests.support.speech import corpus_wer

pytestmark = pytest.mark.models

START = {"event": "start", "language": "en", "targets": ["es"], "synthesize": False}


@pytest.fixture(scope="module")
async def embedded():
    async with running_embedded_platform() as address:
        yield address


async def test_a_dropped_socket_resumes_on_the_same_process_and_loses_nothing(embedded):
    talk = Talk([text for text, _ in UTTERANCES * 2])
    speaker = ResumingSpeaker(talk.pcm, START)
    first = await speaker.connect(embedded)
    # Dropped in the pause after the second sentence, once a transcript came back.
    await speaker.talk(stop_when=lambda: talk.pausing_after(speaker.sent_ms) == 1 and bool(speaker.of_type("transcript")))
    speaker.drop()
    await speaker.dropped()
    second = await speaker.resume(embedded)
    assert await speaker.talk()
    await speaker.finish()

    resumed = second.messages[1]
    assert resumed["type"] == "resumed" and resumed["correlation_id"] == first.correlation_id
    assert second.messages[2]["type"] == "ready"
    assert resumed["resume_token"] != first.messages[0]["resume_token"]
    assert second.close_code == 1000, second.messages[-3:]
    messages = speaker.messages
    assert_each_result_once(messages)
    # Every sentence transcribed once, over both sockets, at its place on the session's one timeline.
    heard = []
    for index, (text, _, _) in enumerate(talk.spans):
        transcripts = talk.transcripts_of(messages, index)
        assert len(transcripts) == 1, (index, [(t["text"], t["start_ms"]) for t in talk.transcripts_of(messages, index)])
        heard.append((text, transcripts[0]["text"]))
    assert corpus_wer(heard) <= 0.15, heard
    assert len(speaker.of_type("translation")) == len(talk.spans)
    # Numbering goes on after what was published before the drop.
    before = max(m["segment_index"] for m in first.messages if m.get("type") == "segment")
    after = [m["segment_index"] for m in second.messages if m.get("type") == "segment"]
    assert after and min(after) >= resumed["next_segment"] > before
    # Interim results too are on the session's timeline: each one's utterance is the transcript's with its start.
    partials = second.of_type("partial")
    assert partials and all(p["start_ms"] >= resumed["audio_ms"] for p in partials)
    starts = {t["start_ms"] for t in second.of_type("transcript")}
    assert {p["start_ms"] for p in partials} <= starts, (partials, starts)
    summary = second.of_type("summary")[0]
    assert summary["complete"] and summary["correlation_id"] == first.correlation_id
    assert not [w for w in speaker.of_type("warning") if w["kind"] == "audio_lost" and w["end_ms"] > talk.spans[1][2] + 900]


async def test_a_resume_with_a_forged_token_is_refused_before_anything(embedded):
    speaker = ResumingSpeaker(Talk(["The house is big."]).pcm, START)
    first = await speaker.connect(embedded)
    token = first.messages[0]["resume_token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    intruder = ResumingSpeaker(b"", START)
    refused = await intruder.connect(embedded, {
        "event": "resume", "correlation_id": first.correlation_id, "resume_token": forged, "audio_ms": 0,
    })
    await intruder.dropped()
    assert refused.close_code == 1008
    [error] = [m for m in refused.messages if m.get("type") == "error"]
    assert error["kind"] == "resume_refused" and error["code"] == 1008 and "not valid" in error["reason"]
    assert not [m for m in refused.messages if m.get("type") in ("resumed", "ready")]
    # Another session's genuine token does not open this one either.
    other = ResumingSpeaker(b"", START)
    refused = await other.connect(embedded, {
        "event": "resume", "correlation_id": "not-" + first.correlation_id, "resume_token": token, "audio_ms": 0,
    })
    await other.dropped()
    assert refused.close_code == 1008 and refused.messages[-1]["kind"] == "resume_refused"
    await speaker.talk()
    await speaker.finish()


async def test_results_the_client_did_not_confirm_are_sent_again_on_the_resumed_socket(embedded):
    talk = Talk([text for text, _ in UTTERANCES])
    speaker = ResumingSpeaker(talk.pcm, START)
    first = await speaker.connect(embedded)
    await speaker.talk(stop_when=lambda: bool(speaker.of_type("translation")))
    speaker.drop()
    await speaker.dropped()
    # The socket died before the client took the translation off it: it lists the transcript only.
    [translation] = first.of_type("translation")
    second = await speaker.resume(embedded, received=[m["event_id"] for m in first.of_type("transcript")])
    assert await speaker.talk()
    await speaker.finish()

    assert second.messages[1]["type"] == "resumed" and second.messages[1]["replayed"] >= 1
    again = [m for m in second.messages if m.get("event_id") == translation["event_id"]]
    assert again == [{**translation, "latency_ms": again[0]["latency_ms"]}]
    transcripts = {m["event_id"] for m in first.of_type("transcript")}
    assert not [m for m in second.messages if m.get("event_id") in transcripts]
    assert second.of_type("summary")[0]["complete"]


async def test_babelstream_stream_resumes_by_itself_when_its_connection_drops(embedded, tmp_path, capsys):
    from types import SimpleNamespace

    from babelstream import wav
    from babelstream.clients.stream import stream_file

    talk = Talk([text for text, _ in UTTERANCES * 2])
    path = tmp_path / "talk.wav"
    path.write_bytes(wav.wrap_pcm16(talk.pcm, 16000))
    async with CuttableProxy(embedded) as proxy:
        # The first connection goes through the proxy, the resume to the gateway itself (--url a,b).
        args = SimpleNamespace(file=str(path), to="es", language="en", fast=False, out=str(tmp_path / "out"),
                               no_speech=True, url=f"ws://{proxy.address}/ws/audio,ws://{embedded}/ws/audio")
        assert await stream_cut_in_the_second_pause(talk, proxy, stream_file(args)) == 0
    assert_resumed_without_loss(capsys.readouterr().out, talk)
