"""End of utterance -> translated text at the client, for the whole platform: embedded and over Kafka.

Starts the platform itself as separate processes (so its CPU and memory are its own), then drives it with
the probe (babelstream.clients.probe: espeak-ng sentences of ~1-3 s streamed in real time, 700 ms pause
after each, several utterances per WebSocket session) and prints:

  * end of utterance -> transcript / translated text / spoken audio, P50 P90 P99, with each stage's share
  * pipeline overhead beyond model compute = translated-text latency - (ASR + MT stage_ms), P50
  * ASR real-time factor, RSS of the serving process(es)
  * 1 and 4 concurrent live speakers (P50 P95 P99), and soaks of 8 or more (--speakers 8,16) with P95 per minute
  * where Whisper's time goes (features / encoder / decoding), measured with the platform stopped
  * the targets, met or not, and the original design's figures as the reference

Modes: "embedded" = `babelstream serve` (in-memory bus); "kafka" = `babelstream serve --kafka` (every
component in one process, over a real broker); "split" = `babelstream gateway` + one process per stage
over Kafka. The broker is scripts/kafka.sh on 127.0.0.1:49092 (data in .cache/kafka-latency), started
here when nothing listens there and stopped again at the end.

    .venv/bin/python bench/pipeline_latency.py                 # full run: ~30 min
    .venv/bin/python bench/pipeline_latency.py --quick         # 20 utterances, 60 s soak: ~8 min
    .venv/bin/python bench/pipeline_latency.py --modes embedded --soak-seconds 120 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ  # noqa: E402
from babelstream.clients import probe as probing  # noqa: E402

BABELSTREAM = str(REPO / ".venv" / "bin" / "babelstream")
LOG_DIR = REPO / ".cache" / "pipeline-latency"
KAFKA_ENV = {
    "KAFKA_PORT": "49092",
    "KAFKA_CONTROLLER_PORT": "49093",
    "KAFKA_DATA_DIR": str(REPO / ".cache" / "kafka-latency"),
}
KAFKA_ADDRESS = "127.0.0.1:49092"
PORTS = {"embedded": 8765, "kafka": 8766, "split": 8767}
REFERENCE = (
    "P50 1045 ms, P90 1155.8 ms, P99 1402.73 ms "
    "(N=100, whisper-tiny + opus-mt-en-es, 1 s clip, CPU, gateway not in the path)"
)
TARGET = "es"
WARM_UP_UTTERANCES = 3
# "Latency does not grow": P95 of the last minute within 20% of the first minute's.
GROWTH_TOLERANCE = 1.2
# Every probe speaker connects from 127.0.0.1, and a soak's sessions follow one another: room for 64 of them, and
# their handshakes, so the gateway's per-client limits do not refuse the bench; admission control off, since this
# measures how the speakers are served, not when new ones are refused (bench/admission.py does). The environment
# may still say else.
SPEAKER_ROOM = {"MAX_CONNECTIONS": "64", "MAX_CONNECTIONS_PER_IP": "64", "MAX_HANDSHAKES_PER_SECOND_PER_IP": "100",
                "ADMISSION_MAX_ASR_BACKLOG": "0", "ADMISSION_MAX_P95_MS": "0"}
# --speakers: 1 and 4 are runs of -n utterances; this many or more is a soak of --soak-seconds.
SOAK_MIN_SPEAKERS = 8


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# -- the platform under test ------------------------------------------------------------------------


@dataclass
class Platform:
    mode: str
    port: int
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list = field(default_factory=list)
    rss_samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, own RSS, with children)
    _stop_sampling: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/audio"

    def commands(self) -> list[list[str]]:
        port = str(self.port)
        if self.mode == "embedded":
            return [[BABELSTREAM, "serve", "--port", port, "--grpc-port", "0"]]
        if self.mode == "kafka":
            return [[BABELSTREAM, "serve", "--kafka", KAFKA_ADDRESS, "--port", port, "--grpc-port", "0"]]
        stages = [[BABELSTREAM, "stage", name, "--kafka", KAFKA_ADDRESS] for name in ("segmenter", "asr", "translate", "tts")]
        return [*stages, [BABELSTREAM, "gateway", "--kafka", KAFKA_ADDRESS, "--port", port]]

    def start(self, timeout: float = 180.0) -> float:
        if port_open(self.port):
            raise SystemExit(f"port {self.port} is taken: stop whatever listens there first")
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for index, command in enumerate(self.commands()):
            log = open(LOG_DIR / f"{self.mode}-{index}.log", "w")
            self.logs.append(log)
            self.processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env={**SPEAKER_ROOM, **os.environ})
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"{self.mode}: {process.args} exited with {process.returncode}; see {LOG_DIR}")
            if self._ready():
                break
            time.sleep(0.25)
        else:
            raise SystemExit(f"{self.mode}: not ready within {timeout:.0f} s; see {LOG_DIR}")
        threading.Thread(target=self._sample, daemon=True).start()
        return time.perf_counter() - started

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    def rss(self) -> tuple[int, int]:
        own = total = 0
        for process in self.processes:
            try:
                parent = psutil.Process(process.pid)
                mine = parent.memory_info().rss
                own += mine
                total += mine + sum(child.memory_info().rss for child in parent.children(recursive=True))
            except psutil.Error:
                pass
        return own, total

    def _sample(self) -> None:
        while not self._stop_sampling.wait(1.0):
            own, total = self.rss()
            self.rss_samples.append((time.perf_counter(), own, total))

    def stop(self) -> None:
        self._stop_sampling.set()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


def kafka_backlog() -> int:
    """Messages the platform's stage groups have not committed yet (a previous soak can leave some)."""
    from confluent_kafka import Consumer, TopicPartition

    from babelstream.contracts.topics import ASR_TEXT, AUDIO_INGRESS, SPEECH_SEGMENT, TRANSLATION_TEXT

    backlog = 0
    for stage, topic in (("segmenter", AUDIO_INGRESS), ("asr", SPEECH_SEGMENT), ("translate", ASR_TEXT), ("tts", TRANSLATION_TEXT)):
        consumer = Consumer({"bootstrap.servers": KAFKA_ADDRESS, "group.id": f"babelstream.{stage}", "enable.auto.commit": False})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
            for partition in committed:
                _, high = consumer.get_watermark_offsets(partition, timeout=10)
                backlog += max(0, high - max(partition.offset, 0)) if partition.offset >= 0 else 0
        finally:
            consumer.close()
    return backlog


