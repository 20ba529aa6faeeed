"""Soak: eight live speakers for an hour on the distributed platform; memory, lag and latency per minute.

Starts (or uses, with --kafka) an Apache Kafka broker through scripts/kafka.sh, then the platform as an operator
runs it, one process each: `babelstream stage segmenter|asr|translate|tts --metrics-port P` and
`babelstream gateway --port P`. K speakers (default 8) then talk to the gateway over /ws/audio for --minutes
(default 60) with the probe's speech (babelstream.clients.probe: espeak-ng English sentences, varied speed
and pitch, each followed by 700 ms of silence, streamed in real time, 20 ms frames). A speaker's session carries
at most 40 s of audio (the gateway ends sessions at MAX_SESSION_SECONDS, 60), then sends done, reads its summary
and opens the next one, so an hour is about 90 sessions per speaker.

Every --sample-seconds (10) it records each process's RSS (psutil, the process and its children, such as
the translate stage's Apertium pipelines), each stage's consumer lag (the sum over partitions of
`babelstream_stage_consumer_lag` on its /metrics) and the load average; every session's results go through
the probe's tracing (each spoken utterance followed through segment, transcript, translation and audio per target).
Per minute it prints RSS, lag and load as the run goes, and at the end one table with the latency too
(end of utterance -> translated text of the first target at the client, P50/P95, by the minute the utterance
ended in), then the verdict:

  * memory slope of every process, MB per 10 minutes (least squares over the per-minute RSS, the first
    --warm-up-minutes (10) excluded as warm-up)
  * P95 over the first vs the last 10 minutes, and the largest lag seen per stage
  * lost: spoken utterances whose transcript, a translation or an audio never came (sessions the gateway
    refused at the door are counted apart: refused is not lost), segments the summaries list as missing,
    and every close code seen

The machine this was written on has 2 cores shared with other work: the script renices itself (and so every
process it starts) to 10 and records `uptime`'s load each minute.

    nice -n 10 .venv/bin/python bench/soak.py                                  # 60 minutes
    .venv/bin/python bench/soak.py --minutes 5 --json .cache/soak/short.json   # a quick check
    .venv/bin/python bench/soak.py --kafka 127.0.0.1:9092                      # a broker already running
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from babelstream.client.connection import AudioConnection, Closed, ConnectFailed, Refused  # noqa: E402
from babelstream.client.messages import ServerMessage, Summary  # noqa: E402
from babelstream.client.pacing import real_time  # noqa: E402
from babelstream.clients.probe import ProbeConfig, SessionResult, SpeechCache, trace_session  # noqa: E402
from babelstream.clients.probe.config import LEAD_IN_MS  # noqa: E402
from babelstream.clients.probe.session import CLOSE_WAIT_SECONDS, start_for  # noqa: E402
from babelstream.clients.probe.speech import Clip, lay_out, speaker_script  # noqa: E402
from babelstream.clients.probe.trace import default_cut_lag_ms  # noqa: E402

BABELSTREAM = str(REPO / ".venv" / "bin" / "babelstream")
STAGES = ("segmenter", "asr", "translate", "tts")
NICENESS = 10
START_SPREAD_SECONDS = 20.0  # speakers start spread over this, so their sessions do not all turn over at once


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


# -- the broker and the platform ------------------------------------------------------------------------


class Broker:
    """scripts/kafka.sh on the given ports with its own data dir; started fresh here, stopped at the end."""

    def __init__(self, port: int, controller_port: int, data_dir: Path):
        self.address = f"127.0.0.1:{port}"
        self.env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(controller_port),
                    "KAFKA_DATA_DIR": str(data_dir)}
        self.port = port

    def start(self) -> None:
        if port_open(self.port):
            raise SystemExit(f"something listens on {self.address} already: pass --kafka {self.address} to use it")
        subprocess.run([str(REPO / "scripts" / "kafka.sh"), "start", "--fresh"], cwd=REPO, env=self.env, check=True)

    def stop(self) -> None:
        subprocess.run([str(REPO / "scripts" / "kafka.sh"), "stop"], cwd=REPO, env=self.env, check=False)

    def pid(self) -> int | None:
        pid_file = Path(self.env["KAFKA_DATA_DIR"]) / "kafka.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None


@dataclass
class Component:
    name: str
    command: list[str]
    ready_url: str
    metrics_url: str | None
    process: subprocess.Popen | None = None
    log: object = None


class Platform:
    """The gateway and the four stages, each its own process, as an operator starts them."""

    def __init__(self, kafka: str, gateway_port: int, metrics_ports: dict[str, int], log_dir: Path, env: dict):
        self.log_dir = log_dir
        self.env = env
        self.gateway_port = gateway_port
        self.components = [
            Component(
                stage,
                [BABELSTREAM, "stage", stage, "--kafka", kafka, "--metrics-port", str(metrics_ports[stage])],
                f"http://127.0.0.1:{metrics_ports[stage]}/readyz",
                f"http://127.0.0.1:{metrics_ports[stage]}/metrics",
            )
            for stage in STAGES
        ]
        self.components.append(
            Component(
                "gateway",
                [BABELSTREAM, "gateway", "--kafka", kafka, "--port", str(gateway_port), "--grpc-port", "0"],
                f"http://127.0.0.1:{gateway_port}/readyz",
                None,
            )
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway_port}/ws/audio"

    def commands(self) -> list[str]:
        return [" ".join(["babelstream", *c.command[1:]]) for c in self.components]

    def start(self, timeout: float = 300.0) -> float:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        for component in self.components:
            component.log = open(self.log_dir / f"{component.name}.log", "w")
            component.process = subprocess.Popen(
                component.command, stdout=component.log, stderr=subprocess.STDOUT, cwd=REPO, env=self.env
            )
        waiting = list(self.components)
        while waiting:
            if time.monotonic() - started > timeout:
                raise SystemExit(f"not ready within {timeout:.0f} s: {[c.name for c in waiting]}; logs in {self.log_dir}")
            for component in list(waiting):
                if component.process.poll() is not None:
                    raise SystemExit(f"{component.name} exited with {component.process.returncode}; see {self.log_dir}")
                if http_get(component.ready_url, 2)[0] == 200:
                    waiting.remove(component)
            time.sleep(0.5)
        return time.monotonic() - started

    def exited(self) -> dict[str, int]:
        return {c.name: c.process.returncode for c in self.components if c.process and c.process.poll() is not None}

    def stop(self) -> None:
        for component in reversed(self.components):
            if component.process and component.process.poll() is None:
                component.process.send_signal(signal.SIGTERM)  # what an orchestrator sends
        for component in self.components:
            if not component.process:
                continue
            try:
                component.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                component.process.kill()
                component.process.wait()
            component.log.close()


# -- what is sampled --------------------------------------------------------------------------------------


def rss_mb(pid: int | None) -> float | None:
    """The process's RSS with its children's (the translate stage runs Apertium pipelines as children)."""
    if pid is None:
        return None
    try:
        parent = psutil.Process(pid)
        total = parent.memory_info().rss
        for child in parent.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20
    except psutil.Error:
        return None


def cpu_seconds(pid: int | None, with_children: bool = True) -> float | None:
    """User + system CPU seconds of the process so far, and of its live children."""
    if pid is None:
        return None
    try:
        parent = psutil.Process(pid)
        total = sum(parent.cpu_times()[:2])
        for child in parent.children(recursive=True) if with_children else ():
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                pass
        return round(total, 2)
    except psutil.Error:
        return None


def stage_lag(metrics_url: str) -> int | None:
    """Sum over partitions of babelstream_stage_consumer_lag (None when /metrics did not answer)."""
    status, text = http_get(metrics_url, 5)
    if status != 200:
        return None
    total = 0
    for line in text.splitlines():
        if line.startswith("babelstream_stage_consumer_lag{"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


@dataclass
class Sample:
    t: float  # seconds after the speakers started
    rss_mb: dict[str, float | None]
    lag: dict[str, int | None]
    load: str
    cpu_s: dict[str, float | None] = field(default_factory=dict)  # CPU seconds so far


class Sampler:
    def __init__(self, platform: Platform, broker_pid: int | None, every: float):
        self.platform = platform
        self.broker_pid = broker_pid
        self.every = every
        self.samples: list[Sample] = []
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, started: float) -> None:
        self.started = started
        self._thread.start()

    def take(self) -> Sample:
        rss = {c.name: rss_mb(c.process.pid if c.process.poll() is None else None) for c in self.platform.components}
        rss["kafka"] = rss_mb(self.broker_pid)
        rss["client"] = psutil.Process().memory_info().rss / 2**20  # this script alone: the platform is its children
        lag = {c.name: stage_lag(c.metrics_url) for c in self.platform.components if c.metrics_url}
        cpu = {c.name: cpu_seconds(c.process.pid if c.process.poll() is None else None) for c in self.platform.components}
        cpu["kafka"] = cpu_seconds(self.broker_pid)
        cpu["client"] = cpu_seconds(os.getpid(), with_children=False)
        return Sample(round(time.perf_counter() - self.started, 1), rss, lag, load(), cpu)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.take())
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# -- the speakers ---------------------------------------------------------------------------------------


@dataclass
class SessionOutcome:
    trace: SessionResult
    ended_s: float  # when it closed, seconds after the run started
    refused: bool
    summary: dict | None
    retry_after_s: float = 1.0  # what a refusal asked the client to wait


@dataclass
class Talk:
    outcomes: list[SessionOutcome] = field(default_factory=list)


async def one_session(config: ProbeConfig, clips: list[Clip], speaker: int, session: int, run_started: float,
                      cut_lag_ms: int) -> SessionOutcome:
    """One session as the probe runs it (probe/session.py), keeping whether the gateway refused it."""
    pcm, placed = lay_out(clips, LEAD_IN_MS, config.pause_ms)
    pacing = real_time()
    frames = pacing.frames(pcm)
    arrivals: list[tuple[float, ServerMessage]] = []
    t0 = 0.0
    close_code: int | None = None
    error: str | None = None
    refused = False
    retry_after_s = 1.0
    try:
        connection = await AudioConnection.open(config.url, open_timeout=15)
    except Refused as refusal:
        refused = True
        retry_after_s = max(1.0, (refusal.error.data.get("retry_after_ms") or 0) / 1000)
        arrivals.append((refusal.error.received_at, refusal.error))
        close_code = refusal.close_code
        error = f"refused {refusal.error.code} {refusal.error.kind}: {refusal.error.reason}"
    except ConnectFailed as failure:
        error = f"connection failed: {failure}"
    else:
        arrivals.append((connection.connected.received_at, connection.connected))
        async with connection:

            async def read() -> None:
                async for message in connection.messages():
                    arrivals.append((message.received_at, message))

            reader = asyncio.create_task(read())
            try:
                await connection.send_start(start_for(config))
                t0 = time.perf_counter()
                await connection.send_paced(frames, pacing)
                await connection.send_done()
            except Closed:
                pass  # the server ended the session: its error is among the arrivals
            try:
                await asyncio.wait_for(reader, CLOSE_WAIT_SECONDS)
            except asyncio.TimeoutError:
                error = f"no close within {CLOSE_WAIT_SECONDS:.0f} s after done"
            close_code = connection.close_code
            if connection.error is not None and error is None:
                error = f"server error {connection.error.code} {connection.error.kind}: {connection.error.reason}"
    trace = trace_session(config, placed, arrivals, t0, close_code, error, speaker, session, run_started, cut_lag_ms)
    summary = next((m.data for _, m in arrivals if isinstance(m, Summary)), None)
    return SessionOutcome(trace, round(time.perf_counter() - run_started, 1), refused, summary, retry_after_s)


async def speaker(config: ProbeConfig, index: int, speech: SpeechCache, run_started: float, deadline: float,
                  cut_lag_ms: int, talk: Talk) -> None:
    rng = random.Random(config.seed * 1000 + index)
    script = speaker_script(rng)
    await asyncio.sleep(rng.uniform(0, START_SPREAD_SECONDS))
    session = 0
    pending: Clip | None = None
    while True:
        left_ms = (deadline - time.perf_counter()) * 1000
        budget = min(config.session_audio_budget_ms, left_ms)
        clips: list[Clip] = []
        used = LEAD_IN_MS
        while True:
            if pending is None:
                pending = await asyncio.to_thread(speech.clip, *next(script))
            needed = pending.speech_ms + config.pause_ms
            if used + needed > budget:
                break
            clips.append(pending)
            used += needed
            pending = None
        if not clips:
            return  # the run is over: not one more utterance fits
        outcome = await one_session(config, clips, index, session, run_started, cut_lag_ms)
        talk.outcomes.append(outcome)
        if outcome.refused:
            await asyncio.sleep(outcome.retry_after_s)  # the gateway said not now, and when to try again
        session += 1


# -- figures --------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def slope_mb_per_10_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (minute, MB), in MB per 10 minutes."""
    if len(points) < 3:
        return None
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    return round(float(np.polyfit(x, y, 1)[0]) * 10, 2)


