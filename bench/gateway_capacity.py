"""Gateway capacity: how many live audio streams one gateway process sustains on one core.

For increasing N, N clients (bench/loadgen, Go, pinned to --client-core) each stream 20 ms PCM16 frames in
real time (640 bytes every 20 ms on absolute deadlines) for --seconds of steady state plus 1 s before and
after, then send done and wait for the close. The server runs as its own process pinned to --server-core
(`taskset`), started fresh for every step (bench/gateway_under_test.py):

  reference  a minimal FastAPI receive-and-buffer loop (bench/reference_app.py)
  single     the real gateway, {"event":"start","mode":"single","wait_for_results":false}: buffer, one
             AudioInputEvent published at done
  live       the real gateway, {"event":"start","mode":"live","wait_for_results":false}: webrtc VAD
             endpointing per stream, a SpeechSegmentEvent published whenever an utterance ends
  live-grpc  live, each client a gRPC Translate call on its own HTTP/2 connection (loadgen -grpc) to the same
             gateway's gRPC ingress: the same session, the same frames, the other door

The gateway publishes to the bus (--bus kafka: a real broker, started with scripts/kafka.sh on port
--kafka-port if nothing listens there, its threads pinned to the client core; or --bus memory) and its
results router subscribes to the result topics. The audio is espeak-ng speech with 400 ms pauses, looped;
each client starts at a random point of the loop, so utterances end at different times.

Per step: CPU of the server process over the steady window (100% = one core; also per thread, and per
frame), receive lag (now - the frame's scheduled send time, stamped by the client into the low bytes of the
frame's first 8 samples, measured where the session loop handles the frame), frames sent (clients) /
handled (server) / lost, sessions that did not end with an ack and close 1000, memory per connection ((RSS
at the end of the window - RSS before any client) / N), segments published, full-GC pauses, and how busy
the server's core was with anything else (a disturbed step shows there). A step passes with p99 lag
< 50 ms, nothing lost and every session ok. Capacity = the last N that passed before the first failure;
after a failure only --target (1000) is still measured. Before each step the bench waits until both
cores are quiet (--quiet-pct); a failing step gets a second attempt (--repeat, default 2; both printed).

    .venv/bin/python bench/gateway_capacity.py                      # the full run (~12 min)
    .venv/bin/python bench/gateway_capacity.py --quick              # 100, 500, 1000 for 5 s
    .venv/bin/python bench/gateway_capacity.py --n 300,400 --setups live --bus memory --profile live
    .venv/bin/python bench/gateway_capacity.py --setups live --gc-freeze --gc-threshold 50000   # what-if
    .venv/bin/python bench/gateway_capacity.py --setups reference,live --frame-ms 100           # what-if
    .venv/bin/python bench/gateway_capacity.py --setups live,live-grpc --bus memory  # the doors side by side
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
CACHE = REPO / ".cache" / "bench"
LOADGEN_DIR = BENCH / "loadgen"
LOADGEN = CACHE / "loadgen"
KAFKA_DATA_DIR = REPO / ".cache" / "kafka-bench"

FRAME_BYTES = 640  # 20 ms of 16 kHz PCM16 (the VAD's frame; stamps are laid out per 20 ms in prepare_audio)
FRAME_MS = 20
P99_LIMIT_MS = 50.0
MB = 1024 * 1024

START_MESSAGES = {
    "reference": {"event": "start", "mode": "live", "wait_for_results": False},  # ignored by the reference
    "single": {"event": "start", "mode": "single", "wait_for_results": False},
    "live": {"event": "start", "mode": "live", "wait_for_results": False},
    "live-grpc": {"event": "start", "mode": "live", "wait_for_results": False},  # as Config {mode, wait_for_results}
}
GRPC_SETUPS = ("live-grpc",)

SENTENCES = (
    "Good morning everyone, and welcome to the weekly planning meeting.",
    "We need to finish the quarterly report before Friday afternoon.",
    "The train to London leaves from platform four at nine.",
    "Please call me back when you get home tonight.",
)


# -- preparation -------------------------------------------------------------------------------------


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def build_loadgen() -> None:
    sources = [LOADGEN_DIR / "main.go", LOADGEN_DIR / "go.mod", LOADGEN_DIR / "go.sum"]
    if LOADGEN.exists() and LOADGEN.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"building the load generator: go build -o {LOADGEN.relative_to(REPO)} ./bench/loadgen", flush=True)
    subprocess.run(["go", "build", "-o", str(LOADGEN), "."], cwd=LOADGEN_DIR, check=True)


def stamp_frames(pcm: bytes, start_ns: int) -> bytes:
    """What the load generator does to each frame (stampFrame): the scheduled send time goes into the low
    bytes of the first 8 samples, their high bytes zeroed."""
    out = bytearray(pcm)
    for k, offset in enumerate(range(0, len(out) - FRAME_BYTES + 1, FRAME_BYTES)):
        out[offset : offset + 16 : 2] = (start_ns + k * FRAME_MS * 1_000_000).to_bytes(8, "little")
        out[offset + 1 : offset + 16 : 2] = bytes(8)
    return bytes(out)


def prepare_audio() -> tuple[Path, dict]:
    """espeak-ng sentences, each followed by 400 ms of silence; how the gateway's endpointer cuts the loop."""
    sys.path.insert(0, str(REPO))
    from babelstream.segmentation import SegmentationSettings, endpointer_factory
    from tests.support.speech import silence, synthesize

    loop = b"".join(synthesize(text) + silence(400) for text in SENTENCES)
    loop = loop[: len(loop) - len(loop) % FRAME_BYTES]
    path = CACHE / "speech-loop.pcm"
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(loop)

    def utterances(pcm: bytes) -> list:
        endpointer = endpointer_factory(SegmentationSettings())()
        return endpointer.feed(pcm) + endpointer.flush()

    seconds = len(loop) / 32000
    plain = utterances(loop * 3)
    stamped = utterances(stamp_frames(loop * 3, time.time_ns()))
    info = {
        "loop_seconds": round(seconds, 2),
        "utterances_per_loop": round(len(plain) / 3, 2),
        "utterances_per_loop_stamped": round(len(stamped) / 3, 2),
        "mean_utterance_seconds": round(sum(u.end_ms - u.start_ms for u in stamped) / max(1, len(stamped)) / 1000, 2),
    }
    info["segments_per_stream_second"] = round(info["utterances_per_loop_stamped"] / seconds, 3)
    return path, info


