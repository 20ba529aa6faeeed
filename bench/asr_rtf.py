"""Real-time factor of the bundled Whisper models on this machine's CPU.

RTF = compute seconds / audio seconds (below 1 keeps up with live speech), median of --runs,
on espeak-ng speech of 3 s and 10 s. Also prints model load time (sha256 check / join included).

    .venv/bin/python bench/asr_rtf.py [--runs 5] [--models tiny.en base] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from babelstream.engines.asr import WhisperRecognizer, resolve_model
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample, unwrap_pcm16

RATE = 16_000
TEXT = (
    "good morning everyone and welcome to the meeting. we need to finish this report before friday. "
    "the train to london leaves from platform four at nine in the morning. "
    "please call me back when you get home tonight."
)


def speech(seconds: float) -> bytes:
    """espeak-ng speech cut to exactly `seconds` (the text is long enough for 10 s)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), TEXT], check=True)
        pcm, rate = unwrap_pcm16(path.read_bytes())
    samples = resample(pcm16_to_float32(pcm), rate, RATE)[: int(seconds * RATE)]
    return float32_to_pcm16(np.pad(samples, (0, int(seconds * RATE) - samples.size)))


def median_seconds(recognizer: WhisperRecognizer, pcm: bytes, language: str | None, runs: int) -> float:
    recognizer.transcribe(pcm, RATE, language)  # warm-up: first call allocates CTranslate2 buffers
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        recognizer.transcribe(pcm, RATE, language)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--threads", type=int, default=None, help="CTranslate2 CPU threads (default min(4, cores))")
    args = parser.parse_args()

    clips = {seconds: speech(seconds) for seconds in (3, 10)}
    print(f"cpu cores: {os.cpu_count()}, runs: {args.runs} (median), compute: int8, beam 1")
    print("window 'short' = our encoder window (max(10 s, 2x speech)); '30 s' = faster-whisper's padding (reference)")
    print(f"{'model':<10}{'window':>8}{'verify/join s':>14}{'load s':>9}{'RTF 3 s':>9}{'RTF 10 s':>9}"
          f"{'3 s ms':>8}{'× ref':>7}  language")
    for spec in args.models:
        started = time.perf_counter()
        resolve_model(spec)
        verify_seconds = time.perf_counter() - started
        recognizers = {
            "30 s": WhisperRecognizer(spec, cpu_threads=args.threads, min_window_seconds=30),
            "short": WhisperRecognizer(spec, cpu_threads=args.threads),
        }
        modes = [("en", "given")] + ([(None, "detected")] if recognizers["short"].multilingual else [])
        for language, how in modes:
            reference = None
            for window, recognizer in recognizers.items():
                seconds = {s: median_seconds(recognizer, pcm, language, args.runs) for s, pcm in clips.items()}
                reference = reference or seconds[3]
                print(
                    f"{spec:<10}{window:>8}{verify_seconds:>14.2f}{recognizer.load_seconds:>9.2f}"
                    f"{seconds[3] / 3:>9.3f}{seconds[10] / 10:>9.3f}{seconds[3] * 1000:>8.0f}"
                    f"{seconds[3] / reference:>7.2f}  {how}"
                )


if __name__ == "__main__":
    main()
