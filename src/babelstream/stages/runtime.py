"""The consume loop every stage shares.

Poll one message, decode it, let the stage turn it into output events, publish them, and only then commit
the input's offset: at-least-once. A message that cannot be decoded or processed goes to the dead-letter
topic with the error and its original bytes, is committed, and the loop goes on. A publish the broker does
not confirm is retried with backoff until it is (the input stays uncommitted meanwhile), so a dead broker
pauses a stage instead of losing its work. No exception from a stage ends the loop.

A stage that can work on several inputs at once (its `concurrency` above 1: the ASR stage, which decodes them in
batches) is handed up to that many before the first is finished; their outputs are still published, and the
inputs committed, one input after the other in the order they were read, so a session's order holds and a commit
never covers an input whose output is not confirmed. One input's failure dead-letters that input alone.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

from babelstream.bus.base import Bus, BusError, Message, Subscription
from babelstream.bus.event_publisher import EventPublisher
from babelstream.contracts.codec import EventCodec
from babelstream.contracts import limits
from babelstream.contracts.errors import ContractError, SchemaRegistryError
from babelstream.contracts.events import DeadLetterPayload, Event, new_id

log = logging.getLogger(__name__)

# Room for the dead-letter envelope (ids, error text, key) under the broker's message limit.
_DEAD_LETTER_VALUE_BYTES = limits.MAX_MESSAGE_BYTES - 64 * 1024


class Stage(Protocol):
    name: str
    input_topic: str

    def warm_up(self) -> None:
        """Load models before the first message (runs in a worker thread)."""

    async def handle(self, event: Event) -> list[Event]:
        """Output events for one input event. Raise to dead-letter the input. With `concurrency` above 1 (an optional
        attribute, 1 when absent), up to that many calls run at once."""


class StageObserver(Protocol):
    """What a runner reports as it goes (stages/metrics.py's StageMetrics; tests): called on the event loop, so
    it must be quick and must not raise."""

    def handled(self, stage: str, event: Event, seconds: float) -> None:
        """`event` was handled and its outputs published; `seconds` were spent in the stage's handle()."""

    def dead_lettered(self, stage: str, error: Exception) -> None:
        """An input could not be decoded or handled (`error`) and went to the dead-letter topic."""


class _Unobserved:
    def handled(self, stage: str, event: Event, seconds: float) -> None:
        pass

    def dead_lettered(self, stage: str, error: Exception) -> None:
        pass


@dataclass
class StageCounters:
    handled: int = 0
    published: int = 0
    dead_lettered: int = 0
    publish_retries: int = 0
    busy_seconds: float = 0.0
    last_errors: list[str] = field(default_factory=list)


class StageRunner:
    def __init__(
        self, stage: Stage, bus: Bus, codec: EventCodec, service: str, group_prefix: str = "babelstream",
        observer: StageObserver | None = None,
    ):
        self.stage = stage
        self.bus = bus
        self.codec = codec
        self.service = service
        self.group = f"{group_prefix}.{stage.name}"
        self.publisher = EventPublisher(bus, codec)
        self.counters = StageCounters()
        self.observer = observer or _Unobserved()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        await asyncio.to_thread(self.stage.warm_up)
        self._subscription = await self.bus.subscribe([self.stage.input_topic], self.group)
        self._task = asyncio.create_task(self._loop(), name=f"stage-{self.stage.name}")

    def is_ready(self) -> bool:
        """Models warm and a member of its group: from the end of start() until stop()."""
        return self._task is not None and not self._stopping

    async def consumer_lags(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition) this runner consumes, the messages its group has not consumed yet."""
        if self._subscription is None or self._stopping:
            return {}
        return await self._subscription.lags()

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._subscription:
            await self._subscription.close()

    async def _loop(self) -> None:
        concurrency = max(1, getattr(self.stage, "concurrency", 1))
        if concurrency > 1:
            await self._concurrent_loop(concurrency)
            return
        while not self._stopping:
            try:
                message = await self._subscription.next(timeout_seconds=1.0)
                if message is not None:
                    await self._finish(message, await self._process(message))
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must survive anything; the message was dead-lettered or will redeliver
                log.exception("stage %s: unexpected failure in the consume loop", self.stage.name)
                await asyncio.sleep(0.5)

    async def _concurrent_loop(self, concurrency: int) -> None:
        """Reads ahead up to `concurrency` inputs, each processed in a task of its own; finishes them in order."""
        in_order: asyncio.Queue[tuple[Message, asyncio.Task]] = asyncio.Queue(maxsize=concurrency)
        finisher = asyncio.create_task(self._finish_in_order(in_order), name=f"stage-{self.stage.name}-finish")
        try:
            while not self._stopping:
                try:
                    message = await self._subscription.next(timeout_seconds=1.0)
                    if message is not None:
                        await in_order.put((message, asyncio.create_task(self._process(message))))
                except asyncio.CancelledError:
                    raise
                except Exception:  # as in _loop: an unread message will redeliver
                    log.exception("stage %s: unexpected failure in the consume loop", self.stage.name)
                    await asyncio.sleep(0.5)
        finally:
            finisher.cancel()
            while not in_order.empty():
                in_order.get_nowait()[1].cancel()  # uncommitted: redelivered to the group

    async def _finish_in_order(self, in_order: asyncio.Queue) -> None:
        while True:
            message, processing = await in_order.get()
            try:
                await self._finish(message, await processing)
            except asyncio.CancelledError:
                processing.cancel()
                raise
            except Exception:  # as in _loop; the message was dead-lettered or will redeliver
                log.exception("stage %s: unexpected failure in the consume loop", self.stage.name)

    async def _process(self, message: Message) -> tuple[Event, list[Event], float, float] | Exception:
        """The input decoded and handled: (event, outputs, seconds in handle(), when it started), or the error."""
        started = time.perf_counter()
        try:
            event = await self._decode(message)
            handling = time.perf_counter()
            outputs = await self.stage.handle(event)
            return event, outputs, time.perf_counter() - handling, started
        except asyncio.CancelledError:
            raise
        except Exception as error:  # undecodable (ContractError) or unprocessable: both are dead-lettered
            return error

    async def _finish(self, message: Message, processed: tuple[Event, list[Event], float, float] | Exception) -> None:
        """Publish the outputs (or dead-letter the input), then commit it."""
        if isinstance(processed, Exception):
            await self._dead_letter(message, processed)
            await self._subscription.commit(message)
            self.observer.dead_lettered(self.stage.name, processed)
            return
        event, outputs, handled, started = processed
        for output in outputs:
            await self._publish_until_confirmed(output)
        await self._subscription.commit(message)
        self.counters.handled += 1
        self.counters.busy_seconds += time.perf_counter() - started
        self.observer.handled(self.stage.name, event, handled)

    async def _decode(self, message: Message) -> Event:
        """A registry that is down is not the message's fault: wait for it rather than dead-letter good data. A schema
        id the registry does not have is (UnknownSchemaId, a MalformedEvent): it is raised, and dead-lettered."""
        delay = 0.2
        while True:
            try:
                return self.codec.decode(message.value)
            except SchemaRegistryError as error:
                log.warning("stage %s: schema registry unavailable (%s); retrying in %.1f s", self.stage.name, error, delay)
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, 10.0)

    async def _publish_until_confirmed(self, event: Event) -> None:
        delay = 0.2
        while True:
            try:
                await self.publisher.publish(event)
                self.counters.published += 1
                return
            except (BusError, SchemaRegistryError) as error:
                self.counters.publish_retries += 1
                log.warning("stage %s: publish not confirmed (%s); retrying in %.1f s", self.stage.name, error, delay)
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, 10.0)
            except ContractError as error:
                # This output can never be sent (e.g. too large); say so downstream instead of looping.
                log.error("stage %s: output %s refused: %s", self.stage.name, event.event_id, error)
                self._note(f"output refused: {error}")
                return

    async def _dead_letter(self, message: Message, error: Exception) -> None:
        reason = f"{type(error).__name__}: {error}"
        log.warning("stage %s: dead-lettering %s[%d]@%d: %s", self.stage.name, message.topic, message.partition, message.offset, reason)
        self._note(reason)
        value = message.value
        if len(value) > _DEAD_LETTER_VALUE_BYTES:
            # The envelope must fit under the broker's limit too; keep the head and say what was cut.
            reason += f" (original_value truncated: first {_DEAD_LETTER_VALUE_BYTES} of {len(value)} bytes kept)"
            value = value[:_DEAD_LETTER_VALUE_BYTES]
        letter = Event(
            payload=DeadLetterPayload(
                stage=self.stage.name,
                error=reason[-4000:],
                original_topic=message.topic,
                original_partition=message.partition,
                original_offset=message.offset,
                original_value=value,
                original_key=message.key,
            ),
            correlation_id=(message.key or b"").decode("utf-8", "replace") or new_id(),
            source_service=self.service,
        )
        await self._publish_until_confirmed(letter)
        self.counters.dead_lettered += 1

    def _note(self, error: str) -> None:
        self.counters.last_errors = [*self.counters.last_errors[-9:], error]