# -- Kafka ---------------------------------------------------------------------------------------------


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def kafka_env(port: int) -> dict:
    return {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(port + 1),
        "KAFKA_DATA_DIR": str(KAFKA_DATA_DIR),
    }


def ensure_kafka(port: int, pin_core: int | None, fresh: bool = False) -> bool:
    """Starts the bench's broker if nothing listens on `port`; returns whether this run started it. fresh: with an
    empty data dir (a run killed earlier may have left a backlog that a stage would work through first)."""
    started = False
    if not listening("127.0.0.1", port):
        print(f"starting Kafka on 127.0.0.1:{port} (data in {KAFKA_DATA_DIR.relative_to(REPO)})", flush=True)
        command = [str(REPO / "scripts" / "kafka.sh"), "start", *(["--fresh"] if fresh else [])]
        subprocess.run(command, env=kafka_env(port), check=True)
        started = True
    pid_file = KAFKA_DATA_DIR / "kafka.pid"
    if pin_core is not None and pid_file.exists():
        pid = pid_file.read_text().strip()
        # Every thread of the broker onto the client core: the server's core stays the server's.
        subprocess.run(["taskset", "-a", "-p", "-c", str(pin_core), pid], check=False, stdout=subprocess.DEVNULL)
        print(f"Kafka broker (pid {pid}) pinned to core {pin_core}", flush=True)
    return started


def stop_kafka(port: int) -> None:
    subprocess.run([str(REPO / "scripts" / "kafka.sh"), "stop"], env=kafka_env(port), check=False)


