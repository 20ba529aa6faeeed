from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from babelstream.engines.audio import (
    WAV_HEADER_BYTES,
    InvalidAudio,
    duration_ms,
    float32_to_pcm16,
    pcm16_to_float32,
    resample,
    resample_pcm16,
    rms_dbfs,
    unwrap_pcm16,
    wrap_pcm16,
)


def tone(frequency_hz: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def test_pcm16_round_trip_is_exact():
    pcm = struct.pack("<5h", -32768, -1, 0, 1, 32767)
    samples = pcm16_to_float32(pcm)
    assert samples.dtype == np.float32
    assert samples[0] == -1.0 and samples[2] == 0.0 and samples[-1] < 1.0
    assert float32_to_pcm16(samples) == pcm


def test_float_to_pcm16_clips_instead_of_wrapping():
    assert struct.unpack("<2h", float32_to_pcm16(np.array([1.5, -2.0], dtype=np.float32))) == (32767, -32768)


def test_odd_byte_count_is_rejected():
    with pytest.raises(InvalidAudio):
        pcm16_to_float32(b"\x00\x01\x02")


def test_resample_keeps_duration_and_pitch():
    original = tone(440, 1.0, 22_050)
    converted = resample(original, 22_050, 16_000)
    assert abs(len(converted) - 16_000) <= 1
    spectrum = np.abs(np.fft.rfft(converted))
    assert abs(np.argmax(spectrum) * 16_000 / len(converted) - 440) < 2


def test_resample_to_same_rate_is_identity():
    pcm = float32_to_pcm16(tone(300, 0.1, 16_000))
    assert resample_pcm16(pcm, 16_000, 16_000) is pcm
    assert abs(len(resample_pcm16(pcm, 16_000, 8_000)) - len(pcm) // 2) <= 2


def test_wav_wrap_writes_a_44_byte_header():
    pcm = float32_to_pcm16(tone(300, 0.25, 16_000))
    wav = wrap_pcm16(pcm, 16_000)
    assert len(wav) == WAV_HEADER_BYTES + len(pcm)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert unwrap_pcm16(wav) == (pcm, 16_000)


def test_wav_unwrap_rejects_stereo_and_garbage():
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(16_000)
        writer.writeframes(bytes(400))
    with pytest.raises(InvalidAudio):
        unwrap_pcm16(buffer.getvalue())
    with pytest.raises(InvalidAudio):
        unwrap_pcm16(b"not a wav file at all")


def test_duration_and_loudness():
    assert duration_ms(bytes(32_000), 16_000) == 1000
    assert rms_dbfs(np.zeros(100, dtype=np.float32)) == -math.inf
    assert rms_dbfs(np.ones(100, dtype=np.float32)) == pytest.approx(0.0)
    assert rms_dbfs(tone(100, 1.0, 16_000, amplitude=1.0)) == pytest.approx(-3.01, abs=0.05)
