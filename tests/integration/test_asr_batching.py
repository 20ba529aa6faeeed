"""Batched decoding on the real tiny.en model: the same transcripts as one utterance at a time, a failing request
kept to itself, and the ASR stage on the in-memory bus keeping each session's order while it decodes in batches."""

from __future__ import annotations

import asyncio

import pytest

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import Event, SessionOptions, SpeechSegmentPayload
from babelstream.contracts.topics import ASR_TEXT, SPEECH_SEGMENT
from babelstream.contracts.wav import wrap_pcm16
from babelstream.engines.asr import LanguageNotSupported, TranscriptionRequest, WhisperRecognizer
from babelstream.stages.asr import AsrStage
from babelstream.stages.runtime import StageRunner
from babelstream.stages.settings import StageSettings
from tests.support.speech import corpus_wer, needs_espeak, silence, synthesize

pytestmark = [pytest.mark.models, needs_espeak]

RATE = 16_000
CODEC = SingleObjectCodec()
SENTENCES = [
    "please call me back when you get home tonight",
    "can you tell me where the nearest hospital is",
    "good morning everyone and welcome to the meeting",
    "the train to london leaves from platform four",
    "we need to finish this report before friday",
    "i am going to the market to buy some bread",
    "do you know what time it is",
    "this is a test of the speech translation system",
]


@pytest.fixture(scope="module")
def clips() -> list[bytes]:
    spoken = [synthesize(text, words_per_minute=140 + 10 * (i % 3)) for i, text in enumerate(SENTENCES)]
    # One long enough for a wider encoder window than the others (a batch of its own), and a pause.
    return [*spoken, synthesize(" ".join(SENTENCES[:3])), silence(2000)]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_transcribes_exactly_as_one_at_a_time(clips, workers):
    recognizer = WhisperRecognizer("tiny.en", cpu_threads=1, workers=workers)
    alone = [recognizer.transcribe(pcm, RATE, "en") for pcm in clips]
    together = recognizer.transcribe_many([TranscriptionRequest(pcm, RATE, "en") for pcm in clips])
    assert together == alone  # every field: text, confidence, no-speech probability
    assert corpus_wer([(text, r.text) for text, r in zip(SENTENCES, alone)]) <= 0.15  # real transcripts
    assert alone[-1] is None  # the pause
    timed = recognizer.transcribe_many([TranscriptionRequest(pcm, RATE, "en", timestamps=True) for pcm in clips[:4]])
    assert timed == [recognizer.transcribe(pcm, RATE, "en", timestamps=True) for pcm in clips[:4]]
    assert all(r.segments for r in timed)


def test_a_failing_request_does_not_lose_the_rest_of_its_batch(clips):
    recognizer = WhisperRecognizer("tiny.en", cpu_threads=1)
    results = recognizer.transcribe_many([
        TranscriptionRequest(clips[0], RATE, "en"),
        TranscriptionRequest(clips[1], RATE, "es"),  # tiny.en speaks English only
        TranscriptionRequest(clips[2], RATE, "en"),
    ])
    assert isinstance(results[1], LanguageNotSupported)
    assert results[0] == recognizer.transcribe(clips[0], RATE, "en")
    assert results[2] == recognizer.transcribe(clips[2], RATE, "en")


def segment(session: int, index: int, pcm: bytes) -> Event:
    return Event(
        payload=SpeechSegmentPayload(
            audio_bytes=wrap_pcm16(pcm, RATE), sample_rate_hz=RATE, segment_index=index, start_ms=index * 10_000,
            end_ms=index * 10_000 + len(pcm) // 32, options=SessionOptions(source_language="en"),
        ),
        correlation_id=f"session-{session}",
        source_service="test",
    )


async def transcripts(stage: AsrStage, events: list[Event]) -> dict[str, list[tuple[int, str]]]:
    bus = MemoryBus()
    await bus.start()
    results = await bus.subscribe([ASR_TEXT], "test-results")
    runner = StageRunner(stage, bus, CODEC, "asr-test")
    await runner.start()
    try:
        for event in events:  # all at once: concurrent sessions' utterances waiting for the stage
            await bus.publish(SPEECH_SEGMENT, event.correlation_id.encode(), CODEC.encode(event, SPEECH_SEGMENT))
        by_session: dict[str, list[tuple[int, str]]] = {}
        for _ in events:
            message = await results.next(timeout_seconds=60)
            assert message is not None, "a transcript is missing"
            event = CODEC.decode(message.value)
            by_session.setdefault(event.correlation_id, []).append((event.payload.segment_index, event.payload.text))
        return by_session
    finally:
        await runner.stop()
        await bus.stop()


def test_the_stage_decodes_concurrent_sessions_in_batches_in_each_sessions_order(clips):
    events = [segment(session, index, clips[(3 * session + index) % 9]) for index in range(3) for session in range(4)]
    reference_stage = AsrStage(StageSettings(asr_batch_size=1, asr_partials=False), "asr-test")
    batched_stage = AsrStage(StageSettings(asr_batch_size=8, asr_batch_max_wait_ms=50, asr_partials=False), "asr-test")
    one_at_a_time = asyncio.run(transcripts(reference_stage, events))
    batched = asyncio.run(transcripts(batched_stage, events))
    assert batched == one_at_a_time  # same texts, and each session's in segment order
    assert [[index for index, _ in texts] for texts in batched.values()] == [[0, 1, 2]] * 4
    batcher = batched_stage.batcher("en")
    assert batcher.decoded == 12 and batcher.batches < 12  # decoded in batches, not one by one
