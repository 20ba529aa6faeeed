"""How the gateway is served: uvicorn for HTTP and the app, our WebSocket connection for /ws/audio, on one port.

The only module that knows uvicorn's internals. uvicorn parses every HTTP request, in `GuardedHttpProtocol`: its
httptools protocol with the limits of a socket before it is a session (socket_limits.py, docs/security.md). An
upgrade it hands to the protocol named by its `ws` setting, which here is `UvicornWebSocket`: for a path in its routes it answers the
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

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from babelstream.gateway.access.redaction import install_redaction
from babelstream.gateway.socket_limits import SocketLimits, SocketTicket
from babelstream.gateway.websocket.audio_handler import AUDIO_PATH, AudioHandler
from babelstream.gateway.websocket.connection import WebSocketConnection
from babelstream.gateway.websocket.handler import Handler
from babelstream.gateway.websocket.listen_handler import LISTEN_PATH, ListenHandler
from babelstream.gateway.websocket.handshake import (
    HandshakeRefused,
    UpgradeRequest,
    http_response,
    parse_request_head,
    switching_protocols,
)

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway
    from babelstream.gateway.trusted_proxies import TrustedProxies

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
    **options: Any,
) -> uvicorn.Config:
    """/ws/audio and /ws/listen are the gateway's; `routes` adds others (the tests' echo route for the Autobahn suite)."""
    all_routes: dict[str, HandlerFactory] = {
        AUDIO_PATH: lambda request, start_task: AudioHandler(gateway, request, start_task),
        LISTEN_PATH: lambda request, start_task: ListenHandler(gateway, request),
        **(routes or {}),
    }
    protocol = functools.partial(
        UvicornWebSocket, routes=all_routes, max_message_bytes=gateway.settings.max_chunk_bytes,
    )
    options.setdefault("log_level", "info")
    install_redaction()  # uvicorn's access log writes query strings, and a credential may be in one
    settings = gateway.settings
    proxies = list(settings.trusted_proxies)
    http = functools.partial(
        GuardedHttpProtocol,
        guard=BeforeUpgrade(
            gateway.socket_limits,
            gateway.trusted_proxies,
            settings.max_header_bytes,
            settings.handshake_timeout_seconds,
        ),
    )
    # uvicorn's own X-Forwarded-For handling (the client its access log and the app see) trusts 127.0.0.1 unless
    # told otherwise; it must trust exactly whom our limits trust, so both see the same client.
    return uvicorn.Config(
        app, host=host, port=port, http=http, ws=protocol, lifespan="on",
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies, **options,
    )


@dataclasses.dataclass(frozen=True)
class BeforeUpgrade:
    """What every HTTP connection of one server shares: the counts, whom to trust, the head's limits."""

    limits: SocketLimits
    proxies: TrustedProxies  # TRUSTED_PROXIES (the gateway's: the gRPC door asks the same)
    max_header_bytes: int
    handshake_timeout_seconds: float


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with what a socket may cost before it is a session, and a whole upgrade.

    uvicorn's own protocol holds a socket that never completes its request head for ever, parses a head of any
    size (a 100 MiB one cost 14 s of CPU, the whole process stalled), upgrades HTTP/1.0 (its re-serialised head
    always says HTTP/1.1) and drops what the client sent after the head in the same packet (a first frame
    pipelined behind the upgrade request). Here:
    - a socket over MAX_SOCKETS, or over MAX_CONNECTIONS_PER_IP from its address, is closed as it opens;
    - a request head must be complete within HANDSHAKE_TIMEOUT_SECONDS of the socket opening (on a kept-alive
      connection, of the first byte after a response: uvicorn's keep-alive timeout covers the wait before it) and
      within MAX_HEADER_BYTES (431);
    - an upgrade request is counted against its client's address (429 past the per-address limits), then handed
      to the `ws` protocol with its true HTTP version (handshake.py refuses 1.0) and the bytes that followed it.
    """

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None, *, guard: BeforeUpgrade):
        super().__init__(config, server_state, app_state, _loop)
        self._guard = guard
        self._ticket: SocketTicket | None = None
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._upgraded: asyncio.Protocol | None = None  # whom the socket was handed to
        self._after_head = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = get_remote_addr(transport)
        address = peer[0] if peer else None
        self._ticket = self._guard.limits.open(address, proxy=address in self._guard.proxies)
        if self._ticket is None:
            self.transport = transport
            transport.close()  # before reading a byte: a full server spends nothing more on it
            return
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._ticket is None:
            return  # refused as it opened: uvicorn never knew it
        self._ticket.release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, but a head is fed at most MAX_HEADER_BYTES, and an upgrade gets the bytes after its head.
        self._unset_keepalive_if_required()
        limit = self._guard.max_header_bytes
        while data:
            if self._in_head or (self.cycle is not None and self.cycle.response_complete):
                # Bytes that are not a request being served start the clock (uvicorn stops its keep-alive timer at
                # any byte): a trickle of blank lines, or of the body of a request already answered, gets no longer.
                self._arm_head_timer()
            # Fed in slices of at most the limit, bodies too: a head that begins inside a slice (behind a body or
            # another request) is counted from the next one, so no head is parsed past twice the limit.
            if self._in_head:
                room = limit - self._head_bytes
                if room <= 0:
                    self._guard.limits.refused("header_too_large", self._peer())
                    return self._refuse(431, f"the request head is over {limit} bytes")
                chunk, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
                self._head_bytes += len(chunk)
            else:
                chunk, data = (data, b"") if len(data) <= limit else (data[:limit], data[limit:])
            try:
                self.parser.feed_data(chunk)
            except httptools.HttpParserError:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                return self.send_400_response(msg)
            except httptools.HttpParserUpgrade as upgrade:
                if self._should_upgrade():
                    self._upgrade(chunk[upgrade.args[0]:])
                else:
                    self._unsupported_upgrade_warning()
            if self._upgraded is not None:
                rest = self._after_head + data
                if rest and not self.transport.is_closing():
                    self._upgraded.data_received(rest)  # a client's first frame, sent right behind its request
                return
            if self.transport.is_closing():
                return

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0
        super().on_message_complete()

    def _upgrade(self, after_head: bytes) -> None:
        """uvicorn's handle_websocket_upgrade, with the limits per client address, the request's own HTTP version
        and the bytes that followed the head."""
        refusal = self._guard.limits.upgrade(self._ticket, self._client_address())
        if refusal is not None:
            return self._refuse(429, refusal, (("Retry-After", "1"),))
        self.connections.discard(self)
        version = self.parser.get_http_version().encode("ascii")
        output = [self.scope["method"].encode(), b" ", self.url, b" HTTP/", version, b"\r\n"]
        for name, value in self.scope["headers"]:
            output += [name, b": ", value, b"\r\n"]
        output.append(b"\r\n")
        protocol = self.ws_protocol_class(  # type: ignore[misc]
            config=self.config, server_state=self.server_state, app_state=self.app_state, socket_ticket=self._ticket
        )
        protocol.connection_made(self.transport)
        protocol.data_received(b"".join(output))
        self.transport.set_protocol(protocol)
        self._upgraded, self._after_head = protocol, after_head

    def _client_address(self) -> str:
        """The peer, or from a trusted proxy the client its X-Forwarded-For names (as uvicorn's middleware reads it)."""
        peer = self.client[0] if self.client else ""
        forwarded = b", ".join(value for name, value in self.headers if name == b"x-forwarded-for")
        return self._guard.proxies.client(peer, forwarded.decode("latin-1"))

    def _refuse(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._disarm_head_timer()
        self.transport.write(http_response(status, reason, headers))
        self.transport.close()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self._guard.handshake_timeout_seconds, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        # A silent socket or a slowloris: nothing to answer (it may not be reading); the socket is what it costs.
        self._head_timer = None
        if not self.transport.is_closing():
            self._guard.limits.refused("handshake_timeout", self._peer())
            self.transport.close()

    def _peer(self) -> str | None:
        return self._ticket.client if self._ticket is not None else None


class UvicornWebSocket(asyncio.Protocol):
    """One TCP connection, from the upgrade request uvicorn parsed to the close; the connection's Transport."""

    # Slots: a gateway holds one per live stream and per room listener (thousands); no per-object dict.
    __slots__ = (
        "_close_timer", "_connection", "_connections", "_default_headers", "_fallback", "_handler", "_loop", "_lost",
        "_max_message_bytes", "_reader", "_routes", "_tasks", "_ticket", "_transport", "_uvicorn", "_writable",
    )

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        *,
        routes: Mapping[str, HandlerFactory],
        max_message_bytes: int,
        socket_ticket: SocketTicket | None = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ):
        self._uvicorn = (config, server_state, app_state)
        self._ticket = socket_ticket  # the socket's place in the counts (GuardedHttpProtocol), released on close
        self._routes = routes
        self._max_message_bytes = max_message_bytes
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
                reader = self._reader
                payload = reader.whole_binary_frame(data)
                if payload is not None:  # the hot path: one 20 ms frame of a live stream
                    sink(payload)
                    return
                payloads = reader.whole_binary_frames(data)
                if payloads is not None:  # the loop is behind and TCP joined several: the same path, not the slow one
                    for payload in payloads:
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
        if self._ticket is not None:
            self._ticket.release()
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
        if self._ticket is not None:
            request = dataclasses.replace(request, client=self._ticket.client)
        try:
            response = switching_protocols(request, tuple(self._default_headers))
        except HandshakeRefused as refused:
            self._transport.write(refused.response)
            self._transport.close()
            return
        self._transport.write(response)
        handler = factory(request, self._start_task)
        self._connection = WebSocketConnection(
            handler, self, self._max_message_bytes
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
