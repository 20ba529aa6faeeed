"""Everything the server sends on one socket goes through one queue and one writer task, so messages from
the receive loop (errors, acks) and from the result router (transcripts, audio) never interleave mid-send
and keep their order.

The queue is bounded in bytes: a client that stops reading would otherwise make the gateway hold every result
meant for it. Past the bound the outbox takes nothing more and tells its owner, which closes the socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from babelstream.gateway.connection import Connection
from babelstream.gateway.shared_message import SharedMessage

log = logging.getLogger(__name__)

_CLOSE = object()


class Outbox:
    def __init__(
        self,
        connection: Connection,
        *,
        limit_bytes: int,
        on_overflow: Callable[[], None],
        on_sent: Callable[[dict], None] = lambda message: None,
    ):
        self._connection = connection
        self._encode = connection.encode
        self._limit_bytes = limit_bytes
        self._on_overflow = on_overflow
        self._on_sent = on_sent
        self._queue: asyncio.Queue = asyncio.Queue()
        self._queued_bytes = 0  # encoded messages waiting for the writer
        self._writer: asyncio.Task | None = None
        self.closed = False
        self.overflowed = False

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write())

    def put(self, message: dict) -> None:
        if not self.closed:
            self._put(message, self._encode(message))

    def put_shared(self, shared: SharedMessage) -> None:
        """A room's result, encoded once for all its members on this connection's wire format; past the bound, as
        put."""
        if not self.closed:
            self._put(None, shared.encoded(self._encode))

    def _put(self, message: dict | None, encoded: str | bytes) -> None:
        if self._queued_bytes + len(encoded) > self._limit_bytes:
            self.closed = self.overflowed = True
            self._on_overflow()
            return
        self._queued_bytes += len(encoded)
        self._queue.put_nowait((message, encoded))

    async def _write(self) -> None:
        connection = self._connection
        while True:
            item = await self._queue.get()
            try:
                if item[0] is _CLOSE:
                    await connection.close(item[1])
                    return
                message, encoded = item
                await connection.send(encoded)
                self._queued_bytes -= len(encoded)
                if message is not None:
                    self._on_sent(message)
            except Exception as failure:  # the client went away: nothing more can reach it
                log.debug("send failed: %s", failure)
                return

    async def close(self, code: int) -> None:
        """Send what is queued, then the close frame."""
        if self.closed:
            return
        self._queue.put_nowait((_CLOSE, int(code)))
        self.closed = True
        if self._writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), timeout=10)
            except TimeoutError:
                log.warning("client did not take the last messages within 10 s")

    async def abandon(self, code: int) -> None:
        """The client is not reading: what is queued is dropped and the close frame goes out now (the socket's
        own close timeout then drops the connection if the client never answers)."""
        self.closed = True
        await self.stop()
        self._queue = asyncio.Queue()
        self._queued_bytes = 0
        await self._connection.close(code)

    async def stop(self) -> None:
        self.closed = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
