"""The gateway: admits sockets, gives each session what it needs, publishes audio and routes results back."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable

from babelstream.bus.base import Bus
from babelstream.bus.event_publisher import EventPublisher
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.events import Event
from babelstream.gateway import access
from babelstream.gateway.admission import ConnectionSlots
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.metrics import GatewayMetrics
from babelstream.gateway.pipeline_load import PipelineLoad
from babelstream.gateway.rooms.directory import RoomDirectory
from babelstream.gateway.resume_token import ResumeTokens
from babelstream.gateway.router import ResultRouter
from babelstream.gateway.session_context import Endpointer, SessionContext, SessionObserver, SessionObservers
from babelstream.gateway.session_log import SessionLog
from babelstream.gateway.session_options import Capabilities, SessionOptionsResolver
from babelstream.gateway.session_trail import read_session_trail
from babelstream.gateway.settings import GatewaySettings
from babelstream.gateway.socket_limits import SocketLimits
from babelstream.gateway.trusted_proxies import TrustedProxies
from babelstream.gateway.websocket.handshake import UpgradeRequest

log = logging.getLogger(__name__)

# What a speaker refused while the bus is unreachable is told to wait: the bus's health is probed every 2 s.
_BUS_RETRY_AFTER_MS = 2000


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        bus: Bus,
        codec: EventCodec,
        new_endpointer: Callable[..., Endpointer],
        capabilities: Capabilities | None = None,
        observer: SessionObserver | None = None,
    ):
        self.settings = settings
        self.bus = bus
        # Read now: a key file or key that cannot be read stops the start (AccessConfigError).
        self.access = access.AccessPolicy.from_settings(settings)
        self.instance_id = f"gateway-{uuid.uuid4().hex[:12]}"
        self.metrics = GatewayMetrics()
        self.slots = ConnectionSlots(settings.max_connections)
        # Before a socket is a session (websocket/uvicorn_adapter.py asks it); its refusals are counted here too.
        self.socket_limits = SocketLimits(
            settings.max_sockets, settings.max_connections_per_ip, settings.max_handshakes_per_second_per_ip
        )
        self.metrics.watch_socket_refusals(self.socket_limits.refusals)
        self.trusted_proxies = TrustedProxies(settings.trusted_proxies)  # whose X-Forwarded-For names the client
        self.metrics.open_connections.set_function(lambda: self.slots.in_use)  # read at scrape time
        self.publisher = EventPublisher(
            bus, codec, on_published=self.metrics.publish_latency.observe, on_failed=self.metrics.publish_failures.inc
        )
        self.listener_slots = ConnectionSlots(settings.max_listeners)
        self.load = PipelineLoad(settings, bus)
        self.rooms = RoomDirectory(settings, bus, codec, self.instance_id, self.metrics)
        self.router = ResultRouter(bus, codec, self.instance_id, rooms=self.rooms,
                                   history_seconds=settings.room_idle_seconds,
                                   reply_partition=settings.gateway_reply_partition,
                                   history_wait_seconds=settings.room_history_wait_seconds)
        # Read through self.router at scrape time: a bench may put another router in its place before start.
        self.metrics.watch_result_reads(lambda: self.router.fetched_bytes, lambda: len(self.router.followed_partitions))
        self.capabilities = capabilities
        self.options = SessionOptionsResolver(settings, self.instance_id, capabilities)
        # What every session of this gateway is given (session.py knows nothing of the Gateway).
        self.session_context = SessionContext(
            settings=settings,
            instance_id=self.instance_id,
            publish=self.publish,
            results=self.router,
            rooms=self.rooms,
            load=self.load,
            options=self.options,
            new_endpointer=new_endpointer,
            metrics=self.metrics,
            batch_slots=ConnectionSlots(settings.max_batch_sessions),
            resume_tokens=resume_tokens(settings),
            read_trail=functools.partial(read_session_trail, bus, codec),
            # Every session's line in the log, and whatever a test or a bench watches with.
            observer=SessionObservers(SessionLog(), *([observer] if observer else [])),
        )

    async def start(self) -> None:
        if self.capabilities is not None:
            # Discovering engines reads files and hashes a voice model: do it once, off the loop, before
            # the first session's start message needs the answer.
            capabilities = self.capabilities
            await asyncio.to_thread(
                lambda: (capabilities.source_languages(), capabilities.pairs(), capabilities.speech_languages())
            )
        await self.rooms.start()
        await self.router.start()
        # The rooms this gateway holds are the reply partitions it reads besides its own (gateway/router.py).
        self.rooms.watch_holding(self.router.hold_room, self.router.release_room, self.router.history_ready)
        await self.load.start()

    async def publish(self, event: Event) -> None:
        """What every session publishes through: stamped with where its results come back, then sent."""
        await self.publisher.publish(self.router.route(event))

    async def stop(self) -> None:
        await self.load.stop()
        await self.router.stop()
        await self.rooms.stop()

    # -- admission: every way to a session goes through here ----------------------------------------

    def _check_access(self, request: UpgradeRequest, *, browsers: bool = True, **room) -> access.Principal | SessionEnded:
        """browsers: whether a browser can use this door, so a page's Origin is checked (a browser opens a WebSocket
        to any address); no browser can make a gRPC call (gRPC-Web needs a proxy this server is not), so a call's
        credential is its whole check."""
        settings = self.settings
        if browsers:
            outcome = access.admit(
                self.access, headers=request.headers, query_string=request.query_string, scheme=request.scheme,
                allowlist=settings.origin_allowlist, bound_host=settings.host,
            )
        else:
            outcome = self.access.check(request.headers)
        if not isinstance(outcome, access.Refusal) and room:
            outcome = self.access.authorize(outcome, **room) or outcome
        if isinstance(outcome, access.Refusal):
            return SessionEnded(CloseCode.POLICY_VIOLATION, outcome.reason, kind=Kind(str(outcome.kind)))
        return outcome

    def admit(self, request: UpgradeRequest, transport: str = "websocket") -> access.Principal | SessionEnded:
        """Who the new session is for, once it holds a slot; or why it gets no session (it is told, then closed).
        Every door comes here: /ws/audio's upgrade, and a gRPC Translate call (its metadata as the headers).
        Every admitted session must call `release()` when it is over."""
        outcome = self._check_access(request, browsers=transport == "websocket")
        if isinstance(outcome, SessionEnded):
            refusal = outcome
        elif (unreachable := self._bus_refusal()) is not None:
            # Refused at once rather than admitted to fail at its first utterance, KAFKA_DELIVERY_TIMEOUT_MS later
            # and with that audio lost; the bus's health watch says when it is back, and sessions are taken again.
            refusal = unreachable
        elif (overloaded := self.load.refusal()) is not None:
            refusal = overloaded
        elif not self.slots.try_acquire():
            refusal = SessionEnded(
                CloseCode.TRY_AGAIN_LATER,
                f"server is full ({self.settings.max_connections} sessions); try again later",
                kind=Kind.CAPACITY,
            )
        else:
            self.metrics.sessions.labels(transport=transport).inc()
            return outcome
        self.metrics.rejections.labels(reason=refusal.kind, transport=transport).inc()
        return refusal

    def release(self) -> None:
        self.slots.release()

    def admit_listener(self, request: UpgradeRequest, room: str) -> access.Principal | SessionEnded:
        """As `admit`, for /ws/listen: the credential must allow listening in `room`, and listeners have a pool of
        their own (MAX_LISTENERS). The caller counts a refusal. Every admitted listener calls `release_listener()`."""
        outcome = self._check_access(request, room=room, role=access.Role.LISTENER)
        if isinstance(outcome, SessionEnded):
            return outcome
        if (unreachable := self._bus_refusal()) is not None:
            return unreachable  # nothing said in the room could reach it: told now, with when to try again
        if not self.listener_slots.try_acquire():
            return SessionEnded(
                CloseCode.TRY_AGAIN_LATER,
                f"this gateway has all the listeners it may ({self.settings.max_listeners}); try again later",
                kind=Kind.CAPACITY,
            )
        return outcome

    def release_listener(self) -> None:
        self.listener_slots.release()

    def _bus_refusal(self) -> SessionEnded | None:
        if self.bus.is_ready():
            return None
        return SessionEnded(
            CloseCode.TRY_AGAIN_LATER,
            "the pipeline is unavailable: this gateway cannot reach its message bus; try again later",
            kind=Kind.PIPELINE_UNAVAILABLE,
            details={"retry_after_ms": _BUS_RETRY_AFTER_MS},
        )


def resume_tokens(settings: GatewaySettings) -> ResumeTokens:
    """A token is good for as long as its session may last, and RESUME_TTL_SECONDS more: the client's time to come
    back after its gateway died at the session's last moment."""
    longest = max(settings.max_session_seconds, settings.room_speaker_max_seconds, settings.max_batch_audio_seconds)
    secret = settings.resume_secret.get_secret_value().encode() if settings.resume_secret is not None else None
    return ResumeTokens(secret, longest + settings.resume_ttl_seconds)
