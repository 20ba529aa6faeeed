"""Translation quality of every path this installation can take, scored on the team's reference set.

    .venv/bin/python bench/translation_quality.py                 # print the table (about a minute)
    .venv/bin/python bench/translation_quality.py --write         # ... and make it the shipped ranking
    .venv/bin/python bench/translation_quality.py --table my.json # ... or write it for MT_QUALITY_TABLE
    .venv/bin/python bench/translation_quality.py --pairs en-es,es-en --no-mend --show 5

For every ordered pair of the reference set's languages (en, es, pt, ca, fr), every path the router can
take — the direct engine and each pivot through one intermediate language — translates the 121 sentences.
Scores are sacrebleu's corpus chrF and BLEU (the version pinned in pyproject.toml; its signature is
printed). Beside them: names kept (the set's `keep` tokens found verbatim), numbers kept (sentences whose
numeric values, read in each language's convention, match the source's), words leaked (words copied
through from the source or the intermediate text that appear in no reference of the target language), and
the median time per sentence. The path the router would take with this table is marked with *.

Reference: bench/data/translation/sentences.txt and its README (how the references were written).
Figures: docs/benchmarks/translation-quality.md.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sacrebleu

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.translation_data import LANGUAGES, SENTENCES, load_reference_set  # noqa: E402
from babelstream.engines.mt.orthography import numeric_values  # noqa: E402
from babelstream.engines.mt.quality import SHIPPED_TABLE, PathScore, QualityTable  # noqa: E402
from babelstream.engines.mt.registry import TranslatorRegistry  # noqa: E402
from babelstream.engines.mt.router import Route, TranslationRouter  # noqa: E402
from babelstream.stages.settings import StageSettings  # noqa: E402

_WORD = re.compile(r"[^\W\d_]{3,}")
# sacrebleu's defaults: chrF2 (character 6-grams, beta 2), BLEU with 13a tokenisation; one reference each.
CHRF = sacrebleu.CHRF()
BLEU = sacrebleu.BLEU()


def leaked_words(steps_before: list[str], hypothesis: str, target_vocabulary: set[str]) -> list[str]:
    earlier = {word.lower() for text in steps_before for word in _WORD.findall(text)}
    return [
        word
        for word in _WORD.findall(hypothesis)
        if word.lower() in earlier and word.lower() not in target_vocabulary and not word[:1].isupper()
    ]


def untranslated_words(router: TranslationRouter, earlier: list[str], hypothesis: str, target: str) -> list[str]:
    """Lower-case words of the output that the target language's own Apertium analyser does not know and
    that were copied from the source or an intermediate text: Portuguese left in Spanish ("carregador")."""
    analyser = router.registry.proper_noun_finder()
    unknown = analyser.words_unknown_in(hypothesis, target) if analyser is not None else None
    if not unknown:
        return []
    copied = {word.lower() for text in earlier for word in _WORD.findall(text)}
    return [word for word in unknown if word[:1].islower() and word.lower() in copied]


def score_route(router: TranslationRouter, route: Route, sentences, vocabularies) -> tuple[PathScore, dict]:
    source, target = route.languages[0], route.languages[-1]
    hypotheses, seconds, leaks, untranslated, names_kept, numbers_kept = [], [], [], [], 0, 0
    for sentence in sentences:
        started = time.perf_counter()
        result = router.translate_by(route, sentence[source])
        seconds.append(time.perf_counter() - started)
        hypotheses.append(result.text)
        leaks += leaked_words([sentence[source], *result.steps[:-1]], result.text, vocabularies[target])
        untranslated += untranslated_words(router, [sentence[source], *result.steps[:-1]], result.text, target)
        names_kept += sum(token in result.text for token in sentence.keep)
        numbers_kept += numeric_values(sentence[source], source) == numeric_values(result.text, target)
    references = [sentence[target] for sentence in sentences]
    chrf = CHRF.corpus_score(hypotheses, [references])
    bleu = BLEU.corpus_score(hypotheses, [references])
    score = PathScore(
        path=route.path,
        engines=route.engine,
        chrf=round(chrf.score, 1),
        bleu=round(bleu.score, 1),
        sentences=len(sentences),
        p50_ms=round(1000 * statistics.median(seconds), 1),
    )
    details = {
        "hypotheses": hypotheses,
        "seconds": seconds,
        "leaks": leaks,
        "untranslated": untranslated,
        "names": (names_kept, sum(len(s.keep) for s in sentences)),
        "numbers": numbers_kept,
    }
    return score, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"write the table to {SHIPPED_TABLE.relative_to(REPO)}")
    parser.add_argument("--table", type=Path, help="write the table here (for MT_QUALITY_TABLE)")
    parser.add_argument("--pairs", default="", help="only these pairs, e.g. en-es,es-en")
    parser.add_argument("--no-mend", action="store_true", help="engines' raw output (no orthography mends)")
    parser.add_argument("--show", type=int, default=0, help="print this many translations per path")
    parser.add_argument("--warm-up", type=int, default=3, help="untimed sentences per path first")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    sentences = load_reference_set()
    vocabularies = {
        language: {word.lower() for s in sentences for word in _WORD.findall(s[language])} for language in LANGUAGES
    }
    settings = StageSettings()
    registry = TranslatorRegistry.from_installed(opus_models=settings.mt_opus_models)
    boundary = (lambda source_text, translated, source, target: translated) if args.no_mend else None
    # The shipped table only picks where an untranslated word is backed off to; every path is scored here.
    router = TranslationRouter(registry, QualityTable.load(), **({"boundary": boundary} if boundary else {}))
    wanted = {tuple(pair.split("-")) for pair in args.pairs.split(",") if pair}

    print(f"reference: {SENTENCES.relative_to(REPO)} ({len(sentences)} sentences); engines: {', '.join(registry.engines())}")
    print(f"orthography mends: {'off' if args.no_mend else 'on'}\n")

    scores: list[PathScore] = []
    timings: dict[str, list[float]] = {}
    try:
        for source in LANGUAGES:
            for target in LANGUAGES:
                if source == target or (wanted and (source, target) not in wanted):
                    continue
                for route in router.candidates(source, target):
                    for sentence in sentences[: args.warm_up]:  # starts pipelines, loads models
                        router.translate_by(route, sentence[source])
                    score, details = score_route(router, route, sentences, vocabularies)
                    scores.append(score)
                    timings[route.path] = details["seconds"]
                    kept, total = details["names"]
                    print(
                        f"{source}-{target}  {route.path:<9} {route.engine:<18} chrF {score.chrf:5.1f}  BLEU {score.bleu:5.1f}"
                        f"  names {kept}/{total}  numbers {details['numbers']}/{len(sentences)}"
                        f"  leaked {len(details['leaks']):3d}  untranslated {len(details['untranslated']):2d}"
                        f"  p50 {score.p50_ms:5.1f} ms",
                        flush=True,
                    )
                    for sentence, hypothesis in list(zip(sentences, details["hypotheses"]))[: args.show]:
                        print(f"      {sentence[source]}\n    → {hypothesis}\n    = {sentence[target]}")
    finally:
        router.close()

    chrf_signature, bleu_signature = CHRF.get_signature(), BLEU.get_signature()
    print(f"\nsacrebleu {sacrebleu.__version__}: chrF {chrf_signature} | BLEU {bleu_signature}")
    table = QualityTable(
        scores,
        reference=f"{SENTENCES.relative_to(REPO)} ({len(sentences)} sentences)",
        metric=f"sacrebleu {sacrebleu.__version__} corpus chrF ({chrf_signature}) and BLEU ({bleu_signature})",
        measured=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    ranked = TranslationRouter(TranslatorRegistry.from_installed(opus_models=settings.mt_opus_models), table)
    print("\n| pair | path | engines | chrF | BLEU | p50 ms/sentence |\n|---|---|---|---|---|---|")
    chosen_paths = {}
    for score in scores:
        languages = score.languages
        chosen = ranked.route(languages[0], languages[-1])
        chosen_paths[(languages[0], languages[-1])] = chosen
        mark = "**" if chosen.path == score.path else ""
        print(f"| {languages[0]}→{languages[-1]} | {mark}{score.path}{mark} | {score.engines} | "
              f"{mark}{score.chrf}{mark} | {score.bleu} | {score.p50_ms} |")
    print("\nPivot cost: median over sentences of (pivot time − direct time), where the router picks a pivot")
    for (source, target), chosen in sorted(chosen_paths.items()):
        direct = f"{source}>{target}"
        if chosen.via and direct in timings:
            added = [p - d for p, d in zip(timings[chosen.path], timings[direct])]
            print(f"  {chosen.path}: +{1000 * statistics.median(added):.1f} ms P50, "
                  f"+{1000 * statistics.quantiles(added, n=10)[-1]:.1f} ms P90 per sentence")
    ranked.close()
    destination = SHIPPED_TABLE if args.write else args.table
    if destination:
        if args.pairs or args.no_mend:
            sys.exit("refusing to write a table from a partial (--pairs) or unmended (--no-mend) run")
        table.save(destination)
        print(f"\nwrote {destination}")


if __name__ == "__main__":
    main()
