"""Cost of live endpointing per 20 ms frame: what one gateway core can afford per stream.

Prints median µs per frame (over --runs) for the endpointer alone (a trivial detector), with webrtcvad
(the live default) and with Silero, on espeak-ng speech alternating with silence, and the share of one core
that 1,000 live streams would need.
A microbenchmark runs hot in cache: in the gateway under load the same code costs about twice as much
(docs/benchmarks/gateway-capacity.md).

    .venv/bin/python bench/endpointer_cost.py [--seconds 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support.speech (espeak-ng test audio)

from babelstream.engines.vad import Endpointer, SileroVad, WebRtcVad
from tests.support.speech import silence, synthesize

RATE = 16_000
FRAME_BYTES = 640  # 20 ms


class Trivial:
    """Reference: no detection work at all, so the figure is the endpointer's own bookkeeping."""

    frame_ms = 20
    sample_rate_hz = RATE

    def is_speech(self, frame) -> bool:
        return frame[0] != 0 or frame[1] != 0


def measure(endpointer_class, make_vad, pcm: bytes) -> float:
    endpointer = endpointer_class(make_vad())
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
    started = time.perf_counter()
    for frame in frames:
        endpointer.feed(frame)
    endpointer.flush()
    return (time.perf_counter() - started) / len(frames) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    unit = synthesize("The house is big and I would like a cup of coffee, please.") + silence(600)
    pcm = (unit * (args.seconds * RATE * 2 // len(unit) + 1))[: args.seconds * RATE * 2]
    detectors = {
        "endpointer alone (reference)": (Endpointer, Trivial),
        "webrtcvad (default)": (Endpointer, lambda: WebRtcVad(RATE, 20, 2)),
        "silero": (Endpointer, lambda: SileroVad(RATE)),
    }
    print(f"{args.seconds} s of speech and pauses, 20 ms frames, median of {args.runs} runs")
    print(f"{'detector, endpointer':38} {'µs/frame':>9} {'× reference':>12} {'core share for 1,000 streams':>30}")
    reference = None
    for name, (endpointer_class, make_vad) in detectors.items():
        micros = statistics.median(measure(endpointer_class, make_vad, pcm) for _ in range(args.runs))
        reference = reference or micros
        share = micros * 50 * 1000 / 1e6  # 50 frames per second per stream
        print(f"{name:38} {micros:9.2f} {micros / reference:12.2f} {share:29.0%}")


if __name__ == "__main__":
    main()
