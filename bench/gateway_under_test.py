"""The server process of bench/gateway_capacity.py: the real gateway (or the reference app), instrumented.

    .venv/bin/python bench/gateway_under_test.py {gateway|reference} --port PORT

`gateway` is what `babelstream gateway` runs: `Platform(Settings.from_environment(), gateway=True, stages=())`
served with `uvicorn_config` (uvicorn for HTTP, the native protocol for /ws/audio), configured from the
environment (BUS, KAFKA_BOOTSTRAP_SERVERS, MAX_CONNECTIONS, ...).
`reference` is bench/reference_app.py under plain uvicorn (uvloop, httptools, websockets sans-I/O).

Bench-only instrumentation, through the gateway's seams (the SessionContext every session is given: its endpointer
factory and its publish), never by replacing a method: the lag probe wraps the endpointer of one session in
BENCH_LAG_EVERY (default 1: every session) and records, for every frame of those sessions, now - the time the
load generator stamped into the frame (CLOCK_REALTIME ns, a little-endian int64 in the low bytes of the first 8
samples: bytes 0, 2, ..., 14) into a fixed-size histogram (no per-frame allocation, constant memory). The other
sessions run untouched: the probe costs about 1 us a frame, which the gateway in production does not pay.
Frames handled are the gateway's own count (its bytes-received counter / BENCH_FRAME_BYTES). GET /bench/stats
returns the counts and percentiles plus the gateway's publish counters. The reference takes the lag of one frame
in BENCH_LAG_EVERY and counts every frame.
With BENCH_ROOM_TIMES=1 (bench/room_fanout.py) the results router is given, through its `rooms` parameter, the
gateway's room directory wrapped in RoomTimes, which notes for every result it hands the rooms the CLOCK_REALTIME
ns at which the directory got it and how long the directory's fan-out to this gateway's members took; GET
/bench/rooms returns them. The directory and the listeners run untouched.
With BENCH_CPROFILE=path the whole process runs under cProfile and writes its stats there at exit; with
BENCH_GC_FREEZE=1 it calls gc.freeze() after start-up and BENCH_GC_THRESHOLD=N sets the young-generation
threshold (what-if variants: bench --gc-freeze / --gc-threshold; the gateway itself freezes after start-up).
More what-ifs, by environment only: BENCH_DROP_AUDIO=1 makes the session only count each frame (the floor of
the socket stack), BENCH_VAD_ONLY=1 only runs webrtcvad on each frame (what the VAD costs), BENCH_NO_PUBLISH=1
cuts utterances without publishing them (what publishing costs).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))


class LagHistogram:
    """0-200 ms in 0.1 ms buckets, then 1 ms buckets up to 60 s; all allocated up front."""

    FINE_NS = 100_000
    FINE = 2_000
    COARSE_NS = 1_000_000
    COARSE = 60_000

    def __init__(self, every: int = 1) -> None:
        self.counts = [0] * (self.FINE + self.COARSE + 1)
        self.frames = 0  # every frame handled (for "lost")
        self.sampled = 0  # frames whose lag was taken: all of them, or one in `every` (BENCH_LAG_EVERY what-if)
        self.every = every
        self.max_ns = 0
        self.late_slots: dict[int, int] = {}

    def record(self, data: bytes) -> None:
        if len(data) < 16:  # no stamp: the resampler's tail at done (an empty feed), not a frame the client sent
            return
        self.frames += 1
        if self.every > 1 and self.frames % self.every:
            return
        self.sampled += 1
        stamp = int.from_bytes(data[0:16:2], "little")
        lag = time.time_ns() - stamp
        if lag < 50_000_000:
            self.counts[lag // 100_000 if lag > 0 else 0] += 1
            return
        # Late frames, by the 100 ms slot they were scheduled in: when the stalls happened.
        slot = stamp // 100_000_000
        self.late_slots[slot] = self.late_slots.get(slot, 0) + 1
        if lag < 200_000_000:
            self.counts[lag // 100_000] += 1
        else:
            self.counts[min(self.FINE + (lag - 200_000_000) // 1_000_000, self.FINE + self.COARSE)] += 1
            if lag > self.max_ns:
                self.max_ns = lag

    def _upper_ms(self, index: int) -> float:
        if index < self.FINE:
            return (index + 1) * self.FINE_NS / 1e6
        return 200 + (index - self.FINE + 1) * self.COARSE_NS / 1e6

    def percentile(self, q: float) -> float:
        if not self.sampled:
            return 0.0
        rank = int(q * (self.sampled - 1)) + 1
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return self._upper_ms(index)
        return self._upper_ms(len(self.counts) - 1)

    def summary(self) -> dict:
        highest = max((i for i, c in enumerate(self.counts) if c), default=0)
        return {
            "frames": self.frames,
            "p50_ms": self.percentile(0.50),
            "p90_ms": self.percentile(0.90),
            "p99_ms": self.percentile(0.99),
            "p999_ms": self.percentile(0.999),
            "max_ms": max(self.max_ns / 1e6, self._upper_ms(highest) if self.frames else 0.0),
            "late_slots": sorted(self.late_slots.items()),  # [(scheduled time // 100 ms, frames >= 50 ms late)]
        }


PROBE_EVERY = int(os.environ.get("BENCH_LAG_EVERY", "1"))
FRAME_BYTES = int(os.environ.get("BENCH_FRAME_BYTES", "640"))
LAG = LagHistogram(PROBE_EVERY)  # the reference: one frame in K; the gateway: every frame of one session in K


class GcPauses:
    """Time the cyclic garbage collector holds the event loop, per generation (tail-latency suspects)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.total_ns = [0, 0, 0]
        self.max_ns = [0, 0, 0]
        self._started = 0
        self.full: list[tuple[int, float, int]] = []  # full collections: (end, CLOCK_REALTIME ns; ms; collected)

    def callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        generation = info["generation"]
        pause = time.perf_counter_ns() - self._started
        self.count[generation] += 1
        self.total_ns[generation] += pause
        self.max_ns[generation] = max(self.max_ns[generation], pause)
        if generation == 2 and len(self.full) < 100:
            self.full.append((time.time_ns(), round(pause / 1e6, 1), info["collected"]))

    def summary(self) -> dict:
        return {
            "gc_collections": self.count,
            "gc_total_ms": [round(ns / 1e6, 1) for ns in self.total_ns],
            "gc_max_ms": [round(ns / 1e6, 2) for ns in self.max_ns],
            "gc_full": self.full,
        }


