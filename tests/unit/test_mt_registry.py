"""Which translator the registry picks, with fake engines; and the parsing that feeds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelstream.engines.mt.apertium import clean_output, discover_modes, escape_for_stream, pipeline_commands
from babelstream.engines.mt.base import LanguagePair, UnsupportedPair, normalize_language
from babelstream.engines.mt.registry import (
    InvalidTranslationConfig,
    TranslatorRegistry,
    parse_engine_order,
    parse_opus_models,
)


class FakeTranslator:
    def __init__(self, name: str, pairs: set[LanguagePair], fail_on_close: bool = False):
        self.name = name
        self._pairs = frozenset(pairs)
        self.fail_on_close = fail_on_close
        self.translated: list[str] = []
        self.closed = False

    def pairs(self) -> frozenset[LanguagePair]:
        return self._pairs

    def translate(self, text: str, source: str, target: str) -> str:
        self.translated.append(text)
        return f"[{self.name}] {text}"

    def close(self) -> None:
        self.closed = True
        if self.fail_on_close:
            raise RuntimeError("boom")


def _registry() -> tuple[TranslatorRegistry, FakeTranslator, FakeTranslator, FakeTranslator]:
    ct2 = FakeTranslator("opus-ct2", {("en", "de"), ("en", "es")})
    bergamot = FakeTranslator("bergamot", {("en", "pt"), ("pt", "en")})
    apertium = FakeTranslator("apertium", {("en", "es"), ("es", "en"), ("es", "pt")})
    return TranslatorRegistry([ct2, bergamot, apertium]), ct2, bergamot, apertium


def test_first_engine_in_preference_order_wins():
    registry, ct2, bergamot, apertium = _registry()
    assert registry.translator_for("en", "es") is ct2
    assert registry.translator_for("es", "en") is apertium
    assert registry.translator_for("en", "pt") is bergamot
    assert registry.engines() == ("opus-ct2", "bergamot", "apertium")


def test_language_codes_are_normalized():
    registry, _, bergamot, _ = _registry()
    assert registry.translator_for("EN", "pt-BR") is bergamot
    assert registry.translator_for("pt_BR", "en-US") is bergamot
    assert normalize_language(" Es-419 ") == "es"


def test_identity_pair_passes_text_through_even_for_unknown_languages():
    registry, *_ = _registry()
    for source, target in [("en", "en"), ("ja", "ja"), ("pt-BR", "pt")]:
        translator = registry.translator_for(source, target)
        assert translator.name == "passthrough"
        assert translator.translate("Olá!", source, target) == "Olá!"


def test_unsupported_pair_lists_every_available_pair():
    registry, *_ = _registry()
    with pytest.raises(UnsupportedPair) as caught:
        registry.translator_for("en", "ja")
    assert caught.value.source == "en" and caught.value.target == "ja"
    assert caught.value.available == sorted(registry.pairs())
    assert "en->ja" in str(caught.value) and "es->pt" in str(caught.value)


def test_pairs_is_the_union_of_the_engines():
    registry, *_ = _registry()
    assert registry.pairs() == {("en", "de"), ("en", "es"), ("en", "pt"), ("pt", "en"), ("es", "en"), ("es", "pt")}
    assert TranslatorRegistry([]).pairs() == frozenset()


def test_close_reaches_every_engine_even_if_one_fails():
    first = FakeTranslator("opus-ct2", set(), fail_on_close=True)
    second = FakeTranslator("apertium", set())
    TranslatorRegistry([first, second]).close()
    assert first.closed and second.closed


def test_skipped_engines_are_reported_with_their_reason():
    registry = TranslatorRegistry.from_installed(opus_models="", engine_order="opus-ct2")
    assert registry.engines() == ()
    assert registry.unavailable == {"opus-ct2": "no model configured"}


def test_parse_opus_models():
    assert parse_opus_models("") == {}
    assert parse_opus_models("en-de=/models/opus-mt-en-de-ct2,en-fr=/models/x") == {
        ("en", "de"): Path("/models/opus-mt-en-de-ct2"),
        ("en", "fr"): Path("/models/x"),
    }
    assert parse_opus_models(" EN-De = /models/a ,") == {("en", "de"): Path("/models/a")}


@pytest.mark.parametrize("spec", ["en-de", "en=/x", "en-de-fr=/x", "-de=/x", "en-de=", "en-de=/a,en-de=/b"])
def test_parse_opus_models_rejects_malformed_entries(spec):
    with pytest.raises(InvalidTranslationConfig):
        parse_opus_models(spec)


def test_parse_engine_order():
    assert parse_engine_order("bergamot, apertium") == ("bergamot", "apertium")
    for bad in ["", "google", "apertium,deepl"]:
        with pytest.raises(InvalidTranslationConfig):
            parse_engine_order(bad)


# --- Apertium's discovery and stream format, which decide the pairs the registry offers -------------


def test_discover_modes_maps_codes_and_prefers_plain_modes(tmp_path):
    for name in ["eng-spa", "spa-eng_US", "spa-eng", "es-pt_BR", "fr-es", "eco-fr-es", "eng-spa-tagger", "ast-spa"]:
        (tmp_path / f"{name}.mode").write_text("lt-proc x.bin\n")
    modes = discover_modes(tmp_path)
    assert {pair: mode.name for pair, mode in modes.items()} == {
        ("en", "es"): "eng-spa",
        ("es", "en"): "spa-eng",
        ("es", "pt"): "es-pt_BR",  # a variant serves when it is the only mode for the pair
        ("fr", "es"): "fr-es",
        ("ast", "es"): "ast-spa",  # Asturian has no two-letter code
    }


def test_pipeline_commands_switch_every_stage_to_null_flush():
    mode = (
        "lt-proc '/d/a b.bin' | apertium-tagger -g $2 '/d/p.prob'"
        " | lt-proc $1 '/d/gen.bin' | lt-proc -z -p /d/p.bin\n"
    )
    assert pipeline_commands(mode) == [
        ["lt-proc", "-z", "/d/a b.bin"],
        ["apertium-tagger", "-z", "-g", "/d/p.prob"],
        ["lt-proc", "-z", "-g", "/d/gen.bin"],  # marks kept: they name the untranslated words
        ["lt-proc", "-z", "-p", "/d/p.bin"],
    ]


def test_stream_escaping_and_mark_stripping():
    assert escape_for_stream("a^b [c]\n$d\0") == b"a\\^b \\[c\\] \\$d \0"
    raw = rb" Hola *xyzzy, @foo y #bar \@baz \\*qux  cuesta \$5 "
    assert clean_output(raw) == "Hola xyzzy, foo y bar @baz \\qux cuesta $5"
