"""How the gateway is served: uvicorn for HTTP and the app, our WebSocket connection for /ws/audio, on one port.

The only module that knows uvicorn's internals. uvicorn parses every HTTP request; an upgrade it hands to the
protocol named by its `ws` setting, which here is `UvicornWebSocket`: for a path in its routes it answers the
handshake and moves bytes between the socket and a `WebSocketConnection` (connection.py) driving that route's
handler; any other path goes to uvicorn's own WebSocket protocol and so to the app (which has no WebSocket
route: 403). `uvicorn_config` wires it; `babelstream serve|gateway`, the tests and the benchmarks all use it, so
what is measured is what runs.

Per frame of a live stream, `data_received` hands a whole binary frame's payload straight to the handler's
`binary_sink` on the same callback: no queue, no task wake-up, no await chain (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from babelstream.gateway.access.redaction import install_redaction
from babelstream.gateway.websocket.audio_handler import AUDIO_PATH, AudioHandler
from babelstream.gateway.websocket.connection import WebSocketConnection
from babelstream.gateway.websocket.frames import WholeBinaryFrame
from babelstream.gateway.websocket.handler import Handler
from babelstream.gateway.websocket.handshake import HandshakeRefused, UpgradeRequest, parse_request_head, switching_protocols

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway

log = logging.getLogger(__name__)

# How long the server waits for the peer's answer to its close frame, or for a peer that does not read to take
# what is still queued, before it drops the TCP connection.
CLOSE_TIMEOUT_SECONDS = 5.0

# A route: the request -> its handler; `start_task` registers a task uvicorn must wait for at shutdown.
HandlerFactory = Callable[[UpgradeRequest, Callable[[asyncio.Task], None]], Handler]


def uvicorn_config(
    app: Any,
    gateway: Gateway,
    host: str,
    port: int,
    *,
    routes: Mapping[str, HandlerFactory] | None = None,
    whole_frame_parser: type = WholeBinaryFrame,
    **options: Any,
) -> uvicorn.Config:
    """/ws/audio is the gateway's; `routes` adds others (the tests' echo route for the Autobahn suite).
    whole_frame_parser: the live frame's fast path (frames.py); a bench may choose the Python one."""
    all_routes: dict[str, HandlerFactory] = {
        AUDIO_PATH: lambda request, start_task: AudioHandler(gateway, request, start_task),
        **(routes or {}),
    }
    protocol = functools.partial(
        UvicornWebSocket, routes=all_routes, max_message_bytes=gateway.settings.max_chunk_bytes,
        whole_frame_parser=whole_frame_parser,
    )
    options.setdefault("log_level", "info")
    install_redaction()  # uvicorn's access log writes query strings, and a credential may be in one
    return uvicorn.Config(app, host=host, port=port, ws=protocol, lifespan="on", **options)


class UvicornWebSocket(asyncio.Protocol):
    """One TCP connection, from the upgrade request uvicorn parsed to the close; the connection's Transport."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        *,
        routes: Mapping[str, HandlerFactory],
        max_message_bytes: int,
        whole_frame_parser: type = WholeBinaryFrame,
        _loop: asyncio.AbstractEventLoop | None = None,
    ):
        self._uvicorn = (config, server_state, app_state)
        self._routes = routes
        self._max_message_bytes = max_message_bytes
        self._whole_frame_parser = whole_frame_parser
        self._fallback: asyncio.Protocol | None = None
        self._connections: set = server_state.connections
        self._tasks: set = server_state.tasks
        self._default_headers: list[tuple[bytes, bytes]] = server_state.default_headers
        self._loop = _loop or asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._connection: WebSocketConnection | None = None
        self._handler: Handler | None = None
        self._reader = None  # the connection's frame reader, for the fast path
        self._lost = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None  # pending while the transport's buffer is over its mark

    # -- asyncio.Protocol --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        handler = self._handler
        if handler is not None:
            sink = handler.binary_sink
            if sink is not None:
                payload = self._reader.whole_binary_frame(data)
                if payload is not None:  # the hot path: one 20 ms frame of a live stream
                    sink(payload)
                    return
            self._connection.receive_data(data)
        elif self._fallback is not None:
            self._fallback.data_received(data)
        elif self._connection is None:
            self._upgrade(data)

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
        if self._connection is not None:
            self._connection.connection_lost()

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
        """uvicorn is stopping."""
        if self._handler is not None:
            self._handler.shutdown()
        elif self._transport is not None and self._fallback is None:
            self._transport.close()

    # -- the upgrade -------------------------------------------------------------------------------------

    def _upgrade(self, head: bytes) -> None:
        request = parse_request_head(head)
        factory = self._routes.get(request.path)
        if factory is None:
            return self._hand_over(head)
        if self._transport.get_extra_info("sslcontext") is not None:
            request = dataclasses.replace(request, scheme="wss")
        try:
            response = switching_protocols(request, tuple(self._default_headers))
        except HandshakeRefused as refused:
            self._transport.write(refused.response)
            self._transport.close()
            return
        self._transport.write(response)
        handler = factory(request, self._start_task)
        self._connection = WebSocketConnection(
            handler, self, self._max_message_bytes, whole_frame_parser=self._whole_frame_parser
        )
        self._reader = self._connection.reader
        handler.opened(self._connection)
        self._handler = handler

    def _hand_over(self, head: bytes) -> None:
        """Not one of ours: uvicorn's own protocol serves it through the ASGI app."""
        config, server_state, app_state = self._uvicorn
        self._connections.discard(self)
        self._fallback = WebSocketsSansIOProtocol(config=config, server_state=server_state, app_state=app_state)
        self._fallback.connection_made(self._transport)
        self._fallback.data_received(head)

    def _start_task(self, task: asyncio.Task) -> None:
        self._tasks.add(task)  # uvicorn waits for these at shutdown
        task.add_done_callback(self._tasks.discard)

    # -- Transport (what the connection asks of the socket) ------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self._lost:
            self._transport.write(data)

    def close_now(self) -> None:
        if self._lost:
            return
        if self._transport.get_write_buffer_size():
            # What is queued may never be read (a peer that stopped reading): give it the close timeout, then drop.
            self._transport.close()
            self._drop_after_timeout()
        else:
            self._transport.close()

    def close_after_timeout(self) -> None:
        self._drop_after_timeout()

    def _drop_after_timeout(self) -> None:
        # abort(), not close(): close() waits for the buffer to drain, which a peer that does not read never lets
        # happen, and the socket and its buffer would outlive the session.
        if self._close_timer is None and not self._lost:
            self._close_timer = self._loop.call_later(CLOSE_TIMEOUT_SECONDS, self._transport.abort)

    def writable(self) -> bool:
        return self._writable is None

    async def drain(self) -> None:
        if self._writable is not None:
            await asyncio.shield(self._writable)

    def _wake_writers(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)
