"""The bus: publish bytes to a topic, consume a topic as a member of a consumer group, commit what was handled.

Two implementations share this interface: `MemoryBus` (embedded, one process) and `KafkaBus` (distributed).
Delivery guarantee offered to stages: at-least-once — a message is redelivered to the group unless its
offset was committed, and stages commit only after their own output is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class BusError(Exception):
    """The bus could not do what was asked (broker unreachable, delivery timed out, message refused)."""


class PublishFailed(BusError):
    def __init__(self, topic: str, reason: str):
        super().__init__(f"publish to {topic} failed: {reason}")
        self.topic = topic
        self.reason = reason


class Subscription(Protocol):
    async def next(self, timeout_seconds: float | None = None) -> Message | None:
        """The next message, or None when `timeout_seconds` passed without one."""

    async def commit(self, message: Message) -> None:
        """Mark `message` (and everything before it on its partition) as handled by this group."""

    async def lags(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition) this member consumes: messages on the partition not yet consumed by the group
        (its end minus the next offset to consume). A partition it cannot tell about is left out."""

    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None:
        """Connect; waits for the broker (with backoff) up to the configured time, then raises BusError."""

    async def stop(self) -> None: ...

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Returns once the broker confirmed the write; raises PublishFailed otherwise. Never blocks the loop."""

    async def subscribe(
        self, topics: list[str], group: str, *, from_latest: bool = False, since_seconds: float | None = None,
        ephemeral: bool = False,
    ) -> Subscription:
        """Join `group` on `topics`. `from_latest` applies when the group has no committed offset yet.
        `since_seconds`: start at what was written that many seconds ago (whatever the group committed; the
        in-memory bus starts at the oldest message it still holds). `ephemeral`: a group of one member, read once
        and never committed (a resumed session's read-back): it is forgotten at close and never holds a log back."""

    def is_ready(self) -> bool:
        """Whether the bus can currently reach its broker (what /readyz reports)."""

    async def backlog(self, group: str, topic: str) -> int | None:
        """Messages on `topic` that `group` has not committed yet, over all partitions: what its members still have
        to do. None when it cannot be told (the group never committed, the broker did not answer)."""
