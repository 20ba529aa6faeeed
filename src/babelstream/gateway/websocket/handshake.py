"""The opening handshake (RFC 6455 section 4.2): read the upgrade request, answer 101 or say why not.

uvicorn has already parsed the HTTP request and hands the upgrade over as the request head re-serialised
(method, target, HTTP version, lower-case headers), so this only reads that head; it never sees a body. Its
size, its time and the client's share of the server were checked before (uvicorn_adapter.GuardedHttpProtocol).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from http import HTTPStatus
from dataclasses import dataclass, field

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeRefused(Exception):
    """Not a WebSocket upgrade this server can accept; `response` is the HTTP answer to write before closing."""

    def __init__(self, status: int, reason: str, extra_headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(reason)
        self.response = http_response(status, reason, extra_headers)


@dataclass(frozen=True)
class UpgradeRequest:
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; repeated headers joined with ", "
    scheme: str = "ws"  # "wss" over TLS: the page's own origin is https then
    http_version: str = "HTTP/1.1"
    client: str | None = None  # the client's address (from TRUSTED_PROXIES' X-Forwarded-For), for logs

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query_string(self) -> str:
        return self.target.partition("?")[2]

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")


def parse_request_head(head: bytes) -> UpgradeRequest:
    text = head.decode("latin-1")
    request_line, _, rest = text.partition("\r\n")
    method, _, target = request_line.partition(" ")
    target, _, http_version = target.rpartition(" ")
    headers: dict[str, str] = {}
    for line in rest.split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return UpgradeRequest(method, target, headers, http_version=http_version)


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",")}


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def switching_protocols(request: UpgradeRequest, extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """The 101 answer to a valid upgrade. No extension (permessage-deflate buys nothing on PCM) and no subprotocol."""
    if request.method != "GET":
        raise HandshakeRefused(405, "a WebSocket upgrade must be a GET", (("Allow", "GET"),))
    # RFC 6455 4.1: HTTP/1.1 or later, with a Host. HTTP/1.0 has no Upgrade: a 1.0 proxy on the way would pass the
    # head on and not the stream.
    if request.http_version != "HTTP/1.1":
        raise HandshakeRefused(400, "a WebSocket upgrade must be HTTP/1.1")
    if not request.headers.get("host"):
        raise HandshakeRefused(400, "missing Host")
    if "websocket" not in _tokens(request.headers.get("upgrade", "")):
        raise HandshakeRefused(400, "missing Upgrade: websocket")
    if "upgrade" not in _tokens(request.headers.get("connection", "")):
        raise HandshakeRefused(400, "missing Connection: Upgrade")
    if request.headers.get("sec-websocket-version") != "13":
        raise HandshakeRefused(426, "only WebSocket version 13 is supported", (("Sec-WebSocket-Version", "13"),))
    key = request.headers.get("sec-websocket-key", "")
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid_key = False
    if not valid_key:
        raise HandshakeRefused(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    lines = [
        b"HTTP/1.1 101 Switching Protocols",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + accept_key(key).encode("ascii"),
    ]
    lines.extend(name + b": " + value for name, value in extra_headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def http_response(status: int, reason: str, extra_headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    body = (reason + "\n").encode()
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in extra_headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
