"""Routes result events from the bus to the sockets that asked for them, and to the rooms.

A gateway reads only some partitions of the reply topics, assigned by hand (docs/kafka.md, "Reply routing"): its
own, where the results of its sessions come back, and one per room it holds members of, where that room's speakers'
results come back wherever they speak (gateway/reply_partitions.py). Every event its sessions publish is stamped
with the partition (`route`), and every event a stage derives keeps it (bus/reply_route.py). So what a gateway reads
grows with its own sessions and rooms, not with the number of gateways.

It hands each event to the session whose correlation_id it carries, if that session is here, and to the rooms
(rooms/directory.py), which keep their history and give the result to their members on this gateway.

Text results of a partition are read from `history_seconds` back when the gateway starts following it, so a room's
recent history reaches a gateway that only now has a member there; spoken audio is read from the end (it is never
history), and so are interim results (`speech.asr.partial`, `speech.translation.partial`), which go to their session
and to the room's listeners who take them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from babelstream.bus.base import Bus, Message, PartitionReader
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import Event
from babelstream.contracts.topics import HISTORY_REPLY_TOPICS, REPLY_TOPICS
from babelstream.gateway.reply_partitions import ReplyPartitions, reply_partition_count

log = logging.getLogger(__name__)

_LIVE_REPLY_TOPICS = tuple(topic for topic in REPLY_TOPICS if topic not in HISTORY_REPLY_TOPICS)


class ResultListener(Protocol):
    def on_result(self, event: Event) -> None: ...


class RoomResults(Protocol):
    def wants(self, topic: str, key: str) -> bool: ...

    def on_result(self, event: Event) -> None: ...

    def history_read(self) -> None:
        """A partition's text results were read back: the rooms on it have their history (`history_ready`)."""