def wait_until_drained(timeout: float = 600.0) -> None:
    deadline = time.perf_counter() + timeout
    while (backlog := kafka_backlog()) and time.perf_counter() < deadline:
        print(f"  waiting for the stages to work off {backlog} message(s) left from an earlier run", flush=True)
        time.sleep(5)


class Broker:
    """The latency broker on 49092: started here only when nothing listens there yet."""

    def __init__(self) -> None:
        self.started_here = False

    def _script(self, action: str) -> None:
        subprocess.run([str(REPO / "scripts" / "kafka.sh"), action], cwd=REPO, env={**os.environ, **KAFKA_ENV}, check=True)

    def ensure(self, attempts: int = 3) -> None:
        if port_open(int(KAFKA_ENV["KAFKA_PORT"])):
            return
        print(f"starting the Kafka broker on {KAFKA_ADDRESS} ({KAFKA_ENV['KAFKA_DATA_DIR']})", flush=True)
        # 49092/49093 lie in Linux's ephemeral port range: an outgoing connection of any process on the box
        # can hold one for a moment ("Address already in use"), so a failed start is retried.
        for attempt in range(attempts):
            try:
                self._script("start")
                self.started_here = True
                return
            except subprocess.CalledProcessError:
                if attempt == attempts - 1:
                    raise
                print("  broker did not start; retrying in 5 s", flush=True)
                time.sleep(5)

    def release(self) -> None:
        if self.started_here:
            self._script("stop")


# -- the runs ---------------------------------------------------------------------------------------


def progress(line: str) -> None:
    print(f"    {line}", file=sys.stderr, flush=True)


async def probe_run(url: str, label: str, **config) -> tuple[probing.ProbeRun, dict, str, str]:
    before = load()
    print(f"  {label} ({before})", flush=True)
    run = await probing.probe(probing.ProbeConfig(url=url, targets=(TARGET,), **config), progress=progress)
    figures = probing.summarize(run)
    figures["p95_view"] = {
        "translation": probing.percentiles(
            [u.translation_ms.get(TARGET) for u in run.utterances if not u.broken], (50, 95, 99)
        )
    }
    return run, figures, before, load()


