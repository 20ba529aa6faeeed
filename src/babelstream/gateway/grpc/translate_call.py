"""One Translate call: admitted as /ws/audio's upgrade is (Gateway.admit: credential, load, capacity), then what the
client streams goes into a Session and what the session sends comes back as ServerMessages. The session's end is
the call's status (status.py).

Also the Session's Connection (gateway/connection.py): `send` awaits grpc.aio's write, which waits on HTTP/2 flow
control while the client is not reading, so the session's outbox fills and MAX_SEND_QUEUE_BYTES ends a client that
never reads (slow_reader), as on the WebSocket.

The session runs in a task of its own: a call that is cancelled (the client cancels, its deadline passes, its
connection drops) cancels this handler, and the session must still publish what it holds (the audio rule).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
from google.protobuf.message import DecodeError

from babelstream.gateway import messages
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.grpc import proto_messages
from babelstream.gateway.grpc.status import ending_of
from babelstream.gateway.requests import DoneRequest, malformed
from babelstream.gateway.session import Session
from babelstream.gateway.socket_limits import SocketTicket
from babelstream.gateway.websocket.handshake import UpgradeRequest
from babelstream.v1 import stream_pb2

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway
    from babelstream.gateway.trusted_proxies import TrustedProxies

log = logging.getLogger(__name__)

TRANSPORT = "grpc"
_DONE = DoneRequest()


def _no_message(_: object) -> None:
    raise malformed("a ClientMessage must carry config, audio or done")


class Unreadable:
    """What the client sent is not a ClientMessage: the session ends `protocol_error`, as a WebSocket frame that
    breaks RFC 6455 does (grpc's own handling would end the call as if the client had left)."""

    def __init__(self, error: DecodeError):
        self.reason = f"a message that is not a babelstream.v1.ClientMessage ({error})"


def client_message(data: bytes) -> stream_pb2.ClientMessage | Unreadable:
    """The request deserializer of Translate."""
    try:
        return stream_pb2.ClientMessage.FromString(data)
    except DecodeError as error:
        return Unreadable(error)


def peer_host(peer: str) -> str | None:
    """`ipv4:127.0.0.1:5000` -> `127.0.0.1`; `ipv6:[::1]:5000` -> `::1`."""
    scheme, _, address = peer.partition(":")
    if scheme == "ipv6":
        return address.partition("]")[0].lstrip("[")
    if scheme == "ipv4":
        return address.rpartition(":")[0]
    return address or None


def call_request(context: grpc.aio.ServicerContext, method: str, *, tls: bool,
                 proxies: TrustedProxies) -> UpgradeRequest:
    """The call as admission reads a request: its metadata as headers (lower-case names; repeated ones joined, so
    two `authorization` entries are refused as two Authorization headers are), no query string. Its client is the
    peer, or the one a trusted proxy's `x-forwarded-for` names, as on the WebSocket door."""
    headers: dict[str, str] = {}
    for name, value in context.invocation_metadata() or ():
        if name.endswith("-bin") or not isinstance(value, str):
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    peer = peer_host(context.peer() or "") or ""
    return UpgradeRequest("POST", method, headers, scheme="https" if tls else "http", http_version="HTTP/2",
                          client=proxies.client(peer, headers.get("x-forwarded-for", "")) or None)


def metadata_bytes(context: grpc.aio.ServicerContext) -> int:
    """The call's metadata as HTTP/2 counts a header list (name + value + 32 per entry): what MAX_HEADER_BYTES
    bounds, as it bounds a WebSocket upgrade's head."""
    return sum(len(name) + len(value) + 32 for name, value in context.invocation_metadata() or ())


class TranslateCall:
    encode = staticmethod(proto_messages.encode)  # Connection: protobuf bytes

    def __init__(self, gateway: Gateway, context: grpc.aio.ServicerContext, request: UpgradeRequest):
        self._gateway = gateway
        self._context = context
        self._request = request
        self.session: Session | None = None
        self._reader: asyncio.Task | None = None

    async def run(self, requests: AsyncIterator[stream_pb2.ClientMessage]) -> None:
        if self._metadata_too_large():
            return
        ticket = self._hold_socket()
        if isinstance(ticket, SessionEnded):
            return self._end_with(ticket)
        admitted = self._gateway.admit(self._request, transport=TRANSPORT)
        if isinstance(admitted, SessionEnded):
            ticket.release()
            return self._end_with(admitted)
        try:
            session = Session(self, self._gateway.session_context, principal=admitted, client=self._request.client,
                              transport=TRANSPORT)
        except BaseException:
            self._gateway.release()
            ticket.release()
            raise
        self.session = session
        running = asyncio.ensure_future(session.run())

        def over(_: asyncio.Future) -> None:
            self._gateway.release()
            ticket.release()

        running.add_done_callback(over)
        # The reader ends with the call (its iterator ends or fails once this handler returns); what it reads after
        # the session's end the session ignores, as the WebSocket's does. Held: a task nobody holds may be collected.
        self._reader = asyncio.create_task(self._read(requests, session))
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            session.disconnected()  # its task goes on: what was said is published
            raise
        except Exception:
            log.exception("session %s failed", session.correlation_id)
            return self._end_with(SessionEnded(CloseCode.INTERNAL_ERROR, "internal error", kind=Kind.INTERNAL))
        if session.ended is not None:
            self._end_with(session.ended)

    def _metadata_too_large(self) -> bool:
        """Metadata over MAX_HEADER_BYTES end the call before it counts for anything, as a head over it gets a 431
        (and, like the 431, without a kind). gRPC's own bound is set above this one (server.py): at it, grpc
        refuses the call itself, but only after this handler has started, so it could begin a session."""
        size, limit = metadata_bytes(self._context), self._gateway.settings.max_header_bytes
        if size <= limit:
            return False
        self._gateway.socket_limits.refused("header_too_large", self._request.client)
        self._context.set_code(grpc.StatusCode.RESOURCE_EXHAUSTED)
        self._context.set_details(f"metadata size {size} bytes is over the server's limit of {limit} (MAX_HEADER_BYTES)")
        return True

    def _hold_socket(self) -> SocketTicket | SessionEnded:
        """A call counts as a WebSocket's socket does before it is a session (socket_limits.py): toward MAX_SOCKETS
        and MAX_CONNECTIONS_PER_IP while it lasts, and toward MAX_HANDSHAKES_PER_SECOND_PER_IP as it starts. HTTP/2
        carries many calls on one connection, so the call, not the connection, is what is counted."""
        limits = self._gateway.socket_limits
        client = self._request.client or "unknown"
        ticket = limits.open(client)
        if ticket is None:
            reason = (f"the server holds all the connections it may ({limits.max_sockets})"
                      if limits.open_sockets >= limits.max_sockets
                      else f"more than {limits.max_per_address} connections from one address")
            return SessionEnded(CloseCode.TRY_AGAIN_LATER, f"{reason}; try again later", kind=Kind.CAPACITY)
        too_fast = limits.call(client)
        if too_fast is not None:
            ticket.release()
            return SessionEnded(CloseCode.POLICY_VIOLATION, too_fast, kind=Kind.RATE)
        return ticket

    async def _read(self, requests: AsyncIterator[stream_pb2.ClientMessage], session: Session) -> None:
        try:
            async for request in requests:
                if isinstance(request, Unreadable):
                    session.refuse_message(SessionEnded(CloseCode.PROTOCOL_ERROR, request.reason,
                                                        kind=Kind.PROTOCOL_ERROR))
                    continue
                case = request.WhichOneof("message")
                if case == "audio":
                    session.receive_bytes(request.audio.pcm)
                elif case == "config":
                    session.receive_request(request.config, proto_messages.start_request)
                elif case == "done":
                    session.receive_request(_DONE)
                else:
                    session.receive_request(request, _no_message)
            # The client closed its side of the stream: as done (a generated client's CloseSend needs no `done`).
            session.receive_request(_DONE)
        except (asyncio.CancelledError, Exception) as failure:  # the call is over (ended, cancelled, reset)
            log.debug("session %s: reading the call failed: %s", session.correlation_id, failure)
            session.disconnected()

    def shutdown(self) -> None:
        """The gateway is stopping: the session publishes what it holds, and the call ends UNAVAILABLE `shutdown`."""
        if self.session is not None and self.session.reading:
            self.session.refuse_message(
                SessionEnded(CloseCode.SERVICE_RESTART, "the gateway is shutting down; reconnect", kind=Kind.SHUTDOWN)
            )

    def _end_with(self, ended: SessionEnded) -> None:
        ending = ending_of(messages.error(ended))
        self._context.set_code(ending.code)
        self._context.set_details(ending.details)
        self._context.set_trailing_metadata(ending.trailing_metadata)

    # -- Connection (what the session's outbox calls) ----------------------------------------------------

    async def send(self, encoded: bytes) -> None:
        if encoded is proto_messages.ERROR_IN_STATUS:
            return  # the error ends the call as its status, once the session is over (`run`)
        await self._context.write(encoded)

    async def close(self, code: int) -> None:
        """Nothing to send: the call ends when the session's task does (`run`), with the session's error as its
        status, or OK."""
