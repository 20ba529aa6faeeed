"""Fuzzes the opening handshake (gateway/websocket/handshake.py) with upgrade request heads, valid and not.

Each case starts from a valid head as uvicorn hands it over (request line, lower-case headers) and changes it:
headers dropped, repeated, emptied or given odd values (tokens in lists, other cases, spaces, keys of other
lengths or not base64, non-ASCII bytes), the request line altered, bytes flipped, or the head replaced by noise.
What must hold: `parse_request_head` then `switching_protocols` give a 101 or raise `HandshakeRefused` carrying
a whole HTTP answer, nothing else; a 101 only for a request RFC 6455 accepts (checked here independently: GET,
HTTP/1.1, a Host, the Upgrade and Connection tokens, version 13, a key of 16 bytes in base64) with the right
Sec-WebSocket-Accept; a refusal with the status docs/protocol.md gives (400, 405, 426) and a Content-Length
that matches its body.

    .venv/bin/python bench/fuzz_handshake.py [--cases 1000000] [--seconds S] [--seed 0]
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from babelstream.gateway.websocket.handshake import HandshakeRefused, parse_request_head, switching_protocols  # noqa: E402
from bench.fuzzing import Broken, main, simpler_bytes, smaller_sequences  # noqa: E402

REFUSAL_STATUSES = {400, 405, 426}
_ODD_VALUES = ("", " ", "websocket", "WebSocket", "upgrade", "keep-alive, Upgrade", "Upgrade,keep-alive", "13", "8",
               " 13 ", "13, 8", "\x00", "é", "ws", ",", "websocket, h2c", "dGhlIHNhbXBsZSBub25jZQ==",
               "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ===", "AAAAAAAAAAAAAAAAAAAAAA==", "é" * 24)
_NAMES = ("host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "origin",
          "sec-websocket-protocol", "sec-websocket-extensions", "authorization", "x-forwarded-for", "Upgrade", " host")


def valid_head(rng: random.Random) -> list[str]:
    key = base64.b64encode(rng.randbytes(16)).decode()
    return [
        f"GET /ws/audio?token={rng.randrange(10**6)} HTTP/1.1",
        "host: 127.0.0.1:8000",
        rng.choice(("upgrade: websocket", "upgrade: WebSocket", "upgrade: h2c, websocket")),
        rng.choice(("connection: Upgrade", "connection: keep-alive, Upgrade", "connection: upgrade")),
        f"sec-websocket-key: {key}",
        "sec-websocket-version: 13",
        "origin: http://127.0.0.1:8000",
    ]


def change(rng: random.Random, lines: list[str]) -> list[str]:
    lines = list(lines)
    roll = rng.random()
    where = rng.randrange(len(lines))
    if roll < 0.2 and len(lines) > 1:
        del lines[rng.randrange(1, len(lines))]
    elif roll < 0.35:
        lines.insert(rng.randrange(1, len(lines) + 1), lines[rng.randrange(1, len(lines))])
    elif roll < 0.6:
        lines.insert(rng.randrange(1, len(lines) + 1), f"{rng.choice(_NAMES)}:{rng.choice(_ODD_VALUES)}")
    elif roll < 0.7:
        lines[0] = rng.choice(("POST", "get", "GET", "", "GET GET", "HEAD")) + " " + rng.choice(
            ("/ws/audio", "", "/ws/audio HTTP/1.1", "*")) + " " + rng.choice(("HTTP/1.1", "HTTP/1.0", "HTTP/2", "", "http/1.1"))
    elif roll < 0.8 and lines:
        text = lines[where]
        at = rng.randrange(len(text) + 1)
        lines[where] = text[:at] + rng.choice(("\r", "\n", ":", " ", "\x00", "\xff", ",", "\r\n")) + text[at:]
    elif roll < 0.9 and where:
        name = lines[where].partition(":")[0]
        lines[where] = f"{name}: {rng.choice(_ODD_VALUES)}"
    return lines


def encode(lines: list[str], rng: random.Random) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace") if rng.random() < 0.95 else \
        "\r\n".join(lines).encode("utf-8")


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randrange(1, 4)):
        where = rng.randrange(len(data) + 1)
        data = data[:where] + rng.randbytes(rng.randrange(0, 4)) + data[where + rng.randrange(0, 3) :]
    return data


def acceptable(headers: dict[str, str], method: str, version: str) -> str | None:
    """The key when RFC 6455 section 4.2.1 accepts the request (as this server reads it), else None."""
    def tokens(name: str) -> set[str]:
        return {token.strip().lower() for token in headers.get(name, "").split(",")}

    key = headers.get("sec-websocket-key", "")
    try:
        key_ok = key.isascii() and len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except binascii.Error:
        key_ok = False
    accepted = (method == "GET" and version == "HTTP/1.1" and bool(headers.get("host")) and "websocket" in tokens("upgrade")
                and "upgrade" in tokens("connection") and headers.get("sec-websocket-version") == "13" and key_ok)
    return key if accepted else None


class HandshakeTarget:
    name = "handshake"
    bound = "the process's peak RSS (heads are under 1 KB)"

    def generate(self, rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.05:
            return rng.randbytes(rng.randrange(64))
        lines = valid_head(rng)
        for _ in range(rng.randrange(0, 4)):
            lines = change(rng, lines)
        data = encode(lines, rng)
        return mutate_bytes(rng, data) if roll < 0.2 else data

    def check(self, head: bytes) -> None:
        request = parse_request_head(head)
        try:
            response = switching_protocols(request, ((b"server", b"uvicorn"),))
        except HandshakeRefused as refused:
            answer = refused.response
            head_text, _, body = answer.partition(b"\r\n\r\n")
            status_line, *header_lines = head_text.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ")[1])
            if status not in REFUSAL_STATUSES:
                raise Broken("refused with a status docs/protocol.md does not give", status_line) from None
            headers = dict(line.split(": ", 1) for line in header_lines)
            if int(headers["Content-Length"]) != len(body):
                raise Broken("refusal's Content-Length differs from its body") from None
            if acceptable(request.headers, request.method, request.http_version) is not None:
                raise Broken("refused a valid upgrade", f"{status_line}: {body!r}") from None
            return
        key = acceptable(request.headers, request.method, request.http_version)
        if key is None:
            raise Broken("101 for a request RFC 6455 refuses", repr(request))
        expected = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        if b"\r\nSec-WebSocket-Accept: " + expected + b"\r\n" not in response:
            raise Broken("101 with the wrong Sec-WebSocket-Accept", repr(response))
        if not response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") or not response.endswith(b"\r\n\r\n"):
            raise Broken("101 is not a whole HTTP head", repr(response))

    def shrink(self, head: bytes):
        yield from smaller_sequences(head)
        yield from simpler_bytes(head)

    def show(self, head: bytes) -> str:
        return f"head={head!r}"


if __name__ == "__main__":
    main(HandshakeTarget, __doc__.splitlines()[0])
