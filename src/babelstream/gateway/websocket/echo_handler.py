"""Sends every message back as it came: the handler the Autobahn TestSuite runs against (tests/integration/
test_autobahn.py), so the connection and adapter that carry /ws/audio are checked against RFC 6455 by a tool
that is not ours. Not routed in production."""

from __future__ import annotations

from babelstream.gateway.websocket.connection import ConnectionClosed, WebSocketConnection

ECHO_PATH = "/ws/echo"


class EchoHandler:
    def __init__(self) -> None:
        self._connection: WebSocketConnection | None = None
        self.binary_sink = None

    def opened(self, connection: WebSocketConnection) -> None:
        self._connection = connection
        self.binary_sink = self.binary  # so the suite drives the fast path too

    def binary(self, payload: bytes) -> None:
        self._echo(self._connection.send_binary, payload)

    def text(self, text: str) -> None:
        self._echo(self._connection.send_text, text)

    @staticmethod
    def _echo(send, message) -> None:
        try:
            send(message)
        except ConnectionClosed:
            pass  # the close handshake has begun: nothing more is sent

    def frame_without_message(self) -> None:
        pass

    def message_too_big(self, size: int, limit: int) -> None:
        self._connection.send_close(1009)

    def protocol_failed(self, code: int, reason: str) -> bool:
        self.binary_sink = None
        return False

    def closed_by_peer(self, code: int) -> None:
        self.binary_sink = None

    def disconnected(self) -> None:
        self.binary_sink = None

    def shutdown(self) -> None:
        self._connection.send_close(1001)
