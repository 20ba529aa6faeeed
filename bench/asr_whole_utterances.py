"""Whole utterances: does a final transcript keep every sentence of a long utterance?

Without timestamps Whisper sometimes ends its transcript after an utterance's first sentence; the recognizer decodes
a transcript too short for its audio again in timestamp mode (engines/asr/whisper.py, `_looks_cut_short`). This
runs tiny.en (int8, two threads, as the ASR stage does) over:
  * every reference sentence alone (espeak-ng and piper: 2-5 s), and
  * N utterances of 2-4 reference sentences (6-22 s), the voices by turns, 0-250 ms between sentences,
with that second decode off (the reference: the recognizer as it was) and on. Per set: corpus WER, utterances cut
short (a transcript with under 70% of the reference's words), utterances decoded twice, and CPU seconds.

    .venv/bin/python bench/asr_whole_utterances.py --utterances 40
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from bench.end_of_utterance import speak  # noqa: E402
from bench.translation_data import load_reference_set  # noqa: E402
from babelstream.engines.asr import whisper  # noqa: E402
from tests.support.speech import corpus_wer, silence  # noqa: E402

RATE = 16_000


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=40, help="of several sentences")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    sentences = [s["en"] for s in load_reference_set()]
    rng = random.Random(args.seed)
    sets: dict[str, list[tuple[str, bytes]]] = {
        "one sentence (2-5 s)": [(t, silence(300) + speak(t, v) + silence(300))
                                 for t in sentences for v in ("espeak", "piper")],
        "2-4 sentences (6-22 s)": [],
    }
    for k in range(args.utterances):
        chosen = rng.sample(sentences, rng.choice((2, 3, 4)))
        pcm = silence(300) + b"".join(speak(t, ("espeak", "piper")[(k + i) % 2]) + silence(rng.choice((0, 100, 200, 250)))
                                      for i, t in enumerate(chosen)) + silence(300)
        sets["2-4 sentences (6-22 s)"].append((" ".join(chosen), pcm))
    model = whisper.WhisperRecognizer("tiny.en", cpu_threads=2)
    looks_cut_short = whisper._looks_cut_short
    decoded_twice = {"n": 0}

    def counting(recognition, duration_ms):
        suspect = looks_cut_short(recognition, duration_ms)
        decoded_twice["n"] += suspect
        return suspect

    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print("| utterances | second decode | n | WER | cut short | decoded twice | CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, utterances in sets.items():
        for label, check in (("off (reference)", lambda recognition, duration_ms: False), ("on (now)", counting)):
            whisper._looks_cut_short = check
            decoded_twice["n"], pairs, cut, started = 0, [], 0, cpu_seconds()
            for reference, pcm in utterances:
                recognition = model.transcribe(pcm, RATE, "en")
                heard = recognition.text if recognition else ""
                pairs.append((reference, heard))
                cut += len(heard.split()) < 0.7 * len(reference.split())
            print(f"| {name} | {label} | {len(utterances)} | {100 * corpus_wer(pairs):.1f} % | {cut} | "
                  f"{decoded_twice['n']} | {cpu_seconds() - started:.1f} |", flush=True)
    whisper._looks_cut_short = looks_cut_short
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
