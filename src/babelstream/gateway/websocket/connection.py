"""One server-side WebSocket after the opening handshake, sans I/O: RFC 6455's state machine and nothing else.

Bytes come in through `receive_data`; what they mean goes to the connection's `Handler` (handler.py); bytes to send
and the decision to close the TCP connection go out through a `Transport` the I/O side implements (the uvicorn
adapter on a real socket, a list in a unit test). The connection owns the close handshake, control frames, UTF-8
for text and the message-size limit; it knows nothing of audio or sessions.
"""

from __future__ import annotations

import enum
from typing import Protocol

from babelstream.gateway.websocket.frames import (
    BINARY,
    CLOSE,
    FRAGMENT,
    OVERSIZE,
    PING,
    PONG,
    TEXT,
    FrameReader,
    ProtocolError,
    encode_close,
    encode_frame,
    parse_close,
)
from babelstream.gateway.websocket.handler import Handler

NO_STATUS = 1005  # a close frame without a code (reported, never sent)

# A room hands one message (one str, or one bytes for a spoken translation) to each of its members in turn
# (rooms/directory.py: encoded once). A server frame is unmasked and no extension is negotiated, so the frame is the
# same bytes on every connection: it is built once for all of them (docs/benchmarks/rooms.md).
_last_text: str | None = None
_last_frame = b""
_last_data: bytes | None = None
_last_binary_frame = b""


def text_frame(text: str) -> bytes:
    global _last_text, _last_frame
    if text is not _last_text:
        _last_text, _last_frame = text, encode_frame(TEXT, text.encode())
    return _last_frame


def binary_frame(data: bytes) -> bytes:
    global _last_data, _last_binary_frame
    if data is not _last_data:
        _last_data, _last_binary_frame = data, encode_frame(BINARY, data)
    return _last_binary_frame


class State(enum.Enum):
    OPEN = "open"  # messages flow both ways
    CLOSING = "closing"  # one side's close frame is out, the other's not yet
    CLOSED = "closed"  # both close frames crossed, or the TCP connection is gone


class Transport(Protocol):
    """What the connection asks of the I/O side."""

    def write(self, data: bytes) -> None: ...

    def close_now(self) -> None:
        """Close the TCP connection (the close handshake is over, or the peer broke the protocol)."""

    def close_after_timeout(self) -> None:
        """Our close frame is out: close the TCP connection if the peer has not answered in time."""

    def writable(self) -> bool:
        """False while the outgoing buffer is over its high-water mark (the peer is not reading)."""

    async def drain(self) -> None:
        """Returns once the outgoing buffer is under its mark (at once when it is), or the connection is gone."""


class ConnectionClosed(ConnectionError):
    """A send on a connection whose close frame is already out, or whose TCP connection is gone."""


class WebSocketConnection:
    def __init__(self, handler: Handler, transport: Transport, max_message_bytes: int):
        self.handler = handler
        self.state = State.OPEN
        self.close_sent = False
        self.close_received = False
        self._transport = transport
        # None once the peer broke the protocol: nothing more it sends is read.
        self.reader: FrameReader | None = FrameReader(max_message_bytes)
        self.pongs = 0  # pongs received: a handler that pings (a room listener's keepalive) counts the answers

    # -- bytes in ----------------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Everything but the live stream's whole binary frames, which the I/O side hands to the handler itself
        (`reader.whole_binary_frame(s)`, see uvicorn_adapter.py): the two paths decide alike."""
        reader = self.reader
        if reader is None or self.state is State.CLOSED:
            return
        try:
            messages = reader.feed(data)
        except ProtocolError as broken:
            self.reader = None
            self._deliver(reader, broken.messages)
            self._fail(broken.code, broken.reason)
            return
        self._deliver(reader, messages)

    def _deliver(self, reader: FrameReader, messages: list[tuple[int, bytes]]) -> None:
        handler = self.handler
        for opcode, payload in messages:
            if opcode == BINARY:
                if not self.close_received:
                    handler.binary(payload)
            elif opcode == TEXT:
                if self.close_received:
                    continue
                try:
                    text = payload.decode()
                except UnicodeDecodeError:
                    self.reader = None
                    self._fail(1007, "text frame is not valid UTF-8")
                    return
                handler.text(text)
            elif opcode == CLOSE:
                self._on_close_frame(payload)
            elif opcode == PING:
                handler.frame_without_message()
                # Answered only while the peer reads what it is sent: a peer that floods pings and never reads
                # would otherwise fill the outgoing buffer with pongs.
                if not self.close_sent and self._transport.writable():
                    self._transport.write(encode_frame(PONG, payload))
            elif opcode == FRAGMENT:
                handler.frame_without_message()
            elif opcode == OVERSIZE:
                handler.message_too_big(reader.oversize_bytes, reader.max_message_bytes)
            elif opcode == PONG:
                self.pongs += 1  # an answer to send_ping, or unsolicited (RFC 6455 allows it): counted, nothing more

    def _on_close_frame(self, payload: bytes) -> None:
        if self.close_received:
            return
        self.close_received = True
        if self.close_sent:  # the peer answered ours: the handshake is complete
            self.state = State.CLOSED
            self._transport.close_now()
            return
        try:
            code, _ = parse_close(payload)
            answer = None if code == NO_STATUS else code
        except ProtocolError as broken:  # the peer is closing anyway: answered with why, nothing more to say
            code = answer = broken.code
        # The peer ends the connection: answer with its code (RFC 6455 5.5.1), then tell the handler.
        self.send_close(answer)
        self.handler.closed_by_peer(code)

    def _fail(self, code: int, reason: str) -> None:
        """The peer broke the protocol: nothing more is read; the handler may say why first (it then sends the
        close itself), else the close goes now."""
        if not self.handler.protocol_failed(code, reason):
            self.send_close(code)

    # -- bytes out ---------------------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self._write(text_frame(text))

    def send_ping(self, payload: bytes = b"") -> None:
        self._write(encode_frame(PING, payload))

    def send_binary(self, data: bytes) -> None:
        self._write(binary_frame(data))

    def _write(self, frame: bytes) -> None:
        if self.close_sent or self.state is State.CLOSED:
            raise ConnectionClosed("the connection is closing")
        self._transport.write(frame)

    def writable(self) -> bool:
        """Whether a send now goes out without piling up: the socket's buffer is under its high-water mark."""
        return self._transport.writable()

    async def drain(self) -> None:
        """Waits while the peer is not reading what it was sent (back-pressure for a handler's sender task)."""
        await self._transport.drain()
        if self.state is State.CLOSED:
            raise ConnectionClosed("the connection is gone")

    def send_close(self, code: int | None) -> None:
        """Our close frame (without a code when `code` is None); a second call does nothing."""
        if self.close_sent or self.state is State.CLOSED:
            return
        self.close_sent = True
        self._transport.write(encode_frame(CLOSE, b"") if code is None else encode_close(code))
        if self.close_received or self.reader is None:
            self.state = State.CLOSED
            self._transport.close_now()
        else:
            self.state = State.CLOSING
            self._transport.close_after_timeout()

    # -- the I/O side's news -------------------------------------------------------------------------------

    def abandon(self) -> None:
        """The handler is done with a peer that never closed: close the TCP connection without a handshake."""
        if not self.close_sent and self.state is not State.CLOSED:
            self.state = State.CLOSED
            self._transport.close_now()

    def connection_lost(self) -> None:
        self.state = State.CLOSED
        self.handler.disconnected()
