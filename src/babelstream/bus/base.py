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


class PartitionReader(Protocol):
    """Reads chosen partitions, assigned by hand (no consumer group, nothing committed): a gateway's reply
    partitions (gateway/router.py). What it follows can change while it reads."""

    fetched_bytes: int  # keys and values of every message it returned: what this reader cost the network

    async def follow(self, partitions: list[tuple[str, int]], *, since_seconds: float | None = None) -> None:
        """Read these (topic, partition)s too: from what was written `since_seconds` ago, or (None) from their end
        now, so nothing published after this returns is missed. One already followed is left as it is."""

    async def unfollow(self, partitions: list[tuple[str, int]]) -> None: ...

    def caught_up(self, partitions: list[tuple[str, int]]) -> bool:
        """Whether it has read these followed partitions up to where they ended when it began following them."""

    async def next(self, timeout_seconds: float | None = None) -> Message | None: ...

    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None:
        """Connect; waits for the broker (with backoff) up to the configured time, then raises BusError."""

    async def stop(self) -> None: ...

    async def publish(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        """Returns once the broker confirmed the write; raises PublishFailed otherwise. Never blocks the loop.
        `partition` None: the key chooses it."""

    async def subscribe(
        self, topics: list[str], group: str, *, from_latest: bool = False, since_seconds: float | None = None,
        ephemeral: bool = False,
    ) -> Subscription:
        """Join `group` on `topics`. `from_latest` applies when the group has no committed offset yet.
        `since_seconds`: start at what was written that many seconds ago (whatever the group committed; the
        in-memory bus starts at the oldest message it still holds). `ephemeral`: a group of one member, read once
        and never committed (a resumed session's read-back): it is forgotten at close and never holds a log back."""

    async def partition_count(self, topic: str) -> int:
        """How many partitions `topic` has (raises BusError when the broker does not say)."""

    async def read_partitions(self, name: str) -> PartitionReader:
        """A reader of hand-picked partitions, following none yet; `name` identifies it to the broker."""

    def is_ready(self) -> bool:
        """Whether the bus can currently reach its broker (what /readyz reports)."""

    async def backlog(self, group: str, topic: str) -> int | None:
        """Messages on `topic` that `group` has not committed yet, over all partitions: what its members still have
        to do. None when it cannot be told (the group never committed, the broker did not answer)."""
