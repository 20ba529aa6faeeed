"""The gateway's per-frame path without sockets: from `data_received` to the endpointer, per 20 ms frame.

N connections of the adapter that serves /ws/audio (`UvicornWebSocket`, live mode, a real `Gateway` over the
in-memory bus) are fed their frames round-robin, as 1,000 live clients would be: frame parse, session limits and
counters, webrtcvad, endpointer, cutting segments (publishing itself runs between rounds, outside the timing).
Each variant runs in its own process, alternating; the table gives medians and the ratio to the reference:

  one          one frame per read: the loop keeps up (the reference)
  joined-4     four frames per read: the loop is behind and TCP joins a client's frames (the fast path too)
  general      one frame per read, forced through the general parser (what joined frames cost before the fast
               path took them)
  partials-off one frame per read, the start message turning interim results off ("partials": false)
  partials-on  one frame per read, interim results on: the session's windowing endpointer, a window published
               every 500 ms of speech (docs/benchmarks/interim-results.md)

The reference ("one") sends the start message every client sent before interim results existed, so it gets the
server's default, PARTIALS (on). `--src DIR` measures the babelstream in DIR instead of this tree's (e.g. main's,
checked out with `git worktree add`): `--src ../main/src --variants one` is the figure before interim results.

--measure time (default) gives µs per frame; --measure instructions runs each variant under
`valgrind --tool=callgrind` twice (R and 2R rounds) and gives the instructions per frame of the difference:
a count that does not move with what else the machine is doing. Either way a microbenchmark runs hot in cache;
the server under load pays more for the same code, and the kernel's share is not here at all
(docs/benchmarks/gateway-capacity.md): the capacity bench's paired runs decide.

    .venv/bin/python bench/frame_path_cost.py [--n 1000] [--rounds 150] [--runs 5] [--measure instructions]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "one": "one frame per read (reference)",
    "joined-4": "four frames per read, fast path",
    "general": "one frame per read, general parser",
    "partials-off": "one frame per read, partials off",
    "partials-on": "one frame per read, partials on",
}


def speech_loop() -> bytes:
    """The capacity bench's loop: its sentences, each followed by 400 ms of silence."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    from gateway_capacity import SENTENCES
    from tests.support.speech import silence, synthesize

    loop = b"".join(synthesize(text) + silence(400) for text in SENTENCES)
    return loop[: len(loop) - len(loop) % 640]


