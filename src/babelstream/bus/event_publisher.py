"""Publish typed events: encode with the configured codec, key by correlation_id, await the broker's confirmation."""

from __future__ import annotations

import time
from typing import Callable

from babelstream.bus.base import Bus
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.events import Event
from babelstream.contracts.topics import TOPIC_OF_EVENT_TYPE


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
        bus did not confirm it."""
        topic = TOPIC_OF_EVENT_TYPE[event.event_type]
        value = self.codec.encode(event, topic)
        started = time.perf_counter()
        try:
            # Key = correlation_id: one session's events stay on one partition, in order.
            await self.bus.publish(topic, event.correlation_id.encode(), value)
        except Exception:
            if self._on_failed:
                self._on_failed()
            raise
        if self._on_published:
            self._on_published(time.perf_counter() - started)
