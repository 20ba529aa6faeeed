"""A WebSocket client written byte by byte, for what a well-behaved client never sends."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct

from babelstream.gateway.websocket.frames import CLOSE, PING, PONG, TEXT
from babelstream.gateway.websocket.uvicorn_adapter import CLOSE_TIMEOUT_SECONDS
from tests.support.frames import client_frame

TIMEOUT = 5.0  # any single wait; a hang fails instead of blocking the run


class RawSocket:
    """A WebSocket client written byte by byte, so a test can send what it likes and see every server frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response_head: bytes):
        self.reader = reader
        self.writer = writer
        self.response_head = response_head

    @classmethod
    async def open(cls, address: str, *, version: bytes = b"13", key: bytes | None = None,
                   path: str = "/ws/audio") -> RawSocket:
        """Sends the upgrade request for `path` and reads the response head (whatever its status)."""
        host, port = address.split(":")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), TIMEOUT)
        key = key if key is not None else base64.b64encode(os.urandom(16))
        writer.write(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + address.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
            b"Sec-WebSocket-Version: " + version + b"\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        return cls(reader, writer, head)

    @classmethod
    async def connected(cls, address: str) -> tuple[RawSocket, dict]:
        """An upgraded socket and the server's first message."""
        socket = await cls.open(address)
        assert socket.response_head.startswith(b"HTTP/1.1 101 "), socket.response_head
        opcode, payload = await socket.next_frame()
        assert opcode == TEXT
        return socket, json.loads(payload)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def next_frame(self) -> tuple[int, bytes]:
        async def read() -> tuple[int, bytes]:
            first, second = await self.reader.readexactly(2)
            assert first & 0x80 and not first & 0x70, "server frames are final and have no RSV bits"
            assert not second & 0x80, "server frames are not masked"
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return first & 0x0F, await self.reader.readexactly(length)

        return await asyncio.wait_for(read(), TIMEOUT)

    async def sync(self, payload: bytes = b"sync") -> None:
        """A ping round trip: once its pong is back, the server has handled everything sent before it."""
        self.send(client_frame(PING, payload))
        assert await self.next_frame() == (PONG, payload)

    async def until_close(self) -> tuple[list[dict], int | None]:
        """The JSON messages up to the server's close frame, and the code in it (None when it has none)."""
        messages = []
        while True:
            opcode, payload = await self.next_frame()
            if opcode == TEXT:
                messages.append(json.loads(payload))
            elif opcode == CLOSE:
                return messages, struct.unpack("!H", payload[:2])[0] if payload else None

    async def closed_by_server(self) -> bytes:
        """Waits for the server to close the TCP connection; returns what it sent before (should be nothing).
        Well under the server's own close timeout: the close must come from the handshake, not the timer."""
        return await asyncio.wait_for(self.reader.read(), CLOSE_TIMEOUT_SECONDS / 2)

    def drop(self) -> None:
        self.writer.transport.abort()
