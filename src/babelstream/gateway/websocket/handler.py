"""What a WebSocket route does with its connection: the application side of connection.py.

The connection calls these as the peer's frames are read, on the event loop, and never awaits them. A handler
sends through the connection it is given in `opened` (connection.send_text, send_close). audio_handler.py serves
/ws/audio; echo_handler.py echoes, for the Autobahn conformance suite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from babelstream.gateway.websocket.connection import WebSocketConnection


class Handler(Protocol):
    # The fast path: where the I/O side hands the payload of a whole binary frame read at a message boundary
    # (what a live client sends 50 times a second) without going through the connection; None when the handler
    # takes no such frames now. It must do what `binary` does.
    binary_sink: Callable[[bytes], None] | None

    def opened(self, connection: WebSocketConnection) -> None:
        """The 101 is out: the handler may send its first message, or refuse with a close."""

    def binary(self, payload: bytes) -> None: ...

    def text(self, text: str) -> None: ...

    def frame_without_message(self) -> None:
        """A ping, or one frame of a message not yet complete: no message, but a frame the peer sent (a limit on
        messages a second counts these too, so a flood of pings or empty fragments is one)."""

    def message_too_big(self, size: int, limit: int) -> None:
        """A message over the limit was refused from its header; its bytes are skipped unread."""

    def protocol_failed(self, code: int, reason: str) -> bool:
        """The peer broke RFC 6455 (code 1002, or 1007 for text that is not UTF-8). True: the handler sends the
        close itself (after saying why); False: the connection closes with `code` at once."""

    def closed_by_peer(self, code: int) -> None:
        """The peer's close frame arrived (and was answered)."""

    def disconnected(self) -> None:
        """The TCP connection is gone, whatever the reason."""

    def shutdown(self) -> None:
        """The server is stopping."""
