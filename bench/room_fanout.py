"""Rooms fan-out (issue #11, item 7): what a room's listeners cost a gateway, and the delay the fan-out adds.

One speaker and --n (1,000) listeners of one room on one gateway process, the same listeners split over two
gateway processes on Kafka, and --rooms-n (10) rooms × 100 listeners on one gateway; and a reference step in the
same run: one listener on one gateway (what a result costs with nobody else to serve).

The gateways are bench/gateway_under_test.py (the real gateway, `babelstream gateway`'s platform and uvicorn
config) with BENCH_ROOM_TIMES=1: the results router is given the room directory wrapped in a timer (its `rooms`
dependency, nothing patched), which notes when each result reached the directory. The listeners are
`loadgen listen` (bench/loadgen/listen.go, Go, gorilla/websocket): they note when each result reached them.
The speaker is this process: it publishes the results a speaker's utterance produces straight onto Kafka, at a
speaker's pace (one utterance every --utterance-seconds per room): the transcript (with `options.room`), 100 ms
later its translations into es and pt, 400 ms later their spoken audio (a real espeak-ng WAV, --audio-seconds
long, 22,050 Hz: what the tts stage publishes). Half the listeners read es, half pt, all with voice (--no-voice:
captions and translations only). So every listener gets three messages per utterance, one of them the spoken
translation: by default (--listener-audio opus) a binary frame of Ogg Opus (~9 KB for 2.5 s, encoded once as the tts
stage does); step one-json takes the format before it, base64 WAV in JSON (~150 KB), in the same run.

Per step:
  added delay   listener receipt - the moment its gateway's directory got the result (CLOCK_REALTIME, one
                machine): what the rooms add beyond the bus; P50/P90/P99/max over every (listener, result),
                also for text and audio apart; "via Kafka" is receipt - the speaker's publish (bus included)
  fan-out ms    how long the directory's synchronous hand-out of one result to every member here took
  lost          results a listener should have had (its room's transcripts, its language's translations and
                audio) that never reached it; duplicates; listeners closed early (close codes)
  CPU           the gateway processes' CPU over the talk, % of a core, and CPU seconds per listener per hour
                of talk at this pace; the load generator's CPU beside it (it must not be the bottleneck)
  memory        gateway RSS before any listener, with the listeners connected, at the end: MB per listener

Gateways run pinned to --server-core; the listeners, this speaker and the broker (scripts/kafka.sh on
--kafka-port, its threads pinned) to --client-core. Two gateways share the server core: the split shows what a
second process costs, not what a second core buys. Steps are interleaved and repeated (--repeat), medians printed.

    .venv/bin/python bench/room_fanout.py                         # reference, 1x1000, 2x500, 10x100; 3 repeats
    .venv/bin/python bench/room_fanout.py --steps one --repeat 1 --utterances 5   # a quick look
    .venv/bin/python bench/room_fanout.py --steps reference,one-json,one          # base64 WAV vs Ogg Opus
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_capacity import (  # noqa: E402
    CACHE,
    LOADGEN,
    LOADGEN_DIR,
    MB,
    REPO,
    core_busy_seconds,
    cpu_seconds,
    ensure_kafka,
    free_port,
    py_spy,
    get_json,
    raise_file_limit,
    stop_kafka,
    stop_server,
    wait_for_quiet,
)

LANGUAGES = ("es", "pt")
P99_TARGET_MS = 50.0
MB_TARGET = 0.2

# name -> (listeners, rooms, gateways); the listener count is --n except for the reference
STEPS = {
    "reference": (1, 1, 1),
    "one": (None, 1, 1),
    "two": (None, 1, 2),
    "rooms": (None, None, 1),
    "one-json": (None, 1, 1),
}
# How the listeners of a step take spoken translations (/ws/listen?audio=): --listener-audio, but for the step that
# measures the format before binary frames (base64 WAV in JSON) beside it in the same run.
STEP_AUDIO = {"one-json": "json"}
TRANSCRIPT = "Good morning everyone, and welcome to the weekly planning meeting of the whole team."
TRANSLATIONS = {
    "es": "Buenos días a todos y bienvenidos a la reunión semanal de planificación de todo el equipo.",
    "pt": "Bom dia a todos e bem-vindos à reunião semanal de planejamento de toda a equipe.",
}


def build_loadgen() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["go", "build", "-o", str(LOADGEN), "."], cwd=LOADGEN_DIR, check=True)


def spoken_wav(seconds: float) -> bytes:
    """A real espeak-ng WAV (22,050 Hz PCM16, what the tts stage sends for es/pt), trimmed or padded to `seconds`."""
    from babelstream.wav import unwrap_pcm16, wrap_pcm16

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "es.wav"
        subprocess.run(["espeak-ng", "-v", "es", "-w", str(path), TRANSLATIONS["es"]], check=True, capture_output=True)
        pcm, rate = unwrap_pcm16(path.read_bytes())
    wanted = int(seconds * rate) * 2
    return wrap_pcm16((pcm + bytes(wanted))[:wanted], rate)


def ogg_opus_of(wav: bytes) -> bytes:
    from babelstream.engines.tts.ogg_opus import encode_ogg_opus
    from babelstream.wav import unwrap_pcm16

    pcm, rate = unwrap_pcm16(wav)
    return encode_ogg_opus(pcm, rate)


# -- the speaker: results straight onto the bus ----------------------------------------------------------------


class Speaker:
    """One room's speaker, as the stages would publish its results."""

    def __init__(self, room: str, publisher, audio: bytes, audio_seconds: float, reply_partition: int):
        self.room = room
        self.reply_partition = reply_partition  # the room's, where every gateway with members in it reads
        self.id = str(uuid.uuid4())
        self._publisher = publisher
        self._audio = audio
        # as the tts stage encodes a room's utterance for its listeners (engines/tts/ogg_opus.py), once
        self._ogg_opus = ogg_opus_of(audio)
        self._audio_ms = int(audio_seconds * 1000)
        self.published: dict[str, tuple[str, str | None, int]] = {}  # event_id -> (kind, language, publish ns)

    async def _publish(self, event, kind: str, language: str | None) -> None:
        began = time.time_ns()
        await self._publisher.publish(event)
        self.published[event.event_id] = (kind, language, began)

    async def utterance(self, index: int, pace: float) -> None:
        from babelstream.contracts.events import (
            AudioSynthesisPayload,
            Event,
            SessionOptions,
            TextRecognizedPayload,
            TextTranslatedPayload,
        )

        options = SessionOptions(source_language="en", target_languages=LANGUAGES, synthesize=True, room=self.room,
                                 spoken_languages=LANGUAGES)
        start_ms, end_ms = int(index * pace * 1000), int(index * pace * 1000 + 3000)
        transcript = Event(
            TextRecognizedPayload(text=TRANSCRIPT, language="en", confidence=0.93, segment_index=index,
                                  start_ms=start_ms, end_ms=end_ms, options=options, model="bench"),
            correlation_id=self.id, source_service="bench-asr", reply_partition=self.reply_partition,
        )
        await self._publish(transcript, "transcript", None)
        await asyncio.sleep(0.1)
        await asyncio.gather(*(
            self._publish(Event(
                TextTranslatedPayload(text=TRANSLATIONS[language], source_text=TRANSCRIPT, source_language="en",
                                      target_language=language, engine="bench", segment_index=index,
                                      start_ms=start_ms, end_ms=end_ms, options=options),
                correlation_id=self.id, source_service="bench-translate", reply_partition=self.reply_partition,
            ), "translation", language)
            for language in LANGUAGES
        ))
        await asyncio.sleep(0.3)
        await asyncio.gather(*(
            self._publish(Event(
                AudioSynthesisPayload(audio_bytes=self._audio, sample_rate_hz=22050, duration_ms=self._audio_ms,
                                      voice=language, engine="espeak-ng", language=language,
                                      text=TRANSLATIONS[language], segment_index=index,
                                      ogg_opus_bytes=self._ogg_opus),
                correlation_id=self.id, source_service="bench-tts", reply_partition=self.reply_partition,
            ), "audio", language)
            for language in LANGUAGES
        ))


