"""Everything the server sends on one socket goes through one queue and one writer task, so messages from
the receive loop (errors, acks) and from the result router (transcripts, audio) never interleave mid-send
and keep their order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from babelstream.gateway.connection import Connection
from babelstream.gateway.messages import encode

log = logging.getLogger(__name__)

_CLOSE = object()


class Outbox:
    def __init__(self, connection: Connection, on_sent: Callable[[dict], None] = lambda message: None):
        self._connection = connection
        self._on_sent = on_sent
        self._queue: asyncio.Queue = asyncio.Queue()
        self._writer: asyncio.Task | None = None
        self.closed = False

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write())

    def put(self, message: dict) -> None:
        if not self.closed:
            self._queue.put_nowait(message)

    async def _write(self) -> None:
        connection = self._connection
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, tuple) and item[0] is _CLOSE:
                    await connection.close(item[1])
                    return
                await connection.send_text(encode(item))
                self._on_sent(item)
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

    async def stop(self) -> None:
        self.closed = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
