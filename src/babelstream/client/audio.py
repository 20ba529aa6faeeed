"""What the server takes without resampling, PCM16 LE mono at 16 kHz, made from any WAV file a user has.

Any sample rate, 8/16/24/32-bit integer or 32/64-bit float PCM, stereo or more channels mixed down (the file
is read by babelstream/wav.py; anything it cannot read raises its InvalidWav, saying why).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babelstream.engines.audio import float32_to_pcm16, resample
from babelstream.wav import SAMPLE_WIDTH_BYTES, InvalidWav, WavFormat, parse

PIPELINE_SAMPLE_RATE_HZ = 16_000

__all__ = ["PIPELINE_SAMPLE_RATE_HZ", "SAMPLE_WIDTH_BYTES", "PreparedAudio", "convert_wav", "duration_ms", "read_wav"]


def duration_ms(pcm: bytes) -> int:
    return len(pcm) * 1000 // (SAMPLE_WIDTH_BYTES * PIPELINE_SAMPLE_RATE_HZ)


@dataclass(frozen=True)
class PreparedAudio:
    """PCM16 LE mono at 16 kHz, and what the file was."""

    pcm: bytes
    source: WavFormat

    @property
    def duration_ms(self) -> int:
        return duration_ms(self.pcm)


def convert_wav(data: bytes) -> PreparedAudio:
    """Any readable WAV -> PCM16 LE mono 16 kHz (channels averaged, resampled with soxr)."""
    fmt, raw = parse(data)
    if (fmt.sample_rate_hz, fmt.channels, fmt.bits_per_sample, fmt.is_float) == (PIPELINE_SAMPLE_RATE_HZ, 1, 16, False):
        return PreparedAudio(bytes(raw), fmt)  # already the wire format: bit-exact
    mono = _to_float(raw, fmt).mean(axis=1, dtype=np.float32)
    return PreparedAudio(float32_to_pcm16(resample(mono, fmt.sample_rate_hz, PIPELINE_SAMPLE_RATE_HZ)), fmt)


def read_wav(path: str | Path) -> PreparedAudio:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InvalidWav(f"cannot read {path}: {error.strerror or error}") from error
    return convert_wav(data)


def _to_float(raw: bytes, fmt: WavFormat) -> np.ndarray:
    """Samples in [-1, 1) shaped (frames, channels)."""
    bits = fmt.bits_per_sample
    if fmt.is_float:
        samples = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    elif bits == 8:  # 8-bit WAV is unsigned, centred on 128
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif bits == 16:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif bits == 24:
        triplets = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = triplets[:, 0] | (triplets[:, 1] << 8) | (triplets[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        samples = values.astype(np.float32) / float(1 << 23)
    else:
        samples = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    return samples.reshape(-1, fmt.channels)
