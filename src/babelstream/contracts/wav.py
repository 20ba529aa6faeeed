"""WAV is how audio travels in events: RIFF/WAVE, PCM16 little-endian, mono (babelstream/wav.py does the bytes)."""

from __future__ import annotations

from dataclasses import dataclass

from babelstream import wav
from babelstream.contracts.errors import MalformedEvent

SAMPLE_WIDTH_BYTES = wav.SAMPLE_WIDTH_BYTES


def wrap_pcm16(pcm: bytes, sample_rate_hz: int) -> bytes:
    try:
        return wav.wrap_pcm16(pcm, sample_rate_hz)
    except wav.InvalidWav as error:
        raise MalformedEvent(str(error)) from error


@dataclass(frozen=True)
class Pcm16Audio:
    samples: bytes
    sample_rate_hz: int

    @property
    def duration_ms(self) -> int:
        return len(self.samples) * 1000 // (SAMPLE_WIDTH_BYTES * self.sample_rate_hz)


def unwrap_pcm16(wav_bytes: bytes) -> Pcm16Audio:
    try:
        return Pcm16Audio(*wav.unwrap_pcm16(wav_bytes))
    except wav.InvalidWav as error:
        raise MalformedEvent(str(error)) from error
