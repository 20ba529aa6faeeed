"""A spoken translation as Ogg Opus: what a room's listeners are sent (docs/protocol.md, "Rooms").

A WAV of speech at 22,050 Hz is ~44 KB a second, and a room sends it to every listener; Opus at 24 kbit/s is
~3.3 KB a second, 13x less, and every browser's decodeAudioData plays Ogg Opus. The encoder is libopus through
PyAV (FFmpeg's libopus, inside PyAV's wheel): the tts stage encodes each (utterance, language) once, however many
listeners and gateways there are (docs/benchmarks/rooms.md).
"""

from __future__ import annotations

import io

import av
import numpy as np

# Opus runs at 8, 12, 16, 24 or 48 kHz: 24 kHz keeps all of speech (voices end below 11 kHz), and the
# resampler (FFmpeg's) converts from the voice's own rate.
_OPUS_RATE_HZ = 24_000
# Speech at 24 kbit/s is transparent for a listener following a talk; "voip" tunes libopus for speech.
_BITRATE = 24_000
# libopus's effort, 0-10: on espeak-ng speech 2 costs ~55% of 10's CPU for a file within 10% of its size (10 ms
# CPU per second of speech; docs/benchmarks/rooms.md); the tts stage pays it once per utterance and language.
_COMPLEXITY = 2


def encode_ogg_opus(pcm: bytes, sample_rate_hz: int) -> bytes:
    """PCM16 mono little-endian -> an Ogg Opus file (b"" for no samples)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if not samples.size:
        return b""
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream(
            "libopus", rate=_OPUS_RATE_HZ,
            options={"application": "voip", "compression_level": str(_COMPLEXITY)},
        )
        stream.bit_rate = _BITRATE
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = sample_rate_hz
        resampler = av.AudioResampler(format="s16", layout="mono", rate=_OPUS_RATE_HZ)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
    return out.getvalue()
