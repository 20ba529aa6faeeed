"""`babelstream serve` as a process of its own for the benches, and one speaker streaming to it in real time.

Shared by bench/end_of_utterance.py and bench/interim_results.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BABELSTREAM = str(REPO / ".venv" / "bin" / "babelstream")
RATE = 16_000
FRAME_MS = 20
FRAME_BYTES = RATE * 2 * FRAME_MS // 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One embedded platform (gateway and every stage, in-memory bus) with its own env; its log in .cache/<log_dir>."""

    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name, self.port = name, free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(log_dir / f"{name}.log", "w")
        self.process = subprocess.Popen(
            # One session may carry every sentence of a run: longer than the default 60 s.
            [BABELSTREAM, "serve", "--port", str(self.port)],
            # Admission control off: these benches measure how speakers are served, not when new ones are refused.
            # No gRPC door: two platforms side by side would both want its port.
            env={**os.environ, "MAX_SESSION_SECONDS": "900", "MAX_CONNECTIONS": "64", "ADMISSION_MAX_ASR_BACKLOG": "0",
                 "ADMISSION_MAX_P95_MS": "0", "GRPC_PORT": "0", **env},
            stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{name}: serve exited; see {log_dir}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"{name}: not ready; see {log_dir}")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/audio"

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def metric(self, name: str) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        found = {}
        for line in text.splitlines():
            if line.startswith(name):
                key, value = line.rsplit(" ", 1)
                found[key[len(name):]] = float(value)
        return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def stream_in_real_time(url: str, pcm: bytes, start) -> tuple[list[tuple[float, object]], float]:
    """Streams `pcm` in 20 ms frames on an absolute schedule (frame k is sent at origin + k * 20 ms), then done;
    returns the arrivals (perf_counter, message) and the schedule's origin."""
    from babelstream.client.connection import AudioConnection

    arrivals: list[tuple[float, object]] = []
    connection = await AudioConnection.open(url)
    async with connection:
        await connection.send_start(start)

        async def read() -> None:
            async for message in connection.messages():
                arrivals.append((time.perf_counter(), message))

        reader = asyncio.create_task(read())
        origin = time.perf_counter() + 0.05
        for index in range(0, len(pcm), FRAME_BYTES):
            delay = origin + index // FRAME_BYTES * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await connection.send_audio(bytes(pcm[index : index + FRAME_BYTES]))
        await connection.send_done()
        await asyncio.wait_for(reader, 180)
    return arrivals, origin
