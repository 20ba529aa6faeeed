"""Per-sentence latency of the translation and speech engines on this machine.

    .venv/bin/python bench/mt_tts_latency.py [--rounds 3]

Apertium is timed twice: through the persistent NUL-flushed pipeline the platform uses, and as
`apertium -u eng-spa` started afresh for every sentence, which is what the pipeline avoids.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence

from babelstream.engines.mt.apertium import ApertiumTranslator
from babelstream.engines.mt.bergamot import BergamotTranslator
from babelstream.engines.tts.espeak import EspeakSynthesizer
from babelstream.engines.tts.piper import PiperSynthesizer

ENGLISH = [
    "The house is big.",
    "Good morning, my friend.",
    "Where is the train station?",
    "I would like a cup of coffee with milk, please.",
    "The meeting starts at nine o'clock tomorrow morning.",
    "Can you repeat the last question more slowly?",
    "We have been working on this project for three months.",
    "The weather is nice today, so we can walk to the park.",
    "Please turn off your phone during the presentation.",
    "Thank you very much for coming.",
    "My sister lives in a small village near the sea.",
    "The results of the survey will be published next week.",
]
SPANISH = [
    "La casa es grande.",
    "Buenos días, amigo mío.",
    "¿Dónde está la estación de tren?",
    "Quisiera una taza de café con leche, por favor.",
    "La reunión empieza mañana a las nueve.",
    "Muchas gracias por venir.",
]


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def summary(label: str, seconds: Sequence[float], extra: str = "") -> float:
    ms = sorted(1000 * s for s in seconds)
    median = statistics.median(ms)
    p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) >= 2 else ms[0]
    print(f"{label:<34} n={len(ms):<4} median {median:8.1f} ms   p90 {p90:8.1f} ms  {extra}")
    return median


def bench_apertium(rounds: int) -> None:
    translator = ApertiumTranslator()
    try:
        startup = timed(lambda: translator.translate("Warm up.", "en", "es"))
        print(f"{'apertium en-es pipeline start':<34} {1000 * startup:8.1f} ms (first sentence)")
        persistent = [timed(lambda s=s: translator.translate(s, "en", "es")) for _ in range(rounds) for s in ENGLISH]
    finally:
        translator.close()
    spawned = [
        timed(
            lambda s=s: subprocess.run(["apertium", "-u", "eng-spa"], input=s.encode(), capture_output=True, check=True)
        )
        for _ in range(rounds)
        for s in ENGLISH
    ]
    fast = summary("apertium en->es persistent", persistent)
    slow = summary("apertium en->es spawn per sentence", spawned)
    print(f"{'':<34} persistent is {slow / fast:.0f}x faster (median)")


def bench_bergamot(rounds: int) -> None:
    translator = BergamotTranslator()  # no cache: every sentence runs the model
    try:
        load = timed(lambda: translator.translate("Warm up.", "en", "pt"))
        print(f"{'bergamot en-pt model load':<34} {1000 * load:8.1f} ms (first sentence)")
        seconds = [timed(lambda s=s: translator.translate(s, "en", "pt")) for _ in range(rounds) for s in ENGLISH]
        summary("bergamot en->pt", seconds)
    finally:
        translator.close()


def bench_tts(rounds: int) -> None:
    espeak = EspeakSynthesizer()
    summary("espeak-ng one-letter utterance", [timed(lambda: espeak.synthesize("a", "es")) for _ in range(10)])
    seconds, audio_s = [], 0.0
    for _ in range(rounds):
        for sentence in SPANISH:
            start = time.perf_counter()
            audio_s += espeak.synthesize(sentence, "es").duration_ms / 1000
            seconds.append(time.perf_counter() - start)
    summary("espeak-ng es", seconds, f"real-time factor {sum(seconds) / audio_s:.3f}")

    piper = PiperSynthesizer()
    load = timed(lambda: piper.synthesize("Warm up.", "en"))
    print(f"{'piper en_US-joe-medium load':<34} {1000 * load:8.1f} ms (first utterance)")
    seconds, audio_s = [], 0.0
    for _ in range(rounds):
        for sentence in ENGLISH[:6]:
            start = time.perf_counter()
            audio_s += piper.synthesize(sentence, "en").duration_ms / 1000
            seconds.append(time.perf_counter() - start)
    summary("piper en", seconds, f"real-time factor {sum(seconds) / audio_s:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the sentence list")
    args = parser.parse_args()
    bench_apertium(args.rounds)
    bench_bergamot(args.rounds)
    bench_tts(args.rounds)


if __name__ == "__main__":
    main()
