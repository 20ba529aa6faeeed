"""/ws/audio served by picows (a maintained Cython WebSocket library) on uvicorn's port: `WS_AUDIO_SERVER=picows`.

uvicorn parses the HTTP upgrade and creates `PicowsUpgrade` (its `ws` setting). For /ws/audio that builds picows's
own server-side protocol, gives it the transport and the request head, and swaps it in with
`transport.set_protocol`: from then on uvloop (or asyncio) calls picows directly, which parses each frame in C and
calls `AudioListener.on_ws_frame`, which hands the payload to `Session.receive_bytes`. Other paths are swapped to
uvicorn's own WebSocket protocol, i.e. the ASGI app. Whether this replaces the native protocol (audio_socket.py) is
decided by docs/benchmarks/gateway-capacity.md ("WebSocket layer: native vs picows").

Wire behaviour is the native path's, with what picows decides itself:
- a frame over MAX_CHUNK_BYTES is refused from its header (picows's `max_frame_size`), before its payload is
  buffered; picows sends the close 1009 itself, so the client gets no JSON error before it (the session still ends
  as `frame_too_large` and keeps no audio). A fragmented message over the limit gets the JSON error and 1009.
- frames that break RFC 6455 at the frame level (unmasked, unknown opcode, oversize control frame, bad close code)
  are closed 1002 by picows, also without the JSON error; the audio received before is published, as natively.
- a client close without a code is answered with 1000 (picows cannot send a close frame without a code).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from picows import WSAutoPingStrategy, WSListener, WSMsgType, WSUpgradeResponse, WSUpgradeResponseWithListener
from picows.picows import WSProtocol  # ws_create_server's protocol; constructed here as ws_create_server does

from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import SessionEnded
from babelstream.gateway.protocol import encode, error
from babelstream.gateway.session import Session, frame_too_large
from babelstream.gateway.websocket.handshake import (
    HandshakeRefused,
    UpgradeRequest,
    parse_request_head,
    switching_protocols,
)

if TYPE_CHECKING:
    from picows import WSFrame, WSTransport, WSUpgradeRequest

    from babelstream.gateway.service import Gateway

log = logging.getLogger(__name__)

AUDIO_PATH = "/ws/audio"
# How long the server waits for the client's answer to its close frame before closing the TCP connection.
CLOSE_TIMEOUT_SECONDS = 5.0
BINARY = WSMsgType.BINARY
TEXT = WSMsgType.TEXT
CONTINUATION = WSMsgType.CONTINUATION
CLOSE = WSMsgType.CLOSE
# picows answers pings itself (enable_auto_pong) and tells the listener nothing of them.


class ConnectionGone(ConnectionError):
    """A send on a socket that is closed or closing."""


class PicowsUpgrade(asyncio.Protocol):
    """What uvicorn creates for every WebSocket upgrade: picks the protocol for the path and swaps it in.

    uvicorn calls `connection_made`, then `data_received` with the request head, and only then sets this object as
    the transport's protocol; so the swap to the chosen protocol is made on the next loop pass, and anything that
    arrives before it is passed on.
    """

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        *,
        gateway: Gateway,
        fallback: type[asyncio.Protocol],
    ):
        self._uvicorn = (config, server_state, app_state)
        self._gateway = gateway
        self._fallback_class = fallback
        self._transport: asyncio.Transport | None = None
        self._target: Any = None  # the protocol the connection is handed to

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._target is not None:
            return self._pass_on(data)
        config, server_state, app_state = self._uvicorn
        request = parse_request_head(data)
        if request.path == AUDIO_PATH:
            try:
                switching_protocols(request)  # the native path's checks and refusals; the 101 itself is picows's
            except HandshakeRefused as refused:
                self._transport.write(refused.response)
                self._transport.close()
                return
            self._target = audio_protocol(self._gateway, server_state)
            data = _canonical_head(request)
        else:  # uvicorn's own protocol serves it through the ASGI app (which refuses unknown paths, 403)
            self._target = self._fallback_class(config=config, server_state=server_state, app_state=app_state)
        self._target.connection_made(self._transport)
        self._pass_on(data)
        asyncio.get_running_loop().call_soon(self._swap)

    def _swap(self) -> None:
        if not self._transport.is_closing():
            self._transport.set_protocol(self._target)

    def _pass_on(self, data: bytes) -> None:
        target = self._target
        if not isinstance(target, asyncio.BufferedProtocol):
            return target.data_received(data)
        view = memoryview(data)
        while view:
            buffer = target.get_buffer(len(view))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            target.buffer_updated(size)
            view = view[size:]

    def eof_received(self) -> bool | None:
        return self._target.eof_received() if self._target is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._target is not None:
            self._target.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._target is not None:
            self._target.pause_writing()

    def resume_writing(self) -> None:
        if self._target is not None:
            self._target.resume_writing()


def _canonical_head(request: UpgradeRequest) -> bytes:
    """The request head as picows reads it: picows 2.3.1 wants `Connection` to be exactly "upgrade", and
    browsers send lists ("keep-alive, Upgrade", Firefox); the request was validated by switching_protocols."""
    headers = {**request.headers, "connection": "Upgrade"}
    lines = [f"{request.method} {request.target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def audio_protocol(gateway: Gateway, server_state: Any) -> WSProtocol:
    """picows's server protocol with the arguments `ws_create_server` gives it (picows 2.3.1)."""

    def listener_for(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        listener = AudioListener(gateway, server_state, request.headers.get("origin"))
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in server_state.default_headers]
        return WSUpgradeResponseWithListener(WSUpgradeResponse.create_101_response(headers), listener)

    return WSProtocol(
        None,  # host and port: client side only
        None,  # path: client side only
        False,  # is_client_side
        listener_for,
        logging.getLogger("picows.server"),
        True,  # disconnect_on_exception
        None,  # handshake timeout: uvicorn has read the request already
        False, 20, 20, WSAutoPingStrategy.PING_WHEN_IDLE,  # no auto ping (the session has its idle timeout)
        True,  # enable_auto_pong
        gateway.settings.max_chunk_bytes,  # max_frame_size: refused from the header, before the payload is buffered
        None,  # extra headers: client side only
        16 * 1024,  # read_buffer_init_size, ws_create_server's default
    )


