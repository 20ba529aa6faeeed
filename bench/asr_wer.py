"""Word error rate per Whisper model on the team's spoken-sentence set.

    .venv/bin/python bench/asr_wer.py [--sentences 121]

The sentences are the English and Spanish of the translation reference set
(bench/data/translation/sentences.txt). Every recording is SYNTHETIC, made here: no recorded human speech
ships in the packages this machine installs, and nothing can be downloaded. Two kinds:
  - espeak-ng (formant synthesis, en-us and es voices): robotic, but every word clearly articulated;
  - piper, the joe en_US voice (neural, trained on a human speaker): the closest to a real voice we have.
WER is corpus level (errors summed over all sentences / reference words) after the tests' normalisation
(tests/speech.py: lower case, no punctuation, small numbers spelled out). Models as the platform runs them:
int8, beam 1, the short encoder window, the non-speech guard on. base runs with the language given (as a
client that declares it does) and with detection (as one that does not).
Figures: docs/benchmarks/translation-quality.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.translation_data import load_reference_set  # noqa: E402
from babelstream.engines.asr.whisper import WhisperRecognizer  # noqa: E402
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample  # noqa: E402
from babelstream.engines.tts.piper import PiperSynthesizer  # noqa: E402
from tests.support.speech import corpus_wer, silence, synthesize  # noqa: E402

RATE = 16_000


def piper_pcm(piper: PiperSynthesizer, text: str) -> bytes:
    synthesis = piper.synthesize(text, "en")
    return float32_to_pcm16(resample(pcm16_to_float32(synthesis.pcm), synthesis.sample_rate_hz, RATE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=121)
    parser.add_argument("--min-window", type=float, nargs="*", default=[10.0],
                        help="encoder window floors (s) to compare, as ASR_MIN_WINDOW_SECONDS (tiny.en only past the first)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sentences = load_reference_set()[: args.sentences]
    piper = PiperSynthesizer()
    pad = silence(300)
    sets = {
        ("English", "espeak-ng en-us", "en"): [(s["en"], pad + synthesize(s["en"], "en-us") + pad) for s in sentences],
        ("English", "piper joe (neural)", "en"): [(s["en"], pad + piper_pcm(piper, s["en"]) + pad) for s in sentences],
        ("Spanish", "espeak-ng es", "es"): [(s["es"], pad + synthesize(s["es"], "es") + pad) for s in sentences],
    }
    first, *others = args.min_window
    models = {"tiny.en": WhisperRecognizer("tiny.en", cpu_threads=2, min_window_seconds=first),
              "base": WhisperRecognizer("base", cpu_threads=2, min_window_seconds=first)}
    models |= {f"tiny.en, {w:g} s window": WhisperRecognizer("tiny.en", cpu_threads=2, min_window_seconds=w)
               for w in others}
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {len(sentences)} sentences per set\n")
    print("| speech (all synthetic) | voice | model | language | WER | sentences with no text | s per utterance |")
    print("|---|---|---|---|---|---|---|")
    for (language_name, voice, language), recordings in sets.items():
        for model_name, model in models.items():
            tiny = model_name.startswith("tiny.en")
            runs = [(language, "given")] if tiny else [(language, "given"), (None, "detected")]
            if tiny and language != "en":
                continue
            for declared, how in runs:
                pairs, empty, started = [], 0, time.perf_counter()
                for reference, pcm in recordings:
                    recognition = model.transcribe(pcm, RATE, declared)
                    empty += recognition is None
                    pairs.append((reference, recognition.text if recognition else ""))
                seconds = (time.perf_counter() - started) / len(recordings)
                print(f"| {language_name} | {voice} | {model_name} | {how} | **{100 * corpus_wer(pairs):.1f} %** | "
                      f"{empty} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
