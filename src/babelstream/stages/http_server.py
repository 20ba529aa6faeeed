"""What an operator reaches of a stage process: /healthz, /readyz and Prometheus /metrics, on METRICS_HOST:METRICS_PORT.

A small WSGI app on the standard library's server, in a thread of its own: a scrape never waits on the event loop
that runs the stages, and the process's signal handling stays run_stages' own. Only the consumer lag is read
through the loop, since a Kafka consumer is called from its own thread only (bus/kafka.py).

It asks for no credentials: bind it to loopback (the default) or to the operator's own network, never to the
internet (docs/architecture.md, "Stages an operator can see").
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from typing import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from babelstream.bus.base import Bus
from babelstream.stages.metrics import StageMetrics
from babelstream.stages.runtime import StageRunner

log = logging.getLogger(__name__)

# A scrape waits this long for the consumers' lag (a Kafka consumer answers between two polls of at most 0.5 s).
_LAG_TIMEOUT_SECONDS = 3.0


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # a scrape every 15 s is not worth a log line
        pass


class StageHttpServer:
    """Made on the event loop that runs `runners`; `app` is the WSGI app, `start()` serves it."""

    def __init__(self, host: str, port: int, *, bus: Bus, runners: list[StageRunner], metrics: StageMetrics):
        self.host = host
        self.port = port
        self.bus = bus
        self.runners = runners
        self.metrics = metrics
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._loop = asyncio.get_running_loop()

    def start(self) -> None:
        """Binds now (an OSError when the port is taken) and serves from a daemon thread."""
        server_class = _Server6 if ":" in self.host else _Server
        self._server = make_server(self.host, self.port, self.app, server_class=server_class, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="stage-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def is_ready(self) -> bool:
        return self.bus.is_ready() and all(runner.is_ready() for runner in self.runners)

    def app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _respond(start_response, 200, "application/json", json.dumps({"status": "ok"}).encode())
        if path == "/readyz":
            ready = self.is_ready()
            return _respond(start_response, 200 if ready else 503, "application/json", json.dumps({"ready": ready}).encode())
        if path == "/metrics":
            self._refresh_lags()
            return _respond(start_response, 200, CONTENT_TYPE_LATEST, generate_latest(self.metrics.registry))
        return _respond(start_response, 404, "application/json", b'{"error": "not found"}')

    def _refresh_lags(self) -> None:
        """From the server's thread: the runners' lag, read and put in the gauge on the loop."""
        try:
            asyncio.run_coroutine_threadsafe(self._read_lags(), self._loop).result(_LAG_TIMEOUT_SECONDS)
        except Exception as error:  # a scrape still answers, with the lag of the last scrape that could read it
            log.debug("consumer lag not read: %r", error)

    async def _read_lags(self) -> None:
        for runner in self.runners:
            self.metrics.set_lags(runner.stage.name, await runner.consumer_lags())


def _respond(start_response: Callable, status: int, content_type: str, body: bytes) -> list[bytes]:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
