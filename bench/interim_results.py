"""Interim results: word -> first display, retractions, server CPU, and live speakers per machine.

Starts `babelstream serve` (embedded) once and streams long conversational speech to it in real time: sentences of
the translation reference set (bench/data/translation, never used for tuning), alternately in the espeak-ng and
piper voices, joined with the short gaps of running speech (0-250 ms) and a longer pause (600 ms) every fourth
sentence, so utterances run 5-15 s. Captions only (no targets): what is measured is the display of words.

  * word -> first display: for each word, from the moment its last sample was sent (its end per Whisper's word
    timestamps on the clean sentence, faster-whisper tiny.en) to the first message whose text shows it: a
    `partial` (stable or unstable words) or the `transcript`. Words are matched per utterance (the message's
    start_ms..audio_ms) in order, by difflib. P50/P90/P95/P99, partials on and off (the reference, same run).
  * retractions: words shown in a partial's unstable tail that the next partial or the transcript of the same
    utterance has changed or dropped at that position, per 100 spoken words; and finals marked `revised`.
  * server CPU seconds per second of speech (the serve process: gateway, ASR with its partial worker), on vs off.
  * live speakers: N sessions at once, partials on; the most that keep word -> first display P95 <= 1.5 s.

    .venv/bin/python bench/interim_results.py                  # ~8 min
    .venv/bin/python bench/interim_results.py --sentences 8 --speakers 1,2,3 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from babelstream.client.messages import Partial, Start, Transcript  # noqa: E402
from babelstream.engines.asr.local_agreement import word_key  # noqa: E402
from bench.embedded_server import RATE, Server, stream_in_real_time  # noqa: E402
from bench.end_of_utterance import english_sentences, speak  # noqa: E402
from tests.support.speech import silence  # noqa: E402
from tests.support.word_times import Word, word_times  # noqa: E402

LOG_DIR = REPO / ".cache" / "interim-results"
TARGET_P95_S = 1.5


@dataclass
class Talk:
    pcm: bytes
    words: list[Word]  # times in the talk

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (RATE * 2)


def make_talk(sentences: list[str], seed: int) -> Talk:
    rng = random.Random(seed)
    pcm = bytearray(silence(300))
    words: list[Word] = []
    for position, text in enumerate(sentences):
        said = speak(text, ("espeak", "piper")[position % 2])
        offset = len(pcm) // (RATE * 2 // 1000)
        words += [Word(w.text, w.start_ms + offset, w.end_ms + offset) for w in word_times(said)]
        pcm += said
        pcm += silence(600 if position % 4 == 3 else rng.choice((0, 50, 100, 150, 200, 250)))
    pcm += silence(1500)
    return Talk(bytes(pcm), words)


def keys(text: str) -> list[str]:
    return [key for key in (word_key(word) for word in text.split()) if key]


def first_display(talk: Talk, arrivals, origin: float) -> list[float]:
    """Seconds from each word's end to the first message showing it (words never shown are left out)."""
    shown_at: dict[int, float] = {}
    reference = [word_key(w.text) for w in talk.words]
    for at, message in arrivals:
        if isinstance(message, Partial):
            text, start_ms, end_ms = message.text, message.start_ms, message.audio_ms
        elif isinstance(message, Transcript):
            text, start_ms, end_ms = message.text, message.start_ms, message.end_ms
        else:
            continue
        span = [i for i, w in enumerate(talk.words) if start_ms - 100 <= w.start_ms and w.end_ms <= end_ms + 300]
        if not span:
            continue
        matcher = difflib.SequenceMatcher(None, [reference[i] for i in span], keys(text), autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                shown_at.setdefault(span[block.a + k], at)
    return [at - (origin + talk.words[i].end_ms / 1000) for i, at in shown_at.items()]


def retractions(arrivals) -> tuple[int, int, int, int]:
    """Unstable words the next text of the same utterance changed or dropped; finals marked revised; and the stable
    words sent before each final, with how many of them the final does not have (aligned by difflib)."""
    last: dict[int, tuple[list[str], int]] = {}  # start_ms -> (words shown, how many of them stable)
    retracted = revised = stable_words = stable_wrong = 0
    for _, message in arrivals:
        if isinstance(message, Partial):
            shown, stable = keys(message.text), len(keys(message.stable_text))
        elif isinstance(message, Transcript):
            shown, stable = keys(message.text), None
            revised += bool(message.data.get("revised"))
            if message.start_ms in last:
                words, count = last[message.start_ms]
                matcher = difflib.SequenceMatcher(None, words[:count], shown, autojunk=False)
                stable_words += count
                stable_wrong += count - sum(block.size for block in matcher.get_matching_blocks())
        else:
            continue
        before = last.get(message.start_ms)
        if before is not None:
            words, stable_before = before
            retracted += sum(
                1 for index in range(stable_before, len(words)) if index >= len(shown) or shown[index] != words[index]
            )
        if stable is None:
            last.pop(message.start_ms, None)
        else:
            last[message.start_ms] = (shown, stable)
    return retracted, revised, stable_words, stable_wrong


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 90, 95, 99)}


