"""What the interim workers share (partial_asr.py: windows → partial transcripts; partial_translate.py: partial
transcripts → partial translations): a consumer group of their own beside a stage, reading their topic into `take`,
and a work loop, started and stopped together.

Delivery is at most once, as interim results are worth nothing late: an event that cannot be read is logged and
skipped, and offsets are committed every _COMMIT_EVERY messages (they matter to the in-memory bus's trimming and to
where a restart resumes, not to correctness).
"""

from __future__ import annotations

import abc
import asyncio
import logging

from babelstream.bus.base import Bus, Subscription
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import Event

log = logging.getLogger(__name__)

_COMMIT_EVERY = 50


class InterimWorker(abc.ABC):
    name: str  # also its consumer group: babelstream.<name>
    input_topic: str

    def __init__(self, bus: Bus, codec: EventCodec):
        self._bus = bus
        self._codec = codec
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task] = []

    @abc.abstractmethod
    def take(self, event: Event) -> None:
        """One event of `input_topic` in (TypeError or ContractError: it is not one this worker takes)."""

    @abc.abstractmethod
    async def _work(self) -> None:
        """The worker's loop: runs from `start` until `stop`."""

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe([self.input_topic], f"babelstream.{self.name}")
        self._tasks = [
            asyncio.create_task(self._read(), name=f"{self.name}-read"),
            asyncio.create_task(self._work(), name=f"{self.name}-work"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self._subscription is not None:
            await self._subscription.close()

    async def _read(self) -> None:
        uncommitted = 0
        while True:
            message = await self._subscription.next(timeout_seconds=1.0)
            if message is None:
                continue
            try:
                self.take(self._codec.decode(message.value))
            except (ContractError, TypeError) as error:
                log.warning("%s: %s@%d dropped: %s", self.name, message.topic, message.offset, error)
            except Exception:
                log.exception("%s: %s@%d failed", self.name, message.topic, message.offset)
            uncommitted += 1
            if uncommitted >= _COMMIT_EVERY:
                await self._subscription.commit(message)
                uncommitted = 0
