"""What idle library threads cost a Whisper decode: numpy's OpenBLAS threads spinning after each matrix product.

One utterance at a time, as a lone live speaker's finals (or the interim decoder's windows) come: 16 reference
sentences (espeak-ng, 2-5 s with 300 ms of silence around), tiny.en int8, a 300 ms pause between decodes. For each
CTranslate2 thread count, numpy's BLAS on its default threads (one per core: the reference, what the platform did
before engines/blas_threads.py) and on one thread (what it does now), the configurations taking turns round after
round. Per decode: wall and CPU ms (the process's user + system) at P50/P90/P99, and CPU against the reference.

Then piper (the English voice, onnxruntime): the session as piper builds it, whose intra-op threads spin between
the model's steps (the reference), against the one the platform builds (engines/tts/piper.py: no spinning), 12
reference sentences per round, 200 ms apart.

    .venv/bin/python bench/idle_threads.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from bench.translation_data import load_reference_set  # noqa: E402
from babelstream.engines.asr import WhisperRecognizer  # noqa: E402
from tests.support.speech import silence, synthesize  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles(values: list[float]) -> str:
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return f"{p50:.1f} | {p90:.1f} | {p99:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=16)
    parser.add_argument("--ct2-threads", default="1,2")
    parser.add_argument("--parts", default="whisper,piper")
    args = parser.parse_args()
    if "whisper" in args.parts:
        whisper_rows(args)
    if "piper" in args.parts:
        piper_rows(args.rounds)


def whisper_rows(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    pcms = [silence(300) + synthesize(s["en"], "en-us") + silence(300)
            for s in load_reference_set()[: args.sentences]]
    models = {n: WhisperRecognizer("tiny.en", cpu_threads=n) for n in map(int, args.ct2_threads.split(","))}
    configurations = [(n, blas) for n in models for blas in (cores, 1)]
    walls: dict[tuple[int, int], list[float]] = {c: [] for c in configurations}
    cpus: dict[tuple[int, int], list[float]] = {c: [] for c in configurations}
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {cores} cores; {len(pcms)} utterances x {args.rounds} rounds")
    for _ in range(args.rounds):
        for threads, blas in configurations:
            with threadpool_limits(limits=blas, user_api="blas"):
                models[threads].transcribe(pcms[0], 16_000, "en")  # warm
                for pcm in pcms:
                    time.sleep(0.3)
                    cpu, wall = cpu_seconds(), time.perf_counter()
                    models[threads].transcribe(pcm, 16_000, "en")
                    walls[(threads, blas)].append((time.perf_counter() - wall) * 1000)
                    cpus[(threads, blas)].append((cpu_seconds() - cpu) * 1000)
    print(f"load average at end: {os.getloadavg()[0]:.2f}\n")
    print("| CTranslate2 threads | numpy BLAS threads | wall ms P50 | P90 | P99 | CPU ms P50 | P90 | P99 | CPU × reference |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for threads, blas in configurations:
        reference = sum(cpus[(threads, cores)])
        label = f"{blas} (reference)" if blas == cores else str(blas)
        print(f"| {threads} | {label} | {percentiles(walls[(threads, blas)])} | {percentiles(cpus[(threads, blas)])} | "
              f"{sum(cpus[(threads, blas)]) / reference:.2f} |")


def piper_rows(rounds: int) -> None:
    import onnxruntime

    from babelstream.engines.tts.piper import PiperSynthesizer

    synthesizer = PiperSynthesizer()
    voice = synthesizer.load()
    sessions = {
        "as piper builds it (reference)": onnxruntime.InferenceSession(
            str(synthesizer.voice_files.model), sess_options=onnxruntime.SessionOptions(),
            providers=["CPUExecutionProvider"]),
        "no spinning (now)": voice.session,
    }
    texts = [s["en"] for s in load_reference_set()[:12]]
    walls: dict[str, list[float]] = {name: [] for name in sessions}
    cpus: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            voice.session = session
            synthesizer.synthesize(texts[0], "en")  # warm
            for text in texts:
                time.sleep(0.2)
                cpu, wall = cpu_seconds(), time.perf_counter()
                synthesizer.synthesize(text, "en")
                walls[name].append((time.perf_counter() - wall) * 1000)
                cpus[name].append((cpu_seconds() - cpu) * 1000)
    print(f"\npiper, {len(texts)} sentences x {rounds} rounds; load average at end: {os.getloadavg()[0]:.2f}\n")
    print("| onnxruntime session | wall ms P50 | P90 | P99 | CPU ms P50 | P90 | P99 | CPU × reference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    reference = sum(cpus["as piper builds it (reference)"])
    for name in sessions:
        print(f"| {name} | {percentiles(walls[name])} | {percentiles(cpus[name])} | {sum(cpus[name]) / reference:.2f} |")


if __name__ == "__main__":
    main()