async def one_run(server: Server, talks: list[Talk], partials: bool) -> dict:
    start = Start(language="en", targets=(), synthesize=False, partials=partials)
    cpu_before = server.cpu_seconds()
    runs = await asyncio.gather(*(stream_in_real_time(server.url, talk.pcm, start) for talk in talks))
    cpu = server.cpu_seconds() - cpu_before
    delays, retracted, revised, words, stable_words, stable_wrong = [], 0, 0, 0, 0, 0
    for talk, (arrivals, origin) in zip(talks, runs):
        delays += first_display(talk, arrivals, origin)
        r, v, s, w = retractions(arrivals)
        retracted, revised, words = retracted + r, revised + v, words + len(talk.words)
        stable_words, stable_wrong = stable_words + s, stable_wrong + w
    speech = sum(talk.seconds for talk in talks)
    return {
        "speakers": len(talks),
        "words": words,
        "shown": len(delays),
        "word_to_display_s": percentiles(delays),
        "retractions_per_100_words": round(100 * retracted / words, 2),
        "revised_finals": revised,
        "stable_words_not_in_final_per_100": round(100 * stable_wrong / stable_words, 2) if stable_words else None,
        "transcripts": sum(1 for arrivals, _ in runs for _, m in arrivals if isinstance(m, Transcript)),
        "partials": sum(1 for arrivals, _ in runs for _, m in arrivals if isinstance(m, Partial)),
        "cpu_s_per_speech_s": round(cpu / speech, 3),
    }


def line(name: str, r: dict) -> str:
    d = r["word_to_display_s"]
    return (f"{name:22s} word->display P50 {d.get('p50')} s P90 {d.get('p90')} P95 {d.get('p95')} P99 {d.get('p99')} "
            f"({r['shown']}/{r['words']} words shown); retractions {r['retractions_per_100_words']}/100 words; "
            f"revised finals {r['revised_finals']}/{r['transcripts']} "
            f"(stable words the final changed: {r['stable_words_not_in_final_per_100']}/100); {r['partials']} partials; "
            f"server CPU {r['cpu_s_per_speech_s']} s per s of speech")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=12, help="per talk")
    parser.add_argument("--speakers", default="2,3,4,6", help="concurrent speakers to try, partials on")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the server (e.g. SPECULATE_MS=0); may repeat")
    args = parser.parse_args()
    pool = english_sentences()
    counts = [int(n) for n in args.speakers.split(",") if n]
    talks = []
    for speaker in range(max([1, *counts])):
        random.Random(args.seed + speaker).shuffle(pool)
        talks.append(make_talk(pool[: args.sentences], args.seed + speaker))
    print(f"talk of {talks[0].seconds:.1f} s, {len(talks[0].words)} words; load {os.getloadavg()[0]:.2f}", flush=True)
    server = Server("interim", dict(setting.split("=", 1) for setting in args.env), LOG_DIR)
    results: dict = {}
    try:
        asyncio.run(one_run(server, [make_talk(pool[:1], 0)], True))  # warm-up
        for name, partials in (("partials off (reference)", False), ("partials on", True)):
            results[name] = asyncio.run(one_run(server, talks[:1], partials))
            print(line(name, results[name]), flush=True)
        for count in counts:
            name = f"{count} speakers, on"
            results[name] = asyncio.run(one_run(server, talks[:count], True))
            print(line(name, results[name]), f"load {os.getloadavg()[0]:.2f}", flush=True)
            if results[name]["word_to_display_s"].get("p95", 99) > TARGET_P95_S:
                break
    finally:
        server.stop()
    on, off = results["partials on"], results["partials off (reference)"]
    print(f"on/off: word->display P50 {on['word_to_display_s']['p50'] / off['word_to_display_s']['p50']:.2f}, "
          f"P95 {on['word_to_display_s']['p95'] / off['word_to_display_s']['p95']:.2f}; "
          f"CPU {on['cpu_s_per_speech_s'] / off['cpu_s_per_speech_s']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