class ResultRouter:
    def __init__(self, bus: Bus, codec: EventCodec, instance_id: str, *, rooms: RoomResults | None = None,
                 history_seconds: float = 0.0, reply_partition: int = -1, history_wait_seconds: float = 5.0):
        """reply_partition: GATEWAY_REPLY_PARTITION (-1: the instance id's hash); history_wait_seconds:
        ROOM_HISTORY_WAIT_SECONDS, how long a partition's read-back may keep its rooms' new listeners waiting."""
        self._bus = bus
        self._codec = codec
        self._instance_id = instance_id
        self._rooms = rooms
        self._history_seconds = history_seconds
        self._fixed_partition = reply_partition
        self.partitions: ReplyPartitions | None = None  # known once started: the broker says how many there are
        self._listeners: dict[str, ResultListener] = {}
        self._rooms_held: set[str] = set()
        self._adopted: dict[str, int] = {}  # correlation id -> reply partition, of sessions begun elsewhere
        self._followed: set[int] = set()
        self._reading_back: set[int] = set()  # followed, its text not read back to where it ended then
        self._history_wait_seconds = history_wait_seconds
        self._following = asyncio.Lock()
        self._changed = asyncio.Event()
        self._reader: PartitionReader | None = None
        self._tasks: list[asyncio.Task] = []
        self._read_backs: set[asyncio.Task] = set()

    # -- sessions ------------------------------------------------------------------------------------------

    def register(self, correlation_id: str, listener: ResultListener) -> None:
        self._listeners[correlation_id] = listener

    def unregister(self, correlation_id: str, listener: ResultListener) -> None:
        if self._listeners.get(correlation_id) is listener:  # a resumed session may hold the id since
            del self._listeners[correlation_id]
            if self._adopted.pop(correlation_id, None) is not None:
                self._changed.set()

    def listener(self, correlation_id: str) -> ResultListener | None:
        return self._listeners.get(correlation_id)

    def route(self, event: Event) -> Event:
        """`event` as a session of this gateway publishes it: stamped with the reply partition its results must
        come back on (its room's for a room speaker, this gateway's own otherwise)."""
        if self.partitions is None:
            raise RuntimeError("the result router is not started")
        options = getattr(event.payload, "options", None)
        return event.routed_to(self.partitions.for_session(options.room if options is not None else None))

    async def adopt(self, correlation_id: str, listener: ResultListener, reply_partition: int) -> None:
        """Read the results of a session another gateway began (their events carry `reply_partition`, the one that
        gateway stamped them with) and give them to `listener`, until `unregister(correlation_id)`. Returns once
        that partition is read, from `history_seconds` back for text if it was not read already: this is how a
        session resumed here after its gateway died gets the results still coming."""
        self._listeners[correlation_id] = listener
        self._adopted[correlation_id] = reply_partition
        await self._follow_wanted()

    # -- rooms --------------------------------------------------------------------------------------------

    def hold_room(self, room_id: str) -> None:
        """This gateway has a member in `room_id` now: read its partition (from `history_seconds` back for text)."""
        if room_id not in self._rooms_held:
            self._rooms_held.add(room_id)
            self._changed.set()

    def release_room(self, room_id: str) -> None:
        if room_id in self._rooms_held:
            self._rooms_held.discard(room_id)
            self._changed.set()

    def history_ready(self, room_id: str) -> bool:
        """Whether this gateway has the room's recent history: its partition is read, and was read back (or its
        read-back took longer than `history_wait_seconds`)."""
        if self.partitions is None:
            return False
        partition = self.partitions.of_room(room_id)
        return partition in self._followed and partition not in self._reading_back

    # -- reading ------------------------------------------------------------------------------------------

    @property
    def fetched_bytes(self) -> int:
        """Bytes of results this gateway has read from the bus (what the bench in bench/results_routing.py counts)."""
        return self._reader.fetched_bytes if self._reader is not None else 0

    @property
    def followed_partitions(self) -> frozenset[int]:
        return frozenset(self._followed)

    async def start(self) -> None:
        count = await reply_partition_count(self._bus)
        self.partitions = ReplyPartitions(self._instance_id, count, self._fixed_partition)
        self._reader = await self._bus.read_partitions(f"babelstream.{self._instance_id}.replies")
        await self._follow_wanted()  # its own partition, before any session can publish
        self._tasks = [asyncio.create_task(self._route()), asyncio.create_task(self._keep_following())]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._read_backs]:
            task.cancel()
        if self._reader is not None:
            await self._reader.close()

    def _wanted(self) -> set[int]:
        assert self.partitions is not None
        return {
            self.partitions.own,
            *(self.partitions.of_room(room_id) for room_id in self._rooms_held),
            *self._adopted.values(),
        }

    async def _keep_following(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self._follow_wanted()
            except Exception:  # a broker that does not answer now: try again at the next change, or in a second
                log.exception("could not follow the reply partitions %s", sorted(self._wanted()))
                await asyncio.sleep(1.0)
                self._changed.set()

    async def _follow_wanted(self) -> None:
        async with self._following:
            wanted = self._wanted()
            since = self._history_seconds if self._rooms is not None and self._history_seconds > 0 else None
            for partition in sorted(wanted - self._followed):
                history = [(topic, partition) for topic in HISTORY_REPLY_TOPICS]
                await self._reader.follow(history, since_seconds=since)
                await self._reader.follow([(topic, partition) for topic in _LIVE_REPLY_TOPICS])
                self._followed.add(partition)
                self._reading_back.add(partition)
                task = asyncio.create_task(self._read_back(partition, history))
                self._read_backs.add(task)
                task.add_done_callback(self._read_backs.discard)
            for partition in sorted(self._followed - wanted):
                await self._reader.unfollow([(topic, partition) for topic in REPLY_TOPICS])
                self._followed.discard(partition)

    async def _read_back(self, partition: int, history: list[tuple[str, int]]) -> None:
        deadline = time.monotonic() + self._history_wait_seconds
        while not self._reader.caught_up(history) and time.monotonic() < deadline and partition in self._followed:
            await asyncio.sleep(0.02)
        self._reading_back.discard(partition)
        if self._rooms is not None:
            self._rooms.history_read()

    def _dispatch(self, message: Message) -> None:
        key = message.key.decode() if message.key else ""
        listener = self._listeners.get(key)
        rooms = self._rooms if self._rooms is not None and self._rooms.wants(message.topic, key) else None
        if listener is None and rooms is None:
            return  # a session of a gateway sharing this partition, not a room's: not even decoded
        event = self._codec.decode(message.value)
        if listener is not None:
            listener.on_result(event)
        if rooms is not None:
            rooms.on_result(event)

    async def _route(self) -> None:
        while True:
            message = await self._reader.next(timeout_seconds=1.0)
            if message is None:
                continue
            try:
                self._dispatch(message)
            except ContractError as error:
                # Stages send their bad input to the dead-letter topic; a bad result is only logged here.
                log.warning("undecodable result on %s[%d]@%d: %s", message.topic, message.partition, message.offset, error)
            except Exception:
                log.exception("result routing failed for %s[%d]@%d", message.topic, message.partition, message.offset)
