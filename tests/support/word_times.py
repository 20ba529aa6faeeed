"""Real speech with known word times, and the same speech with pauses put between its words.

Word times come from Whisper's word timestamps on the clean audio (faster-whisper, tiny.en, bundled): what the
interim-results tests and benches measure from ("word -> first display") and where they put in-sentence pauses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from babelstream.engines.asr.models import open_whisper_model
from babelstream.engines.audio import pcm16_to_float32

SAMPLE_RATE_HZ = 16_000
BYTES_PER_MS = SAMPLE_RATE_HZ * 2 // 1000


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: int
    end_ms: int


@functools.lru_cache(maxsize=1)
def _model():
    return open_whisper_model("tiny.en", cpu_threads=2)


def word_times(pcm: bytes) -> list[Word]:
    """Each spoken word with where it starts and ends, in ms from the start of `pcm`."""
    segments, _ = _model().transcribe(
        pcm16_to_float32(pcm), language="en", beam_size=5, word_timestamps=True, vad_filter=False,
        condition_on_previous_text=False,
    )
    return [
        Word(w.word.strip(), round(w.start * 1000), round(w.end * 1000))
        for segment in segments
        for w in (segment.words or [])
    ]


def with_pauses(pcm: bytes, words: list[Word], after: list[int], pause_ms: int) -> bytes:
    """`pcm` with `pause_ms` of silence put in between word i and i+1 for each i in `after` (at the midpoint of
    the gap Whisper found between them, so no word is cut)."""
    out = bytearray()
    position = 0
    for index in sorted(after):
        cut = pause_position_ms(words, index) * BYTES_PER_MS
        out += pcm[position:cut]
        out += bytes(pause_ms * BYTES_PER_MS)
        position = cut
    out += pcm[position:]
    return bytes(out)


def pause_position_ms(words: list[Word], after: int) -> int:
    """Where with_pauses puts a pause after word `after`, in ms of the original audio."""
    return (words[after].end_ms + words[after + 1].start_ms) // 2


def loudness_gaps_ms(pcm: bytes, threshold_dbfs: float = -45.0) -> int:
    """The longest run of 10 ms windows quieter than the threshold inside the speech (a check on a made pause)."""
    samples = pcm16_to_float32(pcm)
    window = SAMPLE_RATE_HZ // 100
    count = samples.size // window
    rms = np.sqrt(np.mean(np.square(samples[: count * window].reshape(count, window), dtype=np.float64), axis=1))
    loud = rms > 10 ** (threshold_dbfs / 20)
    indexes = np.nonzero(loud)[0]
    longest = run = 0
    for quiet in ~loud[indexes[0] : indexes[-1] + 1]:
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    return longest * 10