# -- one step -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, timeout: float = 10.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def sleep_until(deadline: float) -> None:
    delay = deadline - time.time()
    if delay > 0:
        time.sleep(delay)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def core_busy_seconds(core: int) -> float:
    times = psutil.cpu_times(percpu=True)[core]
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def py_spy() -> str:
    found = shutil.which("py-spy") or CACHE / "pyspy-venv" / "bin" / "py-spy"
    if not Path(found).exists():
        sys.exit(f"--profile needs py-spy: {sys.executable} -m venv {CACHE}/pyspy-venv && "
                 f"{CACHE}/pyspy-venv/bin/pip install py-spy")
    return str(found)


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (the main thread runs the event loop; librdkafka's are rdk:*)."""
    seconds: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        name = "main (event loop)" if task.name == str(pid) else name.rstrip("0123456789")
        seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return seconds


def server_command(app: str, port: int, core: int) -> list[str]:
    return ["taskset", "-c", str(core), sys.executable, str(BENCH / "gateway_under_test.py"), app, "--port", str(port)]


def start_server(setup: str, n: int, bus: str, args, log_path: Path) -> tuple[subprocess.Popen, str, str | None]:
    """The server, its HTTP base URL, and its gRPC ingress's address (gRPC setups only; none otherwise)."""
    port = free_port()
    grpc_port = free_port() if setup in GRPC_SETUPS else 0
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "BUS": bus,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{args.kafka_port}",
        "MAX_CONNECTIONS": str(n + 100),
        # the load generator is n clients on one address, opening over a ramp of a few seconds
        "MAX_CONNECTIONS_PER_IP": str(n + 100),
        "MAX_HANDSHAKES_PER_SECOND_PER_IP": str(n + 100),
        "MAX_SOCKETS": str(max(4096, n + 200)),
        "MAX_SESSION_SECONDS": "3600",
        "IDLE_TIMEOUT_SECONDS": "600",
        # The figures here are the gateway's frame path as it was measured before interim results existed;
        # what partials cost is measured in docs/benchmarks/interim-results.md. PARTIALS=true in the
        # environment overrides this.
        "PARTIALS": os.environ.get("PARTIALS", "false"),
        # No stages run here: nothing measures a backlog, and the latency rule has nothing to read.
        "ADMISSION_MAX_ASR_BACKLOG": "0",
        "ADMISSION_MAX_P95_MS": "0",
        "GRPC_PORT": str(grpc_port),
    }
    if args.lag_every > 1:
        env["BENCH_LAG_EVERY"] = str(args.lag_every)
    env["BENCH_FRAME_BYTES"] = str(args.frame_ms * 32)
    if args.gc_freeze:
        env["BENCH_GC_FREEZE"] = "1"
    if args.gc_threshold:
        env["BENCH_GC_THRESHOLD"] = str(args.gc_threshold)
    if setup in args.cprofile.split(","):
        env["BENCH_CPROFILE"] = str(CACHE / f"cprofile-{setup}-{bus}-{n}.pstats")
    app = "reference" if setup == "reference" else "gateway"
    log = log_path.open("w")
    server = subprocess.Popen(server_command(app, port, args.server_core), stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"{setup} server exited with {server.returncode}; see {log_path}")
        try:
            get_json(f"{base}/bench/stats", timeout=2)
            if app == "reference" or get_json(f"{base}/readyz", timeout=2).get("ready"):
                break
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError(f"{setup} server not ready within 120 s; see {log_path}")
        time.sleep(0.2)
    return server, base, f"127.0.0.1:{grpc_port}" if grpc_port else None


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=45)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for_quiet(args) -> float:
    """Waits (at most --quiet-timeout s) until both cores were under --quiet-pct busy for 2 s: on a shared
    machine a step started during someone else's build measures that build. Returns the seconds waited."""
    began = time.monotonic()
    while args.quiet_pct < 100:
        busy = psutil.cpu_percent(interval=2.0, percpu=True)
        if max(busy[args.server_core], busy[args.client_core]) < args.quiet_pct:
            break
        if time.monotonic() - began > args.quiet_timeout:
            print(f"    (machine still busy after {args.quiet_timeout:.0f} s: {busy}; measuring anyway)", flush=True)
            break
    return time.monotonic() - began