async def talk(rooms: list[str], args, audio: bytes, started: asyncio.Event | None = None) -> list[Speaker]:
    """Every room's speaker says --utterances utterances, one every --utterance-seconds, rooms staggered."""
    from babelstream.bus.event_publisher import EventPublisher
    from babelstream.bus.settings import BusSettings
    from babelstream.gateway.reply_partitions import ReplyPartitions, reply_partition_count
    from babelstream.platform import build_bus, build_codec

    settings = BusSettings()
    bus = build_bus(settings, "bench-room-speaker")
    await bus.start()
    publisher = EventPublisher(bus, build_codec(settings))
    partitions = ReplyPartitions("bench-room-speaker", await reply_partition_count(bus))
    speakers = [Speaker(room, publisher, audio, args.audio_seconds, partitions.of_room(room)) for room in rooms]
    try:
        began = time.monotonic()
        tasks = []
        for index in range(args.utterances):
            for k, speaker in enumerate(speakers):
                at = began + index * args.utterance_seconds + k * args.utterance_seconds / len(speakers)
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                tasks.append(asyncio.create_task(speaker.utterance(index, args.utterance_seconds)))
        await asyncio.gather(*tasks)
    finally:
        await bus.stop()
    return speakers


# -- one step ------------------------------------------------------------------------------------------------


