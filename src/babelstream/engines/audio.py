"""PCM16/WAV helpers for the engines: the wire format is PCM16 little-endian mono."""

from __future__ import annotations

import math

import numpy as np
import soxr

from babelstream import wav

SAMPLE_WIDTH_BYTES = wav.SAMPLE_WIDTH_BYTES
WAV_HEADER_BYTES = wav.WAV_HEADER_BYTES
_INT16_SCALE = 32768.0


class InvalidAudio(ValueError):
    """Bytes that are not PCM16 mono audio (odd length, wrong WAV format)."""


def pcm16_to_float32(pcm: bytes) -> np.ndarray:
    """Samples scaled to [-1, 1), the form Whisper and Silero expect."""
    if len(pcm) % SAMPLE_WIDTH_BYTES:
        raise InvalidAudio(f"PCM16 needs an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / _INT16_SCALE


def float32_to_pcm16(samples: np.ndarray) -> bytes:
    """Clips rather than wraps around: an overdriven sample stays loud instead of flipping sign."""
    scaled = np.clip(np.asarray(samples, dtype=np.float32) * _INT16_SCALE, -32768, 32767)
    return np.round(scaled).astype("<i2").tobytes()


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    if from_hz == to_hz:
        return np.asarray(samples, dtype=np.float32)
    return soxr.resample(np.asarray(samples, dtype=np.float32), from_hz, to_hz).astype(np.float32, copy=False)


def resample_pcm16(pcm: bytes, from_hz: int, to_hz: int) -> bytes:
    if from_hz == to_hz:
        return pcm
    return float32_to_pcm16(resample(pcm16_to_float32(pcm), from_hz, to_hz))


def duration_ms(pcm: bytes, sample_rate_hz: int) -> int:
    return len(pcm) * 1000 // (SAMPLE_WIDTH_BYTES * sample_rate_hz)


def rms_dbfs(samples: np.ndarray) -> float:
    """Loudness relative to full scale; -inf for digital silence or no samples."""
    if samples.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def wrap_pcm16(pcm: bytes, sample_rate_hz: int) -> bytes:
    try:
        return wav.wrap_pcm16(pcm, sample_rate_hz)
    except wav.InvalidWav as error:
        raise InvalidAudio(str(error)) from error


def unwrap_pcm16(wav_bytes: bytes) -> tuple[bytes, int]:
    """Returns (pcm, sample_rate_hz); only PCM16 mono is accepted."""
    try:
        return wav.unwrap_pcm16(wav_bytes)
    except wav.InvalidWav as error:
        raise InvalidAudio(str(error)) from error
