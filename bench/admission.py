"""Admission from measured load: ramp live speakers past what the pipeline serves, with admission on and off.

Starts `babelstream serve` (embedded: gateway and stages in one process, real models) and adds one live speaker
every --step seconds (the probe's espeak-ng sentences, streamed in real time, sessions of ~20 s one after another).
A speaker that is refused (1013 `overloaded`) waits the `retry_after_ms` it is told and tries again. The same
ramp runs twice in one session: with the gateway's admission thresholds (the reference for the claim), and with
admission off (the reference for the harm), and prints for each:

  * speakers admitted over time, and refusals with how long a refusal took (P50/P99)
  * end of utterance -> translated text for admitted speakers, P50/P95 per 20 s window, and overall

The claim (issue #13 item 5): with admission on, admitted speakers keep P95 <= 1 s and the others are refused in
under 50 ms; with it off, every speaker degrades together.

    .venv/bin/python bench/admission.py                         # ~6 min: two 150 s ramps
    .venv/bin/python bench/admission.py --seconds 90 --step 6 --json .cache/bench/admission.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babelstream.clients.probe.config import LEAD_IN_MS, ProbeConfig
from babelstream.clients.probe.session import run_session
from babelstream.clients.probe.speech import SpeechCache, speaker_script
from babelstream.clients.probe.trace import default_cut_lag_ms

REPO = Path(__file__).resolve().parents[1]
BABELSTREAM = str(Path(sys.executable).parent / "babelstream")
LOG_DIR = REPO / ".cache" / "bench" / "admission"
# One session per speaker for the whole ramp (MAX_SESSION_SECONDS raised for the bench): an admitted speaker stays
# admitted, as a person in a call does, instead of asking again every minute.
WINDOW_SECONDS = 20


@dataclass
class Ramp:
    name: str
    admitted_at: list[float] = field(default_factory=list)  # seconds into the run a speaker's first session began
    refusals: list[tuple[float, float]] = field(default_factory=list)  # (at s, how long the refusal took, ms)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (end of utterance at s, ms to translation)
    broken: int = 0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_platform(port: int, admission: dict[str, str]) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MAX_CONNECTIONS": "64", "MAX_SESSION_SECONDS": "3600", **admission}
    log = open(LOG_DIR / f"serve-{port}.log", "w")
    process = subprocess.Popen([BABELSTREAM, "serve", "--port", str(port), "--grpc-port", "0"], stdout=log, stderr=subprocess.STDOUT,
                               env=env, cwd=REPO)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"babelstream serve exited with {process.returncode}; see {LOG_DIR}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.25)
    raise SystemExit("the platform was not ready within 180 s")


async def speaker(index: int, url: str, ramp: Ramp, run_started: float, until: float, speech: SpeechCache) -> None:
    config = ProbeConfig(url=url, n=None, targets=("es",), synthesize=False, seed=11,
                         session_audio_budget_ms=3_600_000)
    script = speaker_script(random.Random(1000 + index))
    cut_lag_ms = default_cut_lag_ms()
    session = 0
    admitted = False
    while time.perf_counter() < until:
        clips, used = [], LEAD_IN_MS
        while used < (until - time.perf_counter()) * 1000:
            clip = await asyncio.to_thread(speech.clip, *next(script))
            clips.append(clip)
            used += clip.speech_ms + config.pause_ms
        asked = time.perf_counter()
        result = await run_session(config, clips, speaker=index, session=session, run_started=run_started,
                                   cut_lag_ms=cut_lag_ms)
        session += 1
        if result.close_code == 1013:
            ramp.refusals.append((asked - run_started, (time.perf_counter() - asked) * 1000))
            await asyncio.sleep(5.0)  # the retry_after_ms it was told
            continue
        if not admitted:
            admitted = True
            ramp.admitted_at.append(asked - run_started)
        for utterance in result.utterances:
            latency = utterance.translation_ms.get("es")
            if latency is None or utterance.at_s is None:
                ramp.broken += 1
            else:
                ramp.latencies.append((utterance.at_s, latency))


async def run_ramp(name: str, admission: dict[str, str], seconds: float, step: float) -> Ramp:
    port = free_port()
    process = start_platform(port, admission)
    ramp = Ramp(name)
    speech = SpeechCache()
    try:
        url = f"ws://127.0.0.1:{port}/ws/audio"
        started = time.perf_counter()
        until = started + seconds
        tasks = []
        index = 0
        while time.perf_counter() < until - step:
            tasks.append(asyncio.create_task(speaker(index, url, ramp, started, until, speech)))
            index += 1
            await asyncio.sleep(step)
        await asyncio.gather(*tasks)
    finally:
        process.terminate()
        process.wait(30)
    return ramp


def percentile(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def report(ramp: Ramp, seconds: float) -> dict:
    print(f"\n== {ramp.name} ==")
    print(f"speakers admitted: {len(ramp.admitted_at)}; refusals: {len(ramp.refusals)}; broken utterances: "
          f"{ramp.broken}")
    refusal_ms = [ms for _, ms in ramp.refusals]
    if refusal_ms:
        print(f"refusal took P50 {percentile(refusal_ms, 50):.1f} ms, P99 {percentile(refusal_ms, 99):.1f} ms")
    print(f"{'window':>10} {'speakers':>8} {'utts':>5} {'P50 ms':>8} {'P95 ms':>8}")
    windows = []
    for start in range(0, int(seconds), WINDOW_SECONDS):
        inside = [ms for at, ms in ramp.latencies if start <= at < start + WINDOW_SECONDS]
        speakers = sum(1 for at in ramp.admitted_at if at < start + WINDOW_SECONDS)
        windows.append({"from_s": start, "speakers": speakers, "utterances": len(inside),
                        "p50_ms": percentile(inside, 50), "p95_ms": percentile(inside, 95)})
        print(f"{start:>4}-{start + WINDOW_SECONDS:<5} {speakers:>8} {len(inside):>5} "
              f"{percentile(inside, 50):>8.0f} {percentile(inside, 95):>8.0f}")
    everything = [ms for _, ms in ramp.latencies]
    print(f"overall: P50 {percentile(everything, 50):.0f} ms, P95 {percentile(everything, 95):.0f} ms, "
          f"P99 {percentile(everything, 99):.0f} ms over {len(everything)} utterances")
    return {"name": ramp.name, "admitted": len(ramp.admitted_at), "refusals": len(ramp.refusals),
            "refusal_p50_ms": percentile(refusal_ms, 50), "refusal_p99_ms": percentile(refusal_ms, 99),
            "broken": ramp.broken, "windows": windows, "p50_ms": percentile(everything, 50),
            "p95_ms": percentile(everything, 95), "p99_ms": percentile(everything, 99)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="length of each ramp")
    parser.add_argument("--step", type=float, default=8.0, help="seconds between two new speakers")
    parser.add_argument("--p95-ms", default="1000", help="ADMISSION_MAX_P95_MS for the admission run")
    parser.add_argument("--backlog", default="2", help="ADMISSION_MAX_ASR_BACKLOG for the admission run")
    parser.add_argument("--window", default="15", help="ADMISSION_WINDOW_SECONDS for the admission run")
    parser.add_argument("--order", default="on,off", help="the ramps, in order (on,off, off,on, or one of them): on a "
                        "shared machine the later ramp may meet other load, so run both orders")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    on = {"ADMISSION_MAX_P95_MS": args.p95_ms, "ADMISSION_MAX_ASR_BACKLOG": args.backlog,
          "ADMISSION_WINDOW_SECONDS": args.window}
    off = {"ADMISSION_MAX_P95_MS": "0", "ADMISSION_MAX_ASR_BACKLOG": "0"}
    ramps = {"on": ("admission on", on), "off": ("admission off", off)}
    results = {}
    for key in args.order.split(","):
        name, settings = ramps[key]
        ramp = await run_ramp(name, settings, args.seconds, args.step)
        results[key] = report(ramp, args.seconds)
    if "on" in results and "off" in results:
        ratio = results["off"]["p95_ms"] / results["on"]["p95_ms"]
        print(f"\nratio off/on, P95 end of utterance -> translation: {ratio:.2f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": list(results.values())}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
