"""ASR stage throughput: one utterance at a time vs batches, with concurrent speakers, in the same run.

Runs the real ASR stage (stages/asr.py, tiny.en) behind its StageRunner on the in-memory bus, in this process, and
feeds it SpeechSegmentEvents of N speakers. The utterances are sentences of the translation reference set (never
used for tuning), spoken alternately by espeak-ng and the piper voice, 2-5 s each. Configurations (ASR_BATCH_SIZE,
ASR_WORKERS, ASR_CPU_THREADS) take turns, round after round, so a busy minute on a shared machine hits them all.
The reference is the stage as it was before batches: one utterance at a time, and numpy's BLAS on its default
threads (one per core: engines/blas_threads.py says why the platform holds it to one now); "one at a time" is the
same with the idle threads fixed.

  * saturated: every speaker's utterances are on the bus at once (each speaker's in its order): how much audio the
    stage decodes per wall second and per CPU second of this process (user + system) when it cannot keep up.
  * live: each speaker publishes an utterance when it would end in real time, then pauses 0.3-1 s before the next
    one starts: from the publish to the transcript, P50/P90/P95/P99, and CPU per second of speech.

Every configuration must give the same transcripts (checked: the bench says how many differ from one-at-a-time).

    .venv/bin/python bench/asr_throughput.py                        # 8 speakers, saturated and live, ~5 min
    .venv/bin/python bench/asr_throughput.py --speakers 16 --live-seconds 300 --modes live
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from babelstream.bus.memory import MemoryBus  # noqa: E402
from babelstream.contracts.codec import SingleObjectCodec  # noqa: E402
from babelstream.contracts.events import Event, SessionOptions, SpeechSegmentPayload  # noqa: E402
from babelstream.contracts.topics import ASR_TEXT, SPEECH_SEGMENT  # noqa: E402
from babelstream.contracts.wav import wrap_pcm16  # noqa: E402
from babelstream.stages.asr import AsrStage  # noqa: E402
from babelstream.stages.runtime import StageRunner  # noqa: E402
from babelstream.stages.settings import StageSettings  # noqa: E402
from bench.end_of_utterance import english_sentences, speak  # noqa: E402

RATE = 16_000
CODEC = SingleObjectCodec()
# name -> (ASR_BATCH_SIZE, ASR_WORKERS, ASR_CPU_THREADS, numpy's BLAS threads: None for one, as the platform holds
# them since engines/blas_threads.py; 0 for numpy's default, a thread per core, as the stage ran before that)
CONFIGURATIONS = {
    "one at a time as before (reference)": (1, 1, 2, 0),
    "one at a time": (1, 1, 2, None),
    "batches of 8": (8, 1, 2, None),
    "one at a time on 2 workers x 1 thread": (1, 2, 1, None),
    "batches of 8 on 2 workers x 1 thread": (8, 2, 1, None),
}


@dataclass(frozen=True)
class Utterance:
    speaker: int
    index: int
    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (RATE * 2)

    def event(self) -> Event:
        return Event(
            payload=SpeechSegmentPayload(
                audio_bytes=wrap_pcm16(self.pcm, RATE), sample_rate_hz=RATE, segment_index=self.index,
                start_ms=0, end_ms=int(self.seconds * 1000), options=SessionOptions(source_language="en"),
            ),
            correlation_id=f"speaker-{self.speaker}",
            source_service="bench",
        )


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def percentiles(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)) * 1000, 1) for q in (50, 90, 95, 99)} if values else {}


class StageUnderTest:
    def __init__(self, batch_size: int, workers: int, threads: int, blas_threads: int | None):
        self.blas_threads = blas_threads
        settings = StageSettings(
            asr_batch_size=batch_size, asr_workers=workers, asr_cpu_threads=threads, asr_partials=False,
            warm_up=True,
        )
        self.stage = AsrStage(settings, "asr-bench")
        self.stage.warm_up()

    async def run(self, schedule: list[tuple[float, Utterance]]) -> tuple[dict, float, float, dict]:
        """Publishes each utterance at its time (seconds from the start); returns transcripts by (speaker, index),
        wall and CPU seconds from the first publish to the last transcript, and publish -> transcript seconds."""
        if self.blas_threads is None:
            return await self._run(schedule)
        with threadpool_limits(limits=self.blas_threads or os.cpu_count(), user_api="blas"):
            return await self._run(schedule)

    async def _run(self, schedule: list[tuple[float, Utterance]]) -> tuple[dict, float, float, dict]:
        bus = MemoryBus()
        await bus.start()
        results = await bus.subscribe([ASR_TEXT], "bench-results")
        runner = StageRunner(self.stage, bus, CODEC, "asr-bench")
        await runner.start()
        published: dict[tuple[int, int], float] = {}
        texts: dict[tuple[int, int], str] = {}
        latency: dict[tuple[int, int], float] = {}
        order: dict[int, list[int]] = {}
        started, cpu_started = time.perf_counter(), cpu_seconds()

        async def publish() -> None:
            for at, utterance in schedule:
                delay = started + at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                event = utterance.event()
                published[(utterance.speaker, utterance.index)] = time.perf_counter()
                await bus.publish(SPEECH_SEGMENT, event.correlation_id.encode(), CODEC.encode(event, SPEECH_SEGMENT))

        publisher = asyncio.create_task(publish())
        publisher.add_done_callback(lambda task: task.cancelled() or task.exception())
        while len(texts) < len(schedule):
            message = await results.next(timeout_seconds=120)
            if message is None:
                raise RuntimeError(f"only {len(texts)} of {len(schedule)} transcripts came")
            event = CODEC.decode(message.value)
            speaker = int(event.correlation_id.split("-")[1])
            key = (speaker, event.payload.segment_index)
            latency[key] = time.perf_counter() - published[key]
            texts[key] = event.payload.text
            order.setdefault(speaker, []).append(event.payload.segment_index)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        await publisher
        await runner.stop()
        await bus.stop()
        for speaker, indexes in order.items():
            if indexes != sorted(indexes):
                raise RuntimeError(f"speaker {speaker}'s transcripts came out of order: {indexes}")
        return texts, wall, cpu, latency


def speakers_utterances(count: int, per_speaker: int, seed: int) -> list[list[Utterance]]:
    pool = english_sentences()
    clips: dict[str, bytes] = {}
    talks = []
    for speaker in range(count):
        rng = random.Random(seed + speaker)
        chosen = rng.sample(pool, per_speaker)
        talk = []
        for index, text in enumerate(chosen):
            voice = ("espeak", "piper")[(speaker + index) % 2]
            key = f"{voice}:{text}"
            if key not in clips:
                clips[key] = speak(text, voice)
            talk.append(Utterance(speaker, index, clips[key]))
        talks.append(talk)
    return talks


def saturated_schedule(talks: list[list[Utterance]]) -> list[tuple[float, Utterance]]:
    """All at once, interleaved across speakers (as concurrent speakers' utterances would be)."""
    return [(0.0, talk[i]) for i in range(max(map(len, talks))) for talk in talks if i < len(talk)]


def live_schedule(talks: list[list[Utterance]], seconds: float, seed: int) -> list[tuple[float, Utterance]]:
    """Each speaker talks from a random start within its first second; an utterance is published when it ends."""
    schedule = []
    for speaker, talk in enumerate(talks):
        rng = random.Random(seed * 1000 + speaker)
        clock = rng.uniform(0, 1.0)
        index = 0
        while True:
            utterance = talk[index % len(talk)]
            clock += utterance.seconds
            if clock > seconds:
                break
            schedule.append((clock, Utterance(speaker, index, utterance.pcm)))
            clock += rng.uniform(0.3, 1.0)
            index += 1
    return sorted(schedule, key=lambda item: item[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=8)
    parser.add_argument("--utterances", type=int, default=6, help="per speaker, saturated")
    parser.add_argument("--live-seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2, help="saturated rounds, configurations taking turns")
    parser.add_argument("--modes", default="saturated,live")
    parser.add_argument("--configurations", default=",".join(CONFIGURATIONS), help="names, comma-separated")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    names = [name for name in args.configurations.split(",") if name]
    modes = args.modes.split(",")
    print(f"cpu cores {os.cpu_count()}, load {os.getloadavg()}; speakers {args.speakers}", flush=True)
    talks = speakers_utterances(args.speakers, args.utterances, args.seed)
    stages = {name: StageUnderTest(*CONFIGURATIONS[name]) for name in names}
    figures: dict = {"load_at_start": os.getloadavg(), "speakers": args.speakers}
    reference_texts: dict | None = None

    if "saturated" in modes:
        schedule = saturated_schedule(talks)
        audio = sum(u.seconds for _, u in schedule)
        totals = {name: [0.0, 0.0] for name in names}
        differing = {name: 0 for name in names}
        for round_index in range(args.rounds):
            for name in names if round_index % 2 == 0 else reversed(names):
                texts, wall, cpu, _ = asyncio.run(stages[name].run(schedule))
                totals[name][0] += wall
                totals[name][1] += cpu
                reference_texts = reference_texts or texts
                differing[name] += sum(texts[key] != reference_texts[key] for key in texts)
                print(f"  round {round_index + 1} {name}: {audio / wall:.2f} audio s per wall s, "
                      f"{audio / cpu:.2f} per CPU s (load {os.getloadavg()[0]:.2f})", flush=True)
        reference = totals[names[0]]
        print(f"saturated: {len(schedule)} utterances, {audio:.1f} s of speech, {args.rounds} rounds")
        print(f"{'configuration':38s}{'audio s / wall s':>18s}{'× ref':>7s}{'audio s / CPU s':>17s}{'× ref':>7s}"
              f"{'texts differing':>17s}")
        for name in names:
            wall, cpu = totals[name]
            print(f"{name:38s}{audio * args.rounds / wall:>18.2f}{reference[0] / wall:>7.2f}"
                  f"{audio * args.rounds / cpu:>17.2f}{reference[1] / cpu:>7.2f}{differing[name]:>17d}")
            figures.setdefault("saturated", {})[name] = {
                "audio_per_wall_s": round(audio * args.rounds / wall, 2),
                "audio_per_cpu_s": round(audio * args.rounds / cpu, 2),
                "texts_differing_from_reference": differing[name],
            }

    if "live" in modes:
        schedule = live_schedule(talks, args.live_seconds, args.seed)
        audio = sum(u.seconds for _, u in schedule)
        print(f"live: {args.speakers} speakers for {args.live_seconds:.0f} s, {len(schedule)} utterances, "
              f"{audio:.1f} s of speech")
        for name in names:
            texts, wall, cpu, latency = asyncio.run(stages[name].run(schedule))
            delays = percentiles(list(latency.values()))
            print(f"{name:38s} publish -> transcript ms {delays}; CPU s per s of speech {cpu / audio:.3f}; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
            figures.setdefault("live", {})[name] = {
                "publish_to_transcript_ms": delays, "cpu_s_per_speech_s": round(cpu / audio, 3),
                "utterances": len(schedule), "load_after": os.getloadavg()[0],
            }
    figures["load_at_end"] = os.getloadavg()
    print(f"load at end {figures['load_at_end']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
