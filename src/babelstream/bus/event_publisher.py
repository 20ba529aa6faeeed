"""Publish typed events: encode with the configured codec, key by correlation_id, send each where it goes
(bus/reply_route.py), await the broker's confirmation of every copy."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from babelstream.bus.base import Bus
from babelstream.bus.reply_route import destinations
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.events import Event


class EventPublisher:
    def __init__(
        self,
        bus: Bus,
        codec: EventCodec,
        on_published: Callable[[float], None] | None = None,
        on_failed: Callable[[], None] | None = None,
    ):
        self.bus = bus
        self.codec = codec
        self._on_published = on_published
        self._on_failed = on_failed

    async def publish(self, event: Event) -> None:
        """Raises ContractError for an event that cannot be sent (before sending) and PublishFailed when the
        bus did not confirm it (or one of its copies: the caller publishes again, and a reader may see one twice,
        as after any redelivery)."""
        # Key = correlation_id: one session's events stay on one partition, in order (a reply partition is the
        # session's too, chosen once per session or room).
        key = event.correlation_id.encode()
        encoded = [(destination, self.codec.encode(event, destination.topic)) for destination in destinations(event)]
        started = time.perf_counter()
        sends = [
            self.bus.publish(d.topic, key, value) if d.partition is None
            else self.bus.publish(d.topic, key, value, partition=d.partition)
            for d, value in encoded
        ]
        try:
            if len(sends) == 1:
                await sends[0]
            else:
                await asyncio.gather(*sends)
        except Exception:
            if self._on_failed:
                self._on_failed()
            raise
        if self._on_published:
            self._on_published(time.perf_counter() - started)
