"""Rooms, a long talk (issue #11, 1b): over an hour of speech the memory of the gateway and of every stage stays flat.

One speaker talks into a room for --speech-minutes (default 60) of real speech, sent in batch mode at --speed ×
real time (the batch budget raised for the bench: MAX_BATCH_AUDIO_SECONDS), to a gateway and the four stages run
as separate `babelstream` processes on Kafka (a broker of the bench's own, scripts/kafka.sh, port --kafka-port),
while --listeners listeners (half Spanish with voice, half Portuguese captions only) read the room. Every
--sample-seconds of wall time the RSS of each process is taken, with how far into the talk the pipeline is (the
end of the newest transcript a listener got). The speech is the English sentences of bench/data/translation,
spoken by espeak-ng with 600 ms pauses, looped to the length asked for (the engines see the same sentence again
every ~7 minutes of talk: a translation cache, if any, would be hit).

Printed: the RSS curve per process, and per process the RSS after warm-up (the first sample past --warm-up of the
talk), at the end, and the slope (least squares, MB per hour of speech, from warm-up on). Flat means a slope that
is small beside the process's size and does not grow with the talk.

    .venv/bin/python bench/room_long_talk.py                           # an hour of speech at 15x
    .venv/bin/python bench/room_long_talk.py --speech-minutes 10 --speed 15 --sample-seconds 10   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_capacity import CACHE, REPO, ensure_kafka, free_port, get_json, listening, stop_kafka  # noqa: E402

MB = 1024 * 1024
ROOM = f"long-talk-{os.getpid()}"  # a room of this run's own: a gateway reads earlier runs' history back
FRAME_MS = 100  # batch frames: 100 ms keeps 15x real time under MAX_MESSAGES_PER_SECOND (200)
FRAME_BYTES = FRAME_MS * 32
STAGES = ("segmenter", "asr", "translate", "tts")


def english_sentences() -> list[str]:
    text = (REPO / "bench" / "data" / "translation" / "sentences.txt").read_text()
    return [line[len("en: "):].strip() for line in text.splitlines() if line.startswith("en: ")]


def prepare_speech(minutes: float) -> tuple[bytes, dict]:
    """The sentences spoken once (cached in .cache/bench), looped to `minutes` of audio, cut to whole frames."""
    sys.path.insert(0, str(REPO))
    from tests.support.speech import silence, synthesize

    path = CACHE / "long-talk-loop.pcm"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(synthesize(sentence) + silence(600) for sentence in english_sentences()))
    loop = path.read_bytes()
    wanted = int(minutes * 60 * 32000)
    pcm = (loop * (wanted // len(loop) + 1))[:wanted]
    pcm = pcm[: len(pcm) - len(pcm) % FRAME_BYTES]
    return pcm, {"loop_seconds": round(len(loop) / 32000, 1), "speech_seconds": round(len(pcm) / 32000, 1),
                 "sentences_per_loop": len(english_sentences())}


class Process:
    """One `babelstream` process, its output in .cache/bench/long-talk-<name>.log."""

    def __init__(self, name: str, args: list[str], env: dict):
        self.name = name
        self.log_path = CACHE / f"long-talk-{name}.log"
        log = self.log_path.open("wb")
        self.popen = subprocess.Popen([sys.executable, "-m", "babelstream", *args], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, cwd=REPO)
        self.ps = psutil.Process(self.popen.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / MB

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def wait_for_line(self, text: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} did not log {text!r}; see {self.log_path}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_platform(args, pcm_seconds: float) -> tuple[dict[str, Process], str]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "BUS": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{args.kafka_port}",
        "WARM_UP_PAIRS": "en-es,en-pt",
        # The bench's budget: one batch session may carry the whole talk, at --speed.
        "MAX_BATCH_AUDIO_SECONDS": str(int(pcm_seconds) + 60),
        "MAX_BATCH_AUDIO_SPEED": str(max(20.0, args.speed * 1.5)),
        "GRPC_PORT": "0",  # no gRPC door: another gateway on the machine may hold the default port
    }
    processes: dict[str, Process] = {}
    for name in STAGES:
        stage_env = {**env, **dict(item.split("=", 1) for item in args.asr_env)} if name == "asr" else env
        processes[name] = Process(name, ["stage", name, "--metrics-port", str(free_port())], stage_env)
    port = free_port()
    processes["gateway"] = Process("gateway", ["gateway", "--port", str(port)], env)
    for name in STAGES:
        processes[name].wait_for_line("running on kafka")
    deadline = time.monotonic() + 180
    while True:
        try:
            if get_json(f"http://127.0.0.1:{port}/readyz", timeout=2).get("ready"):
                break
        except OSError:
            pass
        if processes["gateway"].popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gateway not ready; see {processes['gateway'].log_path}")
        time.sleep(0.3)
    return processes, f"127.0.0.1:{port}"


class Progress:
    def __init__(self) -> None:
        self.transcripts = 0
        self.translations = 0
        self.audio = 0
        self.talk_ms = 0  # end of the newest transcript: how far into the talk the pipeline is
        self.last_result = time.monotonic()
        self.sent_seconds = 0.0


async def listen(server: str, language: str, voice: bool, progress: Progress | None, counts: dict) -> None:
    from babelstream.client.listen import ListenConnection

    connection = await ListenConnection.open(f"ws://{server}", room=ROOM, language=language, voice=voice)
    async with connection:
        async for message in connection.messages():
            kind = message.data.get("type")
            counts[kind] = counts.get(kind, 0) + 1
            if progress is None or message.data.get("history"):
                continue
            progress.last_result = time.monotonic()
            if kind == "transcript":
                progress.transcripts += 1
                progress.talk_ms = max(progress.talk_ms, message.data.get("end_ms") or 0)
            elif kind == "translation":
                progress.translations += 1
            elif kind == "audio":
                progress.audio += 1


async def speak(server: str, pcm: bytes, speed: float, progress: Progress) -> dict:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    start = {"event": "start", "mode": "batch", "room": ROOM, "language": "en", "targets": [],
             "wait_for_results": False}
    summary: dict = {}
    async with connect(f"ws://{server}/ws/audio", max_size=None, open_timeout=30) as ws:
        json.loads(await ws.recv())  # connected
        await ws.send(json.dumps(start))

        async def read() -> None:
            try:
                async for raw in ws:
                    if isinstance(raw, str):
                        message = json.loads(raw)
                        if message.get("type") in ("ack", "error", "summary"):
                            summary[message["type"]] = message
            except ConnectionClosed:
                pass

        reader = asyncio.create_task(read())
        try:
            await send_all(ws, pcm, speed, progress)
        except ConnectionClosed:
            summary["closed_early_after_s"] = progress.sent_seconds  # its error message says why
        try:
            await asyncio.wait_for(reader, 120)
        except asyncio.TimeoutError:
            reader.cancel()
    summary["close_code"] = ws.close_code
    return summary


async def send_all(ws, pcm: bytes, speed: float, progress: Progress) -> None:
    """Batch frames at `speed` × real time on absolute deadlines, then done."""
    began = time.monotonic()
    interval = FRAME_MS / 1000 / speed
    for k, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
        delay = began + k * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:
            # Fell behind (a busy machine): go on from here rather than catch up in a burst, which the gateway
            # closes as audio too fast (more than MAX_AUDIO_BURST_SECONDS of audio ahead of its pace).
            began -= delay
        await ws.send(pcm[offset : offset + FRAME_BYTES])
        progress.sent_seconds = (k + 1) * FRAME_MS / 1000
    await ws.send(json.dumps({"event": "done"}))


async def run_talk(args, server: str, pcm: bytes, processes: dict[str, Process]) -> tuple[list[dict], dict]:
    progress = Progress()
    counts = [dict() for _ in range(args.listeners)]
    listeners = [
        asyncio.create_task(listen(server, "es" if i % 2 == 0 else "pt", i % 2 == 0, progress if i == 0 else None,
                                   counts[i]))
        for i in range(args.listeners)
    ]
    await asyncio.sleep(2.0)  # joined, and their languages known on the bus, before the first utterance
    samples: list[dict] = []
    began = time.monotonic()
    cpu_began = {name: p.cpu_seconds() for name, p in processes.items()}

    def sample() -> None:
        row = {"wall_s": round(time.monotonic() - began, 1), "sent_s": round(progress.sent_seconds, 1),
               "talk_s": round(progress.talk_ms / 1000, 1), "transcripts": progress.transcripts}
        row.update({name: round(p.rss_mb(), 1) for name, p in processes.items()})
        samples.append(row)
        print("  " + "  ".join(f"{key} {value}" for key, value in row.items()), flush=True)

    sample()
    speaker = asyncio.create_task(speak(server, pcm, args.speed, progress))
    total_s = len(pcm) / 32000
    while True:
        await asyncio.sleep(args.sample_seconds)
        sample()
        idle = time.monotonic() - progress.last_result
        if speaker.done() and (progress.talk_ms / 1000 >= total_s - 5 or idle > args.settle_seconds):
            break
        if time.monotonic() - began > args.max_wall_seconds:
            print(f"  stopped at --max-wall-seconds {args.max_wall_seconds:.0f}", flush=True)
            break
    summary = await speaker if speaker.done() else {"not finished": True}
    if not speaker.done():
        speaker.cancel()
    for task in listeners:
        task.cancel()
    cpu = {name: round(p.cpu_seconds() - cpu_began[name], 1) for name, p in processes.items()}
    return samples, {"speaker": summary, "listener_counts": counts, "cpu_seconds": cpu,
                     "progress": vars(progress)}


def slope_per_hour(samples: list[dict], name: str, warm_up_s: float) -> tuple[float, float, float]:
    """(RSS after warm-up, RSS at the end, least-squares MB per hour of speech from warm-up on)."""
    points = [(s["talk_s"], s[name]) for s in samples if s["talk_s"] >= warm_up_s]
    if len(points) < 2:
        return float("nan"), samples[-1][name], float("nan")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0
    return points[0][1], points[-1][1], slope * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-minutes", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=15.0, help="× real time the speaker sends at (batch mode)")
    parser.add_argument("--listeners", type=int, default=10)
    parser.add_argument("--sample-seconds", type=float, default=30.0, help="RSS sampled this often (wall time)")
    parser.add_argument("--warm-up", type=float, default=300.0, help="seconds of talk before the flat part is judged")
    parser.add_argument("--settle-seconds", type=float, default=60.0,
                        help="after the speaker is done, stop when no result came for this long")
    parser.add_argument("--max-wall-seconds", type=float, default=1800.0)
    parser.add_argument("--asr-env", action="append", default=[], metavar="KEY=VALUE",
                        help="what-if: an environment variable for the asr stage only (e.g. MALLOC_ARENA_MAX=2)")
    parser.add_argument("--kafka-port", type=int, default=19592)
    parser.add_argument("--json", default=str(CACHE / "room-long-talk.json"))
    args = parser.parse_args()

    command = (".venv/bin/python bench/room_long_talk.py " + shlex.join(sys.argv[1:])).strip()
    pcm, speech = prepare_speech(args.speech_minutes)
    started_kafka = ensure_kafka(args.kafka_port, None, fresh=True)
    began = datetime.now(timezone.utc)
    print(f"command: {command}")
    print(f"started {began:%Y-%m-%d %H:%M:%S} UTC, load average {os.getloadavg()}, speech {speech}, "
          f"sent at {args.speed:g}x in 100 ms frames, {args.listeners} listeners", flush=True)
    processes: dict[str, Process] = {}
    try:
        processes, server = start_platform(args, len(pcm) / 32000)
        print("platform up: " + ", ".join(f"{name} pid {p.popen.pid}" for name, p in processes.items()), flush=True)
        samples, outcome = asyncio.run(run_talk(args, server, pcm, processes))
    finally:
        for process in processes.values():
            process.stop()
        if started_kafka:
            stop_kafka(args.kafka_port)
    ended = datetime.now(timezone.utc)

    print()
    ack = outcome["speaker"].get("ack") or {}
    print(f"speaker: cut {ack.get('segments')} utterances of {ack.get('received_bytes')} bytes; summary "
          f"{outcome['speaker'].get('summary')}; closed {outcome['speaker'].get('close_code')}")
    print(f"pipeline progress: {outcome['progress']}")
    counts = outcome["listener_counts"]
    print(f"listener 0 (es, voice) got {counts[0]}, listener 1 (pt, captions) got {counts[1]}")
    # Every listener of a language must have what the first of that language had (nothing lost on the way).
    same = all(counts[i] == counts[i % 2] for i in range(len(counts)))
    segments = (outcome["speaker"].get("ack") or {}).get("segments")
    print(f"every listener got the same results as the first of its language: {'yes' if same else 'NO'}; "
          f"the speaker's gateway cut {segments} utterances, listener 0 got {counts[0].get('transcript', 0)} "
          f"transcripts, {counts[0].get('translation', 0)} translations, {counts[0].get('audio', 0)} spoken")
    print(f"CPU seconds over the talk: {outcome['cpu_seconds']}")
    print()
    half = samples[-1]["talk_s"] / 2
    print(f"| process | RSS at start MB | after {args.warm_up:.0f} s of talk MB | at half-time MB | end MB | "
          f"slope from {args.warm_up:.0f} s, MB/h of speech | slope over the second half, MB/h |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    figures = {}
    for name in processes:
        warm, end, slope = slope_per_hour(samples, name, args.warm_up)
        halfway, _, late_slope = slope_per_hour(samples, name, half)
        figures[name] = {"start": samples[0][name], "after_warm_up": warm, "half": halfway, "end": end,
                         "slope_mb_per_hour": slope, "second_half_slope_mb_per_hour": late_slope}
        print(f"| {name} | {samples[0][name]:.1f} | {warm:.1f} | {halfway:.1f} | {end:.1f} | {slope:+.1f} | "
              f"{late_slope:+.1f} |")
    print(f"took {(ended - began).total_seconds():.0f} s; load average at the end {os.getloadavg()}")
    Path(args.json).write_text(json.dumps(
        {"command": command, "began": began.isoformat(), "ended": ended.isoformat(), "speech": speech,
         "samples": samples, "figures": figures, **outcome}, indent=2))
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
