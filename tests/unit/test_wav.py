"""babelstream/wav.py: the one WAV reader/writer, and how each layer reports bad audio."""

from __future__ import annotations

import io
import wave

import pytest

from babelstream import wav
from babelstream.contracts.errors import MalformedEvent
from babelstream.contracts import wav as contracts_wav
from babelstream.engines import audio as engines_audio
from babelstream.engines.audio import InvalidAudio

PCM = bytes(range(256)) * 10


def written_by_wave(pcm: bytes, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


def test_the_header_is_the_44_bytes_python_wave_writes_and_round_trips():
    wrapped = wav.wrap_pcm16(PCM, 16000)
    assert wrapped == written_by_wave(PCM, 16000)
    assert len(wrapped) == wav.WAV_HEADER_BYTES + len(PCM)
    assert wav.unwrap_pcm16(wrapped) == (PCM, 16000)


@pytest.mark.parametrize(
    "bad",
    [written_by_wave(PCM, 16000, channels=2), written_by_wave(PCM, 16000, width=1), b"RIFF not really", b""],
)
def test_anything_but_pcm16_mono_wav_is_refused_by_every_layer_in_its_own_words(bad):
    with pytest.raises(wav.InvalidWav):
        wav.unwrap_pcm16(bad)
    with pytest.raises(MalformedEvent):
        contracts_wav.unwrap_pcm16(bad)
    with pytest.raises(InvalidAudio):
        engines_audio.unwrap_pcm16(bad)


def test_an_odd_byte_count_is_not_pcm16():
    with pytest.raises(wav.InvalidWav, match="even number of bytes"):
        wav.wrap_pcm16(PCM + b"\0", 16000)