GC = GcPauses()
gc.callbacks.append(GC.callback)


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _add_stats_route(app, stats) -> None:
    """First in the route list: the gateway mounts its page at "/", which would shadow a route added later."""

    async def bench_stats() -> dict:
        return stats()

    app.add_api_route("/bench/stats", bench_stats, methods=["GET"])
    app.router.routes.insert(0, app.router.routes.pop())


class LagProbe:
    """An endpointer that takes each frame's lag, then hands the frame on."""

    def __init__(self, endpointer) -> None:
        self._endpointer = endpointer

    def feed(self, pcm: bytes):
        LAG.record(pcm)
        return self._endpointer.feed(pcm)

    def flush(self):
        return self._endpointer.flush()

    def __getattr__(self, name):
        # Whatever else the session asks of its endpointer (in_speech, frame_ms, the speculation's calls).
        return getattr(self._endpointer, name)


class FrameCounter:
    """What-if BENCH_DROP_AUDIO: the session's frames go nowhere (no VAD, no endpointer, no publishing)."""

    def feed(self, pcm: bytes):
        return []

    def flush(self):
        return []


class VadOnly:
    """What-if BENCH_VAD_ONLY: each frame only goes through webrtcvad, called as the endpointer calls it."""

    def __init__(self) -> None:
        from babelstream.engines.vad import WebRtcVad

        self._classify = WebRtcVad(16000, 20, 2).classify_frame

    def feed(self, pcm: bytes):
        self._classify(pcm)
        return []

    def flush(self):
        return []


class RoomTimes:
    """The rooms as the results router sees them (its RoomResults), timed: when each result reached the room
    directory (after the bus delivered and the router decoded it) and how long handing it to every member here
    took (the directory encodes it once and writes it to each member's socket in that call)."""

    LIMIT = 200_000  # results remembered (a bench run publishes far fewer)

    def __init__(self, rooms) -> None:
        self._rooms = rooms
        self.received: dict[str, tuple[int, int]] = {}  # event_id -> (ns at on_result, ns the fan-out took)

    def wants(self, topic: str, key: str) -> bool:
        return self._rooms.wants(topic, key)

    def on_result(self, event) -> None:
        began = time.time_ns()
        self._rooms.on_result(event)
        if len(self.received) < self.LIMIT:
            self.received[event.event_id] = (began, time.time_ns() - began)

    def history_read(self) -> None:
        self._rooms.history_read()


async def _no_publish(event) -> None:
    return None


