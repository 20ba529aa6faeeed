"""People's names put back after translation, and words an engine left untranslated backed off along another
path: the parsing of Apertium's marks and analyses, and the router's use of them, with fake engines."""

from __future__ import annotations

from babelstream.engines.mt.apertium import ProperNouns, proper_nouns_in_analysis, unknown_words
from babelstream.engines.mt.names import restore_names
from babelstream.engines.mt.registry import TranslatorRegistry
from babelstream.engines.mt.router import TranslationRouter
from tests.support.mt import MEASURED


def test_unknown_word_marks_are_read_and_escapes_are_not_marks():
    raw = " Olvidé el *carregador y el *garçom, \\*no #lo @x *Anna ".encode()
    assert unknown_words(raw) == ("carregador", "garçom", "Anna")


def test_only_people_are_names_and_never_places_or_capitalised_words():
    english = (
        "^Plants/plant<n><pl>/Plant<np><cog><pl>$ ^use/use<vblex><pres>$^./.<sent>$ "
        "^Peter/Peter<np><ant><m><sg>$ ^met/meet<vblex><past>$ ^the/the<det><def><sp>$ "
        "^Roman/Roman<adj>/Roman<np><ant><m><sg>$ ^in/in<pr>$ ^London/London<np><loc><sg>/London<np><ant><m><sg>$"
    )
    assert proper_nouns_in_analysis(english) == ProperNouns(frozenset({"Peter"}), frozenset({"London"}))
    catalan = "^la/el<det><def><f><sg>$ ^Marta/Marta<n><f><sg>/Marta<np><ant><f><sg>$ ^i/i<cnjcoo>$ ^Europa/Europa<np><ant>/Europa<np><top>$"
    assert proper_nouns_in_analysis(catalan) == ProperNouns(frozenset({"Marta"}), frozenset({"Europa"}))


def test_a_changed_name_is_put_back_where_it_pairs_up():
    assert restore_names("Peter called.", {"Peter"}, "Pedro llamó.", people_in_target={"Pedro"}) == "Peter llamó."
    assert restore_names("Ahir la Marta va venir.", {"Marta"}, "Yesterday the Marten came.") == "Yesterday the Marta came."
    # A place the target's analyser knows is not taken for the name that went missing.
    assert (
        restore_names("Peter flew to London.", {"Peter"}, "Pedro voló a Londres.", {"Pedro"}, {"Londres"})
        == "Peter voló a Londres."
    )


def test_a_name_is_not_forced_onto_a_word_that_did_not_replace_it():
    # Sentence-initial and not a name to the target's analyser: every first word is capitalised.
    assert restore_names("Peter called.", {"Peter"}, "Él llamó.") == "Él llamó."
    # Capitalised inside the sentence, but not a respelling of the name ("la Lluna" is "la Luna").
    assert restore_names("Va caminar sobre la Lluna.", {"Lluna"}, "Walked on the Moon.") == "Walked on the Moon."
    # Two candidates for one missing name: ambiguous, left alone.
    assert restore_names("Peter saw it.", {"Peter"}, "Pedro y Pepe lo vieron.", {"Pedro", "Pepe"}) == "Pedro y Pepe lo vieron."


class MarkingApertium:
    """Apertium's interface with canned answers: pt->es leaves "carregador" untranslated; en->es knows "charger"."""

    name = "apertium"

    def __init__(self):
        self.calls: list[tuple[str, str, str]] = []

    def pairs(self):
        return frozenset({("pt", "es"), ("en", "es"), ("es", "pt")})

    def translate(self, text, source, target):
        return self.translate_with_unknowns(text, source, target)[0]

    def translate_with_unknowns(self, text, source, target):
        self.calls.append((text, source, target))
        if (source, target) == ("pt", "es"):
            return "Olvidé el carregador y el xyzzy en Lisboa.", ("carregador", "xyzzy", "Lisboa")
        if text == "charger":
            return "cargador", ()
        return text, (text,)  # anything else: unknown again


class WordBergamot:
    name = "bergamot"

    def pairs(self):
        return frozenset({("pt", "en"), ("en", "pt")})

    def translate(self, text, source, target):
        return {"carregador": "Charger.", "xyzzy": "Xyzzy"}.get(text, text)


def test_an_untranslated_word_is_backed_off_through_another_engine():
    apertium = MarkingApertium()
    router = TranslationRouter(TranslatorRegistry([WordBergamot(), apertium]), MEASURED)
    assert router.back_off_route("pt", "es").path == "pt>en>es"
    result = router.translate("Esqueci o carregador e o xyzzy em Lisboa.", "pt", "es")
    # "carregador" -> "Charger." -> "charger" -> "cargador"; "xyzzy" stays unknown on the way and is kept;
    # "Lisboa", capitalised, is a name and is not sent.
    assert result.text == "Olvidé el cargador y el xyzzy en Lisboa."
    assert ("charger", "en", "es") in apertium.calls
    assert not any(text == "Lisboa" for text, _, _ in apertium.calls)


def test_back_off_can_be_turned_off_for_the_benchmarks_before():
    router = TranslationRouter(TranslatorRegistry([WordBergamot(), MarkingApertium()]), MEASURED, back_off_unknown_words=False)
    assert router.translate("Esqueci o carregador.", "pt", "es").text == "Olvidé el carregador y el xyzzy en Lisboa."
