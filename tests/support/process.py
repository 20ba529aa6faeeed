"""`babelstream` run as a separate process, the way an operator runs it, with its output kept in test-output/."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
BABELSTREAM = [sys.executable, "-m", "babelstream"]


class Component:
    """One `babelstream` process; what it writes (stdout and stderr) goes to test-output/<name>.log."""

    def __init__(self, name: str, args: list[str], env: dict):
        self.name = name
        self.args = args
        # No gRPC ingress unless the test asks for one (GRPC_PORT): several gateways on one machine would all want
        # its default port.
        self.env = {"GRPC_PORT": "0", **env}
        self.log_path = REPO / "test-output" / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(BABELSTREAM + self.args, env=self.env, stdout=log, stderr=log, cwd=REPO)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.output()[-2000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not log {text!r} within {timeout} s")

    def wait_until_ready(self, url: str, timeout: float = 120, verify: ssl.SSLContext | bool = True) -> None:
        """Until GET `url` (its /readyz) answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=2, verify=verify).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.output()[-2000:]}")
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready at {url} within {timeout} s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