def per_minute(samples: list[Sample], outcomes: list[SessionOutcome], target: str, minutes: int) -> list[dict]:
    rows = []
    by_minute_samples: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_minute_samples[int(sample.t // 60)].append(sample)
    utterances = defaultdict(list)
    for outcome in outcomes:
        if outcome.refused:
            continue
        for u in outcome.trace.utterances:
            if u.at_s is not None:
                utterances[int(u.at_s // 60)].append(u)
    sessions_ended = Counter(int(o.ended_s // 60) for o in outcomes)
    refused = Counter(int(o.ended_s // 60) for o in outcomes if o.refused)
    for minute in range(minutes):
        chunk = by_minute_samples.get(minute, [])
        said = utterances.get(minute, [])
        done = [u.translation_ms[target] for u in said if target in u.translation_ms]
        server = [u.server_ms[f"translation:{target}"] for u in said if f"translation:{target}" in u.server_ms]
        row = {
            "minute": minute + 1,
            "load": chunk[-1].load if chunk else None,
            "rss_mb": {},
            "lag_max": {},
            "utterances": len(said),
            "broken": sum(1 for u in said if u.broken),
            "p50_ms": pct(done, 50),
            "p95_ms": pct(done, 95),
            "server_p95_ms": pct(server, 95),
            "sessions_ended": sessions_ended.get(minute, 0),
            "refused": refused.get(minute, 0),
        }
        row["cpu_s"] = {}
        before = by_minute_samples.get(minute - 1, [])
        if chunk and before:
            for name, value in chunk[-1].cpu_s.items():
                if value is not None and before[-1].cpu_s.get(name) is not None:
                    seconds = chunk[-1].t - before[-1].t
                    row["cpu_s"][name] = round((value - before[-1].cpu_s[name]) * 60 / seconds, 1)
        if chunk:
            for name in chunk[-1].rss_mb:
                values = [s.rss_mb[name] for s in chunk if s.rss_mb.get(name) is not None]
                row["rss_mb"][name] = round(float(np.mean(values)), 1) if values else None
            for name in chunk[-1].lag:
                values = [s.lag[name] for s in chunk if s.lag.get(name) is not None]
                row["lag_max"][name] = max(values) if values else None
        rows.append(row)
    return rows


def losses(outcomes: list[SessionOutcome], targets: tuple[str, ...]) -> dict:
    admitted = [o for o in outcomes if not o.refused]
    utterances = [u for o in admitted for u in o.trace.utterances]
    # The gateway sends nothing for a segment the ASR heard no speech in, and its summary counts that segment
    # answered: a recognition miss, reported apart from results the pipeline lost.
    unheard = [u for o in admitted if (o.summary or {}).get("complete") for u in o.trace.utterances
               if u.broken and all(p.endswith("no transcript") for p in u.broken.split(" [")[0].split("; "))]
    broken = [u for u in utterances if u.broken and u not in unheard]
    summaries = [o.summary for o in admitted if o.summary]
    return {
        "sessions": len(outcomes),
        "sessions_refused": sum(1 for o in outcomes if o.refused),
        "sessions_without_summary": sum(1 for o in admitted if not o.summary),
        "sessions_incomplete": sum(1 for s in summaries if not s.get("complete")),
        "close_codes": dict(Counter(str(o.trace.close_code) for o in outcomes)),
        "errors": dict(Counter(o.trace.error.split(":")[0] for o in outcomes if o.trace.error)),
        "utterances_spoken": len(utterances),
        "utterances_lost": len(broken),
        "utterances_heard_as_silence": len(unheard),
        "lost_reasons": dict(Counter(u.broken.split(" [")[0] for u in broken).most_common(10)),
        "segments_published": sum(s.get("segments", 0) for s in summaries),
        "transcripts": sum(s.get("transcripts", 0) for s in summaries),
        "translations": sum(s.get("translations", 0) for s in summaries),
        "audio": sum(s.get("audio", 0) for s in summaries),
        "missing_segments": sum(len(s.get("missing_segments") or []) for s in summaries),
        "extra_segments": sum(o.trace.extra_segments for o in admitted),
        "expected_per_segment": f"1 transcript + {len(targets)} translation(s) + {len(targets)} audio",
    }


def translation_ms(outcomes: list[SessionOutcome], target: str, first_s: float, end_s: float) -> list[float]:
    """End of utterance -> translation at the client, for the utterances that ended in [first_s, end_s)."""
    return [u.translation_ms[target] for o in outcomes if not o.refused for u in o.trace.utterances
            if u.at_s is not None and first_s <= u.at_s < end_s and target in u.translation_ms]


def verdict(rows: list[dict], samples: list[Sample], outcomes: list[SessionOutcome], target: str, loss: dict,
            warm_up: int) -> dict:
    steady = [r for r in rows if r["minute"] > warm_up]
    names = list(rows[0]["rss_mb"]) if rows and rows[0]["rss_mb"] else []
    slopes = {}
    for name in names:
        points = [(r["minute"], r["rss_mb"][name]) for r in steady if r["rss_mb"].get(name) is not None]
        slopes[name] = slope_mb_per_10_min(points)
    minutes = len(rows)
    first = translation_ms(outcomes, target, 0, 600)
    last = translation_ms(outcomes, target, max(0, minutes - 10) * 60, minutes * 60)
    lag_max = {}
    for sample in samples:
        for name, value in sample.lag.items():
            if value is not None:
                lag_max[name] = max(lag_max.get(name, 0), value)
    cpu_per_utterance = {}
    for name in names:
        def per_utterance(chunk: list[dict]) -> float | None:
            seconds = sum(r["cpu_s"][name] for r in chunk if r["cpu_s"].get(name) is not None)
            said = sum(r["utterances"] for r in chunk if r["cpu_s"].get(name) is not None)
            return round(seconds / said, 3) if said else None
        cpu_per_utterance[name] = (per_utterance([r for r in rows if r["minute"] <= 10]),
                                   per_utterance([r for r in rows if r["minute"] > minutes - 10]))
    return {
        "cpu_s_per_utterance_first_last_10_min": cpu_per_utterance,
        "rss_slope_mb_per_10_min": slopes,
        "rss_first_last_mb": {n: (next((r["rss_mb"][n] for r in steady if r["rss_mb"].get(n)), None),
                                  next((r["rss_mb"][n] for r in reversed(rows) if r["rss_mb"].get(n)), None)) for n in names},
        "p95_first_10_min_ms": pct(first, 95),
        "p95_last_10_min_ms": pct(last, 95),
        "p50_first_10_min_ms": pct(first, 50),
        "p50_last_10_min_ms": pct(last, 50),
        "p95_whole_run_ms": pct(translation_ms(outcomes, target, 0, minutes * 60), 95),
        "lag_max": lag_max,
        "lost": loss["utterances_lost"],
    }


def format_row(row: dict, names: list[str]) -> str:
    rss = " ".join(f"{(row['rss_mb'].get(n) or 0):>7.0f}" for n in names)
    lags = "/".join(str(row["lag_max"].get(s, "-")) for s in STAGES)
    p = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    cpu = row.get("cpu_s") or {}
    platform = [cpu.get(n) for n in (*STAGES, "gateway")]
    cpus = f"{p(cpu.get('asr'))}/{p(sum(platform)) if None not in platform else '-'}"
    return (f"{row['minute']:>4} {rss} {lags:>11} {cpus:>9} {row['utterances']:>5} {row['broken']:>4} {p(row['p50_ms']):>6} "
            f"{p(row['p95_ms']):>6} {p(row['server_p95_ms']):>6} {row['refused']:>4}  {row['load'] or '-'}")


def header(names: list[str]) -> str:
    return (f"{'min':>4} " + " ".join(f"{n[:7]:>7}" for n in names)
            + f" {'lag s/a/t/t':>11} {'cpu a/all':>9} {'utts':>5} {'lost':>4} {'P50':>6} {'P95':>6} {'srvP95':>6} {'ref':>4}  load 1/5/15")


# -- the run ----------------------------------------------------------------------------------------------


async def run(args) -> dict:
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    log_dir = REPO / ".cache" / "soak" / time.strftime("%Y%m%d-%H%M%S")
    broker = None
    kafka = args.kafka
    if kafka is None:
        broker = Broker(args.kafka_port, args.kafka_port + 1, REPO / ".cache" / "kafka-soak")
        print(f"starting a fresh Kafka broker on {broker.address} (.cache/kafka-soak)", flush=True)
        broker.start()
        kafka = broker.address
    metrics_ports = {stage: args.metrics_port + i for i, stage in enumerate(STAGES)}
    env = {**os.environ, "BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": kafka}
    if not args.partials:
        env.update(PARTIALS="false", ASR_PARTIALS="false")
    if not args.admission:
        env.update(ADMISSION_MAX_ASR_BACKLOG="0", ADMISSION_MAX_P95_MS="0")
    settings = {k: env[k] for k in ("PARTIALS", "ASR_PARTIALS", "ADMISSION_MAX_ASR_BACKLOG", "ADMISSION_MAX_P95_MS") if k in env}
    platform = Platform(kafka, args.gateway_port, metrics_ports, log_dir, env)
    result: dict = {"commands": platform.commands(), "speakers": args.speakers, "minutes": args.minutes,
                    "targets": targets, "niceness": os.nice(0), "logs": str(log_dir), "settings": settings}
    try:
        print("platform:\n  " + "\n  ".join(platform.commands()) + f"\n  settings {settings or 'the defaults'}", flush=True)
        ready = platform.start()
        print(f"ready in {ready:.0f} s; load {load()}; {args.speakers} speakers for {args.minutes} min, targets "
              f"{','.join(targets)}", flush=True)
        config = ProbeConfig(url=platform.url, n=None, concurrency=args.speakers, targets=targets,
                             duration_seconds=args.minutes * 60)
        speech = SpeechCache()
        cut_lag_ms = default_cut_lag_ms()
        talk = Talk()
        run_started = time.perf_counter()
        deadline = run_started + args.minutes * 60
        sampler = Sampler(platform, broker.pid() if broker else None, args.sample_seconds)
        sampler.start(run_started)
        result["started_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        names = [c.name for c in platform.components] + (["kafka"] if broker else []) + ["client"]
        print("\nper minute as it goes: RSS MB (process + children), max consumer lag (segmenter/asr/translate/"
              "tts), CPU s per minute (asr / the five platform processes), load; latency of a minute is final "
              "only once its sessions closed (table at the end)", flush=True)
        print(header(names), flush=True)

        async def report_minutes() -> None:
            minute = 0
            while True:
                await asyncio.sleep(max(0.0, run_started + (minute + 1) * 60 - time.perf_counter()))
                rows = per_minute(sampler.samples, talk.outcomes, targets[0], minute + 1)
                print(format_row(rows[minute], names), flush=True)
                gone = platform.exited()
                if gone:
                    print(f"  process(es) exited: {gone}", flush=True)
                if args.json:
                    write_json(args.json, {**result, "partial": True, "samples": [s.__dict__ for s in sampler.samples]})
                minute += 1

        reporter = asyncio.create_task(report_minutes())
        await asyncio.gather(
            *(speaker(config, k, speech, run_started, deadline, cut_lag_ms, talk) for k in range(args.speakers))
        )
        reporter.cancel()
        sampler.stop()
        result["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        result["exited"] = platform.exited()
        rows = per_minute(sampler.samples, talk.outcomes, targets[0], args.minutes)
        loss = losses(talk.outcomes, targets)
        result.update(per_minute=rows, losses=loss, verdict=verdict(rows, sampler.samples, talk.outcomes, targets[0], loss,
                                                                   args.warm_up_minutes),
                      samples=[s.__dict__ for s in sampler.samples],
                      lost_utterances=[{"speaker": u.speaker, "session": u.session, "text": u.text, "why": u.broken,
                                        "at_s": u.at_s} for o in talk.outcomes if not o.refused
                                       for u in o.trace.utterances if u.broken][:200])
        print(report(result, names, targets), flush=True)
    finally:
        platform.stop()
        if broker:
            broker.stop()
    return result


def report(result: dict, names: list[str], targets: tuple[str, ...]) -> str:
    lines = ["", "=" * 110,
             f"soak: {result['speakers']} live speakers, {result['minutes']} min, targets {','.join(targets)}; "
             f"{result['started_utc']} -> {result['finished_utc']} UTC, niceness {result['niceness']}, "
             f"settings {result['settings'] or 'the defaults'}",
             f"latency = end of utterance -> {targets[0]} translation at the client, ms, by the minute the utterance "
             "ended in (srvP95: the gateway's own latency_ms); lost = chains without transcript/translation/audio; "
             "ref = sessions refused", "", header(names)]
    lines += [format_row(row, names) for row in result["per_minute"]]
    v, loss = result["verdict"], result["losses"]
    lines += ["", "memory slope, MB per 10 min (after warm-up), and RSS first steady minute -> last:"]
    for name, slope in v["rss_slope_mb_per_10_min"].items():
        first, last = v["rss_first_last_mb"].get(name, (None, None))
        lines.append(f"  {name:<10} {slope if slope is not None else '-':>7}   {first} -> {last}")
    lines.append("CPU seconds per utterance spoken, first 10 min -> last 10 min (a flat figure: no work grows per "
                 "utterance): " + ", ".join(f"{n} {a} -> {b}" for n, (a, b) in
                                             v.get("cpu_s_per_utterance_first_last_10_min", {}).items()))
    lines.append(f"translation latency, first 10 min P50 {v['p50_first_10_min_ms']} P95 {v['p95_first_10_min_ms']} ms; "
                 f"last 10 min P50 {v['p50_last_10_min_ms']} P95 {v['p95_last_10_min_ms']} ms; "
                 f"whole run P95 {v['p95_whole_run_ms']} ms")
    lines.append(f"consumer lag, largest seen: {v['lag_max']}")
    lines.append(f"sessions {loss['sessions']} (refused {loss['sessions_refused']}, without summary "
                 f"{loss['sessions_without_summary']}, incomplete {loss['sessions_incomplete']}); close codes "
                 f"{loss['close_codes']}; errors {loss['errors']}")
    lines.append(f"utterances spoken {loss['utterances_spoken']}, lost {loss['utterances_lost']} {loss['lost_reasons']}; "
                 f"heard as silence by the ASR (no transcript, session summary complete) "
                 f"{loss['utterances_heard_as_silence']}")
    lines.append(f"summaries: segments {loss['segments_published']}, transcripts {loss['transcripts']}, translations "
                 f"{loss['translations']}, audio {loss['audio']}, missing segments {loss['missing_segments']} "
                 f"(expected per segment with speech: {loss['expected_per_segment']}); extra segments "
                 f"{loss['extra_segments']}")
    lines.append(f"processes that exited during the run: {result['exited'] or 'none'}")
    lines.append(f"LOST (spoken utterances of admitted sessions without their transcript, translations or audio): {v['lost']}")
    return "\n".join(lines)


def write_json(path: str, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1, default=str))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--speakers", type=int, default=8)
    parser.add_argument("--targets", default="es,pt")
    parser.add_argument("--kafka", default=None, help="HOST:PORT of a running broker (default: start one here)")
    parser.add_argument("--kafka-port", type=int, default=26092, help="the broker started here (controller: +1)")
    parser.add_argument("--gateway-port", type=int, default=26110)
    parser.add_argument("--metrics-port", type=int, default=26111, help="first of the stages' four metrics ports")
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--warm-up-minutes", type=int, default=10)
    parser.add_argument("--no-partials", dest="partials", action="store_false",
                        help="PARTIALS=false ASR_PARTIALS=false: final transcripts only (partials cost ASR ~5x the CPU)")
    parser.add_argument("--no-admission", dest="admission", action="store_false",
                        help="ADMISSION_MAX_ASR_BACKLOG=0 ADMISSION_MAX_P95_MS=0: the gateway admits every speaker")
    parser.add_argument("--json", default=None, help="write every figure here (rewritten each minute)")
    args = parser.parse_args()
    if os.nice(0) < NICENESS:
        os.nice(NICENESS - os.nice(0))  # every process started below inherits it
    result = asyncio.run(run(args))
    if args.json:
        write_json(args.json, result)
        print(f"everything written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
