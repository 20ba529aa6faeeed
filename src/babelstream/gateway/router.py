"""Routes result events from the bus to the socket that asked for them.

Every gateway process consumes the result topics in a consumer group of its own (so each sees every result)
starting at the end, and keeps the events whose correlation_id belongs to one of its sessions. Two gateways
on the same topics therefore each answer their own clients.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from babelstream.bus.base import Bus, Subscription
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import Event
from babelstream.contracts.topics import RESULT_TOPICS

log = logging.getLogger(__name__)

# The group's offsets matter only to the in-memory bus (to trim its logs), so commit in batches.
_COMMIT_EVERY = 50


class ResultListener(Protocol):
    def on_result(self, event: Event) -> None: ...


class ResultRouter:
    def __init__(self, bus: Bus, codec: EventCodec, instance_id: str):
        self._bus = bus
        self._codec = codec
        self._group = f"babelstream.{instance_id}"  # a group of its own: this gateway sees every result
        self._listeners: dict[str, ResultListener] = {}
        self._subscription: Subscription | None = None
        self._task: asyncio.Task | None = None

    def register(self, correlation_id: str, listener: ResultListener) -> None:
        self._listeners[correlation_id] = listener

    def unregister(self, correlation_id: str) -> None:
        self._listeners.pop(correlation_id, None)

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe(list(RESULT_TOPICS), self._group, from_latest=True)
        self._task = asyncio.create_task(self._route())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._subscription:
            await self._subscription.close()

    async def _route(self) -> None:
        uncommitted = 0
        latest: dict[tuple[str, int], object] = {}
        while True:
            message = await self._subscription.next(timeout_seconds=1.0)
            if message is None:
                continue
            try:
                listener = self._listeners.get(message.key.decode() if message.key else "")
                if listener is not None:
                    listener.on_result(self._codec.decode(message.value))
            except ContractError as error:
                # Stages send their bad input to the dead-letter topic; a bad result is only logged here.
                log.warning("undecodable result on %s@%d: %s", message.topic, message.offset, error)
            except Exception:
                log.exception("result routing failed for %s@%d", message.topic, message.offset)
            latest[(message.topic, message.partition)] = message
            uncommitted += 1
            if uncommitted >= _COMMIT_EVERY:
                for last in latest.values():
                    await self._subscription.commit(last)
                latest.clear()
                uncommitted = 0
