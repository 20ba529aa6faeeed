"""In-memory bus for the embedded mode: topics as logs, consumer groups with committed offsets, one process.

Same guarantees as the Kafka bus within a process: a group sees every message once it is subscribed,
messages handed out but not committed are handed out again when their subscriber closes (at-least-once).
A topic's log is trimmed below the lowest offset every group has committed, down to its newest
`keep_committed_bytes`: like a broker's retention, what was consumed stays readable a little while, so a session
resumed on this process can read its recent results back (gateway/session_trail.py) after its old session is gone.
With no group at all a topic keeps at most `retain_bytes`, so an unconsumed topic cannot grow without bound.

Every topic has one partition, so every reply route is partition 0: the one process's gateway reads every result,
as it would own every reply partition of a broker (bus/reply_route.py). A message published to a chosen partition
keeps that number, and a partition reader hands out only the partitions it follows.
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque

from babelstream.bus.base import Message


class _Topic:
    def __init__(self, name: str):
        self.name = name
        self.log: deque[Message] = deque()
        self.base_offset = 0  # offset of log[0]
        self.end_offset = 0  # offset the next message gets
        self.bytes = 0
        self.waiters: set[asyncio.Event] = set()

    def append(self, key: bytes | None, value: bytes, partition: int = 0) -> Message:
        message = Message(self.name, partition, self.end_offset, key, value)
        self.log.append(message)
        self.end_offset += 1
        self.bytes += len(value)
        for waiter in self.waiters:
            waiter.set()
        return message

    def get(self, offset: int) -> Message | None:
        if offset < self.base_offset:
            offset = self.base_offset  # trimmed away: like Kafka's auto.offset.reset=earliest
        index = offset - self.base_offset
        return self.log[index] if index < len(self.log) else None

    def trim_below(self, offset: int) -> None:
        while self.log and self.base_offset < offset:
            self.bytes -= len(self.log.popleft().value)
            self.base_offset += 1

    def trim_to_bytes(self, budget: int, below: int | None = None) -> None:
        """Oldest first while over `budget` bytes, never at or past offset `below`."""
        while self.log and self.bytes > budget and (below is None or self.base_offset < below):
            self.trim_below(self.base_offset + 1)


class _Group:
    def __init__(self, name: str):
        self.name = name
        self.committed: dict[str, int] = {}  # topic -> next offset to consume
        self.position: dict[str, int] = {}  # topic -> next offset to hand out


class _Reader(abc.ABC):
    """What both readers of the in-memory bus share: waiting for the next message `_take` finds."""

    _closed: bool
    _wake: asyncio.Event

    @abc.abstractmethod
    def _take(self) -> Message | None:
        """The next message this reader may have now, or None."""

    async def next(self, timeout_seconds: float | None = None) -> Message | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout_seconds is None else loop.time() + timeout_seconds
        while not self._closed:
            self._wake.clear()
            message = self._take()
            if message is not None:
                return message
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return None
        return None


class MemorySubscription(_Reader):
    def __init__(self, bus: MemoryBus, topics: list[_Topic], group: _Group, *, ephemeral: bool = False):
        self._bus = bus
        self._ephemeral = ephemeral
        self._topics = topics
        self._group = group
        self._wake = asyncio.Event()
        self._next_topic = 0
        self._closed = False
        for topic in topics:
            topic.waiters.add(self._wake)

    def _take(self) -> Message | None:
        for i in range(len(self._topics)):
            topic = self._topics[(self._next_topic + i) % len(self._topics)]
            message = topic.get(self._group.position[topic.name])
            if message is not None:
                self._group.position[topic.name] = message.offset + 1
                self._next_topic = (self._next_topic + i + 1) % len(self._topics)
                return message
        return None

    async def commit(self, message: Message) -> None:
        committed = self._group.committed
        committed[message.topic] = max(committed.get(message.topic, 0), message.offset + 1)
        self._bus._trim(message.topic)

    async def lags(self) -> dict[tuple[str, int], int]:
        return {(t.name, 0): t.end_offset - self._group.committed.get(t.name, t.base_offset) for t in self._topics}

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        for topic in self._topics:
            topic.waiters.discard(self._wake)
            # Handed out but never committed: the next member of the group gets it again.
            self._group.position[topic.name] = self._group.committed.get(topic.name, topic.base_offset)
        if self._ephemeral:
            self._bus._forget(self._group)


# A partition reader lets the log be trimmed behind it every this many messages, as a group commits now and then:
# trimming on every message would cost more than the messages.
_TRIM_EVERY = 50


class MemoryPartitionReader(_Reader):
    """Follows chosen partitions; its read position holds the logs' trimming back like a group's commit."""

    def __init__(self, bus: MemoryBus, group: _Group):
        self._bus = bus
        self._group = group
        self._followed: dict[str, set[int]] = {}  # topic -> partitions
        self._ends: dict[tuple[str, int], int] = {}  # the topic's end when the partition was followed
        self._wake = asyncio.Event()
        self._closed = False
        self._read = 0
        self.fetched_bytes = 0

    async def follow(self, partitions: list[tuple[str, int]], *, since_seconds: float | None = None) -> None:
        for name, partition in partitions:
            topic = self._bus._topic(name)
            if name not in self._followed:
                self._followed[name] = set()
                # since_seconds: from the oldest message still held (messages here carry no time; all are recent).
                start = topic.base_offset if since_seconds is not None else topic.end_offset
                self._group.committed[name] = self._group.position[name] = start
                topic.waiters.add(self._wake)
            if partition not in self._followed[name]:
                self._ends[(name, partition)] = topic.end_offset
            self._followed[name].add(partition)

    def caught_up(self, partitions: list[tuple[str, int]]) -> bool:
        return all(
            name in self._followed and self._group.position[name] >= self._ends.get((name, partition), 0)
            for name, partition in partitions
        )

    async def unfollow(self, partitions: list[tuple[str, int]]) -> None:
        for name, partition in partitions:
            followed = self._followed.get(name)
            if followed is None:
                continue
            followed.discard(partition)
            self._ends.pop((name, partition), None)
            if not followed:
                self._forget(name)

    def _forget(self, name: str) -> None:
        del self._followed[name]
        self._group.committed.pop(name, None)
        self._group.position.pop(name, None)
        self._bus._topic(name).waiters.discard(self._wake)
        self._bus._trim(name)

    def _take(self) -> Message | None:
        for name, partitions in self._followed.items():
            topic = self._bus._topic(name)
            while (message := topic.get(self._group.position[name])) is not None:
                self._group.position[name] = message.offset + 1
                self._read += 1
                if self._read % _TRIM_EVERY == 0:
                    self._release(name)
                if message.partition in partitions:
                    self.fetched_bytes += len(message.value) + len(message.key or b"")
                    return message
        return None

    def _release(self, name: str) -> None:
        self._group.committed[name] = self._group.position[name]
        self._bus._trim(name)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        for name in list(self._followed):
            self._forget(name)
        self._bus._groups.pop(self._group.name, None)


class MemoryBus:
    def __init__(self, retain_bytes: int = 64 * 1024 * 1024, keep_committed_bytes: int = 4 * 1024 * 1024):
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._retain_bytes = retain_bytes
        self._keep_committed_bytes = keep_committed_bytes

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def is_ready(self) -> bool:
        return True

    async def backlog(self, group: str, topic: str) -> int | None:
        state = self._groups.get(group)
        if state is None or topic not in state.committed:
            return None
        return self._topic(topic).end_offset - state.committed[topic]

    def _topic(self, name: str) -> _Topic:
        if name not in self._topics:
            self._topics[name] = _Topic(name)
        return self._topics[name]

    async def publish(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        self._topic(topic).append(key, value, partition or 0)
        self._trim(topic)

    async def partition_count(self, topic: str) -> int:
        return 1

    async def read_partitions(self, name: str) -> MemoryPartitionReader:
        group = self._groups[name] = _Group(name)
        return MemoryPartitionReader(self, group)

    async def subscribe(
        self, topics: list[str], group: str, *, from_latest: bool = False, since_seconds: float | None = None,
        ephemeral: bool = False,
    ) -> MemorySubscription:
        # since_seconds: from the oldest message still held (messages here carry no time; all are recent).
        from_latest = from_latest and since_seconds is None
        state = self._groups.setdefault(group, _Group(group))
        for name in topics:
            topic = self._topic(name)
            if name not in state.committed:
                state.committed[name] = topic.end_offset if from_latest else topic.base_offset
            state.position.setdefault(name, state.committed[name])
        return MemorySubscription(self, [self._topic(name) for name in topics], state, ephemeral=ephemeral)

    def _forget(self, group: _Group) -> None:
        """An ephemeral group is gone with its one member: its offsets must not hold the logs back."""
        if self._groups.get(group.name) is group:
            del self._groups[group.name]
            for name in group.committed:
                self._trim(name)

    def _trim(self, name: str) -> None:
        topic = self._topics[name]
        offsets = [g.committed[name] for g in self._groups.values() if name in g.committed]
        if offsets:
            topic.trim_to_bytes(self._keep_committed_bytes, below=min(offsets))
        else:
            topic.trim_to_bytes(self._retain_bytes)
