"""/ws/listen: admits the socket as a room's listener, then carries what the room gives it (rooms/listener.py).

A listener sends only listen messages (text); a binary frame is refused (1003). It is also the Listener's socket:
`send_text` and `send_binary` (spoken translations) write at once, `writable` says whether the socket's buffer is
under its mark.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from babelstream.gateway import messages
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.rooms.listen_requests import parse_listen_query
from babelstream.gateway.rooms.listener import Listener
from babelstream.gateway.websocket.connection import ConnectionClosed, WebSocketConnection
from babelstream.gateway.websocket.handshake import UpgradeRequest

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway

log = logging.getLogger(__name__)

LISTEN_PATH = "/ws/listen"


class ListenHandler:
    __slots__ = ("_connection", "_gateway", "_request", "binary_sink", "listener")

    def __init__(self, gateway: Gateway, request: UpgradeRequest, start_task=None):
        self._gateway = gateway
        self._request = request
        self._connection: WebSocketConnection | None = None
        self.listener: Listener | None = None
        self.binary_sink = None  # a listener sends no audio

    # -- Handler -----------------------------------------------------------------------------------------

    def opened(self, connection: WebSocketConnection) -> None:
        self._connection = connection
        gateway = self._gateway
        try:
            request = parse_listen_query(self._request.query_string)
            admitted = gateway.admit_listener(self._request, request.room)
            if isinstance(admitted, SessionEnded):
                raise admitted
        except SessionEnded as refused:
            return self._refuse(refused)
        listener = Listener(self, request, gateway.rooms, gateway.settings, gateway.metrics,
                            gateway.options.check_listener_language)
        try:
            listener.start()
        except SessionEnded as refused:
            gateway.release_listener()
            return self._refuse(refused)
        except BaseException:
            listener.leave()
            gateway.release_listener()
            raise
        self.listener = listener

    def _refuse(self, refused: SessionEnded) -> None:
        self._gateway.metrics.rejections.labels(reason=refused.kind, transport="websocket").inc()
        self._connection.send_text(messages.encode(messages.error(refused)))
        self._connection.send_close(refused.code)

    def binary(self, payload: bytes) -> None:
        if self.listener is not None:
            self.listener.end(SessionEnded(
                CloseCode.UNSUPPORTED_DATA, "a listener sends no audio: speak on /ws/audio", kind=Kind.MALFORMED
            ))

    def text(self, text: str) -> None:
        if self.listener is not None:
            self.listener.receive_text(text)

    def frame_without_message(self) -> None:
        if self.listener is not None:
            self.listener.receive_frame_without_message()

    def message_too_big(self, size: int, limit: int) -> None:
        if self.listener is not None:
            self.listener.end(SessionEnded(
                CloseCode.MESSAGE_TOO_BIG, f"message of {size} bytes is over the {limit}-byte limit",
                kind=Kind.FRAME_TOO_LARGE,
            ))

    def protocol_failed(self, code: int, reason: str) -> bool:
        self._gone()
        return False

    def closed_by_peer(self, code: int) -> None:
        self._gone()

    def disconnected(self) -> None:
        self._gone()

    def shutdown(self) -> None:
        if self.listener is not None:
            self.listener.end(SessionEnded(
                CloseCode.SERVICE_RESTART, "the gateway is shutting down; reconnect", kind=Kind.SHUTDOWN
            ))

    def _gone(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.disconnected()
            self._gateway.release_listener()

    # -- ListenerSocket --------------------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        try:
            self._connection.send_text(text)
        except ConnectionClosed:
            pass  # closing: the listener is leaving anyway

    def send_binary(self, data: bytes) -> None:
        try:
            self._connection.send_binary(data)
        except ConnectionClosed:
            pass

    def writable(self) -> bool:
        return self._connection.writable()

    async def drain(self) -> None:
        await self._connection.drain()

    def close(self, code: int) -> None:
        self._connection.send_close(int(code))

    def ping(self) -> int:
        """Sends a ping; returns how many pongs had come back before it."""
        pongs = self._connection.pongs
        try:
            self._connection.send_ping()
        except ConnectionClosed:
            pass
        return pongs

    @property
    def pongs(self) -> int:
        return self._connection.pongs


__all__ = ["LISTEN_PATH", "ListenHandler"]
