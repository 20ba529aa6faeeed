"""The gateway's per-frame path without sockets: µs per 20 ms frame from `data_received` to the endpointer.

N native protocols (`AudioSocketProtocol`, live mode, a real `Gateway` over the in-memory bus) are fed their
frames round-robin, as 1,000 live clients would be: frame parse, session limits and counters, webrtcvad,
endpointer, and cutting segments (publishing itself runs between rounds, outside the timing). Each variant runs
in its own process, alternating, and the table gives medians and the ratio to the reference (Python only):

  python   no C extension of babelstream's (an install without a C compiler): the reference
  c        the default: the C endpointer and the C fast path for whole binary frames
  c, no session   the same, with Session.receive_bytes replaced by a no-op: what parsing costs

A microbenchmark runs hot in cache; the gateway under load pays about twice as much for the same code
(docs/benchmarks/gateway-capacity.md). The audio is the capacity bench's speech loop (espeak-ng, 3.9 s
utterances with 400 ms pauses).

    .venv/bin/python bench/frame_path_cost.py [--n 1000] [--rounds 150] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {"python": "no C extension (reference)", "c": "C endpointer and frame parse (default)",
            "c-no-session": "C frame parse only, session a no-op"}


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
    from babelstream.gateway.session import Session
    from babelstream.gateway.settings import GatewaySettings
    from babelstream.gateway.websocket import frames
    from babelstream.gateway.websocket.audio_socket import AudioSocketProtocol
    from babelstream.segmentation import SegmentationSettings, endpointer_factory

    if variant == "python":
        import babelstream.segmentation
        from babelstream.engines.vad.python_endpointer import PythonEndpointer

        babelstream.segmentation.Endpointer = PythonEndpointer
        frames.FrameReader.__init__.__kwdefaults__["whole_frame_parser"] = frames.PythonWholeBinaryFrame
    if variant == "c-no-session":
        Session.receive_bytes = lambda self, data: None

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

        def get_extra_info(self, *args, **kwargs):
            return None

    pcm = speech_loop()
    bus = MemoryBus()
    await bus.start()
    settings = GatewaySettings(max_connections=n + 10, idle_timeout_seconds=600, max_session_seconds=3600)
    gateway = Gateway(settings, bus, SingleObjectCodec(), endpointer_factory(SegmentationSettings()))
    state = types.SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
    upgrade = (b"GET /ws/audio HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
               b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n")
    mask = b"\x01\x02\x03\x04"
    start = b'{"event":"start","mode":"live","wait_for_results":false}'
    protocols = []
    for _ in range(n):
        protocol = AudioSocketProtocol(None, state, {}, gateway=gateway, fallback=None)
        protocol.connection_made(Transport())
        protocol.data_received(upgrade)
        protocol.data_received(bytes((0x81, 0x80 | len(start))) + mask + apply_mask(start, mask))
        protocols.append(protocol)
    await asyncio.sleep(0.01)
    wire = [bytes((0x82, 0x80 | 126)) + (640).to_bytes(2, "big") + mask + apply_mask(pcm[i : i + 640], mask)
            for i in range(0, len(pcm), 640)]
    total = 0.0
    for step in range(rounds):
        started = time.perf_counter()
        for index, protocol in enumerate(protocols):
            protocol.data_received(wire[(step + index * 7) % len(wire)])  # streams at different points of the loop
        total += time.perf_counter() - started
        await asyncio.sleep(0)  # publishing and the outboxes run here, outside the timing
    return total / (rounds * n) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one measurement, in a fresh process
    args = parser.parse_args()
    if args.variant:
        import uvloop

        print(json.dumps(uvloop.run(measure(args.variant, args.n, args.rounds))))
        return
    samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(args.runs):
        for variant in VARIANTS:  # alternating, so a noisy minute hits every variant
            out = subprocess.run(
                [sys.executable, __file__, "--variant", variant, "--n", str(args.n), "--rounds", str(args.rounds)],
                check=True, capture_output=True, text=True,
            ).stdout
            samples[variant].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.n} live sessions fed round-robin, {args.rounds} frames each, median of {args.runs} runs")
    print(f"{'variant':44} {'µs/frame':>9} {'× reference':>12}")
    reference = statistics.median(samples["python"])
    for variant, label in VARIANTS.items():
        micros = statistics.median(samples[variant])
        print(f"{label:44} {micros:9.2f} {micros / reference:12.2f}")


if __name__ == "__main__":
    main()
