"""The gateway: admits sockets, runs their sessions, publishes their audio and routes results back."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Callable, Protocol

from babelstream.bus.base import Bus
from babelstream.bus.event_publisher import EventPublisher
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.events import Event, SessionOptions
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import SessionEnded
from babelstream.gateway.limits import ConnectionSlots, origin_allowed
from babelstream.gateway.metrics import GatewayMetrics
from babelstream.gateway.protocol import StartRequest, warning
from babelstream.gateway.router import ResultRouter
from babelstream.gateway.session import Segmenter
from babelstream.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class Capabilities(Protocol):
    """What the pipeline behind this gateway can do; None from a method means "unknown, don't check"."""

    def source_languages(self) -> frozenset[str] | None: ...

    def pairs(self) -> frozenset[tuple[str, str]] | None: ...

    def speech_languages(self) -> frozenset[str] | None: ...


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        bus: Bus,
        codec: EventCodec,
        new_segmenter: Callable[[], Segmenter],
        capabilities: Capabilities | None = None,
    ):
        self.settings = settings
        self.bus = bus
        self.instance_id = f"gateway-{uuid.uuid4().hex[:12]}"
        self.metrics = GatewayMetrics()
        self.slots = ConnectionSlots(settings.max_connections)
        self.metrics.open_connections.set_function(lambda: self.slots.in_use)  # read at scrape time
        self.publisher = EventPublisher(
            bus, codec, on_published=self.metrics.publish_latency.observe, on_failed=self.metrics.publish_failures.inc
        )
        self.router = ResultRouter(bus, codec, self.instance_id)
        self.new_segmenter = new_segmenter
        self.capabilities = capabilities

    async def start(self) -> None:
        if self.capabilities is not None:
            # Discovering engines reads files and hashes a voice model: do it once, off the loop, before
            # the first session's start message needs the answer.
            capabilities = self.capabilities
            await asyncio.to_thread(
                lambda: (capabilities.source_languages(), capabilities.pairs(), capabilities.speech_languages())
            )
        await self.router.start()

    async def stop(self) -> None:
        await self.router.stop()

    async def publish(self, event: Event) -> None:
        await self.publisher.publish(event)

    # -- admission: shared by both servers of /ws/audio ---------------------------------------------

    def admit(self, origin: str | None) -> SessionEnded | None:
        """Why a new socket gets no session (it is told, then closed), or None once it holds a slot.
        Every admitted socket must call `release()` when its session is over."""
        if not origin_allowed(origin, self.settings.origin_allowlist):
            refusal = SessionEnded(CloseCode.POLICY_VIOLATION, "origin not allowed", kind="origin")
        elif not self.slots.try_acquire():
            refusal = SessionEnded(
                CloseCode.TRY_AGAIN_LATER,
                f"server is full ({self.settings.max_connections} sessions); try again later",
                kind="capacity",
            )
        else:
            return None
        self.metrics.rejections.labels(reason=refusal.kind).inc()
        return refusal

    def release(self) -> None:
        self.slots.release()

    # -- session options ----------------------------------------------------------------------------

    def default_options(self) -> SessionOptions:
        return SessionOptions(
            source_language=self.settings.default_source_language or None,
            target_languages=self.settings.default_target_languages,
            synthesize=True,
            reply_to=self.instance_id,
        )

    def resolve_options(self, request: StartRequest) -> tuple[SessionOptions, list[dict]]:
        """The session's options, and warnings for targets nobody can translate (those targets are dropped)."""
        defaults = self.default_options()
        source = request.source_language if request.source_language is not None else defaults.source_language
        targets = request.target_languages if request.target_languages is not None else defaults.target_languages
        warnings: list[dict] = []
        capabilities = self.capabilities
        if capabilities is not None and source is not None:
            sources = capabilities.source_languages()
            if sources is not None and source not in sources:
                raise SessionEnded(
                    CloseCode.UNSUPPORTED_DATA,
                    f"speech in {source!r} cannot be recognised here; available: {sorted(sources)}",
                    kind="unsupported_language",
                )
            pairs = capabilities.pairs()
            if pairs is not None:
                kept = []
                for target in targets:
                    if target == source or (source, target) in pairs:
                        kept.append(target)
                        continue
                    available = sorted(f"{s}-{t}" for s, t in pairs if s == source)
                    warnings.append(
                        warning(
                            "unsupported_pair",
                            f"no engine translates {source}->{target}; from {source} available: {available}",
                            source_language=source,
                            target_language=target,
                            available=available,
                        )
                    )
                targets = tuple(kept)
        options = SessionOptions(
            source_language=source,
            target_languages=tuple(targets),
            synthesize=request.synthesize,
            reply_to=self.instance_id,
        )
        return options, warnings
