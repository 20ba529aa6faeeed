"""The mends at engine boundaries (numbers, capitals, Spanish opening marks), Bergamot's pt-PT -> pt-BR words,
Apertium's preferred variant, and the reference set's own consistency."""

from __future__ import annotations

import pytest

from babelstream.engines.mt.apertium import discover_modes
from babelstream.engines.mt.bergamot import to_brazilian
from babelstream.engines.mt.orthography import (
    keep_clock_times,
    localize_numbers,
    mend,
    numeric_values,
    restore_initial_case,
    spanish_opening_marks,
)
from bench.translation_data import DOMAINS, LANGUAGES, load_reference_set


@pytest.mark.parametrize(
    ("source_text", "translated", "source", "target", "expected"),
    [
        ("It costs 1,200 euros.", "Cuesta 1,200 euros.", "en", "es", "Cuesta 1.200 euros."),
        ("Add 1.5 litres.", "Añade 1.5 litros.", "en", "es", "Añade 1,5 litros."),
        ("It holds 45,000 people.", "Il accueille 45,000 personnes.", "en", "fr", "Il accueille 45 000 personnes."),
        ("Cuesta 1.200 euros y 2,5 más.", "It costs 1.200 euros and 2,5 more.", "es", "en", "It costs 1,200 euros and 2.5 more."),
        # Already localised by the engine: left alone, not read the wrong way round.
        ("It holds 45,000 people.", "Tem 45.000 pessoas.", "en", "pt", "Tem 45.000 pessoas."),
        # Times, years and plain integers are the same everywhere.
        ("At 7:45 in 2027, gate 12.", "A las 7:45 en 2027, puerta 12.", "en", "es", "A las 7:45 en 2027, puerta 12."),
        ("Cuesta 1.200 euros.", "Costa 1.200 euros.", "es", "ca", "Costa 1.200 euros."),
    ],
)
def test_numbers_are_written_in_the_targets_convention(source_text, translated, source, target, expected):
    assert localize_numbers(source_text, translated, source, target) == expected


def test_numeric_values_read_each_languages_convention():
    assert numeric_values("45,000 people and 2.5 million at 7", "en") == [2.5, 7.0, 45000.0]
    assert numeric_values("45.000 personas y 2,5 millones a las 7", "es") == [2.5, 7.0, 45000.0]
    assert numeric_values("45 000 personnes et 2,5 millions à 7", "fr") == [2.5, 7.0, 45000.0]


def test_a_sentence_that_began_with_a_capital_still_does():
    assert restore_initial_case("Preheat the oven.", "precalienta el horno.") == "Precalienta el horno."
    assert restore_initial_case("¿Dónde?", "¿where?") == "¿Where?"
    assert restore_initial_case("hello there", "hola") == "hola"  # ASR without capitals: left as it came


def test_spanish_questions_and_exclamations_get_their_opening_marks():
    assert spanish_opening_marks("Mi móvil no tiene batería. Me prestas tu cargador?") == (
        "Mi móvil no tiene batería. ¿Me prestas tu cargador?"
    )
    assert spanish_opening_marks("Feliz cumpleaños! Cuántos años cumples?") == "¡Feliz cumpleaños! ¿Cuántos años cumples?"
    assert spanish_opening_marks("Perdone, ¿dónde está?") == "Perdone, ¿dónde está?"  # already there
    assert spanish_opening_marks("La casa es grande.") == "La casa es grande."


def test_mend_applies_spanish_marks_only_to_spanish():
    assert mend("Is it big?", "es grande?", "en", "es") == "¿Es grande?"
    assert mend("Is it big?", "é grande?", "en", "pt") == "É grande?"


def test_european_portuguese_words_become_brazilian():
    assert to_brazilian("Perdemos o último autocarro. O pequeno-almoço está incluído?") == (
        "Perdemos o último ônibus. O café da manhã está incluído?"
    )
    assert to_brazilian("Autocarro") == "Ônibus"
    assert to_brazilian("O sumoso bolo") == "O sumoso bolo"  # whole words only


def test_apertium_prefers_the_brazilian_variant_for_portuguese(tmp_path):
    for name in ["es-pt", "es-pt_BR", "spa-eng", "spa-eng_US", "pt-es"]:
        (tmp_path / f"{name}.mode").write_text("lt-proc $1 x.bin\n")
    modes = {pair: mode.name for pair, mode in discover_modes(tmp_path).items()}
    assert modes == {("es", "pt"): "es-pt_BR", ("es", "en"): "spa-eng", ("pt", "es"): "pt-es"}


def test_the_reference_set_is_complete_and_consistent():
    sentences = load_reference_set()
    assert len(sentences) >= 100
    assert len({s.id for s in sentences}) == len(sentences)
    assert {s.domain for s in sentences} == set(DOMAINS)
    for sentence in sentences:
        for language in LANGUAGES:
            text = sentence[language]
            assert text.strip() == text and text[-1] in ".?!", (sentence.id, language, text)
            for token in sentence.keep:
                assert token in text, (sentence.id, language, token)
    # Every rendering carries the same numbers as the English, read in its own convention.
    for sentence in sentences:
        english = [v for v in numeric_values(sentence["en"], "en")]
        for language in ("es", "pt", "ca"):
            assert numeric_values(sentence[language], language) == english, (sentence.id, language)
    lengths = sorted(len(s["en"].split()) for s in sentences)
    assert lengths[0] <= 4 and lengths[-1] >= 25  # short and long sentences both


def test_the_post_editors_corruptions_are_undone_only_where_the_source_rules_them_out():
    from babelstream.engines.mt.bergamot import undo_post_editor

    assert undo_post_editor("Compramos frutas não mercado.", "We bought fruit at the market.", ("en", "pt")) == (
        "Compramos frutas no mercado."
    )
    # A real negation stays.
    assert undo_post_editor("Não compramos frutas.", "We did not buy fruit.", ("en", "pt")) == "Não compramos frutas."
    assert undo_post_editor("Nós não vamos.", "We won't go.", ("en", "pt")) == "Nós não vamos."
    assert undo_post_editor("Of you want coffee?", "Você quer café?", ("pt", "en")) == "Do you want coffee?"
    assert undo_post_editor("Of you, the best.", "De você, o melhor.", ("pt", "en")) == "Of you, the best."
    # The time it appends, and its spaced "a. m.", go; a bracket the source had stays.
    assert undo_post_editor("It leaves at 7:45 a. m. 12. (07:45)", "Sai às 7:45 do portão 12.", ("pt", "en")) == (
        "It leaves at 7:45 a.m. 12."
    )
    assert undo_post_editor("Gate (07:45)", "Portão (07:45)", ("pt", "en")) == "Gate (07:45)"


def test_clock_times_keep_their_colon():
    assert keep_clock_times("surt a les 7:45 per la porta 12.", "El vol surt a les 7.45 per la porta 12.") == (
        "El vol surt a les 7:45 per la porta 12."
    )
    # Only times the source has: a decimal the source wrote as one stays.
    assert keep_clock_times("costa 7,45 euros", "cuesta 7,45 euros") == "cuesta 7,45 euros"
    assert mend("El vuelo sale a las 7:45.", "El vol surt a les 7.45.", "es", "ca") == "El vol surt a les 7:45."