class AudioListener(WSListener):
    """One /ws/audio connection after the 101: frames into the session; also the session's Connection."""

    def __init__(self, gateway: Gateway, server_state: Any, origin: str | None):
        self._gateway = gateway
        self._connections: set = server_state.connections
        self._tasks: set = server_state.tasks
        self._origin = origin
        self._max_message_bytes = gateway.settings.max_chunk_bytes
        self._loop = asyncio.get_running_loop()
        self._ws: WSTransport | None = None
        self._session: Session | None = None
        self._streaming: Session | None = None  # the session while whole binary frames take the hot path below
        # A fragmented message being joined: its opcode, its pieces, its size; None between messages.
        self._message: tuple[int, list[bytes]] | None = None
        self._message_bytes = 0
        self._failed = False  # the client broke the protocol: nothing more is read
        self._close_sent = False
        self._lost = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None  # pending while the transport's buffer is over its mark

    # -- picows ----------------------------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._ws = transport
        self._connections.add(self)
        refusal = self._gateway.admit(self._origin)
        if refusal is not None:
            transport.send(TEXT, encode(error(refusal.code, refusal.reason)).encode())
            self._send_close(refusal.code)
            return
        try:
            self._session = self._streaming = Session(self, self._gateway)
        except BaseException:
            self._gateway.release()
            raise
        task = self._loop.create_task(self._run_session(self._session))
        self._tasks.add(task)  # uvicorn waits for these at shutdown
        task.add_done_callback(self._tasks.discard)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        streaming = self._streaming
        if (
            streaming is not None
            and frame.msg_type == BINARY
            and frame.fin
            and not (frame.rsv1 or frame.rsv2 or frame.rsv3)
        ):  # the hot path: one 20 ms frame of a live stream
            streaming.receive_bytes(frame.get_payload_as_bytes())
            return
        self._other_frame(frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._lost = True
        self._streaming = None
        self._connections.discard(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._wake_writers()
        if self._session is None:
            return
        handshake = transport.close_handshake
        if not self._close_sent and handshake is not None and handshake.sent is not None:
            # picows closed the connection itself (a frame over the limit, or one that breaks RFC 6455): the session
            # ends with why, so the audio rule and the rejection count are the native path's.
            self._session.refuse_message(_picows_refusal(handshake.sent.code, handshake.sent.reason or ""))
        self._session.disconnected()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        self._wake_writers()

    def shutdown(self) -> None:
        """uvicorn is stopping: the session publishes what it holds, tells the client why, and closes 1012."""
        if self._session is not None and self._session.reading:
            self._session.refuse_message(
                SessionEnded(CloseCode.SERVICE_RESTART, "the gateway is shutting down; reconnect", kind="shutdown")
            )
        elif self._session is None and self._ws is not None:
            self._ws.disconnect()

    # -- Connection (what the session and its outbox call) -------------------------------------------

    async def send_text(self, text: str) -> None:
        if self._lost or self._close_sent or self._ws.is_close_frame_sent:
            raise ConnectionGone("the socket is closed")
        self._ws.send(TEXT, text.encode())
        if self._writable is not None:
            await asyncio.shield(self._writable)
            if self._lost:
                raise ConnectionGone("the client went away while the server was sending")

    async def close(self, code: int) -> None:
        self._send_close(int(code))

    # -- everything but a whole binary frame -------------------------------------------------------------

    def _other_frame(self, frame: WSFrame) -> None:
        if self._failed or self._lost:
            return
        opcode = frame.msg_type
        if opcode == CLOSE:
            return self._on_close_frame(frame)
        if opcode not in (BINARY, TEXT, CONTINUATION):
            return  # PONG: unsolicited (the server sends no pings); ignored as RFC 6455 allows
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            return self._fail("reserved bits set: no extension was negotiated")
        if opcode == CONTINUATION:
            if self._message is None:
                return self._fail("continuation frame without a message to continue")
            opcode, pieces = self._message
        elif self._message is not None:
            return self._fail("new message before the fragmented one ended")
        else:
            pieces = []
        self._message_bytes += frame.payload_size
        if self._message_bytes > self._max_message_bytes:
            return self._refuse(frame_too_large(self._message_bytes, self._max_message_bytes))
        pieces.append(frame.get_payload_as_bytes())
        if not frame.fin:
            self._message = (opcode, pieces)
            self._streaming = None  # a whole binary frame now would break the fragmented message
            return
        self._message = None
        self._message_bytes = 0
        self._streaming = self._session if self._session is not None and self._session.reading else None
        self._deliver(opcode, pieces[0] if len(pieces) == 1 else b"".join(pieces))

    def _deliver(self, opcode: int, payload: bytes) -> None:
        session = self._session
        if session is None:
            return
        if opcode == BINARY:
            session.receive_bytes(payload)
            return
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            session.refuse_message(
                SessionEnded(CloseCode.INVALID_PAYLOAD, "text frame is not valid UTF-8", kind="malformed")
            )
            return
        session.receive_text(text)

    def _on_close_frame(self, frame: WSFrame) -> None:
        if self._close_sent:  # the client answered ours: the handshake is complete
            self._ws.disconnect()
            return
        payload = frame.get_payload_as_bytes()
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else CloseCode.NORMAL
        # The client ends the stream: echo its close, then the session publishes what it holds (ClientGone).
        self._send_close(code)
        if self._session is not None:
            self._session.disconnected()

    # -- closing ---------------------------------------------------------------------------------------

    def _refuse(self, ended: SessionEnded) -> None:
        """A message the session cannot take at all: the session ends with why; fragments are not collected."""
        self._message = None
        self._streaming = None
        self._failed = True
        if self._session is not None and self._session.reading:
            self._session.refuse_message(ended)
        else:
            self._send_close(ended.code)

    def _fail(self, reason: str) -> None:
        """The client broke the protocol: the session ends with 1002; the socket closes without waiting."""
        self._refuse(SessionEnded(CloseCode.PROTOCOL_ERROR, reason, kind="protocol_error"))

    def _send_close(self, code: int) -> None:
        if self._close_sent or self._lost:
            return
        self._close_sent = True
        self._streaming = None
        handshake = self._ws.close_handshake
        self._ws.send_close(code)
        if self._failed or (handshake is not None and handshake.recv is not None):
            self._ws.disconnect()
        else:
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT_SECONDS, self._ws.disconnect)

    async def _run_session(self, session: Session) -> None:
        try:
            await session.run()
        except Exception:
            log.exception("session %s failed", session.correlation_id)
            self._send_close(CloseCode.INTERNAL_ERROR)
        finally:
            self._gateway.release()
            if not self._close_sent and not self._lost:
                self._ws.disconnect()  # the client left without a close handshake

    def _wake_writers(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)


def _picows_refusal(code: int, reason: str) -> SessionEnded:
    if code == CloseCode.MESSAGE_TOO_BIG:
        return SessionEnded(CloseCode.MESSAGE_TOO_BIG, reason, kind="frame_too_large", keep_audio=False)
    return SessionEnded(int(code), reason, kind="protocol_error")
