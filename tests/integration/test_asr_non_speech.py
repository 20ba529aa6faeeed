"""Silence, noise and music give no text: 60 s of each, cut by the live endpointer exactly as the gateway
cuts a stream, and every segment it cuts sent to Whisper (tiny.en for English, base with detection).

Whisper, trained on subtitled video, answers silence with "Thank you." and music with "♪" or lyrics it
imagines; the recogniser's guard (engines/asr/whisper.py) must drop all of it.
"""

from __future__ import annotations

import pytest

from babelstream.engines.asr.whisper import WhisperRecognizer
from babelstream.segmentation import SegmentationSettings, split
from tests.support.sounds import coloured_noise, music
from tests.support.speech import silence, white_noise

pytestmark = pytest.mark.models

RATE = 16_000
MINUTE_MS = 60_000

SOUNDS = {
    "digital silence": lambda: silence(MINUTE_MS),
    "room tone (white noise, -60 dBFS)": lambda: white_noise(MINUTE_MS, level_dbfs=-60, seed=1),
    "white noise, -20 dBFS": lambda: white_noise(MINUTE_MS, level_dbfs=-20, seed=2),
    "pink noise, -25 dBFS": lambda: coloured_noise(MINUTE_MS, exponent=1, level_dbfs=-25, seed=3),
    "brown noise, -20 dBFS": lambda: coloured_noise(MINUTE_MS, exponent=2, level_dbfs=-20, seed=4),
    "music, -18 dBFS": lambda: music(MINUTE_MS, level_dbfs=-18, seed=5),
    "music, 140 bpm, -12 dBFS": lambda: music(MINUTE_MS, level_dbfs=-12, tempo_bpm=140, seed=6),
}


@pytest.fixture(scope="module")
def recognizers():
    return {
        "tiny.en": (WhisperRecognizer("tiny.en", cpu_threads=2), "en"),
        "base": (WhisperRecognizer("base", cpu_threads=2), None),
    }


@pytest.mark.parametrize("sound", list(SOUNDS))
def test_a_minute_of_non_speech_gives_no_text(sound, recognizers):
    pcm = SOUNDS[sound]()
    assert len(pcm) == 2 * RATE * 60
    segments = split(SegmentationSettings(), pcm)
    heard = []
    for model, (recognizer, language) in recognizers.items():
        for segment in segments:
            recognition = recognizer.transcribe(segment.pcm, RATE, language)
            if recognition is not None:
                heard.append((model, segment.start_ms, recognition.text))
    assert heard == [], f"{sound}: {len(segments)} segments cut; Whisper heard {heard}"