async def bench_mode(mode: str, args) -> dict:
    platform = Platform(mode, PORTS[mode])
    print(f"\n== {mode}: {' & '.join(' '.join(c[1:]) for c in platform.commands())}", flush=True)
    ready_seconds = platform.start()
    result: dict = {"mode": mode, "commands": [" ".join(["babelstream", *c[1:]]) for c in platform.commands()]}
    try:
        result["ready_seconds"] = round(ready_seconds, 1)
        if mode != "embedded":
            await asyncio.to_thread(wait_until_drained)
        await probing.probe(probing.ProbeConfig(url=platform.url, n=WARM_UP_UTTERANCES, targets=(TARGET,)))
        result["rss_idle_mb"] = [round(v / 2**20) for v in platform.rss()]
        runs = {}
        plan = []
        if 1 in args.speakers:
            plan.append(("speakers_1", dict(n=args.n, concurrency=1), f"1 speaker, {args.n} utterances"))
        if 4 in args.speakers:
            plan.append(("speakers_4", dict(n=args.n, concurrency=4), f"4 speakers, {args.n} utterances"))
        for speakers in sorted(s for s in args.speakers if s >= SOAK_MIN_SPEAKERS):
            plan.append(
                (f"speakers_{speakers}", dict(n=None, duration_seconds=args.soak_seconds, concurrency=speakers),
                 f"{speakers} speakers for {args.soak_seconds:.0f} s (soak)")
            )
        for key, config, label in plan:
            run, figures, before, after = await probe_run(platform.url, label, **config)
            runs[key] = {"label": label, "load_before": before, "load_after": after, "figures": figures}
            if args.json:
                runs[key]["utterances"] = probing.run_to_json(run, figures)["utterances"]
            if key == "speakers_1":
                print(probing.format_report(run, figures), flush=True)
            else:
                p = figures["p95_view"]["translation"]
                print(f"    translated text P50 {p['p50']} P95 {p['p95']} P99 {p['p99']} ms, "
                      f"broken {figures['broken_chains']}/{figures['utterances']} ({after})", flush=True)
        result["runs"] = runs
        samples = platform.rss_samples
        result["rss_peak_mb"] = [round(max((s[i] for s in samples), default=0) / 2**20) for i in (1, 2)]
        result["rss_end_mb"] = [round(v / 2**20) for v in platform.rss()]
    finally:
        platform.stop()
    return result


def asr_anatomy(runs: int = 7) -> dict:
    """Where one ASR call's time goes, with the stage's own recognizer and settings, the platform stopped:
    mel features, the encoder (over the window the recognizer pads to, and over Whisper's stock 30 s
    window for comparison), decoding, and the whole transcribe() the ASR stage calls."""
    from babelstream.engines.asr import whisper
    from babelstream.engines.audio import pcm16_to_float32
    from babelstream.stages.settings import StageSettings

    settings = StageSettings()
    recognizer = whisper.WhisperRecognizer(
        settings.asr_model_english, compute_type=settings.asr_compute_type, cpu_threads=settings.asr_cpu_threads or None
    )
    # Whisper's stock 30 s window, for comparison: a second recognizer built so, rather than changing the first.
    stock = whisper.WhisperRecognizer(
        settings.asr_model_english, compute_type=settings.asr_compute_type,
        cpu_threads=settings.asr_cpu_threads or None, min_window_seconds=30,
    )
    model = recognizer._model
    speech = probing.SpeechCache()
    figures: dict = {}

    def median_ms(call) -> float:
        call()  # warm-up
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            timings.append(time.perf_counter() - started)
        return round(float(np.median(timings)) * 1000, 1)

    def encode_ms(samples, which) -> float:
        """which._encode: mel features + encoder, over the window that recognizer pads to."""
        return median_ms(lambda: which._encode(samples))

    for label, text in (("1 s", "The house is big."), ("3 s", "We spent our summer holiday in a small village by the sea.")):
        clip = speech.clip(text, 150, 50)
        samples = pcm16_to_float32(clip.pcm)
        entry: dict = {"speech_ms": clip.speech_ms}
        entry["features"] = median_ms(lambda: model.feature_extractor(samples))
        frames = model.feature_extractor(samples).shape[-1]
        if hasattr(recognizer, "_encode") and hasattr(recognizer, "_min_window_frames"):
            entry["window_s"] = whisper._window_frames(frames, recognizer._min_window_frames, recognizer._window_step_frames) / 100
            entry["encode"] = encode_ms(samples, recognizer)
            entry["encode_30s"] = encode_ms(samples, stock)
            encoded = recognizer._encode(samples)
            entry["decoding"] = median_ms(lambda: recognizer._decode(encoded, "en", clip.speech_ms))
        entry["transcribe"] = median_ms(lambda: recognizer.transcribe(clip.pcm, PIPELINE_SAMPLE_RATE_HZ, "en"))
        figures[label] = entry
    figures["model"] = f"{settings.asr_model_english} {settings.asr_compute_type}, {settings.asr_cpu_threads} threads"
    figures["load"] = load()
    return figures


