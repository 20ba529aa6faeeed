"""An utterance of several sentences comes back whole. Without timestamps Whisper sometimes stops after the first
sentence; the recognizer then decodes the utterance again in timestamp mode (engines/asr/whisper.py,
`_looks_cut_short`). The cases are ones tiny.en cut short before that; piper speaks without its noise, so the
audio is the same on every run."""

from __future__ import annotations

import pytest

from babelstream.engines.asr import WhisperRecognizer
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample
from tests.support.speech import needs_espeak, silence, synthesize, wer

pytestmark = [pytest.mark.models, needs_espeak]

RATE = 16_000


@pytest.fixture(scope="module")
def piper_without_noise():
    from piper.config import SynthesisConfig

    from babelstream.engines.tts.piper import PiperSynthesizer

    voice = PiperSynthesizer().load()
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def speak(text: str) -> bytes:
        pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, syn_config=config))
        return float32_to_pcm16(resample(pcm16_to_float32(pcm), voice.config.sample_rate, RATE))

    return speak


@pytest.fixture(scope="module")
def tiny_en():
    return WhisperRecognizer("tiny.en", cpu_threads=2)


@pytest.mark.parametrize("sentences", [
    ("Would you like something to drink? We have water, juice and beer.",
     "Press the green button to start the machine."),
    ("I forgot my keys at the office, so I can't get into the flat.",
     "Plants use sunlight to turn water and carbon dioxide into sugar.",
     "Heavy rain caused flooding in several towns in the north of the country."),
])
def test_every_sentence_of_a_long_utterance_is_transcribed(tiny_en, piper_without_noise, sentences):
    pcm = silence(300)
    for position, text in enumerate(sentences):  # piper and espeak-ng by turns, 150 ms between sentences
        pcm += (synthesize(text) if position % 2 else piper_without_noise(text)) + silence(150)
    recognition = tiny_en.transcribe(pcm + silence(150), RATE, "en")
    reference = " ".join(sentences)
    assert recognition is not None and wer(reference, recognition.text) <= 0.25, recognition
    assert recognition.segments == ()  # not asked for: the second decode's segments are not handed out
