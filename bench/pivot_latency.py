"""What a pivot adds per utterance: the router's chosen pivot paths against the direct engine, sentence by
sentence, interleaved so both see the same machine load.

    .venv/bin/python bench/pivot_latency.py [--rounds 3] [--pairs en-es,es-en]

For each pair whose shipped ranking picks a pivot, every reference sentence is translated once by the
direct engine and once by the pivot (alternating which goes first), `--rounds` times; the figure is the
median and P90 over sentences of (pivot − direct), plus both paths' own medians. Warm: pipelines started and
models loaded before timing. The load average is printed, since other work on the machine moves these
figures. Budget: a pivot may add at most 40 ms P50 per utterance (issue #15).
Figures: docs/benchmarks/translation-quality.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.translation_data import load_reference_set  # noqa: E402
from babelstream.engines.mt.router import TranslationRouter  # noqa: E402

BUDGET_MS = 40.0


def timed(router: TranslationRouter, route, text: str) -> float:
    started = time.perf_counter()
    router.translate_by(route, text)
    return 1000 * (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", default="", help="only these pairs, e.g. en-es")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sentences = load_reference_set()
    router = TranslationRouter.from_installed()
    wanted = {tuple(p.split("-")) for p in args.pairs.split(",") if p}
    pairs = sorted(pair for pair in router.pairs() if router.route(*pair).via and (not wanted or pair in wanted))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores; "
          f"{len(sentences)} sentences x {args.rounds} rounds\n")
    print("| pair | pivot | direct | pivot P50 | direct P50 | added P50 | added P90 | within 40 ms |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        for source, target in pairs:
            pivot = router.route(source, target)
            direct = next((r for r in router.candidates(source, target) if r.via is None), None)
            if direct is None:
                continue  # a pair only pivots serve: nothing to add to
            for sentence in sentences[:3]:
                router.translate_by(pivot, sentence[source])
                router.translate_by(direct, sentence[source])
            pivot_ms, direct_ms, added = [], [], []
            for round_number in range(args.rounds):
                for index, sentence in enumerate(sentences):
                    if (index + round_number) % 2:
                        p = timed(router, pivot, sentence[source])
                        d = timed(router, direct, sentence[source])
                    else:
                        d = timed(router, direct, sentence[source])
                        p = timed(router, pivot, sentence[source])
                    pivot_ms.append(p)
                    direct_ms.append(d)
                    added.append(p - d)
            p50 = statistics.median(added)
            print(f"| {source}→{target} | {pivot.path} ({pivot.engine}) | {direct.path} | {statistics.median(pivot_ms):.1f} ms | "
                  f"{statistics.median(direct_ms):.1f} ms | **{p50:+.1f} ms** | {statistics.quantiles(added, n=10)[-1]:+.1f} ms | "
                  f"{'yes' if p50 <= BUDGET_MS else 'NO'} |", flush=True)
    finally:
        router.close()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
