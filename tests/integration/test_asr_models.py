"""Real Whisper models from the pinned packages, on speech synthesized by espeak-ng at test time."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from ctranslate2.specs import whisper_spec

from babelstream.engines.asr import (
    LanguageNotSupported,
    ModelNotAvailable,
    Recognition,
    WhisperRecognizer,
    models,
    resolve_model,
)
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, rms_dbfs
from babelstream.engines.vad import WebRtcVad, split_recording
from tests.support.speech import corpus_wer, needs_espeak, silence, synthesize, wer, white_noise

pytestmark = pytest.mark.models

RATE = 16_000
# espeak-ng's robotic voice is harder than people: tiny.en hears "brown fox jumps" as "round-fark jump"
# (3 of this corpus's ~95 words), the rest is near perfect.
ENGLISH = [
    "the quick brown fox jumps over the lazy dog",
    "please call me back when you get home tonight",
    "can you tell me where the nearest hospital is",
    "good morning everyone and welcome to the meeting",
    "the train to london leaves from platform four",
    "my name is john and i live in a small house",
    "do you know what time it is",
    "we need to finish this report before friday",
    "i am going to the market to buy some bread",
    "this is a test of the speech translation system",
]
SPANISH = [
    "el tren sale de la estación a las nueve de la mañana",
    "la casa de mis padres está cerca del parque y tiene un jardín muy grande",
    "buenos días a todos y bienvenidos a la reunión de hoy sobre el nuevo proyecto",
]


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    """A private cache: the joined base model is rebuilt and checked in every test session."""
    return tmp_path_factory.mktemp("babelstream-cache")


@pytest.fixture(scope="module")
def tiny_en():
    return WhisperRecognizer("tiny.en")


@pytest.fixture(scope="module")
def base(model_cache):
    return WhisperRecognizer("base", default_language="en", cache_dir=model_cache)


@needs_espeak
def test_tiny_en_transcribes_english_speech(tiny_en):
    pairs = []
    for sentence in ENGLISH:
        recognition = tiny_en.transcribe(synthesize(sentence), RATE, "en")
        assert isinstance(recognition, Recognition), sentence
        pairs.append((sentence, recognition.text))
        assert recognition.language == "en"
        assert 0.0 < recognition.confidence <= 1.0
        assert recognition.no_speech_probability < 0.5
    assert corpus_wer(pairs) <= 0.10, pairs


@needs_espeak
def test_speech_at_another_sample_rate_is_resampled(tiny_en):
    sentence = "please call me back when you get home tonight"
    recognition = tiny_en.transcribe(synthesize(sentence, sample_rate_hz=48_000), 48_000, None)
    assert recognition is not None and wer(sentence, recognition.text) <= 0.2
    assert recognition.duration_ms == pytest.approx(len(synthesize(sentence)) * 1000 // (2 * RATE), abs=2)


def test_silence_gives_none(tiny_en, base):
    assert tiny_en.transcribe(silence(3000), RATE, "en") is None
    assert base.transcribe(silence(3000), RATE, None) is None


@pytest.mark.parametrize("level_dbfs", [-20, -45])
def test_white_noise_gives_none(tiny_en, base, level_dbfs):
    noise = white_noise(3000, level_dbfs=level_dbfs, seed=7)
    assert tiny_en.transcribe(noise, RATE, "en") is None
    assert base.transcribe(noise, RATE, None) is None


@needs_espeak
def test_stock_phrase_is_kept_when_spoken_and_dropped_when_barely_audible(tiny_en):
    samples = pcm16_to_float32(synthesize("thank you"))
    spoken = tiny_en.transcribe(float32_to_pcm16(at_level(samples, -20)), RATE, "en")
    assert spoken is not None and wer("thank you", spoken.text) == 0
    assert tiny_en.transcribe(float32_to_pcm16(at_level(samples, -55)), RATE, "en") is None


def at_level(samples: np.ndarray, dbfs: float) -> np.ndarray:
    return samples * 10 ** ((dbfs - rms_dbfs(samples)) / 20)


def test_too_short_audio_gives_none(tiny_en):
    assert tiny_en.transcribe(white_noise(60), RATE, "en") is None
    assert tiny_en.transcribe(b"", RATE, "en") is None


@needs_espeak
def test_the_known_language_list_is_the_multilingual_models_own(base):
    from babelstream.engines.asr.languages import WHISPER_LANGUAGES

    assert base.languages() == WHISPER_LANGUAGES


def test_base_detects_and_transcribes_spanish(base):
    assert base.multilingual and {"en", "es", "fr", "de"} <= base.languages()
    pairs = []
    for sentence in SPANISH:
        recognition = base.transcribe(synthesize(sentence, voice="es"), RATE, None)
        assert recognition is not None, sentence
        assert recognition.language == "es", recognition
        assert recognition.language_probability >= 0.5
        pairs.append((sentence, recognition.text))
    # base hears espeak-ng's Spanish worse than its English; this still catches a broken pipeline.
    assert corpus_wer(pairs) <= 0.35, pairs


@needs_espeak
def test_base_with_given_language_skips_detection(base):
    sentence = SPANISH[0]
    recognition = base.transcribe(synthesize(sentence, voice="es"), RATE, "es-ES")
    assert recognition is not None and recognition.language == "es" and recognition.language_probability == 1.0
    assert wer(sentence, recognition.text) <= 0.2


@needs_espeak
def test_unsure_detection_falls_back_to_default_language(model_cache):
    cautious = WhisperRecognizer("base", default_language="en", language_threshold=0.999)
    recognition = cautious.transcribe(synthesize(SPANISH[0], voice="es"), RATE, None)
    assert recognition is None or recognition.language == "en"


def test_english_only_model_rejects_other_languages(tiny_en):
    assert not tiny_en.multilingual and tiny_en.languages() == frozenset({"en"})
    with pytest.raises(LanguageNotSupported):
        tiny_en.transcribe(silence(1000), RATE, "es")
    with pytest.raises(LanguageNotSupported):
        WhisperRecognizer("tiny.en", default_language="fr")


@needs_espeak
def test_concurrent_calls_are_serialised_and_consistent(tiny_en):
    pcm = synthesize("do you know what time it is")
    results: list[Recognition | None] = []
    threads = [threading.Thread(target=lambda: results.append(tiny_en.transcribe(pcm, RATE, "en"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({result.text for result in results if result}) == 1 and None not in results


@needs_espeak
def test_endpointed_utterances_transcribe(tiny_en):
    first, second = ENGLISH[1], ENGLISH[7]
    recording = silence(500) + synthesize(first) + silence(1000) + synthesize(second) + silence(500)
    utterances = split_recording(WebRtcVad(RATE), recording)
    texts = [tiny_en.transcribe(u.pcm, RATE, "en") for u in utterances]
    assert [wer(ref, hyp.text) <= 0.1 for ref, hyp in zip([first, second], texts, strict=True)] == [True, True]


# --- where the weights come from -------------------------------------------------------------


def test_bundled_tiny_en_is_checked_by_sha256(monkeypatch):
    tampered = tuple(
        models.ModelFile(f.name, f.size, "0" * 64) if f.name == "model.bin" else f for f in models.TINY_EN_FILES
    )
    monkeypatch.setattr(models, "TINY_EN_FILES", tampered)
    with pytest.raises(ModelNotAvailable, match="sha256"):
        resolve_model("tiny.en")


def test_base_is_joined_once_into_the_cache(base, model_cache):
    joined = Path(resolve_model("base", model_cache))
    assert joined == model_cache / "models" / "whisper-base"
    model_bin = joined / "model.bin"
    inode, mtime = model_bin.stat().st_ino, model_bin.stat().st_mtime_ns
    assert model_bin.stat().st_size == models.BASE_MODEL_BIN.size
    assert Path(resolve_model("base", model_cache)) == joined
    assert (model_bin.stat().st_ino, model_bin.stat().st_mtime_ns) == (inode, mtime)  # reused, not rewritten
    assert sorted(p.name for p in joined.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]


def test_corrupt_cached_join_is_rebuilt(tmp_path, monkeypatch):
    model_bin = Path(resolve_model("base", tmp_path)) / "model.bin"
    with open(model_bin, "r+b") as stream:  # same size, different bytes
        stream.seek(1000)
        stream.write(b"\xff" * 16)
    monkeypatch.setattr(models, "_verified", set())  # as a fresh process would see it
    resolve_model("base", tmp_path)
    assert models._sha256(model_bin) == models.BASE_MODEL_BIN.sha256


def test_base_join_with_wrong_sha256_fails_and_leaves_nothing(tmp_path, monkeypatch):
    wrong = models.ModelFile("model.bin", models.BASE_MODEL_BIN.size, "f" * 64)
    monkeypatch.setattr(models, "BASE_MODEL_BIN", wrong)
    with pytest.raises(ModelNotAvailable, match="sha256"):
        resolve_model("base", tmp_path)
    leftovers = [p.name for p in (tmp_path / "models" / "whisper-base").iterdir()]
    assert "model.bin" not in leftovers and not [name for name in leftovers if name.startswith(".")]


def test_missing_local_directory_is_reported(tmp_path):
    with pytest.raises(ModelNotAvailable, match="no model directory"):
        WhisperRecognizer(str(tmp_path / "nope"))


def test_hub_model_that_cannot_be_fetched_is_reported(tmp_path, monkeypatch):
    # A repository that does not exist: offline this is the "no network" path, online a hub 404.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotAvailable) as raised:
        WhisperRecognizer("babelstream-tests/no-such-whisper-model")
    assert "babelstream-tests/no-such-whisper-model" in str(raised.value) and "hub" in str(raised.value)


# --- a model a user brings: a directory path, loaded through the same code -------------------


def build_random_whisper(directory: Path, *, d_model: int = 64, ffn: int = 128, heads: int = 2, seed: int = 0) -> None:
    """A one-layer Whisper with random weights in CTranslate2 format, reusing tiny.en's vocabulary,
    tokenizer and token ids: about 14 MB, built in well under a second."""
    source = Path(resolve_model("tiny.en"))
    tokens = (source / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def layer_norm(spec) -> None:
        spec.gamma = np.ones(d_model, np.float32)
        spec.beta = np.zeros(d_model, np.float32)

    def linear(spec, outputs: int, inputs: int) -> None:
        spec.weight = weight(outputs, inputs)
        spec.bias = np.zeros(outputs, np.float32)

    def feed_forward(spec) -> None:
        layer_norm(spec.layer_norm)
        linear(spec.linear_0, ffn, d_model)
        linear(spec.linear_1, d_model, ffn)

    spec = whisper_spec.WhisperSpec(1, heads, 1, heads)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.conv1.weight, encoder.conv1.bias = weight(d_model, 80, 3), np.zeros(d_model, np.float32)
    encoder.conv2.weight, encoder.conv2.bias = weight(d_model, d_model, 3), np.zeros(d_model, np.float32)
    encoder.position_encodings.encodings = weight(1500, d_model)
    layer_norm(encoder.layer_norm)
    for layer in encoder.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d_model, d_model)  # fused q, k, v
        linear(layer.self_attention.linear[1], d_model, d_model)
        feed_forward(layer.ffn)
    decoder.embeddings.weight = weight(len(tokens), d_model)
    decoder.projection.weight = decoder.embeddings.weight  # tied, as in Whisper
    decoder.position_encodings.encodings = weight(448, d_model)
    layer_norm(decoder.layer_norm)
    for layer in decoder.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d_model, d_model)
        linear(layer.self_attention.linear[1], d_model, d_model)
        layer_norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], d_model, d_model)  # query from the decoder
        linear(layer.attention.linear[1], 2 * d_model, d_model)  # fused k, v from the encoder
        linear(layer.attention.linear[2], d_model, d_model)
        feed_forward(layer.ffn)

    config = json.loads((source / "config.json").read_text())
    spec.config.suppress_ids = config["suppress_ids"]
    spec.config.suppress_ids_begin = config["suppress_ids_begin"]
    spec.config.lang_ids = config["lang_ids"]
    spec.config.alignment_heads = [[0, 0]]
    spec.register_vocabulary(tokens)
    spec.register_file(str(source / "tokenizer.json"))
    spec.validate()
    spec.optimize(quantization=None)
    directory.mkdir(parents=True)
    spec.save(str(directory))


def test_a_model_directory_path_loads_and_runs(tmp_path):
    model_dir = tmp_path / "random-whisper"
    build_random_whisper(model_dir)
    recognizer = WhisperRecognizer(str(model_dir))
    assert recognizer.name == f"whisper:{model_dir}"
    assert not recognizer.multilingual  # tiny.en's vocabulary size
    tone = float32_to_pcm16(0.3 * np.sin(2 * np.pi * 220 * np.arange(RATE * 2) / RATE).astype(np.float32))
    recognition = recognizer.transcribe(tone, RATE, "en")
    # The weights are random, so the text is garbage; the shape of the answer is what is tested.
    assert recognition is None or (
        isinstance(recognition.text, str)
        and recognition.language == "en"
        and 0.0 <= recognition.confidence <= 1.0
        and recognition.duration_ms == 2000
    )


# --- the hallucination guard's text rules (no model needed) ----------------------------------


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("[Music]", ""),
        (" (buzzing) ♪ ", ""),
        ("...", ""),
        ("the the the the the the the", ""),
        ("I am going. I am going. I am going. I am going.", ""),
        (
            "we went to the beach today with the kids and the dog and then then then then then then",
            "we went to the beach today with the kids and the dog and then",
        ),
        ("we had a very very good time", "we had a very very good time"),
        ("Hello there ♪", "Hello there"),
    ],
)
def test_guard_strips_annotations_and_loops(raw, kept):
    from babelstream.engines.asr.whisper import _clean

    assert _clean(raw) == kept


def test_guard_knows_whispers_stock_phrases():
    from babelstream.engines.asr.whisper import _is_stock_hallucination

    assert _is_stock_hallucination(" Thank you.")
    assert _is_stock_hallucination("Thanks for watching!")
    assert not _is_stock_hallucination("Thank you for coming to the meeting.")
