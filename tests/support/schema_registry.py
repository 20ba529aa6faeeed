"""The real schema registry of a test run (Apicurio Registry, started by scripts/run-tests.sh through
scripts/schema-registry.sh), and a recording proxy in front of it.

The proxy is how a test observes what a client asked (method, path, Authorization header) and how it takes the
registry off the network for a while (`down()` / `up()`: the port refuses connections, as an unreachable
registry's does) — without patching the client, and without a registry of our own making.
"""

from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

import httpx

API_PATH = "/apis/ccompat/v7"  # Apicurio's Confluent-compatible API


@dataclass(frozen=True)
class RunningRegistry:
    plain_url: str  # the Confluent API's base URL, without credentials
    user: str
    password: str

    @property
    def url(self) -> str:
        """As an operator writes SCHEMA_REGISTRY_URL: the credentials in the URL."""
        return self.plain_url.replace("://", f"://{self.user}:{self.password}@", 1)

    @property
    def user_info(self) -> str:
        return f"{self.user}:{self.password}"

    def get(self, path: str) -> Any:
        """The registry's own answer, read straight from it (not through the code under test)."""
        answer = httpx.get(f"{self.plain_url}{path}", auth=(self.user, self.password), timeout=10)
        answer.raise_for_status()
        return answer.json()


def unique_topic(base: str) -> str:
    """A topic name (so a subject) no other test registered under: the registry lives for the whole run."""
    return f"{base}.{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # under the API path, decoded, without the query string
    body: Any
    authorization: str | None


class _Forwarder(BaseHTTPRequestHandler):
    proxy: "RecordingProxy"  # set on the subclass made per proxy

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = unquote(urlsplit(self.path).path)
        self.proxy.record(Call(self.command, path.removeprefix(API_PATH), json.loads(raw) if raw else None,
                               self.headers.get("Authorization")))
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() in ("authorization", "content-type", "accept")}
        answer = httpx.request(self.command, f"{self.proxy.upstream}{self.path}", content=raw, headers=headers,
                               timeout=30)
        self.send_response(answer.status_code)
        for name in ("Content-Type", "WWW-Authenticate"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards to the registry and records each call."""

    def __init__(self, registry: RunningRegistry):
        parts = urlsplit(registry.plain_url)
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.registry = registry
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def plain_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PATH}"

    @property
    def url(self) -> str:
        return f"http://{self.registry.user}:{self.registry.password}@127.0.0.1:{self.port}{API_PATH}"

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def calls_to(self, method: str, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and c.path == path]

    def up(self) -> None:
        handler = type("Forwarder", (_Forwarder,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)  # the same port again after down()
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                                        name="registry-proxy")
        self._thread.start()

    def down(self) -> None:
        """Stop listening: a client's connection is refused, as an unreachable registry's is."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


@contextmanager
def recording_proxy(registry: RunningRegistry) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy(registry)
    proxy.up()
    try:
        yield proxy
    finally:
        proxy.down()