def start_gateway(n: int, args, log_path: Path, core: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "BUS": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{args.kafka_port}",
        "BENCH_ROOM_TIMES": "1",
        # every listener comes from 127.0.0.1, over a ramp of a few seconds
        "MAX_CONNECTIONS_PER_IP": str(n + 100),
        "MAX_HANDSHAKES_PER_SECOND_PER_IP": str(n + 100),
        "MAX_SOCKETS": str(max(4096, n + 200)),
        "MAX_LISTENERS": str(max(3000, n + 100)),
        # a new gateway reads the rooms' text history back this far: keep it to this run's own results
        "ROOM_IDLE_SECONDS": "60",
        # no gRPC door: several gateways (and other benches') run side by side, and only /ws/listen is measured
        "GRPC_PORT": "0",
    }
    log = log_path.open("w")
    command = ["taskset", "-c", str(core), sys.executable, str(REPO / "bench" / "gateway_under_test.py"),
               "gateway", "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"gateway exited with {server.returncode}; see {log_path}")
        try:
            if get_json(f"http://{base}/readyz", timeout=2).get("ready"):
                break
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError(f"gateway not ready within 120 s; see {log_path}")
        time.sleep(0.2)
    return server, base


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan"), "count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1], "count": len(ordered)}


def run_step(step: str, args, audio: bytes) -> dict:
    listeners, rooms, gateways = STEPS[step]
    n = listeners or (args.rooms_n * args.room_listeners if step == "rooms" else args.n)
    rooms = rooms or args.rooms_n
    waited = wait_for_quiet(args)
    run = uuid.uuid4().hex[:6]
    prefix = f"fan-{run}"
    servers: list[tuple[subprocess.Popen, str]] = []
    reference = None
    loadgen = None
    try:
        for g in range(gateways):
            servers.append(start_gateway(n, args, CACHE / f"room-fanout-{step}-{g}.log", args.server_core))
        # The reference: a gateway of its own with one listener per room and language, on the client core.
        reference = start_gateway(2 * rooms, args, CACHE / f"room-fanout-{step}-reference.log", args.client_core)
        processes = [psutil.Process(server.pid) for server, _ in servers]
        time.sleep(1.0)
        rss_idle = [p.memory_info().rss for p in processes]
        seconds = args.utterances * args.utterance_seconds + 1.0 + args.tail_seconds
        out = CACHE / f"room-fanout-{step}-arrivals.tsv"
        command = [
            "taskset", "-c", str(args.client_core), str(LOADGEN), "listen",
            "-urls", ",".join(f"ws://{base}" for _, base in servers),
            "-n", str(n), "-rooms", str(rooms), "-room-prefix", prefix, "-langs", ",".join(LANGUAGES),
            f"-voice={'false' if args.no_voice else 'true'}", "-audio", STEP_AUDIO.get(step, args.listener_audio),
            "-ramp", f"{max(1.0, n / args.connect_rate):.2f}", "-seconds", f"{seconds:.2f}", "-out", str(out),
            "-reference-url", f"ws://{reference[1]}",
        ]
        loadgen = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        client = psutil.Process(loadgen.pid)
        ready = loadgen.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"load generator: {ready!r} {loadgen.stderr.read()[-2000:]}")
        time.sleep(1.0)  # the last joins settle (presence records out) before the first utterance
        rss_connected = [p.memory_info().rss for p in processes]
        cpu_start = [cpu_seconds(p) for p in processes]
        kernel_start = sum(p.cpu_times().system for p in processes)
        client_start, wall_start = cpu_seconds(client), time.monotonic()
        core_start = core_busy_seconds(args.server_core), core_busy_seconds(args.client_core)
        spy = None
        if step in args.profile.split(","):
            # Sampled from the client core without pausing the gateway; on-CPU samples only (a thread inside a
            # socket write is on the CPU, in the kernel: its Python stack says which call).
            spy_path = CACHE / f"py-spy-room-{step}.txt"
            spy = subprocess.Popen(
                ["taskset", "-c", str(args.client_core), py_spy(), "record", "--nonblocking", "-r", "200",
                 "-d", f"{args.utterances * args.utterance_seconds:.0f}", "-f", "raw", "-o", str(spy_path),
                 "-p", str(servers[0][0].pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        speakers = asyncio.run(talk([f"{prefix}-{k}" for k in range(rooms)], args, audio))
        if spy is not None:
            spy.wait(timeout=60)
        time.sleep(1.0)  # the last audio's fan-out
        cpu_end = [cpu_seconds(p) for p in processes]
        kernel_end = sum(p.cpu_times().system for p in processes)
        client_end, wall_end = cpu_seconds(client), time.monotonic()
        core_end = core_busy_seconds(args.server_core), core_busy_seconds(args.client_core)
        rss_end = [p.memory_info().rss for p in processes]
        received = [get_json(f"http://{base}/bench/rooms", timeout=30)["received"] for _, base in servers]
        gc_stats = [get_json(f"http://{base}/bench/stats", timeout=30) for _, base in servers]
        rest, err = loadgen.communicate(timeout=seconds + 120)
        if loadgen.returncode != 0:
            raise RuntimeError(f"load generator failed ({loadgen.returncode}): {err.strip()[-2000:]}")
        clients = json.loads(rest.strip().splitlines()[-1])
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.kill()
            loadgen.wait()
        for server, _ in servers + ([reference] if reference else []):
            stop_server(server)

    # -- what reached whom ----------------------------------------------------------------------------
    published: dict[str, tuple[int, str, str | None, int]] = {}  # event_id -> (room, kind, language, ns)
    for k, speaker in enumerate(speakers):
        for event_id, (kind, language, ns) in speaker.published.items():
            published[event_id] = (k, kind, language, ns)
    arrived: dict[int, list[tuple[int, str, str]]] = {}
    added = {"all": [], "text": [], "audio": []}
    beyond = {"all": [], "text": [], "audio": []}
    via_kafka = []
    unknown = history = 0
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    reference_ns: dict[str, int] = {}  # event_id -> when the first reference listener got it
    for listener, gateway, ns, kind, event_id, was_history in rows:
        if int(gateway) == gateways and was_history == "0":
            reference_ns[event_id] = min(int(ns), reference_ns.get(event_id, int(ns)))
    for listener, gateway, ns, kind, event_id, was_history in rows:
        if int(gateway) == gateways:
            continue  # a reference listener
        if was_history == "1":
            history += 1
            continue
        if event_id not in published:
            unknown += 1
            continue
        arrived.setdefault(int(listener), []).append((int(ns), kind, event_id))
        kind = "audio" if kind == "audio" else "text"
        if event_id in reference_ns:
            delay = (int(ns) - reference_ns[event_id]) / 1e6
            beyond["all"].append(delay)
            beyond[kind].append(delay)
        got = received[int(gateway)].get(event_id)
        if got is None:
            continue
        delay = (int(ns) - got[0]) / 1e6
        added["all"].append(delay)
        added[kind].append(delay)
        via_kafka.append((int(ns) - published[event_id][3]) / 1e6)
    lost = duplicates = 0
    lost_listeners = set()
    by_room: dict[int, dict[str, tuple[str, str | None]]] = {}
    for event_id, (k, kind, language, _) in published.items():
        by_room.setdefault(k, {})[event_id] = (kind, language)
    for i in range(n):
        language = LANGUAGES[(i // (rooms * gateways)) % len(LANGUAGES)]  # as listen.go picks it
        expected = {
            event_id for event_id, (kind, lang) in by_room.get(i % rooms, {}).items()
            if kind == "transcript" or (lang == language and (kind != "audio" or not args.no_voice))
        }
        ids = [event_id for _, _, event_id in arrived.get(i, [])]
        duplicates += len(ids) - len(set(ids))
        missing = len(expected - set(ids))
        lost += missing
        if missing:
            lost_listeners.add(i)
    fan_out_ms = {"text": [], "audio": []}
    for times in received:
        for event_id, (_, took) in times.items():
            if event_id in published:
                fan_out_ms["audio" if published[event_id][1] == "audio" else "text"].append(took / 1e6)
    wall = wall_end - wall_start
    talk_seconds = args.utterances * args.utterance_seconds
    gateway_cpu = sum(end - start for start, end in zip(cpu_start, cpu_end))
    result = {
        "step": step, "n": n, "rooms": rooms, "gateways": gateways, "audio": STEP_AUDIO.get(step, args.listener_audio),
        "added_ms": {kind: percentiles(values) for kind, values in added.items()},
        "beyond_reference_ms": {kind: percentiles(values) for kind, values in beyond.items()},
        "via_kafka_ms": percentiles(via_kafka),
        "fan_out_ms": {kind: percentiles(values) for kind, values in fan_out_ms.items()},
        "published": len(published),
        "deliveries": len(added["all"]),
        "lost": lost, "listeners_with_loss": len(lost_listeners), "duplicates": duplicates,
        "history_messages": history, "unknown_messages": unknown,
        "connected": clients["connected"], "connect_errors": clients["connect_errors"],
        "close_codes": clients["close_codes"], "client_errors": clients["sample_errors"],
        "client_mb": clients["bytes"] / MB,
        "gateway_cpu_pct": 100 * gateway_cpu / wall,
        # the kernel's part (socket writes: on loopback the sender's core also runs the receiver's TCP stack)
        "gateway_kernel_share_pct": 100 * (kernel_end - kernel_start) / max(gateway_cpu, 1e-9),
        "gateway_cpu_pct_each": [round(100 * (e - s) / wall, 1) for s, e in zip(cpu_start, cpu_end)],
        # CPU seconds a listener costs per hour of talk at this pace (3 messages per utterance, one audio)
        "cpu_s_per_listener_hour": gateway_cpu / n * 3600 / talk_seconds,
        "client_cpu_pct": 100 * (client_end - client_start) / wall,
        "server_core_other_pct": 100 * ((core_end[0] - core_start[0]) - gateway_cpu) / wall,
        "client_core_busy_pct": 100 * (core_end[1] - core_start[1]) / wall,
        "rss_idle_mb": sum(rss_idle) / MB,
        "rss_connected_mb": sum(rss_connected) / MB,
        "rss_end_mb": sum(rss_end) / MB,
        "mb_per_listener_connected": (sum(rss_connected) - sum(rss_idle)) / MB / n,
        "mb_per_listener_end": (sum(rss_end) - sum(rss_idle)) / MB / n,
        # the cyclic collector's longest pause per generation (ms), and full collections during the whole run
        "gc_max_ms": [max(stats["gc_max_ms"][g] for stats in gc_stats) for g in range(3)],
        "gc_full_ms": [ms for stats in gc_stats for _, ms, _ in stats["gc_full"]],
        "waited_for_quiet_s": round(waited, 1),
        "load_avg_1m": os.getloadavg()[0],
    }
    if step in args.profile.split(","):
        result["profile"] = profile_summary(CACHE / f"py-spy-room-{step}.txt")
    return result


def profile_summary(path: Path) -> list[tuple[str, float]]:
    """Share of on-CPU samples by the innermost Python function of interest on the stack (py-spy's raw format:
    `Class.method (file:line)` frames, outermost first). uvloop is C: time it spends on its own (draining write
    buffers when a socket takes more, reading, epoll) shows as the event loop itself (`Runner.run` innermost)."""
    if not path.exists():
        return []
    labels = {
        "write": "socket writes from the fan-out (the adapter's transport.write: kernel TCP send, on loopback the receive too)",
        "send_text": "frame building (websocket/connection.py send_text: UTF-8 encode + frame header)",
        "encode_frame": "frame building (websocket/connection.py send_text: UTF-8 encode + frame header)",
        "text_frame": "frame building (websocket/connection.py send_text: UTF-8 encode + frame header)",
        "put": "listener outbox (writable check, bookkeeping)",
        "room_result": "the room message, once per result (base64 of the audio, JSON)",
        "encode": "the room message, once per result (base64 of the audio, JSON)",
        "_fan_out": "fan-out loop (directory.py _fan_out, listener.deliver)",
        "deliver": "fan-out loop (directory.py _fan_out, listener.deliver)",
        "decode": "Avro decode of the result",
        "run": "event loop in C (uvloop: draining write buffers, reads, epoll)",
    }
    totals: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        name = "other Python (Kafka client, presence, HTTP, GC)"
        for frame in reversed(stack.split(";")):  # innermost first
            function = frame.split(" (", 1)[0].rsplit(".", 1)[-1]
            if function in labels:
                name = labels[function]
                break
        totals[name] = totals.get(name, 0) + int(count)
    everything = sum(totals.values()) or 1
    return sorted(((name, round(100 * n / everything, 1)) for name, n in totals.items()), key=lambda item: -item[1])


def step_line(r: dict) -> str:
    a, t, v = r["added_ms"]["all"], r["added_ms"]["text"], r["added_ms"]["audio"]
    b = r["beyond_reference_ms"]
    return (
        f"{r['step']:>9} n={r['n']:<5} rooms={r['rooms']:<3} gateways={r['gateways']}  beyond reference ms p50 "
        f"{b['all']['p50']:.1f} p90 {b['all']['p90']:.1f} p99 {b['all']['p99']:.1f} max {b['all']['max']:.1f} "
        f"(text p99 {b['text']['p99']:.1f}, audio p99 {b['audio']['p99']:.1f}; n {b['all']['count']})  "
        f"after the directory got it ms p50 {a['p50']:.1f} p90 {a['p90']:.1f} p99 {a['p99']:.1f} max {a['max']:.1f} "
        f"(text p99 {t['p99']:.1f}, audio p99 {v['p99']:.1f})  "
        f"via Kafka p50 {r['via_kafka_ms']['p50']:.1f} p99 {r['via_kafka_ms']['p99']:.1f}  "
        f"fan-out ms text p50 {r['fan_out_ms']['text']['p50']:.1f} max {r['fan_out_ms']['text']['max']:.1f}, audio "
        f"p50 {r['fan_out_ms']['audio']['p50']:.1f} max {r['fan_out_ms']['audio']['max']:.1f}  "
        f"deliveries {r['deliveries']} lost {r['lost']} dup {r['duplicates']} closes {r['close_codes']}  "
        f"gw cpu {r['gateway_cpu_pct']:.0f}% {r['gateway_cpu_pct_each']} kernel {r['gateway_kernel_share_pct']:.0f}% of it ({r['cpu_s_per_listener_hour']:.2f} s/listener/h)  "
        f"client cpu {r['client_cpu_pct']:.0f}% (core {r['client_core_busy_pct']:.0f}%), server core other "
        f"{r['server_core_other_pct']:.0f}%  MB/listener {r['mb_per_listener_connected']:.3f} connected, "
        f"{r['mb_per_listener_end']:.3f} end  gc max ms {r['gc_max_ms']} full {r['gc_full_ms']}  load {r['load_avg_1m']:.2f}"
    )


COLUMNS = (
    ("step", lambda r: r["step"]),
    ("listeners", lambda r: r["n"]),
    ("rooms", lambda r: r["rooms"]),
    ("gateways", lambda r: r["gateways"]),
    ("beyond ref p50 ms", lambda r: f"{r['beyond_reference_ms']['all']['p50']:.1f}"),
    ("p90", lambda r: f"{r['beyond_reference_ms']['all']['p90']:.1f}"),
    ("p99", lambda r: f"{r['beyond_reference_ms']['all']['p99']:.1f}"),
    ("text p99", lambda r: f"{r['beyond_reference_ms']['text']['p99']:.1f}"),
    ("audio p99", lambda r: f"{r['beyond_reference_ms']['audio']['p99']:.1f}"),
    ("after directory p50 ms", lambda r: f"{r['added_ms']['all']['p50']:.1f}"),
    ("p90", lambda r: f"{r['added_ms']['all']['p90']:.1f}"),
    ("p99", lambda r: f"{r['added_ms']['all']['p99']:.1f}"),
    ("fan-out text p50 ms", lambda r: f"{r['fan_out_ms']['text']['p50']:.1f}"),
    ("fan-out audio p50 ms", lambda r: f"{r['fan_out_ms']['audio']['p50']:.1f}"),
    ("lost", lambda r: r["lost"]),
    ("gateway CPU %", lambda r: f"{r['gateway_cpu_pct']:.0f}"),
    ("kernel share %", lambda r: f"{r['gateway_kernel_share_pct']:.0f}"),
    ("CPU s/listener/h", lambda r: f"{r['cpu_s_per_listener_hour']:.2f}"),
    ("MB/listener connected", lambda r: f"{r['mb_per_listener_connected']:.3f}"),
    ("MB/listener end", lambda r: f"{r['mb_per_listener_end']:.3f}"),
    ("client CPU %", lambda r: f"{r['client_cpu_pct']:.0f}"),
    ("other on server core %", lambda r: f"{r['server_core_other_pct']:.0f}"),
)


def median_result(results: list[dict]) -> dict:
    """Per number, the median over the repeats of one step (each figure separately)."""
    first = results[0]

    def merge(values):
        if isinstance(values[0], dict):
            return {key: merge([v[key] for v in values]) for key in values[0]}
        if isinstance(values[0], (int, float)) and not isinstance(values[0], bool):
            return statistics.median(values)
        return values[0]

    merged = {key: merge([r[key] for r in results]) for key in first}
    merged["lost"] = sum(r["lost"] for r in results)  # lost is summed, never a median
    return merged


def table(results: list[dict]) -> str:
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + "|".join("---:" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(str(cell(r)) for _, cell in COLUMNS) + " |" for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="reference,one,two,rooms", help=f"of {','.join(STEPS)}")
    parser.add_argument("--n", type=int, default=1000, help="listeners of steps one and two")
    parser.add_argument("--rooms-n", type=int, default=10, help="rooms of step rooms")
    parser.add_argument("--room-listeners", type=int, default=100, help="listeners per room of step rooms")
    parser.add_argument("--utterances", type=int, default=15, help="utterances per room")
    parser.add_argument("--utterance-seconds", type=float, default=2.0, help="one utterance this often per room")
    parser.add_argument("--audio-seconds", type=float, default=2.5, help="length of each spoken translation")
    parser.add_argument("--no-voice", action="store_true", help="listeners take no spoken audio")
    parser.add_argument("--listener-audio", default="opus", choices=("opus", "wav", "json"),
                        help="/ws/listen?audio= of every step but one-json (json: base64 WAV, the format before)")
    parser.add_argument("--tail-seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connect-rate", type=float, default=400.0)
    parser.add_argument("--kafka-port", type=int, default=19592)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--quiet-pct", type=float, default=50.0)
    parser.add_argument("--quiet-timeout", type=float, default=60.0)
    parser.add_argument("--profile", default="", help="py-spy the (first) gateway of these steps over the talk")
    parser.add_argument("--json", default=str(CACHE / "room-fanout.json"))
    args = parser.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    if set(steps) - set(STEPS):
        parser.error(f"unknown steps {set(steps) - set(STEPS)}")
    os.environ.setdefault("BUS", "kafka")
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{args.kafka_port}"

    command = (".venv/bin/python bench/room_fanout.py " + shlex.join(sys.argv[1:])).strip()
    limit = raise_file_limit()
    build_loadgen()
    audio = spoken_wav(args.audio_seconds)
    started_kafka = ensure_kafka(args.kafka_port, args.client_core)
    began = datetime.now(timezone.utc)
    print(f"command: {command}")
    print(f"started {began:%Y-%m-%d %H:%M:%S} UTC, load average {os.getloadavg()}, {os.cpu_count()} cores, "
          f"open files {limit}; gateways on core {args.server_core}, listeners + speaker + broker on core "
          f"{args.client_core}; {args.utterances} utterances per room every {args.utterance_seconds:g} s; spoken "
          f"audio {len(audio)} bytes ({args.audio_seconds:g} s WAV; {len(ogg_opus_of(audio))} bytes Ogg Opus), "
          f"{'no voice' if args.no_voice else 'voice on'}, listeners' audio={args.listener_audio} (one-json: json)",
          flush=True)
    results: dict[str, list[dict]] = {step: [] for step in steps}
    try:
        for attempt in range(args.repeat):
            for step in steps:
                result = run_step(step, args, audio)
                result["attempt"] = attempt + 1
                results[step].append(result)
                print(step_line(result), flush=True)
                for name, share in result.get("profile") or ():
                    print(f"    {share:5.1f}%  {name}", flush=True)
                if result["client_errors"]:
                    print(f"    client errors: {result['client_errors'][:3]}", flush=True)
    finally:
        if started_kafka:
            stop_kafka(args.kafka_port)
    ended = datetime.now(timezone.utc)

    medians = [median_result(results[step]) for step in steps if results[step]]
    print()
    print(f"medians over {args.repeat} runs of each step (lost: the sum):")
    print(table(medians))
    reference = next((m for m in medians if m["step"] == "reference"), None)
    if reference:
        print()
        print("ratios to the reference step (one listener) in this run:")
        for m in medians:
            if m is reference:
                continue
            rb, mb = reference["beyond_reference_ms"]["all"], m["beyond_reference_ms"]["all"]
            print(f"  {m['step']}: p99 beyond the reference listener {mb['p99']:.1f} ms vs {rb['p99']:.1f} ms; "
                  f"gateway CPU x{m['gateway_cpu_pct'] / max(reference['gateway_cpu_pct'], 0.01):.1f} for "
                  f"x{m['n'] / reference['n']:.0f} listeners")
    for m in medians:
        if m["step"] in ("one", "two"):
            p99 = m["beyond_reference_ms"]["all"]["p99"]
            ok = p99 <= P99_TARGET_MS and m["mb_per_listener_end"] <= MB_TARGET and not m["lost"]
            print(f"targets for {m['step']} (p99 beyond the reference <= {P99_TARGET_MS:.0f} ms: {p99:.1f}; "
                  f"<= {MB_TARGET} MB/listener: {m['mb_per_listener_end']:.3f}; lost 0: {m['lost']}): "
                  f"{'met' if ok else 'NOT met'}")
    print(f"took {(ended - began).total_seconds():.0f} s; load average at the end {os.getloadavg()}")
    Path(args.json).write_text(json.dumps(
        {"command": command, "began": began.isoformat(), "ended": ended.isoformat(), "runs": results,
         "medians": medians}, indent=2))
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