def run_step(setup: str, n: int, bus: str, args, audio: Path) -> dict:
    waited = wait_for_quiet(args)
    log_path = CACHE / f"server-{setup}-{bus}-{n}.log"
    server, base, grpc_target = start_server(setup, n, bus, args, log_path)
    loadgen = None
    try:
        process = psutil.Process(server.pid)
        time.sleep(1.0)
        rss_idle = process.memory_info().rss
        ramp = max(1.0, n / args.connect_rate)
        start_at = time.time() + ramp + 2.0
        stream_seconds = args.seconds + 2.0  # 1 s lead-in, the steady window, 1 s tail
        command = [
            "taskset", "-c", str(args.client_core), str(LOADGEN),
            *(["-grpc", grpc_target] if grpc_target else ["-url", f"ws://{base.removeprefix('http://')}/ws/audio"]),
            "-n", str(n),
            "-audio", str(audio),
            "-start", json.dumps(START_MESSAGES[setup], separators=(",", ":")),
            "-start-at", str(int(start_at * 1e9)),
            "-ramp", f"{ramp:.3f}",
            "-seconds", f"{stream_seconds:.3f}",
            "-frame-bytes", str(args.frame_ms * 32),
            "-frame-ms", str(args.frame_ms),
            "-stamp", args.lag_from,
        ]
        loadgen = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        client = psutil.Process(loadgen.pid)

        sleep_until(start_at - 0.2)
        rss_connected = process.memory_info().rss
        window_start = start_at + 1.0
        window_end = window_start + args.seconds
        sleep_until(window_start)
        kernel_start = process.cpu_times().system
        cpu_start, client_start, wall_start = cpu_seconds(process), cpu_seconds(client), time.monotonic()
        core_start = core_busy_seconds(args.server_core), core_busy_seconds(args.client_core)
        threads_start = thread_cpu(server.pid)
        load_start = os.getloadavg()[0]
        spy = None
        if setup in args.profile.split(","):
            # Sampled from the client core, without pausing the server (--nonblocking), only while a thread
            # holds the GIL (--gil): the shares are of the Python-side CPU of the process.
            spy = subprocess.Popen(
                ["taskset", "-c", str(args.client_core), py_spy(), "record", "--nonblocking", "--gil", "-r", "250",
                 "-d", f"{args.seconds:.0f}", "-f", "raw", "-o", str(CACHE / f"py-spy-{setup}-{bus}-{n}.txt"),
                 "-p", str(server.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        rss_peak = 0
        while time.time() < window_end:
            rss_peak = max(rss_peak, process.memory_info().rss)
            time.sleep(min(0.5, max(0.0, window_end - time.time())))
        cpu_end, client_end, wall_end = cpu_seconds(process), cpu_seconds(client), time.monotonic()
        kernel_end = process.cpu_times().system
        core_end = core_busy_seconds(args.server_core), core_busy_seconds(args.client_core)
        threads_end = thread_cpu(server.pid)
        rss_end = process.memory_info().rss
        rss_peak = max(rss_peak, rss_end)
        if spy is not None:
            spy.wait(timeout=60)
            spy_path = CACHE / f"py-spy-{setup}-{bus}-{n}.txt"

        out, err = loadgen.communicate(timeout=args.seconds + 300)
        if loadgen.returncode != 0:
            raise RuntimeError(f"load generator failed ({loadgen.returncode}): {err.strip()[-2000:]}")
        clients = json.loads(out)
        stats = get_json(f"{base}/bench/stats", timeout=30)
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.kill()
            loadgen.wait()
        stop_server(server)

    wall = wall_end - wall_start
    lost = clients["frames_sent"] - stats["frames"]
    sessions_failed = n - clients["sessions_ok"]
    result = {
        "setup": setup,
        "bus": "-" if setup == "reference" else bus,
        "n": n,
        "cpu_pct": 100 * (cpu_end - cpu_start) / wall,
        # The kernel's part (TCP receive, epoll, sends) of the server's CPU: what no Python change can remove.
        "cpu_kernel_pct": 100 * (kernel_end - kernel_start) / wall,
        # Server CPU per frame handled: the budget is 1e6 / (N * frames per second) us at 100% of a core.
        "us_per_frame": (cpu_end - cpu_start) * 1e6 / (n * wall * 1000 / args.frame_ms),
        "threads_cpu_pct": {
            name: round(100 * (threads_end[name] - threads_start.get(name, 0.0)) / wall, 1)
            for name in sorted(threads_end, key=lambda k: -(threads_end[k] - threads_start.get(k, 0.0)))
            if threads_end[name] - threads_start.get(name, 0.0) > 0
        },
        "lag_p50_ms": stats["p50_ms"],
        "lag_p99_ms": stats["p99_ms"],
        "lag_p999_ms": stats["p999_ms"],
        "lag_max_ms": stats["max_ms"],
        "frames_expected": clients["frames_expected"],
        "frames_sent": clients["frames_sent"],
        "frames_handled": stats["frames"],
        "frames_lost": lost,
        "sessions_failed": sessions_failed,
        "close_codes": clients["close_codes"],
        "connect_errors": clients["connect_errors"],
        "mb_per_conn_connected": (rss_connected - rss_idle) / MB / n,
        "mb_per_conn": (rss_end - rss_idle) / MB / n,
        "rss_idle_mb": rss_idle / MB,
        "rss_end_mb": rss_end / MB,
        "rss_peak_mb": rss_peak / MB,
        "segments_cut": stats.get("segments_cut", 0),
        "published": stats.get("published", 0),
        "publish_failures": stats.get("publish_failures", 0),
        "publish_mean_ms": stats.get("publish_mean_ms", 0.0),
        "segment_messages": clients["segment_messages"],
        "client_cpu_pct": 100 * (client_end - client_start) / wall,
        # Whatever else ran on the server's core during the window (other people's work, the kernel's
        # softirq time for loopback traffic): a large figure means the step was disturbed.
        "server_core_other_pct": 100 * ((core_end[0] - core_start[0]) - (cpu_end - cpu_start)) / wall,
        "client_core_busy_pct": 100 * (core_end[1] - core_start[1]) / wall,
        "client_late_p99_ms": clients["send_late_p99_ms"],
        "client_late_max_ms": clients["send_late_max_ms"],
        "load_avg_1m": load_start,
        "waited_for_quiet_s": round(waited, 1),
        "sample_errors": clients["sample_errors"],
        "gc_collections": stats.get("gc_collections"),
        "gc_max_ms": stats.get("gc_max_ms"),
        # Full collections: seconds after streaming started (negative: during connection ramp-up), pause ms.
        "gc_full": [(round(end / 1e9 - start_at, 2), ms) for end, ms, _ in stats.get("gc_full", [])],
        # Frames >= 50 ms late, by when they were scheduled (s after streaming started, 100 ms slots).
        "late_slots": [(round(slot / 10 - start_at, 1), count) for slot, count in stats.get("late_slots", [])],
        # Frames the load generator itself sent >= 20 ms late, same slots.
        "client_late_slots": [(round(slot / 10, 1), count) for slot, count in clients.get("late_slots", [])],
        "frame_ms": args.frame_ms,
        "gc_freeze": args.gc_freeze,
        "lag_every": args.lag_every,
        "lag_from": args.lag_from,
        "gc_threshold": args.gc_threshold or 700,
        "profile": profile_breakdown(spy_path) if spy is not None and spy_path.exists() else None,
    }
    result["passed"] = (
        result["lag_p99_ms"] < P99_LIMIT_MS
        and lost == 0
        and sessions_failed == 0
        and clients["frames_sent"] == clients["frames_expected"]
    )
    return result


# -- profile breakdown ------------------------------------------------------------------------------

CATEGORIES = (
    ("asyncio/runners.py", "event loop in C (uvloop: epoll, socket reads and writes, callbacks)"),
    ("webrtcvad", "VAD + endpointer"),
    ("engines/vad/", "VAD + endpointer"),
    ("websockets/", "WebSocket frame parsing (websockets, sans-I/O)"),
    ("uvicorn/", "uvicorn ASGI WebSocket protocol"),
    ("asyncio/", "asyncio queue hand-off and task wake-ups"),
    ("starlette/", "Starlette/FastAPI receive + middleware await chain"),
    ("fastapi/", "Starlette/FastAPI receive + middleware await chain"),
    ("babelstream/gateway/", "gateway session (limits, metrics, mode logic, outbox)"),
    ("prometheus_client/", "gateway session (limits, metrics, mode logic, outbox)"),
    ("babelstream/contracts/", "publishing (WAV, Avro encode, bus)"),
    ("babelstream/bus/", "publishing (WAV, Avro encode, bus)"),
    ("confluent_kafka", "publishing (WAV, Avro encode, bus)"),
    ("gateway_under_test.py", "bench instrumentation / reference handler"),
    ("reference_app.py", "bench instrumentation / reference handler"),
)


def profile_breakdown(path: Path) -> list[tuple[str, float]]:
    """Share of py-spy samples by where the sampled (innermost) frame was."""
    totals: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]
        category = next((name for needle, name in CATEGORIES if needle in leaf), "other Python")
        totals[category] = totals.get(category, 0) + int(count)
    everything = sum(totals.values()) or 1
    return sorted(((name, 100 * n / everything) for name, n in totals.items()), key=lambda item: -item[1])


# -- report ---------------------------------------------------------------------------------------------

COLUMNS = (
    ("setup", "setup", "{}"),
    ("bus", "bus", "{}"),
    ("N", "n", "{}"),
    ("CPU %", "cpu_pct", "{:.0f}"),
    ("CPU us/frame", "us_per_frame", "{:.1f}"),
    ("lag p50 ms", "lag_p50_ms", "{:.1f}"),
    ("lag p99 ms", "lag_p99_ms", "{:.1f}"),
    ("frames sent", "frames_sent", "{}"),
    ("handled", "frames_handled", "{}"),
    ("lost", "frames_lost", "{}"),
    ("sessions failed", "sessions_failed", "{}"),
    ("MB/conn", "mb_per_conn", "{:.3f}"),
    ("segments published", "published", "{:.0f}"),
    ("client late p99 ms", "client_late_p99_ms", "{:.1f}"),
    ("other on server core %", "server_core_other_pct", "{:.0f}"),
    ("load 1m", "load_avg_1m", "{:.2f}"),
    ("ok", "passed", "{}"),
)


def row(result: dict) -> list[str]:
    cells = []
    for _, key, fmt in COLUMNS:
        value = result[key]
        if key == "passed":
            value = "yes" if value else "NO"
        cells.append(fmt.format(value))
    return cells


def table(results: list[dict], markdown: bool) -> str:
    headers = [title for title, _, _ in COLUMNS]
    rows = [row(r) for r in results]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in rows]
    return "\n".join(lines)


def step_line(r: dict) -> str:
    return (
        f"{r['setup']:>9} {r['bus']:>6} N={r['n']:<5} cpu {r['cpu_pct']:5.1f}% (kernel {r.get('cpu_kernel_pct', 0):.0f}%, {r['us_per_frame']:.1f} us/frame)  lag p50 {r['lag_p50_ms']:6.1f} "
        f"p99 {r['lag_p99_ms']:7.1f} ms  sent {r['frames_sent']} handled {r['frames_handled']} "
        f"lost {r['frames_lost']} failed sessions {r['sessions_failed']}  {r['mb_per_conn']:.3f} MB/conn  "
        f"published {r['published']:.0f}  client cpu {r['client_cpu_pct']:.0f}% late p99 {r['client_late_p99_ms']:.1f} ms  "
        f"server core other {r['server_core_other_pct']:.0f}%, client core busy {r['client_core_busy_pct']:.0f}%  "
        f"load {r['load_avg_1m']:.2f}  {'ok' if r['passed'] else 'FAILED'}"
    )


def capacity(results: list[dict], setup: str, bus: str) -> dict | None:
    """The last passing step of a setup before its first failure."""
    best = None
    for result in results:
        if result["setup"] != setup or result["bus"] not in (bus, "-"):
            continue
        if not result["passed"]:
            break
        best = result
    return best


def summary(results: list[dict], buses: list[str]) -> str:
    lines = []
    reference = capacity(results, "reference", "-")
    ref_n = reference["n"] if reference else 0
    lines.append(f"largest sustained N (p99 lag < {P99_LIMIT_MS:.0f} ms, nothing lost, every session ok):")
    lines.append(f"  reference (FastAPI receive-and-buffer): {ref_n}")
    ref_cpu = {r["n"]: r["cpu_pct"] for r in results if r["setup"] == "reference"}
    for bus in buses:
        for setup in ("single", "live", *GRPC_SETUPS):
            if not any(r["setup"] == setup and r["bus"] == bus for r in results):
                continue
            best = capacity(results, setup, bus)
            n = best["n"] if best else 0
            ratio = f"{n / ref_n:.2f} of the reference's" if ref_n else "no reference"
            lines.append(f"  gateway {setup:9s} on {bus:5s}: {n:5d}  ({ratio})")
    lines.append("CPU ratio gateway / reference at the same N:")
    for bus in buses:
        for setup in ("single", "live", *GRPC_SETUPS):
            pairs = [
                f"N={r['n']}: {r['cpu_pct'] / ref_cpu[r['n']]:.2f}"
                for r in results
                if r["setup"] == setup and r["bus"] == bus and ref_cpu.get(r["n"])
            ]
            if pairs:
                lines.append(f"  {setup:9s} on {bus:5s}: " + ", ".join(pairs))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="100,200,300,400,500,600,800,1000,1100,1200,1300,1400", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady-state window per step")
    parser.add_argument("--quick", action="store_true", help="--n 100,500,1000 --seconds 5")
    parser.add_argument("--setups", default="reference,single,live")
    parser.add_argument("--bus", default="kafka", help="kafka, memory or kafka,memory (gateway setups run on each)")
    parser.add_argument("--kafka-port", type=int, default=19492,
                        help="started with scripts/kafka.sh if not listening; below 32768, so 1,000+ client sockets cannot hold it")
    parser.add_argument("--no-pin-broker", action="store_true", help="leave the broker's threads on every core")
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--gc-freeze", action="store_true",
                        help="what-if: the server calls gc.freeze() after start-up (not what the gateway does today)")
    parser.add_argument("--gc-threshold", type=int, default=0,
                        help="what-if: the server's young-generation GC threshold (Python's default: 700)")
    parser.add_argument("--lag-from", choices=["sent", "scheduled"], default="sent",
                        help="receive lag from when the client wrote the frame (the server's own lag), or from the "
                             "frame's schedule (which also counts the load generator's own lateness)")
    parser.add_argument("--lag-every", type=int, default=8,
                        help="take the receive lag of every frame of one session in K (the reference: one frame in "
                             "K); every frame is still counted: the probe costs the server about 1 us a frame, which "
                             "the gateway in production does not pay")
    parser.add_argument("--frame-ms", type=int, default=FRAME_MS, help="client frame length (20 ms = 640 bytes)")
    parser.add_argument("--connect-rate", type=float, default=400.0, help="new connections per second during ramp-up")
    parser.add_argument("--keep-going", action="store_true", help="do not stop a setup at its first failing step")
    parser.add_argument("--quiet-pct", type=float, default=30.0,
                        help="before each step wait until both cores are under this %% busy (100: don't wait)")
    parser.add_argument("--quiet-timeout", type=float, default=180.0)
    parser.add_argument("--repeat", type=int, default=2,
                        help="attempts per step: a step passes if any attempt passes (the others are printed)")
    parser.add_argument("--target", type=int, default=1000,
                        help="after a setup's first failing step, only this N (if listed) is still run")
    parser.add_argument("--profile", default="", help="py-spy these setups' server over each window (.cache/bench/py-spy-*)")
    parser.add_argument("--cprofile", default="", help="run these setups' server under cProfile (.cache/bench/cprofile-*)")
    parser.add_argument("--json", default=str(CACHE / "gateway-capacity.json"), help="where to write all results")
    args = parser.parse_args()
    if args.quick:
        args.n, args.seconds = "100,500,1000", 5.0
    counts = [int(part) for part in args.n.split(",") if part.strip()]
    setups = [part.strip() for part in args.setups.split(",") if part.strip()]
    buses = [part.strip() for part in args.bus.split(",") if part.strip()]
    unknown = set(setups) - set(START_MESSAGES) or set(buses) - {"kafka", "memory"}
    if unknown:
        parser.error(f"unknown setup or bus: {sorted(unknown)}")

    command = (".venv/bin/python bench/gateway_capacity.py " + shlex.join(sys.argv[1:])).strip()
    limit = raise_file_limit()
    build_loadgen()
    audio, audio_info = prepare_audio()
    started_kafka = False
    if "kafka" in buses and any(s != "reference" for s in setups):
        started_kafka = ensure_kafka(args.kafka_port, None if args.no_pin_broker else args.client_core)

    began = datetime.now(timezone.utc)
    print(f"command: {command}")
    print(f"started {began:%Y-%m-%d %H:%M:%S} UTC, load average {os.getloadavg()}, {os.cpu_count()} cores, "
          f"open files limit {limit}")
    print(f"server on core {args.server_core}, load generator on core {args.client_core}; "
          f"steady window {args.seconds:g} s per step; audio loop {audio_info}")
    results: list[dict] = []
    try:
        plan = [("reference", "-")] if "reference" in setups else []
        plan += [(setup, bus) for bus in buses for setup in setups if setup != "reference"]
        for setup, bus in plan:
            failed = False
            for n in counts:
                if failed and n != args.target:
                    continue  # past the first failure only the target N is still measured
                for attempt in range(1, args.repeat + 1):
                    result = run_step(setup, n, "memory" if bus == "-" else bus, args, audio)
                    result["attempt"] = attempt
                    if result["passed"] or attempt == args.repeat:
                        break
                    print(f"{step_line(result)}  (attempt {attempt} of {args.repeat}; trying again)", flush=True)
                results.append(result)
                print(step_line(result), flush=True)
                print(f"    CPU % by thread: {result['threads_cpu_pct']}")
                late = result["late_slots"]
                if late:
                    worst = sorted(late, key=lambda item: -item[1])[:8]
                    print(f"    frames >= 50 ms late: {sum(c for _, c in late)} in {len(late)} slots of 100 ms; "
                          f"worst (s after start, frames): {sorted(worst)}")
                client_late = result["client_late_slots"]
                if client_late:
                    worst = sorted(client_late, key=lambda item: -item[1])[:8]
                    print(f"    frames the client sent >= 20 ms late: {sum(c for _, c in client_late)}; "
                          f"worst (s after start, frames): {sorted(worst)}")
                if result["gc_full"]:
                    print(f"    full GC pauses (s after streaming start, ms): {result['gc_full'][:8]}")
                for name, share in result["profile"] or ():
                    print(f"    {share:5.1f}%  {name}")
                if result["sample_errors"]:
                    print(f"    errors: {result['sample_errors'][:3]}", flush=True)
                if not result["passed"] and not args.keep_going:
                    if failed or n >= args.target:
                        break
                    failed = True
    finally:
        if started_kafka:
            stop_kafka(args.kafka_port)

    ended = datetime.now(timezone.utc)
    print()
    print(table(results, markdown=False))
    print()
    print(summary(results, buses))
    print(f"load average at the end {os.getloadavg()}; took {(ended - began).total_seconds():.0f} s")
    print()
    print(table(results, markdown=True))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps(
            {"command": command, "began": began.isoformat(), "ended": ended.isoformat(), "audio": audio_info,
             "server_core": args.server_core, "client_core": args.client_core, "seconds": args.seconds,
             "results": results},
            indent=2,
        )
    )
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
