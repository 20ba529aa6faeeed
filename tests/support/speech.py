"""Test audio made at test time: espeak-ng speech, digital silence, white noise; and word error rate."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from babelstream.clients.probe.speech import trim_silence
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample, unwrap_pcm16

SAMPLE_RATE_HZ = 16_000

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@functools.lru_cache(maxsize=64)
def synthesize(text: str, voice: str = "en-us", words_per_minute: int = 150, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    """PCM16 mono speech; espeak-ng writes 22,050 Hz, resampled here with soxr."""
    with tempfile.TemporaryDirectory() as directory:
        wav_path = Path(directory) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav_path), text],
            check=True,
            capture_output=True,
        )
        pcm, rate = unwrap_pcm16(wav_path.read_bytes())
    return float32_to_pcm16(resample(pcm16_to_float32(pcm), rate, sample_rate_hz))


def spoken_without_pauses(sentences: tuple[str, ...] | list[str]) -> bytes:
    """The sentences spoken one after another with no pause between them: espeak-ng ends each with ~390 ms of
    silence, a pause the endpointer rightly ends an utterance at, so it is cut off."""
    return b"".join(trim_silence(synthesize(sentence)) for sentence in sentences)


def silence(ms: int, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    return bytes(2 * (sample_rate_hz * ms // 1000))


def white_noise(ms: int, level_dbfs: float = -20.0, seed: int = 0, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    rms = 10 ** (level_dbfs / 20)
    samples = np.random.default_rng(seed).normal(0.0, rms, sample_rate_hz * ms // 1000)
    return float32_to_pcm16(samples.astype(np.float32))


_DIGITS = "zero one two three four five six seven eight nine ten".split()


def normalize_words(text: str) -> list[str]:
    """Lower case, no punctuation, hyphens split, small numbers spelled out: what WER should compare."""
    text = re.sub(r"[-–—/]", " ", text.lower())
    text = re.sub(r"[^\w\s']", "", text)
    return [_DIGITS[int(word)] if word.isdigit() and int(word) <= 10 else word for word in text.split()]


def wer(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance over words."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous[-1] / len(ref)


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """Errors summed over all sentences / all reference words (not a mean of per-sentence rates)."""
    errors = sum(wer(ref, hyp) * len(normalize_words(ref)) for ref, hyp in pairs)
    return errors / sum(len(normalize_words(ref)) for ref, _ in pairs)
