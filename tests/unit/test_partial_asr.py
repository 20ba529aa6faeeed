"""The ASR partial worker's bookkeeping, without a model: which windows wait for a decode, and the repeat guard."""

from __future__ import annotations

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.events import Event, SessionOptions, SpeechWindowPayload
from babelstream.contracts.wav import wrap_pcm16
from babelstream.stages.partial_asr import PartialAsrWorker, without_repeat

OPTIONS = SessionOptions("en", ())


def window(index: int, *, start_ms: int = 0, correlation_id: str = "c", closed: bool = False) -> Event:
    offset = start_ms + 500 * index
    return Event(
        payload=SpeechWindowPayload(
            segment_index=0, start_ms=start_ms, end_ms=offset + (0 if closed else 500), options=OPTIONS,
            audio_bytes=b"" if closed else wrap_pcm16(b"\x01\x00" * 8000, 16000), window_index=index,
            audio_offset_ms=offset, closed=closed,
        ),
        correlation_id=correlation_id, source_service="gateway",
    )


def worker() -> PartialAsrWorker:
    return PartialAsrWorker(MemoryBus(), SingleObjectCodec(), "asr-partial-test", recognizer=lambda language: None)


def test_a_newer_window_replaces_one_still_waiting_and_its_audio_is_kept():
    partials = worker()
    for index in range(3):
        partials.take(window(index))
    # The first window (500 ms) is too short to decode; the second waits until the third replaces it.
    assert list(partials._waiting.values())[0].payload.window_index == 2 and partials.skipped == 1
    assert len(partials._open[("c", 0)].pcm) == 3 * 16000


def test_a_closed_utterance_is_not_decoded():
    partials = worker()
    partials.take(window(0))
    partials.take(window(1))
    partials.take(window(2, closed=True))
    assert not partials._waiting and not partials._open


def test_an_utterance_whose_start_or_a_window_was_missed_is_dropped():
    partials = worker()
    partials.take(window(1))  # its first window never came
    assert not partials._open
    partials.take(window(0, correlation_id="d"))
    partials.take(window(2, correlation_id="d"))  # window 1 missing
    assert not partials._open and not partials._waiting


def test_each_session_and_utterance_waits_separately():
    partials = worker()
    for correlation_id, start_ms in (("a", 0), ("b", 0), ("a", 9000)):
        partials.take(window(0, correlation_id=correlation_id, start_ms=start_ms))
        partials.take(window(1, correlation_id=correlation_id, start_ms=start_ms))
    assert set(partials._waiting) == {("a", 0), ("b", 0), ("a", 9000)}


def test_a_phrase_said_twice_in_a_row_is_cut_at_its_repeat():
    assert without_repeat("We walk to long the beach. We walk to long the beach. We walk") == "We walk to long the beach."
    assert without_repeat("the the") == "the the"  # short stutters are left to the agreement
    assert without_repeat("I think that I think so") == "I think that I think so"


def test_a_long_buffer_drops_the_audio_of_segments_already_stable():
    from babelstream.stages.partial_asr import _OpenUtterance

    utterance = _OpenUtterance(0)
    utterance.pcm += bytes(32 * 7000)  # 7 s
    utterance.agreement.update("We walked along the beach. And then we")
    utterance.agreement.update("We walked along the beach. And then we went")
    segments = ((0, 2400, "We walked along the beach."), (2400, 6900, "And then we went"))
    utterance.trim(segments)
    assert utterance.kept == "We walked along the beach." and len(utterance.pcm) == 32 * 4600
    assert utterance.stable == "We walked along the beach. And then we"
    # The next decode is of the audio after the trim: it is compared from "And".
    assert utterance.agreement.update("And then we went home").stable == "And then we went"


def test_a_short_buffer_is_always_decoded_whole():
    from babelstream.stages.partial_asr import _OpenUtterance

    utterance = _OpenUtterance(0)
    utterance.pcm += bytes(32 * 2500)  # under TRIM_AFTER_MS
    utterance.agreement.update("One two. Three")
    utterance.agreement.update("One two. Three four")
    utterance.trim(((0, 1200, "One two."), (1200, 2400, "Three four")))
    assert utterance.kept == "" and len(utterance.pcm) == 32 * 2500