def gateway_platform():
    import dataclasses
    import itertools

    from babelstream.platform import Platform
    from babelstream.segmentation import endpointer_factory
    from babelstream.settings import Settings

    settings = Settings.from_environment()
    if os.environ.get("BENCH_DROP_AUDIO"):
        new_endpointer = FrameCounter
    elif os.environ.get("BENCH_VAD_ONLY"):
        new_endpointer = VadOnly
    else:
        new_endpointer = endpointer_factory(settings.segmentation)

    # The lag probe rides on one session in BENCH_LAG_EVERY (all of that session's frames): the other sessions
    # run the gateway's code untouched, so the probe's cost (a Python call per frame, which the gateway in
    # production does not pay) is not charged to every frame. Frames handled are counted by the gateway itself
    # (its bytes-received counter), not by the probe.
    LAG.every = 1
    sessions = itertools.count()

    def probed_endpointer():
        endpointer = new_endpointer()
        return LagProbe(endpointer) if next(sessions) % PROBE_EVERY == 0 else endpointer

    class InstrumentedPlatform(Platform):
        def app(self):
            app = super().app()
            gateway = self.gateway
            registry = gateway.metrics.registry

            def value(name: str, **labels) -> float:
                return registry.get_sample_value(name, labels or None) or 0.0

            def stats() -> dict:
                published = value("babelstream_gateway_publish_seconds_count")
                return {
                    **LAG.summary(),
                    "frames": int(value("babelstream_gateway_bytes_received_total")) // FRAME_BYTES,
                    **GC.summary(),
                    "open_sessions": gateway.slots.in_use,
                    "segments_cut": value("babelstream_gateway_segments_total"),
                    "published": published,
                    "publish_failures": value("babelstream_gateway_publish_failures_total"),
                    "publish_mean_ms": 1000 * value("babelstream_gateway_publish_seconds_sum") / published if published else 0.0,
                    "bytes_received": value("babelstream_gateway_bytes_received_total"),
                    "bus": self.settings.bus.bus,
                    "mode": gateway.settings.default_mode,
                    "max_connections": gateway.settings.max_connections,
                }

            _add_stats_route(app, stats)
            room_times = getattr(self, "room_times", None)
            if room_times is not None:
                async def bench_rooms() -> dict:
                    return {"received": room_times.received}

                app.add_api_route("/bench/rooms", bench_rooms, methods=["GET"])
                app.router.routes.insert(0, app.router.routes.pop())
            return app

    platform = InstrumentedPlatform(settings, gateway=True, stages=())
    gateway = platform.gateway
    results = gateway.router
    if os.environ.get("BENCH_ROOM_TIMES"):
        from babelstream.gateway.router import ResultRouter

        # The same router the gateway builds, given the timed rooms (its `rooms` dependency) instead.
        platform.room_times = RoomTimes(gateway.rooms)
        results = gateway.router = ResultRouter(gateway.bus, gateway.publisher.codec, gateway.instance_id,
                                                rooms=platform.room_times,
                                                history_seconds=gateway.settings.room_idle_seconds,
                                                reply_partition=gateway.settings.gateway_reply_partition,
                                                history_wait_seconds=gateway.settings.room_history_wait_seconds)
    context = gateway.session_context
    gateway.session_context = dataclasses.replace(
        context,
        results=results,
        new_endpointer=probed_endpointer,
        # What-if BENCH_NO_PUBLISH: utterances are cut but not published (no WAV, Avro, Kafka): what publishing costs.
        publish=_no_publish if os.environ.get("BENCH_NO_PUBLISH") else context.publish,
    )
    return platform


def reference_platform():
    from reference_app import create_reference_app

    app = create_reference_app(on_frame=LAG.record)
    _add_stats_route(app, lambda: {**LAG.summary(), **GC.summary(), "published": 0.0, "segments_cut": 0.0, "publish_failures": 0.0})
    return SimpleNamespace(app=lambda: app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", choices=["gateway", "reference"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _raise_file_limit()

    import uvicorn

    from babelstream.gateway.websocket.uvicorn_adapter import uvicorn_config

    platform = reference_platform() if args.app == "reference" else gateway_platform()

    def serve_http(platform, host: str, port: int) -> None:
        if args.app == "gateway":
            config = uvicorn_config(platform.app(), platform.gateway, host, port)
        else:
            config = uvicorn.Config(platform.app(), host=host, port=port, log_level="info", lifespan="on")
        uvicorn.Server(config).run()

    if os.environ.get("BENCH_GC_THRESHOLD"):
        # What-if (not what the gateway does today): collect the young generation only after this many net
        # container allocations instead of 700, so the per-frame objects (futures, messages) that are alive
        # for one 20 ms frame are not promoted into the old generation, which fills it and triggers full
        # collections (each walks every session's objects: 100-500 ms at 1,000 sessions here).
        gc.set_threshold(int(os.environ["BENCH_GC_THRESHOLD"]), *gc.get_threshold()[1:])
    if os.environ.get("BENCH_GC_FREEZE"):
        # What-if: move everything that exists after start-up (modules, the app, settings: ~80k objects)
        # out of the collector's reach, so a full collection walks only what the sessions created.
        gc.collect()
        gc.freeze()
    profile_path = os.environ.get("BENCH_CPROFILE")
    if not profile_path:
        serve_http(platform, args.host, args.port)
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        serve_http(platform, args.host, args.port)
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)


if __name__ == "__main__":
    main()
