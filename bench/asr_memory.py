"""The asr stage's memory over a long talk (issue #11, 1b): Python heap or native, and what makes it grow.

One process runs the asr stage's recognizer (WhisperRecognizer, tiny.en, what `babelstream stage asr` loads) on
utterances of real speech (the English sentences of bench/data/translation spoken by espeak-ng, one to three
sentences each, so lengths spread over 1-20 s as a long talk's do) as fast as it can, from one thread (the stage's
model thread, stages/model_thread.py) or rotating over --callers threads (as asyncio.to_thread's pool may). Every
--sample-every utterances it prints the RSS, the Python heap as tracemalloc
counts it (with --tracemalloc), and how many distinct encoder input widths the model has met. At the end, the
RSS slope per hour of speech over the second half, and (with --tracemalloc) the ten largest Python allocation
sites grown since warm-up.

    .venv/bin/python bench/asr_memory.py --minutes 20 --window-step 1     # as the stage runs (1 s widths)
    .venv/bin/python bench/asr_memory.py --minutes 20 --window-step 0     # a width per utterance length (before)
    .venv/bin/python bench/asr_memory.py --minutes 10 --threads 2 --callers 6    # calls rotating over 6 threads
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CACHE = REPO / ".cache" / "bench"
MB = 1024 * 1024


def sentences_pcm() -> list[bytes]:
    from tests.support.speech import synthesize

    path = CACHE / "asr-memory-sentences.json"
    text = (REPO / "bench" / "data" / "translation" / "sentences.txt").read_text()
    english = [line[len("en: "):].strip() for line in text.splitlines() if line.startswith("en: ")]
    if path.exists():
        return [bytes.fromhex(h) for h in json.loads(path.read_text())]
    pcm = [synthesize(sentence) for sentence in english]
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([p.hex() for p in pcm]))
    return pcm


def slope_mb_per_hour(points: list[tuple[float, float]]) -> float:
    n = len(points)
    if n < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx * 3600 if sxx else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="wall time to run")
    parser.add_argument("--window-step", type=float, default=1.0, help="WhisperRecognizer window_step_seconds")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, default=1, help="CTranslate2 cpu threads")
    parser.add_argument("--callers", type=int, default=1,
                        help="threads the calls rotate over (asyncio.to_thread's pool may use a new one for any call)")
    parser.add_argument("--sample-every", type=int, default=50)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from babelstream.engines.asr import whisper

    pcm = sentences_pcm()
    recognizer = whisper.WhisperRecognizer(args.model, cpu_threads=args.threads,
                                           window_step_seconds=args.window_step)
    rng = random.Random(args.seed)
    process = psutil.Process()
    pools = [ThreadPoolExecutor(1) for _ in range(args.callers)]
    silence = bytes(int(0.3 * 32000))
    widths: set[int] = set()
    if args.tracemalloc:
        tracemalloc.start(10)
    began = time.monotonic()
    speech_seconds = 0.0
    samples: list[dict] = []
    baseline = None
    count = 0
    print(f"model {args.model}, window step {args.window_step} s, threads {args.threads}, callers {args.callers}, "
          f"{len(pcm)} sentences; RSS {process.memory_info().rss / MB:.1f} MB", flush=True)
    while time.monotonic() - began < args.minutes * 60:
        parts = [pcm[rng.randrange(len(pcm))] for _ in range(rng.choice((1, 1, 2, 3)))]
        utterance = silence.join(parts)
        # the endpointer cuts at 10 ms frames: trim a few so lengths do not repeat exactly
        utterance = utterance[: len(utterance) - 320 * rng.randrange(0, 30)]
        frames = len(utterance) // 320
        widths.add(whisper._window_frames(frames, recognizer._min_window_frames, recognizer._window_step_frames))
        pools[count % len(pools)].submit(recognizer.transcribe, utterance, 16000, "en").result()
        speech_seconds += len(utterance) / 32000
        count += 1
        if count % args.sample_every == 0:
            sample = {"utterances": count, "speech_minutes": round(speech_seconds / 60, 1),
                      "wall_s": round(time.monotonic() - began), "rss_mb": round(process.memory_info().rss / MB, 1),
                      "widths": len(widths)}
            if args.tracemalloc:
                sample["python_heap_mb"] = round(tracemalloc.get_traced_memory()[0] / MB, 2)
                if baseline is None and sample["wall_s"] > args.minutes * 60 / 4:
                    baseline = tracemalloc.take_snapshot()
            samples.append(sample)
            print(json.dumps(sample), flush=True)
    half = [(s["speech_minutes"] * 60, s["rss_mb"]) for s in samples[len(samples) // 2:]]
    result = {"window_step_s": args.window_step, "callers": args.callers, "threads": args.threads, "utterances": count, "speech_minutes": round(speech_seconds / 60, 1),
              "rss_first_mb": samples[0]["rss_mb"] if samples else None,
              "rss_end_mb": samples[-1]["rss_mb"] if samples else None,
              "second_half_mb_per_hour_of_speech": round(slope_mb_per_hour(half), 1), "widths": len(widths)}
    print(json.dumps(result), flush=True)
    if args.tracemalloc and baseline is not None:
        for stat in tracemalloc.take_snapshot().compare_to(baseline, "lineno")[:10]:
            print(stat, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"result": result, "samples": samples}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
