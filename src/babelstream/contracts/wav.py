"""WAV is how audio travels in events: RIFF/WAVE, PCM16 little-endian, mono."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

from babelstream.contracts.errors import MalformedEvent

SAMPLE_WIDTH_BYTES = 2


def wrap_pcm16(pcm: bytes, sample_rate_hz: int) -> bytes:
    """A canonical 44-byte header followed by the samples, with no copy of the samples beyond the join."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        sample_rate_hz,
        sample_rate_hz * SAMPLE_WIDTH_BYTES,
        SAMPLE_WIDTH_BYTES,
        8 * SAMPLE_WIDTH_BYTES,
        b"data",
        len(pcm),
    )
    return header + pcm


@dataclass(frozen=True)
class Pcm16Audio:
    samples: bytes
    sample_rate_hz: int

    @property
    def duration_ms(self) -> int:
        return len(self.samples) * 1000 // (SAMPLE_WIDTH_BYTES * self.sample_rate_hz)


def unwrap_pcm16(wav_bytes: bytes) -> Pcm16Audio:
    try:
        with wave.open(io.BytesIO(wav_bytes), "rb") as reader:
            if reader.getsampwidth() != SAMPLE_WIDTH_BYTES or reader.getnchannels() != 1:
                raise MalformedEvent(
                    f"audio must be PCM16 mono, got {8 * reader.getsampwidth()}-bit x{reader.getnchannels()} channels"
                )
            return Pcm16Audio(reader.readframes(reader.getnframes()), reader.getframerate())
    except (wave.Error, EOFError) as error:
        raise MalformedEvent(f"audio is not a valid WAV file: {error}") from error
