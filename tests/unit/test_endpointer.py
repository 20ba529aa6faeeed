"""Endpointer logic with a fake detector: a frame is speech when any of its samples is non-zero.

Every case runs on both implementations: the Python one (the specification) and the C one the gateway runs.
"""

from __future__ import annotations

import random

import pytest

from babelstream.engines.vad import InvalidVadConfig, Utterance, WebRtcVad, endpointer
from babelstream.engines.vad.endpointer import split_recording
from babelstream.engines.vad.native_endpointer import AVAILABLE as NATIVE_AVAILABLE
from babelstream.engines.vad.native_endpointer import NativeEndpointer
from babelstream.engines.vad.python_endpointer import PythonEndpointer

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


@pytest.fixture(params=[PythonEndpointer, NativeEndpointer], ids=["python", "c"])
def endpointer_class(request):
    return request.param


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


def test_the_gateway_runs_the_c_version():
    # `pip install` builds it wherever there is a C compiler (make test's machines have one); when it is missing,
    # babelstream still runs, on the Python version, but this suite must exercise the C one.
    assert NATIVE_AVAILABLE, "babelstream.engines.vad._endpointer was not built"
    assert endpointer.Endpointer is NativeEndpointer


class ScriptedVad:
    """Decides from a script, frame by frame, so both implementations see the same decisions."""

    frame_ms = FRAME_MS
    sample_rate_hz = RATE

    def __init__(self, decisions: list[bool]):
        self._decisions = iter(decisions)
        self.frames: list[bytes] = []

    def is_speech(self, frame: bytes) -> bool:
        self.frames.append(bytes(frame))
        return next(self._decisions)


def numbered_frames(count: int) -> bytes:
    """Every frame distinct (its index in its first sample), so a misplaced frame shows in the pcm."""
    frame_bytes = FRAME_MS * BYTES_PER_MS
    return b"".join(index.to_bytes(4, "little") + bytes(frame_bytes - 4) for index in range(count))


def bursty_decisions(rng: random.Random, count: int) -> list[bool]:
    decisions: list[bool] = []
    while len(decisions) < count:
        decisions += [rng.random() < 0.7] * rng.choice([1, 2, 3, 8, 15, 40, 120])
    return decisions[:count]


def test_c_version_cuts_what_the_python_version_cuts():
    # Random settings, detector decisions and chunk sizes; the cases must not be trivial (most cut something).
    cut = [compare_on_random_stream(seed) for seed in range(80)]
    assert sum(count > 0 for count in cut) >= 60
    assert sum(cut) >= 500


def compare_on_random_stream(seed: int) -> int:
    rng = random.Random(seed)
    options = {
        "min_silence_ms": rng.choice([20, 60, 300, 500]),
        "max_segment_ms": rng.choice([40, 200, 1_000, 3_000, 15_000]),
        "pre_roll_ms": rng.choice([0, 20, 200, 700]),
        "min_speech_ms": rng.choice([0, 20, 150, 400]),
        "post_roll_ms": rng.choice([0, 40, 200, 1_000]),
    }
    frames = rng.randrange(50, 1_500)
    pcm = numbered_frames(frames) + bytes(rng.randrange(0, 640))  # and a trailing partial frame
    decisions = bursty_decisions(rng, frames)
    chunks = []
    offset = 0
    while offset < len(pcm):
        size = rng.choice([640, 640, 640, 1, 333, 1_280, 2_000, 6_400])
        chunks.append(pcm[offset : offset + size])
        offset += size

    def run(endpointer_class):
        vad = ScriptedVad(decisions)
        endpointer = endpointer_class(vad, **options)
        trace = []
        for chunk in chunks:
            trace.append((endpointer.feed(chunk), endpointer.in_speech))
        trace.append((endpointer.flush(), endpointer.in_speech))
        return trace, vad.frames

    python_trace, python_frames = run(PythonEndpointer)
    c_trace, c_frames = run(NativeEndpointer)
    assert c_frames == python_frames, f"seed {seed}"  # the detector saw the same frames, in the same order
    assert c_trace == python_trace, f"seed {seed}"
    return sum(len(utterances) for utterances, _ in python_trace)


def test_c_version_with_webrtc_matches_on_noise_and_silence():
    from tests.support.speech import silence, white_noise

    stream = silence(500) + white_noise(1_200, level_dbfs=-15, seed=3) + silence(700) + white_noise(900, seed=4) + silence(600)
    python = PythonEndpointer(WebRtcVad(RATE, FRAME_MS, 2))
    native = NativeEndpointer(WebRtcVad(RATE, FRAME_MS, 2))
    python_cut = feed_in_chunks(python, stream, 640) + python.flush()
    native_cut = feed_in_chunks(native, stream, 640) + native.flush()
    assert native_cut == python_cut
    assert len(native_cut) == 2


def test_c_version_passes_on_what_the_detector_raises():
    class BrokenVad(LoudnessVad):
        def is_speech(self, frame: bytes) -> bool:
            raise RuntimeError("detector failed")

    endpointer = NativeEndpointer(BrokenVad())
    with pytest.raises(RuntimeError, match="detector failed"):
        endpointer.feed(speech(20))


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
def test_both_refuse_settings_out_of_range(options, endpointer_class):
    with pytest.raises(InvalidVadConfig):
        endpointer_class(LoudnessVad(), **options)