def hop_anatomy(n: int = 20) -> dict:
    """Where the embedded pipeline's non-model time goes, hop by hop, for n single-speaker utterances.

    Runs the embedded platform in this process (its own thread and event loop; the probe in another),
    with perf_counter marks taken through the gateway's seams (a SessionObserver for the cut, the routing and
    the WebSocket send; the session context's publish), and around every decode, each stage's handle() and
    engine call. Diagnostic only: the marks add a few microseconds each."""
    import contextvars
    from collections import defaultdict

    import uvicorn

    import dataclasses

    from babelstream.engines.asr.whisper import WhisperRecognizer
    from babelstream.engines.mt.registry import TranslatorRegistry
    from babelstream.gateway.websocket.uvicorn_adapter import uvicorn_config
    from babelstream.gateway.session_context import SessionObserver
    from babelstream.platform import STAGE_NAMES
    from babelstream.platform import Platform as EmbeddedPlatform
    from babelstream.settings import Settings

    marks: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    current: contextvars.ContextVar = contextvars.ContextVar("segment", default=None)

    def mark(key, label: str, at: float | None = None) -> None:
        if key is not None:
            marks[key].setdefault(label, at if at is not None else time.perf_counter())

    def key_of(event):
        return event.correlation_id, getattr(event.payload, "segment_index", -1)

    def task_name() -> str:
        task = asyncio.current_task()
        name = task.get_name() if task else ""
        return name.removeprefix("stage-") if name.startswith("stage-") else "gateway"

    class Marks(SessionObserver):
        def segment_cut(self, session, index):
            mark((session.correlation_id, index), "cut")

        def result_routed(self, session, event):
            mark(key_of(event), f"routed {event.event_type}")

        def message_sent(self, session, message):
            if message.get("type") == "translation":
                mark((session.correlation_id, message["segment_index"]), "sent translation")

    original_transcribe = WhisperRecognizer.transcribe

    def transcribe(self, *args, **kwargs):
        key = current.get()
        mark(key, "asr compute start")
        try:
            return original_transcribe(self, *args, **kwargs)
        finally:
            mark(key, "asr compute end")

    original_translator_for = TranslatorRegistry.translator_for

    def translator_for(self, source, target):
        translator = original_translator_for(self, source, target)

        class Timed:
            name = translator.name

            def translate(_self, text, s, t):
                key = current.get()
                mark(key, "mt compute start")
                try:
                    return translator.translate(text, s, t)
                finally:
                    mark(key, "mt compute end")

        return Timed()

    WhisperRecognizer.transcribe = transcribe
    TranslatorRegistry.translator_for = translator_for

    platform = EmbeddedPlatform(
        Settings.from_environment(bus={"bus": "memory"}, gateway={"grpc_port": 0}), gateway=True, stages=STAGE_NAMES,
        observer=Marks()
    )
    context = platform.gateway.session_context
    publish = context.publish

    async def marked_publish(event):
        mark(key_of(event), f"publish {event.event_type}")
        await publish(event)
        mark(key_of(event), f"confirmed {event.event_type}")

    platform.gateway.session_context = dataclasses.replace(context, publish=marked_publish)
    decode = platform.codec.decode

    def timed_decode(data):
        started = time.perf_counter()
        event = decode(data)
        where = task_name()
        mark(key_of(event), f"received {event.event_type} @{where}", started)
        mark(key_of(event), f"decoded {event.event_type} @{where}")
        return event

    platform.codec.decode = timed_decode
    for runner in platform.runners:
        handle = runner.stage.handle

        async def timed_handle(event, handle=handle, name=runner.stage.name):
            current.set(key_of(event))
            mark(key_of(event), f"handle {name} start")
            try:
                return await handle(event)
            finally:
                mark(key_of(event), f"handle {name} end")

        runner.stage.handle = timed_handle
    port = 8769
    server = uvicorn.Server(uvicorn_config(platform.app(), platform.gateway, "127.0.0.1", port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        url = f"ws://127.0.0.1:{port}/ws/audio"
        asyncio.run(probing.probe(probing.ProbeConfig(url=url, n=WARM_UP_UTTERANCES, targets=(TARGET,))))
        marks.clear()
        run_ = asyncio.run(probing.probe(probing.ProbeConfig(url=url, n=n, targets=(TARGET,))))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    seg, text, tr = "SpeechSegmentEvent", "TextRecognizedEvent", "TextTranslatedEvent"
    steps = [
        ("client sent the cut frame -> gateway cut", "eou", "cut"),
        ("cut -> segment publish starts", "cut", f"publish {seg}"),
        ("publish -> ASR stage received it", f"publish {seg}", f"received {seg} @asr"),
        ("ASR decode (Avro, audio inline)", f"received {seg} @asr", f"decoded {seg} @asr"),
        ("ASR handle -> worker thread starts", "handle asr start", "asr compute start"),
        ("ASR model compute (Whisper)", "asr compute start", "asr compute end"),
        ("worker thread -> ASR handle returns", "asr compute end", "handle asr end"),
        ("ASR handle end -> transcript published", "handle asr end", f"publish {text}"),
        ("publish -> translate stage received it", f"publish {text}", f"received {text} @translate"),
        ("translate decode", f"received {text} @translate", f"decoded {text} @translate"),
        ("MT handle -> worker thread starts", "handle translate start", "mt compute start"),
        ("MT model compute (Apertium)", "mt compute start", "mt compute end"),
        ("worker thread -> MT handle returns", "mt compute end", "handle translate end"),
        ("MT handle end -> translation published", "handle translate end", f"publish {tr}"),
        ("publish -> gateway router received it", f"publish {tr}", f"received {tr} @gateway"),
        ("router decode + route to session", f"received {tr} @gateway", f"routed {tr}"),
        ("session -> WebSocket send done", f"routed {tr}", "sent translation"),
        ("socket -> client has it", "sent translation", "client"),
    ]
    durations: dict[str, list[float]] = {label: [] for label, _, _ in steps}
    totals = []
    for utterance in run_.utterances:
        if utterance.broken or utterance.at_s is None or not utterance.segments:
            continue
        key = (utterance.correlation_id, utterance.segments[-1])
        points = dict(marks.get(key, {}))
        points["eou"] = run_.started_perf + utterance.at_s
        points["client"] = points["eou"] + utterance.translation_ms[TARGET] / 1000
        for label, start, end in steps:
            if start in points and end in points:
                durations[label].append((points[end] - points[start]) * 1000)
        totals.append(utterance.translation_ms[TARGET])
    table = {label: round(float(np.median(values)), 3) for label, values in durations.items() if values}
    return {"n": len(totals), "translated_text_p50_ms": round(float(np.median(totals)), 1) if totals else None, "median_ms": table}


def kafka_hop_floor(messages: int = 100) -> dict:
    """Raw librdkafka produce -> consume time on the latency broker, with the platform's client settings
    (bus/kafka.py: acks=all, idempotence, linger.ms=1, fetch.wait.max.ms=10) and with linger.ms=0:
    the floor under each of the pipeline's Kafka hops, without Python, asyncio or the codec."""
    import uuid

    from confluent_kafka import Consumer, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = "bench.hop-floor"
    try:
        AdminClient({"bootstrap.servers": KAFKA_ADDRESS}).create_topics([NewTopic(topic, 1, 1)])[topic].result()
    except KafkaException:
        pass  # exists already
    platform = {"acks": "all", "enable.idempotence": True, "linger.ms": 1}
    figures = {}
    for label, producer_settings in (("linger.ms=1 (what the platform used before)", {**platform, "linger.ms": 1}), ("linger.ms=0", {**platform, "linger.ms": 0})):
        producer = Producer({"bootstrap.servers": KAFKA_ADDRESS, **producer_settings})
        consumer = Consumer({"bootstrap.servers": KAFKA_ADDRESS, "group.id": f"bench-{uuid.uuid4().hex}",
                             "auto.offset.reset": "latest", "enable.auto.commit": False, "fetch.wait.max.ms": 10})
        consumer.subscribe([topic])
        timings = []
        deadline = time.perf_counter() + 60
        # The first rounds only settle the consumer's position and the producer's idempotence id.
        for index in range(-20, messages):
            if time.perf_counter() > deadline:
                break
            key = f"{label}-{index}".encode()
            started = time.perf_counter()
            producer.produce(topic, b"x" * 2000, key=key)
            producer.poll(0)
            while time.perf_counter() - started < 2.0:
                message = consumer.poll(0.5)
                if message is not None and not message.error() and message.key() == key:
                    if index >= 0:
                        timings.append((time.perf_counter() - started) * 1000)
                    break
            producer.flush(1)
            time.sleep(0.02)
        consumer.close()
        figures[label] = probing.percentiles(timings)
    return figures


# -- the report -------------------------------------------------------------------------------------


def _p(figures: dict | None, *keys) -> str:
    if not figures or not figures.get("n"):
        return "-"
    return " / ".join(f"{figures[k]:.0f}" for k in keys)


def verdicts(results: dict[str, dict]) -> list[tuple[str, str, bool | None]]:
    out = []
    kafka = results.get("kafka", {}).get("runs", {}).get("speakers_1", {}).get("figures")
    embedded = results.get("embedded", {}).get("runs", {}).get("speakers_1", {}).get("figures")
    if kafka:
        bucket = kafka["translation_by_speech_length_ms"]["2.5-3.5 s"]
        p50 = bucket.get("p50")
        out.append(("3 s utterance translated <= 200 ms P50 after its end, over Kafka",
                    f"P50 {p50:.0f} ms (n={bucket['n']}, speech 2.5-3.5 s)" if p50 is not None else "no 2.5-3.5 s utterances",
                    None if p50 is None else p50 <= 200))
        overhead = kafka["overhead_beyond_models_ms"].get("p50")
        out.append(("pipeline overhead <= 20 ms P50 over Kafka", f"P50 {overhead:.1f} ms", overhead is not None and overhead <= 20))
    if embedded:
        overhead = embedded["overhead_beyond_models_ms"].get("p50")
        out.append(("pipeline overhead <= 5 ms P50 embedded", f"P50 {overhead:.1f} ms", overhead is not None and overhead <= 5))
    for mode, result in results.items():
        for key, run in result.get("runs", {}).items():
            speakers = int(key.removeprefix("speakers_"))
            soak = run.get("figures")
            if speakers < SOAK_MIN_SPEAKERS or not soak:
                continue
            p95 = soak["p95_view"]["translation"].get("p95")
            minutes = [f for f in soak.get("translation_per_minute_ms", {}).values() if f.get("n")]
            grows = None
            if len(minutes) >= 2:
                grows = minutes[-1]["p95"] > GROWTH_TOLERANCE * minutes[0]["p95"]
            per_minute = ", ".join(f"{m['p95']:.0f}" for m in minutes)
            broken = soak["broken_chains"]
            met = p95 is not None and p95 <= 1000 and grows is False and broken == 0
            out.append((f"{speakers} live speakers P95 <= 1 s, no growth over the soak ({mode})",
                        f"P95 {p95 if p95 is None else round(p95)} ms; P95 per minute {per_minute}; "
                        f"broken {broken}/{soak['utterances']}",
                        met))
    return out


def report(results: dict[str, dict], anatomy: dict | None, hops: dict | None, hop_floor: dict | None, args) -> str:
    lines = ["", "=" * 100, "pipeline latency: end of utterance -> translated text at the client", ""]
    lines.append(f"reference (original design): {REFERENCE}")
    lines.append("")
    header = f"{'mode':<10}{'N':>5}{'P50':>9}{'P90':>9}{'P99':>9}   {'ASR%':>6}{'MT%':>6}{'bus%':>6}{'untraced%':>10}{'overhead P50':>14}{'ASR RTF':>9}"
    lines.append(header)
    for mode, result in results.items():
        figures = result.get("runs", {}).get("speakers_1", {}).get("figures")
        if not figures:
            continue
        text = figures["end_to_end_ms"]["translation"]
        shares = figures["translation_share_pct"]
        overhead = figures["overhead_beyond_models_ms"]["p50"]
        rtf = figures["asr_rtf"]["segment"]["p50"]
        lines.append(
            f"{mode:<10}{text['n']:>5}{text['p50']:>9.0f}{text['p90']:>9.0f}{text['p99']:>9.0f}   "
            f"{shares.get('asr', 0):>6.1f}{shares.get('translate', 0):>6.1f}{shares.get('bus', 0):>6.1f}"
            f"{shares.get('untraced', 0):>10.1f}{overhead:>11.1f} ms{rtf:>9.3f}"
        )
    lines += ["", "by stage, P50 ms (1 speaker):", f"{'mode':<10}{'ingress':>9}{'ASR':>8}{'MT':>7}{'TTS':>7}{'bus':>7}{'untraced':>10}{'transcript':>12}{'text':>7}{'audio':>7}"]
    for mode, result in results.items():
        figures = result.get("runs", {}).get("speakers_1", {}).get("figures")
        if not figures:
            continue
        s, e = figures["stage_ms"], figures["end_to_end_ms"]
        cell = lambda f: f"{f['p50']:.1f}" if f and f.get("n") else "-"  # noqa: E731
        lines.append(
            f"{mode:<10}{cell(s['ingress']):>9}{cell(s['asr']):>8}{cell(s['translate']):>7}{cell(s['tts']):>7}"
            f"{cell(s['bus_to_text']):>7}{cell(s['untraced']):>10}{cell(e['transcript']):>12}{cell(e['translation']):>7}{cell(e['audio']):>7}"
        )
    lines += ["", "translated text by utterance length, P50 ms (1 speaker):"]
    for mode, result in results.items():
        figures = result.get("runs", {}).get("speakers_1", {}).get("figures")
        if figures:
            lines.append(f"  {mode:<10}" + ", ".join(f"speech {k}: {v['p50']:.0f} (n={v['n']})" for k, v in figures["translation_by_speech_length_ms"].items() if v.get("n")))
    lines += ["", "concurrent live speakers, translated text P50 / P95 / P99 ms (broken chains):"]
    for mode, result in results.items():
        cells = []
        for key, run in result.get("runs", {}).items():
            f = run["figures"]
            label = key.removeprefix("speakers_")
            cells.append(f"{label}: {_p(f['p95_view']['translation'], 'p50', 'p95', 'p99')} ({f['broken_chains']}/{f['utterances']})")
        lines.append(f"  {mode:<10}" + "   ".join(cells))
        for key, run in result.get("runs", {}).items():
            soak = run["figures"]
            if soak.get("translation_per_minute_ms"):
                lines.append(f"  {'':<10}{key.removeprefix('speakers_')}-speaker soak, P95 per minute: " + ", ".join(
                    f"{m}: {f['p95']:.0f} (n={f['n']})" for m, f in soak["translation_per_minute_ms"].items() if f.get("n")))
    lines += ["", "memory (RSS MB: the process(es) alone / with children such as Apertium pipelines):"]
    for mode, result in results.items():
        if "rss_idle_mb" in result:
            lines.append(f"  {mode:<10}after warm-up {result['rss_idle_mb'][0]} / {result['rss_idle_mb'][1]}, "
                         f"peak {result['rss_peak_mb'][0]} / {result['rss_peak_mb'][1]}, end {result['rss_end_mb'][0]} / {result['rss_end_mb'][1]}"
                         f"  (ready in {result['ready_seconds']} s)")
    if anatomy:
        lines += ["", f"one ASR call ({anatomy['model']}), median ms, platform stopped ({anatomy['load']}):"]
        for label in ("1 s", "3 s"):
            a = anatomy[label]
            if "encode" in a:
                lines.append(
                    f"  {label} clip ({a['speech_ms']} ms speech): features+encoder over a {a['window_s']:g} s window "
                    f"{a['encode']} (over Whisper's stock 30 s: {a['encode_30s']}), decoding {a['decoding']}, "
                    f"whole transcribe() {a['transcribe']}"
                )
            else:
                lines.append(f"  {label} clip ({a['speech_ms']} ms speech): features {a['features']}, whole transcribe() {a['transcribe']}")
    if hops:
        lines += ["", f"embedded hop anatomy (in-process, instrumented, n={hops['n']}, text P50 {hops['translated_text_p50_ms']} ms), median ms:"]
        model = {"ASR model compute (Whisper)", "MT model compute (Apertium)"}
        for label, value in hops["median_ms"].items():
            lines.append(f"  {label:<48}{value:>9.3f}")
        rest = sum(v for k, v in hops["median_ms"].items() if k not in model)
        lines.append(f"  {'sum of the non-model hops':<48}{rest:>9.3f}")
    if hop_floor:
        lines += ["", "one Kafka hop without Python (librdkafka produce -> consume, 2 kB), ms:"]
        for label, f in hop_floor.items():
            lines.append(f"  {label:<30}P50 {f['p50']:.2f}  P90 {f['p90']:.2f}  P99 {f['p99']:.2f}")
    lines += ["", "targets:"]
    for name, value, met in verdicts(results):
        lines.append(f"  [{'MET' if met else ('n/a' if met is None else 'NOT MET')}] {name}: {value}")
    lines.append(f"\n{load()} (2 cores shared), {time.strftime('%Y-%m-%d %H:%M:%S')}")
    return "\n".join(lines)


async def main_async(args) -> int:
    results: dict[str, dict] = {}
    broker = Broker()
    broker_used = bool({"kafka", "split"} & set(args.modes))
    hop_floor = None
    print(f"pipeline latency bench: modes {','.join(args.modes)}, n={args.n}, soak {args.soak_seconds:.0f} s; {load()}", flush=True)
    try:
        if broker_used:
            broker.ensure()  # before any run opens sockets that could take its port
        for mode in args.modes:
            results[mode] = await bench_mode(mode, args)
        if broker_used:
            hop_floor = await asyncio.to_thread(kafka_hop_floor)
    finally:
        broker.release()
    anatomy = None if args.skip_anatomy else await asyncio.to_thread(asr_anatomy)
    hops = None
    if not args.skip_anatomy:
        print(f"\n== embedded hop anatomy ({load()})", flush=True)
        hops = await asyncio.to_thread(hop_anatomy, 20)
    print(report(results, anatomy, hops, hop_floor, args), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"results": results, "asr_anatomy": anatomy, "hop_anatomy": hops, "kafka_hop_floor": hop_floor,
                                               "reference": REFERENCE}, indent=1))
        print(f"everything written to {args.json}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=None, help="utterances per run (default 100; 20 with --quick)")
    parser.add_argument("--soak-seconds", type=float, default=None, help="soak length (default 300; 60 with --quick)")
    parser.add_argument("--quick", action="store_true", help="20 utterances, 60 s soak")
    parser.add_argument("--modes", default="embedded,kafka", help="embedded, kafka, split (comma-separated)")
    parser.add_argument("--speakers", default="1,4,8", help="which runs: 1 and 4 speakers (n utterances); 8 or more: a soak with that many, e.g. 8,16")
    parser.add_argument("--skip-anatomy", action="store_true", help="skip the Whisper time split and the hop anatomy")
    parser.add_argument("--json", default=None, help="write every figure and utterance here")
    args = parser.parse_args()
    args.n = args.n or (20 if args.quick else 100)
    args.soak_seconds = args.soak_seconds or (60.0 if args.quick else 300.0)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - set(PORTS)
    if unknown:
        parser.error(f"unknown mode(s) {sorted(unknown)}; modes: {', '.join(PORTS)}")
    args.speakers = {int(s) for s in args.speakers.split(",") if s.strip()}
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
