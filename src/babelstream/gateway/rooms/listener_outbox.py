"""What goes out to one listener: written at once while its socket takes it, queued (bounded) while it does not.

A room hands the same result to a thousand listeners from one callback, so the common case must be cheap: no
task and no queue per message, a direct write while the socket's buffer is under its mark. A listener that falls
behind gets a queue, and loses interim results first: a partial or a partial translation is written only straight
to a socket that takes it, never queued (the next one supersedes it, and the final replaces them all). Then spoken
audio before text: past a quarter of the bound an audio message is skipped (it is told so, once per stretch of
skipping); past the bound the listener is closed, so nobody else waits.
A message is a str (a JSON text frame) or bytes (a binary audio frame); the bound counts both by their length.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class ListenerSocket(Protocol):
    def send_text(self, text: str) -> None: ...

    def send_binary(self, data: bytes) -> None: ...

    def writable(self) -> bool:
        """False while the socket's own buffer is over its high-water mark."""

    async def drain(self) -> None: ...


class ListenerOutbox:
    __slots__ = ("_audio_skipped_notice", "_limit", "_on_audio_skipped", "_on_overflow", "_queue", "_queued",
                 "_socket", "_writer", "audio_skipped", "closed", "interim_skipped", "sealed", "sent")

    def __init__(self, socket: ListenerSocket, *, limit_bytes: int, on_overflow: Callable[[], None],
                 on_audio_skipped: Callable[[], str]):
        """on_audio_skipped(): the first audio of a stretch was skipped; returns the warning to queue for it."""
        self._socket = socket
        self._limit = limit_bytes
        self._on_overflow = on_overflow
        self._on_audio_skipped = on_audio_skipped
        self._queue: deque[str | bytes] = deque()
        self._queued = 0
        self._writer: asyncio.Task | None = None
        self._audio_skipped_notice = False  # a warning about the current stretch of skipping is already out
        self.audio_skipped = 0
        self.interim_skipped = 0
        self.sent = 0
        self.closed = False  # nothing more goes out: what is queued is dropped
        self.sealed = False  # nothing more is taken: what is queued still goes out (the last message was put)

    @property
    def queued_bytes(self) -> int:
        return self._queued

    def put(self, text: str | bytes, *, audio: bool = False, interim: bool = False) -> None:
        if self.closed or self.sealed:
            return
        if not self._queue and self._socket.writable():
            self._send(text)
            self.sent += 1
            if not audio:
                self._audio_skipped_notice = False
            return
        if interim:
            self.interim_skipped += 1
            return
        size = len(text)
        if audio and self._queued + size > self._limit // 4:
            self.audio_skipped += 1
            if not self._audio_skipped_notice:
                self._audio_skipped_notice = True
                self._enqueue(self._on_audio_skipped())
            return
        self._enqueue(text)

    def _send(self, message: str | bytes) -> None:
        if type(message) is str:
            self._socket.send_text(message)
        else:
            self._socket.send_binary(message)

    def _enqueue(self, text: str | bytes) -> None:
        if self._queued + len(text) > self._limit:
            self.closed = True
            self._queue.clear()
            self._queued = 0
            self._on_overflow()
            return
        self._queue.append(text)
        self._queued += len(text)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        socket = self._socket
        try:
            while self._queue and not self.closed:
                await socket.drain()
                if self.closed or not self._queue:
                    return
                text = self._queue.popleft()
                self._queued -= len(text)
                self._send(text)
                self.sent += 1
        except Exception as failure:  # the listener went away
            log.debug("listener send failed: %s", failure)
            self.closed = True

    def seal(self) -> None:
        """Takes nothing more; what is queued still goes out (`drained` says when)."""
        self.sealed = True

    async def drained(self, timeout_seconds: float) -> None:
        """Returns once what is queued went out, or the time ran out (a listener that does not read is not waited
        for)."""
        writer = self._writer
        if writer is not None and not writer.done():
            try:
                await asyncio.wait_for(asyncio.shield(writer), timeout_seconds)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self.closed = True
        self._queue.clear()
        self._queued = 0
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
