"""WAV files: the one reader and writer of the package.

PCM16 mono is the container audio travels in, between the gateway, the stages and the engines
(`wrap_pcm16`, `unwrap_pcm16`); clients read any PCM or IEEE-float file a user hands them (`parse`) and
convert it themselves. A leaf module (it imports nothing of babelstream) so that the contracts, the engines
and the clients share it without importing each other; each turns `InvalidWav` into its own layer's error.

The chunks are read here rather than with the standard library's `wave`, which (Python 3.11) refuses
IEEE-float and WAVE_FORMAT_EXTENSIBLE files, both common from audio editors and recorders.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SAMPLE_WIDTH_BYTES = 2
WAV_HEADER_BYTES = 44  # RIFF + fmt + data chunk headers, as written below (and by `wave`) for PCM16 mono

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE


class InvalidWav(ValueError):
    """Bytes that are not a WAV file this package reads, or not the format asked for (the message says why)."""


@dataclass(frozen=True)
class WavFormat:
    sample_rate_hz: int
    channels: int
    bits_per_sample: int
    is_float: bool
    frames: int  # samples per channel


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
        _FORMAT_PCM,
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
    fmt, samples = parse(wav_bytes)
    if fmt.is_float or fmt.bits_per_sample != 8 * SAMPLE_WIDTH_BYTES or fmt.channels != 1:
        kind = "float" if fmt.is_float else "bit"
        raise InvalidWav(f"audio must be PCM16 mono, got {fmt.bits_per_sample}-{kind} x{fmt.channels} channels")
    return samples, fmt.sample_rate_hz


def parse(data: bytes) -> tuple[WavFormat, bytes]:
    """The format and the raw sample bytes (whole frames only) of a PCM or IEEE-float WAV file."""
    fmt = None
    samples = None
    for chunk_id, body in _chunks(data):
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data" and samples is None:
            samples = body
    if fmt is None or len(fmt) < 16:
        raise InvalidWav("WAV file has no valid fmt chunk")
    if samples is None:
        raise InvalidWav("WAV file has no data chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _FORMAT_EXTENSIBLE:
        if len(fmt) < 26:
            raise InvalidWav("WAVE_FORMAT_EXTENSIBLE header is truncated")
        tag = int.from_bytes(fmt[24:26], "little")  # the first two bytes of the SubFormat GUID
    if tag not in (_FORMAT_PCM, _FORMAT_FLOAT):
        raise InvalidWav(f"WAV format 0x{tag:04x} is compressed; convert the file to PCM first (e.g. with sox or ffmpeg)")
    is_float = tag == _FORMAT_FLOAT
    if is_float and bits not in (32, 64):
        raise InvalidWav(f"{bits}-bit float WAV is not supported (32 or 64 bit)")
    if not is_float and bits not in (8, 16, 24, 32):
        raise InvalidWav(f"{bits}-bit PCM WAV is not supported (8, 16, 24 or 32 bit)")
    if channels < 1 or rate < 1000:
        raise InvalidWav(f"implausible WAV format: {channels} channel(s) at {rate} Hz")
    block = channels * bits // 8
    usable = len(samples) - len(samples) % block
    return WavFormat(rate, channels, bits, is_float, usable // block), samples[:usable]


def _chunks(data: bytes):
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise InvalidWav("not a WAV file (no RIFF/WAVE header)")
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        # A writer that streamed (espeak-ng --stdout) never patches the size: the chunk is the rest of the file.
        yield chunk_id, data[position + 8 : position + 8 + size]
        position += 8 + size + (size & 1)
