"""PCM16 mono WAV: the one container audio travels in, between the gateway, the stages and the engines.

A leaf module (it imports nothing of babelstream) so that the contracts and the engines share it without either
importing the other; each turns `InvalidWav` into its own layer's error.
"""

from __future__ import annotations

import io
import struct
import wave

SAMPLE_WIDTH_BYTES = 2
WAV_HEADER_BYTES = 44  # RIFF + fmt + data chunk headers, as written below (and by `wave`) for PCM16 mono


class InvalidWav(ValueError):
    """Bytes that are not PCM16 mono audio: an odd byte count, not a WAV file, or another sample format."""


def wrap_pcm16(pcm: bytes, sample_rate_hz: int) -> bytes:
    """The canonical 44-byte header, then the samples (one copy of them, in the join)."""
    if len(pcm) % SAMPLE_WIDTH_BYTES:
        raise InvalidWav(f"PCM16 needs an even number of bytes, got {len(pcm)}")
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


def unwrap_pcm16(wav_bytes: bytes) -> tuple[bytes, int]:
    """(pcm, sample_rate_hz) of a PCM16 mono WAV file; anything else raises InvalidWav."""
    try:
        with wave.open(io.BytesIO(wav_bytes), "rb") as reader:
            if reader.getsampwidth() != SAMPLE_WIDTH_BYTES or reader.getnchannels() != 1:
                raise InvalidWav(
                    f"audio must be PCM16 mono, got {8 * reader.getsampwidth()}-bit x{reader.getnchannels()} channels"
                )
            return reader.readframes(reader.getnframes()), reader.getframerate()
    except (wave.Error, EOFError) as error:
        raise InvalidWav(f"audio is not a valid WAV file: {error}") from error
