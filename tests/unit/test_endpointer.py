"""Endpointer logic with a fake detector: a frame is speech when any of its samples is non-zero."""

from __future__ import annotations

import pytest

from babelstream.engines.vad import InvalidVadConfig, Utterance
from babelstream.engines.vad.endpointer import Endpointer, split_recording

RATE = 16_000
FRAME_MS = 20
BYTES_PER_MS = RATE * 2 // 1000


class LoudnessVad:
    frame_ms = FRAME_MS
    sample_rate_hz = RATE

    def __init__(self) -> None:
        self.frames_seen = 0

    def is_speech(self, frame: bytes) -> bool:
        assert len(frame) == FRAME_MS * BYTES_PER_MS
        self.frames_seen += 1
        return any(bytes(frame))


def speech(ms: int) -> bytes:
    return b"\x10\x00" * (ms * BYTES_PER_MS // 2)


def quiet(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


@pytest.fixture
def endpointer_class():
    return Endpointer


def feed_in_chunks(endpointer, pcm: bytes, chunk_bytes: int) -> list[Utterance]:
    utterances = []
    for offset in range(0, len(pcm), chunk_bytes):
        utterances += endpointer.feed(pcm[offset : offset + chunk_bytes])
    return utterances


def spans(utterances: list[Utterance]) -> list[tuple[int, int]]:
    return [(u.start_ms, u.end_ms) for u in utterances]


def test_two_utterances_separated_by_half_a_second(endpointer_class):
    stream = quiet(1000) + speech(1000) + quiet(500) + speech(800) + quiet(1000)
    endpointer = endpointer_class(LoudnessVad(), min_silence_ms=300, pre_roll_ms=200, post_roll_ms=200)
    utterances = endpointer.feed(stream)
    # 200 ms pre-roll and 200 ms of trailing silence; the second pre-roll starts where the first ended.
    assert spans(utterances) == [(800, 2200), (2300, 3500)]
    first, second = utterances
    assert first.pcm == quiet(200) + speech(1000) + quiet(200)
    assert second.pcm == quiet(200) + speech(800) + quiet(200)
    assert all(len(u.pcm) == u.duration_ms * BYTES_PER_MS for u in utterances)
    assert endpointer.flush() == []


def test_utterance_is_returned_as_soon_as_silence_reaches_min_silence(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), min_silence_ms=300)
    assert endpointer.feed(speech(600) + quiet(280)) == []
    assert spans(endpointer.feed(quiet(20))) == [(0, 800)]


def test_pause_shorter_than_min_silence_does_not_split(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), min_silence_ms=300)
    utterances = endpointer.feed(speech(500) + quiet(280) + speech(500) + quiet(400))
    assert spans(utterances) == [(0, 1480)]


def test_continuous_speech_is_cut_at_max_segment(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), max_segment_ms=15_000)
    utterances = feed_in_chunks(endpointer, speech(20_000), 640)
    assert spans(utterances) == [(0, 15_000)]
    tail = endpointer.flush()
    assert spans(tail) == [(15_000, 20_000)]
    assert tail[0].pcm == speech(5_000)


def test_forced_cut_prefers_a_pause_in_the_second_half(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), max_segment_ms=10_000, min_silence_ms=300)
    utterances = endpointer.feed(speech(8_000) + quiet(200) + speech(4_000))
    # Cut at the end of the 200 ms pause, not at 10 s in the middle of a word.
    assert spans(utterances) == [(0, 8_200)]
    assert spans(endpointer.flush()) == [(8_200, 12_200)]


def test_flush_returns_pending_speech_with_short_tail(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), post_roll_ms=200)
    assert endpointer.feed(quiet(100) + speech(700) + quiet(100)) == []
    tail = endpointer.flush()
    assert spans(tail) == [(0, 900)]
    assert endpointer.flush() == []


def test_flush_without_speech_returns_nothing(endpointer_class):
    endpointer = endpointer_class(LoudnessVad())
    endpointer.feed(quiet(3_000))
    assert endpointer.flush() == []


@pytest.mark.parametrize("chunk_bytes", [1, 7, 333, 641, 1000, 4096, 96_000])
def test_chunk_sizes_that_do_not_align_with_frames(chunk_bytes, endpointer_class):
    stream = quiet(1000) + speech(1000) + quiet(500) + speech(800) + quiet(1000)
    endpointer = endpointer_class(LoudnessVad())
    utterances = feed_in_chunks(endpointer, stream, chunk_bytes) + endpointer.flush()
    assert spans(utterances) == [(800, 2200), (2300, 3500)]


def test_odd_trailing_bytes_wait_for_the_rest_of_their_frame(endpointer_class):
    vad = LoudnessVad()
    endpointer = endpointer_class(vad)
    endpointer.feed(quiet(30))  # one whole 20 ms frame and half of the next
    assert vad.frames_seen == 1
    endpointer.feed(quiet(10))
    assert vad.frames_seen == 2


def test_clicks_shorter_than_min_speech_are_dropped(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), min_speech_ms=150)
    stream = quiet(500) + speech(40) + quiet(800) + speech(100) + quiet(800) + speech(400) + quiet(800)
    assert spans(endpointer.feed(stream) + endpointer.flush()) == [(2040, 2840)]


def test_click_at_stream_end_is_dropped_by_flush(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), min_speech_ms=150)
    endpointer.feed(quiet(500) + speech(60))
    assert endpointer.flush() == []


def test_pre_roll_is_limited_by_stream_start(endpointer_class):
    endpointer = endpointer_class(LoudnessVad(), pre_roll_ms=200)
    utterances = endpointer.feed(quiet(60) + speech(500) + quiet(400))
    assert spans(utterances) == [(0, 760)]


def test_split_recording_matches_streaming():
    stream = quiet(300) + speech(600) + quiet(700) + speech(600)
    assert spans(split_recording(LoudnessVad(), stream, min_silence_ms=300)) == [(100, 1100), (1400, 2200)]


def test_rejects_frame_sizes_that_are_not_whole_samples(endpointer_class):
    class OddVad(LoudnessVad):
        sample_rate_hz = 22_050
        frame_ms = 7

    with pytest.raises(InvalidVadConfig):
        endpointer_class(OddVad())


# -- the C version against the specification --------------------------------------------------------------


def test_no_frame_is_held_after_flush(endpointer_class):
    # Frames are kept by reference (no copy) until their utterance is cut or trimmed: none may leak.
    import sys

    endpointer = endpointer_class(LoudnessVad())
    loud, silent = speech(20), quiet(20)
    loud_before, silent_before = sys.getrefcount(loud), sys.getrefcount(silent)
    for _ in range(3):
        for frame in [silent] * 100 + [loud] * 400 + [silent] * 30 + [loud] * 50:
            endpointer.feed(frame)
    del frame
    assert sys.getrefcount(loud) > loud_before  # the last utterance is still held
    endpointer.flush()
    assert (sys.getrefcount(loud), sys.getrefcount(silent)) == (loud_before, silent_before)


@pytest.mark.parametrize("options", [{"pre_roll_ms": -20}, {"min_silence_ms": 10}, {"max_segment_ms": 20}])
def test_settings_out_of_range_are_refused(options, endpointer_class):
    with pytest.raises(InvalidVadConfig):
        endpointer_class(LoudnessVad(), **options)
