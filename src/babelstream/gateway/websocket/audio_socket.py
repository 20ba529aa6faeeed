"""/ws/audio served natively: an asyncio protocol that uvicorn hands WebSocket upgrades to (its `ws` setting).

Each audio frame goes from `data_received` through the frame parser straight into `Session.receive_bytes`, on
the same callback: no queue, no task wake-up, no ASGI await chain, no pause/resume of reading per message.
That took one process from 400 to 900 live streams on one core, and with the C parts (_frames.c, the C
endpointer) to 1,000 with room (docs/benchmarks/gateway-capacity.md).
Upgrades to any other path go to uvicorn's own WebSocket protocol, i.e. to the ASGI app, unchanged.

Wire behaviour is the ASGI path's: the server speaks first, every early end sends the JSON error then the close
frame. What only this path can do: a frame over MAX_CHUNK_BYTES is refused from its header, before its payload
is read; frames that break RFC 6455 end the session with 1002; text that is not UTF-8 with 1007.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway import messages
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.session import Session, frame_too_large
from babelstream.gateway.websocket.frames import (
    BINARY,
    CLOSE,
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
from babelstream.gateway.websocket.handshake import HandshakeRefused, parse_request_head, switching_protocols

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway

log = logging.getLogger(__name__)

AUDIO_PATH = "/ws/audio"
# How long the server waits for the client's answer to its close frame before closing the TCP connection.
CLOSE_TIMEOUT_SECONDS = 5.0


class ConnectionGone(ConnectionError):
    """A send on a socket that is closed or closing."""


class AudioSocketProtocol(asyncio.Protocol):
    """One TCP connection, from the upgrade request uvicorn parsed to the close. Also the session's Connection."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        *,
        gateway: Gateway,
        fallback: type[asyncio.Protocol],
        _loop: asyncio.AbstractEventLoop | None = None,
    ):
        self._uvicorn = (config, server_state, app_state)
        self._gateway = gateway
        self._fallback_class = fallback
        self._fallback: asyncio.Protocol | None = None
        self._connections: set = server_state.connections
        self._tasks: set = server_state.tasks
        self._default_headers: list[tuple[bytes, bytes]] = server_state.default_headers
        self._loop = _loop or asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._reader: FrameReader | None = FrameReader(gateway.settings.max_chunk_bytes)
        self._session: Session | None = None
        self._streaming: Session | None = None  # the session while its frames take the hot path below
        self._upgraded = False
        self._close_sent = False
        self._close_received = False
        self._lost = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None  # pending while the transport's buffer is over its mark

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        streaming = self._streaming
        if streaming is not None:
            audio = self._reader.whole_binary_frame(data)
            if audio is not None:  # the hot path: one 20 ms frame of a live stream
                streaming.receive_bytes(audio)
                return
        reader = self._reader
        if self._fallback is not None:
            return self._fallback.data_received(data)
        if not self._upgraded:
            return self._upgrade(data)
        if reader is None:  # failed connection: nothing more is read
            return
        try:
            messages = reader.feed(data)
        except ProtocolError as broken:
            self._reader = None
            self._streaming = None
            self._deliver(reader, broken.messages)
            return self._fail(SessionEnded(broken.code, broken.reason, kind=Kind.PROTOCOL_ERROR))
        self._deliver(reader, messages)

    def _deliver(self, reader: FrameReader, messages: list[tuple[int, bytes]]) -> None:
        session = self._session
        for opcode, payload in messages:
            if opcode == BINARY:
                if session is not None:
                    session.receive_bytes(payload)
            elif opcode == TEXT:
                if session is not None:
                    self._on_text(session, payload)
            elif opcode == CLOSE:
                self._on_close_frame(payload)
            elif opcode == PING:
                if not self._close_sent:
                    self._transport.write(encode_frame(PONG, payload))
            elif opcode == OVERSIZE:
                if session is not None:
                    session.refuse_message(frame_too_large(reader.oversize_bytes, reader.max_message_bytes))
            # PONG: unsolicited (the server sends no pings); ignored as RFC 6455 allows.

    def eof_received(self) -> bool | None:
        if self._fallback is not None:
            return self._fallback.eof_received()
        return None  # let the transport close itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self._fallback is not None:
            return self._fallback.connection_lost(exc)
        self._lost = True
        self._connections.discard(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._wake_writers()
        if self._session is not None:
            self._session.disconnected()

    def pause_writing(self) -> None:
        if self._fallback is not None:
            return self._fallback.pause_writing()
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._fallback is not None:
            return self._fallback.resume_writing()
        self._wake_writers()

    def shutdown(self) -> None:
        """uvicorn is stopping: the session publishes what it holds, tells the client why, and closes 1012."""
        if self._session is not None and self._session.reading:
            self._session.refuse_message(
                SessionEnded(CloseCode.SERVICE_RESTART, "the gateway is shutting down; reconnect", kind=Kind.SHUTDOWN)
            )
        elif self._session is None and self._transport is not None:
            self._transport.close()

    # -- Connection (what the session and its outbox call) -------------------------------------------

    async def send_text(self, text: str) -> None:
        if self._lost or self._close_sent:
            raise ConnectionGone("the socket is closed")
        self._transport.write(encode_frame(TEXT, text.encode()))
        if self._writable is not None:
            await asyncio.shield(self._writable)
            if self._lost:
                raise ConnectionGone("the client went away while the server was sending")

    async def close(self, code: int) -> None:
        self._send_close(int(code))

    # -- upgrade ---------------------------------------------------------------------------------------

    def _upgrade(self, head: bytes) -> None:
        request = parse_request_head(head)
        if request.path != AUDIO_PATH:
            return self._hand_over(head)
        try:
            response = switching_protocols(request, tuple(self._default_headers))
        except HandshakeRefused as refused:
            self._transport.write(refused.response)
            self._transport.close()
            return
        self._upgraded = True
        self._transport.write(response)
        refusal = self._gateway.admit(request.origin)
        if refusal is not None:
            self._transport.write(encode_frame(TEXT, messages.encode(messages.error(refusal)).encode()))
            self._send_close(refusal.code)
            return
        try:
            self._session = self._streaming = Session(self, self._gateway.session_context)
        except BaseException:
            self._gateway.release()
            raise
        task = self._loop.create_task(self._run_session(self._session))
        self._tasks.add(task)  # uvicorn waits for these at shutdown
        task.add_done_callback(self._tasks.discard)

    def _hand_over(self, head: bytes) -> None:
        """Not /ws/audio: uvicorn's own protocol serves it through the ASGI app (which refuses unknown paths, 403)."""
        config, server_state, app_state = self._uvicorn
        self._connections.discard(self)
        self._fallback = self._fallback_class(config=config, server_state=server_state, app_state=app_state)
        self._fallback.connection_made(self._transport)
        self._fallback.data_received(head)

    async def _run_session(self, session: Session) -> None:
        try:
            await session.run()
        except Exception:
            log.exception("session %s failed", session.correlation_id)
            self._send_close(CloseCode.INTERNAL_ERROR)
        finally:
            self._gateway.release()
            if not self._close_sent and self._transport is not None:
                self._transport.close()  # the client left without a close handshake

    # -- incoming control and text ---------------------------------------------------------------------

    @staticmethod
    def _on_text(session: Session, payload: bytes) -> None:
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            session.refuse_message(
                SessionEnded(CloseCode.INVALID_PAYLOAD, "text frame is not valid UTF-8", kind=Kind.MALFORMED)
            )
            return
        session.receive_text(text)

    def _on_close_frame(self, payload: bytes) -> None:
        self._close_received = True
        if self._close_sent:  # the client answered ours: the handshake is complete
            self._transport.close()
            return
        try:
            code, _ = parse_close(payload)
        except ProtocolError as broken:
            code = broken.code
        # The client ends the stream: echo its close, then the session publishes what it holds (ClientGone).
        self._send_close(None if code == 1005 else code)
        if self._session is not None:
            self._session.disconnected()

    # -- closing ---------------------------------------------------------------------------------------

    def _fail(self, ended: SessionEnded) -> None:
        """The client broke the protocol: the session ends with the reason; the socket closes without waiting."""
        if self._session is not None and self._session.reading:
            self._session.refuse_message(ended)
        else:
            self._send_close(ended.code)

    def _send_close(self, code: int | None) -> None:
        if self._close_sent or self._lost:
            return
        self._close_sent = True
        self._transport.write(encode_frame(CLOSE, b"") if code is None else encode_close(code))
        if self._close_received or self._reader is None:
            self._transport.close()
        else:
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT_SECONDS, self._transport.close)

    def _wake_writers(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)