async def measure(variant: str, n: int, rounds: int) -> float:
    from websockets.utils import apply_mask

    from babelstream.bus.memory import MemoryBus
    from babelstream.contracts.codec import SingleObjectCodec
    from babelstream.gateway.gateway import Gateway
    from babelstream.gateway.settings import GatewaySettings
    from babelstream.gateway.websocket.audio_handler import AUDIO_PATH, AudioHandler
    from babelstream.gateway.websocket.uvicorn_adapter import UvicornWebSocket
    from babelstream.segmentation import SegmentationSettings, endpointer_factory

    per_read = 4 if variant == "joined-4" else 1

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

        def abort(self) -> None:
            pass

        def get_write_buffer_size(self) -> int:
            return 0

        def get_extra_info(self, *args, **kwargs):
            return None

    pcm = speech_loop()
    bus = MemoryBus()
    await bus.start()
    settings = GatewaySettings(max_connections=n + 10, idle_timeout_seconds=600, max_session_seconds=3600)
    gateway = Gateway(settings, bus, SingleObjectCodec(), endpointer_factory(SegmentationSettings()))
    state = types.SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
    routes = {AUDIO_PATH: lambda request, start_task: AudioHandler(gateway, request, start_task)}
    upgrade = (b"GET /ws/audio HTTP/1.1\r\nhost: 127.0.0.1:8000\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
               b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n")
    mask = b"\x01\x02\x03\x04"
    start = {
        "partials-off": b'{"event":"start","mode":"live","wait_for_results":false,"partials":false}',
        "partials-on": b'{"event":"start","mode":"live","wait_for_results":false,"partials":true}',
    }.get(variant, b'{"event":"start","mode":"live","wait_for_results":false}')
    protocols = []
    for _ in range(n):
        protocol = UvicornWebSocket(None, state, {}, routes=routes, max_message_bytes=settings.max_chunk_bytes)
        protocol.connection_made(Transport())
        protocol.data_received(upgrade)
        protocol.data_received(bytes((0x81, 0x80 | len(start))) + mask + apply_mask(start, mask))
        protocols.append(protocol)
    await asyncio.sleep(0.01)
    wire = [bytes((0x82, 0x80 | 126)) + (640).to_bytes(2, "big") + mask + apply_mask(pcm[i : i + 640], mask)
            for i in range(0, len(pcm), 640)]
    if variant == "general":
        for protocol in protocols:
            protocol._handler.binary_sink = None  # a bench's what-if: the sink is the handler's public seam
    total = 0.0
    for step in range(0, rounds, per_read):
        started = time.perf_counter()
        for index, protocol in enumerate(protocols):
            at = step + index * 7  # streams at different points of the loop
            protocol.data_received(b"".join(wire[(at + k) % len(wire)] for k in range(per_read)))
        total += time.perf_counter() - started
        await asyncio.sleep(0)  # publishing and the outboxes run here, outside the timing
    return total / (rounds * n) * 1e6


def environment(src: str | None) -> dict | None:
    return None if src is None else {**os.environ, "PYTHONPATH": src}


def one_process(variant: str, n: int, rounds: int, src: str | None = None) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--variant", variant, "--n", str(n), "--rounds", str(rounds)],
        check=True, capture_output=True, text=True, env=environment(src),
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def instructions(variant: str, n: int, rounds: int, src: str | None = None) -> float:
    """Instructions per frame: the difference of two callgrind runs (rounds and 2 x rounds), per frame."""
    counts = []
    for r in (rounds, 2 * rounds):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "callgrind.out"
            subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                 "--variant", variant, "--n", str(n), "--rounds", str(r)],
                check=True, capture_output=True, text=True, env=environment(src),
            )
            summary = next(line for line in out.read_text().splitlines() if line.startswith("summary:"))
            counts.append(int(summary.split()[1]))
    return (counts[1] - counts[0]) / (rounds * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--measure", choices=("time", "instructions"), default="time")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one measurement, in a fresh process
    parser.add_argument("--variants", default=",".join(VARIANTS), help="which to run, comma-separated")
    parser.add_argument("--src", help="measure the babelstream package in this src folder (another checkout)")
    args = parser.parse_args()
    if args.variant:
        import uvloop

        print(json.dumps(uvloop.run(measure(args.variant, args.n, args.rounds))))
        return
    chosen = {variant: VARIANTS[variant] for variant in args.variants.split(",")}
    samples: dict[str, list[float]] = {variant: [] for variant in chosen}
    runs = 1 if args.measure == "instructions" else args.runs
    for _ in range(runs):
        for variant in chosen:  # alternating, so a noisy minute hits every variant
            if args.measure == "instructions":
                samples[variant].append(instructions(variant, args.n, args.rounds, args.src))
            else:
                samples[variant].append(one_process(variant, args.n, args.rounds, args.src))
    unit = "instr/frame" if args.measure == "instructions" else "µs/frame"
    print(f"{args.n} live sessions fed round-robin, {args.rounds} frames each, median of {runs} run(s)")
    print(f"{'variant':48} {unit:>12} {'× reference':>12}")
    reference = statistics.median(samples[next(iter(chosen))])
    for variant, label in chosen.items():
        value = statistics.median(samples[variant])
        print(f"{label:48} {value:12.2f} {value / reference:12.2f}")


if __name__ == "__main__":
    main()
