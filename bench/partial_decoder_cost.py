"""The interim results' decoder alone: CPU seconds per second of speech, paired configurations, no server.

Feeds the partial worker (stages/partial_asr.py) one speaker's long utterances as the gateway would, a 500 ms window
at a time, and decodes each window as soon as it comes (what a worker that keeps up does for one speaker), on its
own tiny.en instance with one thread. The utterances: the translation reference set's sentences (never used for
tuning), four at a time joined with the gaps of running speech (0-250 ms), espeak-ng and piper alternately, cut at
15 s. Configurations (TRIM_AFTER_MS / the encoder's minimum window in seconds) take turns, round after round, so a
busy minute hits them all; CPU seconds are the process's (user + system) over the decodes only, which move much
less with the machine's load than latencies do. Also printed: an estimate of word -> first display (the window's
end plus the decode's wall time; it does move with load) and the stable words (at each utterance's end) that the
spoken text does not have, per 100.

    .venv/bin/python bench/partial_decoder_cost.py --rounds 2 6000/6 3000/4
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

import babelstream.stages.partial_asr as partial_asr  # noqa: E402
from babelstream.bus.memory import MemoryBus  # noqa: E402
from babelstream.contracts.codec import SingleObjectCodec  # noqa: E402
from babelstream.contracts.events import Event, SessionOptions, SpeechWindowPayload  # noqa: E402
from babelstream.contracts.topics import ASR_PARTIAL  # noqa: E402
from babelstream.contracts.wav import wrap_pcm16  # noqa: E402
from babelstream.engines.asr import WhisperRecognizer  # noqa: E402
from babelstream.engines.asr.local_agreement import word_key  # noqa: E402
from babelstream.stages.recognition_batcher import RecognitionBatcher  # noqa: E402
from bench.end_of_utterance import english_sentences, speak  # noqa: E402
from tests.support.speech import silence  # noqa: E402
from tests.support.word_times import word_times  # noqa: E402

CODEC = SingleObjectCodec()
WINDOW_BYTES = 16_000  # 500 ms of 16 kHz PCM16
OPTIONS = SessionOptions("en", ())


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def utterances(sentences: int, seed: int) -> list[tuple[bytes, list[tuple[str, int]]]]:
    """(pcm, [(word, end_ms)]) per utterance of four sentences."""
    pool = english_sentences()
    random.Random(seed).shuffle(pool)
    made = []
    for first in range(0, sentences, 4):
        pcm, words = bytearray(silence(200)), []
        for i, text in enumerate(pool[first : first + 4]):
            said = speak(text, ("espeak", "piper")[i % 2])
            offset = len(pcm) // 32
            words += [(w.text, w.end_ms + offset) for w in word_times(said)]
            pcm += said + silence(random.Random(first + i).choice((0, 50, 100, 150, 200, 250)))
        made.append((bytes(pcm[: 15_000 * 32]), [w for w in words if w[1] < 15_000]))
    return made


def window(n: int, start_ms: int, offset: int, pcm: bytes, index: int, closed: bool = False) -> Event:
    chunk = b"" if closed else pcm[offset : offset + WINDOW_BYTES]
    return Event(
        payload=SpeechWindowPayload(
            segment_index=n, start_ms=start_ms, end_ms=start_ms + (offset + len(chunk)) // 32, options=OPTIONS,
            audio_bytes=wrap_pcm16(chunk, 16_000) if chunk else b"", window_index=index,
            audio_offset_ms=start_ms + offset // 32, closed=closed,
        ),
        correlation_id="bench", source_service="bench",
    )


async def run(talk, trim_after_ms: int, min_window_seconds: float) -> dict:
    partial_asr.TRIM_AFTER_MS = trim_after_ms
    recognizer = WhisperRecognizer("tiny.en", cpu_threads=1, min_window_seconds=min_window_seconds)
    recognizer.transcribe(talk[0][0][:32_000], 16_000, "en")  # warm-up
    batcher = RecognitionBatcher(recognizer, batch_size=1, max_wait_ms=0)
    bus = MemoryBus()
    await bus.start()
    results = await bus.subscribe([ASR_PARTIAL], "bench")
    worker = partial_asr.PartialAsrWorker(bus, CODEC, "bench", lambda language: batcher)
    cpu = speech = 0.0
    decodes = stable_words = stable_wrong = 0
    delays: list[float] = []
    for n, (pcm, words) in enumerate(talk):
        speech += len(pcm) / 32_000
        start_ms, shown, last_stable = n * 100_000, {}, ""
        reference = [word_key(w) for w, _ in words]
        for index, offset in enumerate(range(0, len(pcm), WINDOW_BYTES)):
            worker.take(window(n, start_ms, offset, pcm, index))
            key = ("bench", start_ms)
            if key not in worker._waiting:
                continue
            event = worker._waiting.pop(key)
            cpu_before, wall_before = cpu_seconds(), time.perf_counter()
            await worker._decode(key, event)
            cpu += cpu_seconds() - cpu_before
            took = time.perf_counter() - wall_before
            decodes += 1
            message = await results.next(timeout_seconds=0.01)
            if message is None:
                continue
            partial = CODEC.decode(message.value).payload
            last_stable = partial.stable_text
            said = [word_key(w) for w in (partial.stable_text + partial.unstable_text).split()]
            end_s = (offset + WINDOW_BYTES) / 32_000
            for block in difflib.SequenceMatcher(None, reference, said, autojunk=False).get_matching_blocks():
                for k in range(block.size):
                    shown.setdefault(block.a + k, end_s + took)
        stable = [word_key(w) for w in last_stable.split() if word_key(w)]
        matched = difflib.SequenceMatcher(None, reference, stable, autojunk=False).get_matching_blocks()
        stable_words += len(stable)
        stable_wrong += len(stable) - sum(block.size for block in matched)
        delays += [at - words[i][1] / 1000 for i, at in shown.items() if at - words[i][1] / 1000 > -0.2]
        worker.take(window(n, start_ms, len(pcm), pcm, index + 1, closed=True))
    await bus.stop()
    return {
        "speech_s": round(speech, 1), "decodes": decodes, "cpu_s_per_speech_s": round(cpu / speech, 3),
        "display_p50_s": round(float(np.percentile(delays, 50)), 2), "display_p95_s": round(float(np.percentile(delays, 95)), 2),
        "stable_words_wrong_per_100": round(100 * stable_wrong / max(1, stable_words), 1),
        "load": round(os.getloadavg()[0], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configurations", nargs="+", help="TRIM_AFTER_MS/min window seconds, e.g. 6000/6 3000/4")
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    talk = utterances(args.sentences, args.seed)
    for _ in range(args.rounds):
        for configuration in args.configurations:
            trim, window_seconds = configuration.split("/")
            print(configuration, asyncio.run(run(talk, int(trim), float(window_seconds))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
