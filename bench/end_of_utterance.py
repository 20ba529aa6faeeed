"""End of utterance -> translated text at the client, and utterances split inside a sentence: before and after
speculative finalisation, in the same run.

Starts `babelstream serve` (embedded: one process, in-memory bus) once per configuration and streams to it as one
speaker in real time (20 ms frames on an absolute schedule):

  * latency: English sentences of 2-5 s from the translation reference set (bench/data/translation, never used
    to tune the endpointer), spoken by espeak-ng and by the piper voice, each followed by 1.5 s of silence. From
    the moment the frame holding the sentence's last audible sample (-40 dBFS, 10 ms windows) was sent to the
    arrival of its Spanish `translation`. P50/P90/P95/max.
  * splits: the same kind of sentences with one pause of 150, 200 or 250 ms put between two words (where
    Whisper's word timestamps on the clean audio put the boundary; never after a comma). A sentence is split
    when more than one transcript overlaps it; the split is at the put-in pause when a transcript's speech ends
    there, else at a pause of the voice's own (a comma, or a sentence boundary inside a reference line).

The configurations run side by side and take turns, six sentences at a time (paired: a busy minute on a shared
machine hits them all): `before` (what the issue measured: an utterance cut after MIN_SILENCE_MS of what the
detector calls silence, and only then published), `speculation` (published at SPECULATE_MS, shown when the pause
holds, the detector's hangover counted as speech) and `after` (the defaults: the same with the quiet hangover
counted as pause). `--configs` picks others (VARIANTS); each run also prints where the time went. Partials are off
in all, so the figure is the end of utterance's alone (`--partials` turns them on but in `before`).

    .venv/bin/python bench/end_of_utterance.py                    # 40 sentences, 36 paused: ~12 min
    .venv/bin/python bench/end_of_utterance.py --sentences 12 --paused 12 --json out.json
    KAFKA_PORT=49192 KAFKA_CONTROLLER_PORT=49193 KAFKA_DATA_DIR=.cache/kafka-eou scripts/kafka.sh start
    .venv/bin/python bench/end_of_utterance.py --configs after --kafka 127.0.0.1:49192   # embedded vs over Kafka
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from bench.embedded_server import FRAME_MS, RATE, Server, stream_in_real_time  # noqa: E402
from babelstream.client.messages import Segment, Start, Transcript, Translation  # noqa: E402
from babelstream.clients.probe.speech import trim_silence  # noqa: E402
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample  # noqa: E402
from tests.support.speech import silence, synthesize  # noqa: E402
from tests.support.word_times import pause_position_ms, with_pauses, word_times  # noqa: E402

LOG_DIR = REPO / ".cache" / "end-of-utterance"
SENTENCES_FILE = REPO / "bench" / "data" / "translation" / "sentences.txt"
AFTER_MS = 1500
# A transcript's end lies this far past its speech: the pause an utterance keeps (POST_ROLL_MS, or up to the
# tentative offer's point when it is committed there), give or take 50 ms.
SPLIT_TAIL_MS = 150
CONFIGS = {
    # What the issue measured: an utterance cut after MIN_SILENCE_MS of what the detector calls silence, and only
    # then published.
    "before": {"SPECULATE_MS": "0", "VAD_QUIET_DBFS": "0", "PARTIALS": "false"},
    # Published at SPECULATE_MS and shown when the pause holds, the detector's hangover counted as speech (main
    # until 2026-11-30).
    "speculation": {"VAD_QUIET_DBFS": "0", "PARTIALS": "false"},
    # The same, with the detector's quiet hangover counted as pause (VAD_QUIET_DBFS -50, the default).
    "after": {"PARTIALS": "false", "VAD_QUIET_DBFS": "-50"},
}
# Variants to try beside them (--configs): each an env over the defaults.
VARIANTS = {
    # Shown early on a finished sentence once the pause reaches EARLY_END_PAUSE_MS.
    "after+sentence": {"PARTIALS": "false", "EARLY_END_ON_SENTENCE": "true"},
    "sentence260": {"PARTIALS": "false", "EARLY_END_ON_SENTENCE": "true", "EARLY_END_PAUSE_MS": "260"},
    "speculate100": {"PARTIALS": "false", "SPECULATE_MS": "100"},
    "speculate180": {"PARTIALS": "false", "SPECULATE_MS": "180"},
    "silence320": {"PARTIALS": "false", "MIN_SILENCE_MS": "320"},
}


def english_sentences() -> list[str]:
    return [line[4:].strip() for line in SENTENCES_FILE.read_text().splitlines() if line.startswith("en: ")]


_PIPER = None


def speak(text: str, voice: str) -> bytes:
    global _PIPER
    if voice == "espeak":
        pcm = synthesize(text)
    else:
        if _PIPER is None:
            from babelstream.engines.tts.piper import PiperSynthesizer

            _PIPER = PiperSynthesizer()
        said = _PIPER.synthesize(text, "en")
        pcm = float32_to_pcm16(resample(pcm16_to_float32(said.pcm), said.sample_rate_hz, RATE))
    return trim_silence(pcm)


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


async def stream(port: int, pieces: list[bytes], partials: bool) -> tuple[list[tuple[float, object]], float, list]:
    """Streams silence(300) + each piece + AFTER_MS of silence, frame by frame on an absolute schedule; returns
    the arrivals (perf_counter, message), the schedule's origin and each piece's span in the stream (ms)."""
    pcm = bytearray(silence(300))
    spans = []
    for piece in pieces:
        start = len(pcm) // (RATE * 2 // 1000)
        pcm += piece
        spans.append((start, len(pcm) // (RATE * 2 // 1000)))
        pcm += silence(AFTER_MS)
    start = Start(language="en", targets=("es",), synthesize=False, partials=partials)
    arrivals, origin = await stream_in_real_time(f"ws://127.0.0.1:{port}/ws/audio", bytes(pcm), start)
    return arrivals, origin, spans


def overlapping(spans, start_ms, end_ms) -> int | None:
    best, best_overlap = None, 0
    for position, (a, b) in enumerate(spans):
        overlap = min(b, end_ms) - max(a, start_ms)
        if overlap > best_overlap:
            best, best_overlap = position, overlap
    return best


async def latencies_ms(port: int, sentences: list[bytes], partials: bool) -> list[dict]:
    """Per sentence: from the send of the frame holding its last audible sample to its translation's arrival
    (`eou`), and where that time went: to the arrival of its `segment` message (`to_segment`: the gateway's wait
    for the pause, the commit), the gateway's own figure (`gateway`: from its publish of the utterance to the
    translation's send) and the translation's timing trail (`stage_ms`: asr, translate, bus)."""
    arrivals, origin, spans = await stream(port, sentences, partials)
    found = []
    for position, (start, end) in enumerate(spans):
        mine = [(at, m) for at, m in arrivals if isinstance(m, (Translation, Segment))
                and overlapping(spans, m.start_ms, m.end_ms) == position]
        translations = [(at, m) for at, m in mine if isinstance(m, Translation)]
        if not translations:
            continue
        last_frame_sent = origin + (end // FRAME_MS) * FRAME_MS / 1000
        at, translation = max(translations, key=lambda pair: pair[0])
        segments = [seen for seen, m in mine if isinstance(m, Segment)]
        found.append({
            "eou": (at - last_frame_sent) * 1000,
            "to_segment": (max(segments) - last_frame_sent) * 1000 if segments else float("nan"),
            "gateway": translation.latency_ms,
            "stage_ms": translation.stage_ms,
        })
    return found


async def cuts_per_sentence(port: int, paused: list[bytes], partials: bool) -> list[list[int]]:
    """Per sentence, the ends (ms into the sentence) of the transcripts that overlap it: one end means not split."""
    arrivals, _, spans = await stream(port, paused, partials)
    per_sentence: list[list[int]] = [[] for _ in spans]
    for _, message in arrivals:
        if isinstance(message, Transcript):
            owner = overlapping(spans, message.start_ms, message.end_ms)
            if owner is not None:
                per_sentence[owner].append(message.end_ms - spans[owner][0])
    return per_sentence


def split_at_put_in(ends: list[int], put_in: tuple[int, int]) -> bool:
    """Whether a transcript ends at the pause put in: its speech (its end less the 100-200 ms of pause an
    utterance keeps) ends between 100 ms before the pause and its end."""
    return any(put_in[0] - 100 <= end - SPLIT_TAIL_MS <= put_in[1] for end in sorted(ends)[:-1])


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def build_audio(args) -> tuple[list[bytes], list[bytes], dict, list[tuple[int, int]]]:
    """Clean sentences, sentences with a put-in pause, how many of each pause length, and where each put-in pause
    lies in its sentence (ms)."""
    rng = random.Random(args.seed)
    pool = english_sentences()
    rng.shuffle(pool)
    sentences, paused, pauses, put_in = [], [], {150: 0, 200: 0, 250: 0}, []
    voices = ("espeak", "piper")
    for text in pool:
        if len(sentences) >= args.sentences and len(paused) >= args.paused:
            break
        voice = voices[(len(sentences) + len(paused)) % 2]
        pcm = speak(text, voice)
        seconds = len(pcm) / (RATE * 2)
        if not 2.0 <= seconds <= 5.0:
            continue
        if len(sentences) < args.sentences:
            sentences.append(pcm)
            continue
        words = word_times(pcm)
        # Word boundaries inside the sentence, not after punctuation (a comma is a pause the speaker meant).
        inside = [i for i in range(1, len(words) - 2) if not re.search(r"[,.;:?!]$", words[i].text)]
        if not inside:
            continue
        pause = (150, 200, 250)[len(paused) % 3]
        pauses[pause] += 1
        after = rng.choice(inside)
        paused.append(with_pauses(pcm, words, [after], pause))
        start = pause_position_ms(words, after)
        put_in.append((start, start + pause))
    return sentences, paused, pauses, put_in


def breakdown(found: list[dict]) -> dict:
    """Medians of where the time went (see latencies_ms)."""
    stages: dict[str, list[float]] = {}
    for item in found:
        for stage, ms in item["stage_ms"].items():
            stages.setdefault(stage, []).append(ms)
    return {
        "to_segment": percentile([f["to_segment"] for f in found if f["to_segment"] == f["to_segment"]], 50),
        "gateway": percentile([f["gateway"] for f in found], 50),
        **{stage: percentile(values, 50) for stage, values in sorted(stages.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=40)
    parser.add_argument("--paused", type=int, default=36)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--partials", action="store_true", help="partials on in `after`")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"which, in turn; the first is the reference (known: {', '.join({**CONFIGS, **VARIANTS})})")
    parser.add_argument("--kafka", metavar="HOST:PORT",
                        help="a running broker: adds `after-kafka`, the defaults with the whole platform over it "
                             "(scripts/kafka.sh start starts one)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    known = {**CONFIGS, **VARIANTS}
    configs = {name: known[name] for name in args.configs.split(",")}
    if args.kafka:
        configs["after-kafka"] = {**CONFIGS["after"], "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": args.kafka}
    sentences, paused, pauses, put_in = build_audio(args)
    print(f"{len(sentences)} sentences of 2-5 s, {len(paused)} with an in-sentence pause {pauses}; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    # The platforms run side by side (idle but for the one being streamed to), and take turns a few sentences at a
    # time: on a shared machine a busy minute then hits every configuration alike.
    servers: dict[str, Server] = {}
    latencies: dict[str, list[dict]] = {name: [] for name in configs}
    splits: dict[str, list[list[int]]] = {name: [] for name in configs}
    try:
        for name, env in configs.items():
            servers[name] = Server(name, env, LOG_DIR)  # one at a time: a failed start still stops the others
        for name, server in servers.items():
            asyncio.run(stream(server.port, sentences[:2], args.partials and name != "before"))  # warm-up
        for batch, paused_batch in zip(chunks(sentences, 6), chunks(paused, 6) + [[]] * len(sentences)):
            for name, server in servers.items():
                partials = args.partials and name != "before"
                latencies[name] += asyncio.run(latencies_ms(server.port, batch, partials))
                if paused_batch:
                    splits[name] += asyncio.run(cuts_per_sentence(server.port, paused_batch, partials))
        results = {}
        for name, server in servers.items():
            eou = [found["eou"] for found in latencies[name]]
            results[name] = {
                "eou_ms": [round(v, 1) for v in eou],
                "eou": {q: percentile(eou, q) for q in (50, 90, 95, 100)},
                "breakdown_p50": breakdown(latencies[name]),
                "answered": f"{len(eou)}/{len(sentences)}",
                "split": sum(1 for ends in splits[name] if len(ends) > 1),
                "split_at_put_in": sum(split_at_put_in(ends, span) for ends, span in zip(splits[name], put_in)),
                "unanswered_paused": sum(1 for ends in splits[name] if not ends),
                "paused": len(splits[name]),
                "speculations": server.metric("babelstream_gateway_speculations_total"),
            }
    finally:
        for server in servers.values():
            server.stop()
    for name, figures in results.items():
        print(f"{name:7s} end of utterance -> translated text: P50 {figures['eou'][50]} ms, P90 {figures['eou'][90]}, "
              f"P95 {figures['eou'][95]}, max {figures['eou'][100]} ({figures['answered']} answered); "
              f"split {figures['split']}/{figures['paused']} paused sentences ({figures['split_at_put_in']} at the put-in "
              f"pause); speculations {figures['speculations']}")
        print(f"{'':7s} where it went (medians, ms): {figures['breakdown_p50']}")
    print(f"load at the end {os.getloadavg()[0]:.2f}")
    reference_name = next(iter(results))
    reference = results[reference_name]["eou"]
    for name in list(results)[1:]:
        after = results[name]["eou"]
        print(f"{name}/{reference_name}: P50 {after[50] / reference[50]:.2f}, P95 {after[95] / reference[95]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
