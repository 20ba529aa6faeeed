"""/ws/audio: admits the socket, then feeds what the client sends into a Session and carries what it sends back.

Also the Session's Connection (gateway/connection.py): `send` waits while the client is not reading.
The live stream's whole binary frames reach `session.receive_bytes` straight from the adapter's data_received
(`binary_sink`), on the same callback: no queue, no task wake-up per frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from babelstream.gateway import messages
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.session import Session, frame_too_large
from babelstream.gateway.websocket.connection import ConnectionClosed, WebSocketConnection
from babelstream.gateway.websocket.handshake import UpgradeRequest

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway

log = logging.getLogger(__name__)

AUDIO_PATH = "/ws/audio"


class AudioHandler:
    __slots__ = ("_connection", "_gateway", "_request", "_start_task", "binary_sink", "session")

    def __init__(self, gateway: Gateway, request: UpgradeRequest, start_task: Callable[[asyncio.Task], None]):
        """start_task: how a session's task is registered with the server (uvicorn waits for them at shutdown)."""
        self._gateway = gateway
        self._request = request
        self._start_task = start_task
        self._connection: WebSocketConnection | None = None
        self.session: Session | None = None
        # Where the adapter sends the live stream's whole binary frames: the session while it reads, else None.
        self.binary_sink: Callable[[bytes], None] | None = None

    # -- Handler -----------------------------------------------------------------------------------------

    def opened(self, connection: WebSocketConnection) -> None:
        self._connection = connection
        admitted = self._gateway.admit(self._request)
        if isinstance(admitted, SessionEnded):
            connection.send_text(messages.encode(messages.error(admitted)))
            connection.send_close(admitted.code)
            return
        try:
            self.session = Session(
                self, self._gateway.session_context, principal=admitted, client=self._request.client
            )
        except BaseException:
            self._gateway.release()
            raise
        self.binary_sink = self.session.receive_bytes
        self._start_task(asyncio.get_running_loop().create_task(self._run(self.session)))

    def binary(self, payload: bytes) -> None:
        if self.session is not None:
            self.session.receive_bytes(payload)

    def text(self, text: str) -> None:
        if self.session is not None:
            self.session.receive_text(text)

    def frame_without_message(self) -> None:
        if self.session is not None:
            self.session.receive_frame_without_message()

    def message_too_big(self, size: int, limit: int) -> None:
        self._refuse(frame_too_large(size, limit))

    def protocol_failed(self, code: int, reason: str) -> bool:
        self.binary_sink = None
        kind = Kind.MALFORMED if code == CloseCode.INVALID_PAYLOAD else Kind.PROTOCOL_ERROR
        return self._refuse(SessionEnded(code, reason, kind=kind))

    def closed_by_peer(self, code: int) -> None:
        # The client ends the stream: the session publishes what it holds (as for a disconnect).
        self.binary_sink = None
        if self.session is not None:
            self.session.disconnected()

    def disconnected(self) -> None:
        self.binary_sink = None
        if self.session is not None:
            self.session.disconnected()

    def shutdown(self) -> None:
        """The gateway is stopping: the session publishes what it holds, tells the client why, and closes 1012."""
        if self.session is not None and self.session.reading:
            self._refuse(SessionEnded(CloseCode.SERVICE_RESTART, "the gateway is shutting down; reconnect",
                                      kind=Kind.SHUTDOWN))
        elif self.session is None:
            self._connection.send_close(CloseCode.GOING_AWAY)

    def _refuse(self, ended: SessionEnded) -> bool:
        """Ends the stream with why; True when the session will say so and close (it is still reading)."""
        if self.session is not None and self.session.reading:
            self.binary_sink = None
            self.session.refuse_message(ended)
            return True
        return False

    # -- Connection (what the session's outbox calls) ------------------------------------------------------

    encode = staticmethod(messages.encode)  # JSON text frames

    async def send(self, encoded: str) -> None:
        self._connection.send_text(encoded)
        await self._connection.drain()

    async def close(self, code: int) -> None:
        self._connection.send_close(int(code))

    # -- the session's life ------------------------------------------------------------------------------

    async def _run(self, session: Session) -> None:
        try:
            await session.run()
        except Exception:
            log.exception("session %s failed", session.correlation_id)
            self._connection.send_close(CloseCode.INTERNAL_ERROR)
        finally:
            self.binary_sink = None
            self._gateway.release()
            # The client left without a close handshake, or never answered ours: nothing more to wait for.
            self._connection.abandon()


__all__ = ["AUDIO_PATH", "AudioHandler", "ConnectionClosed"]
