"""Who is in each room on every gateway, shared over the bus.

Each gateway publishes, per room it holds members of, how many listeners it has per language, how many speakers,
and which languages its listeners want spoken (a `RoomPresenceEvent` on speech.room.presence, keyed
`room|gateway`, the topic compacted on that key). It publishes when that changes and again every third of
`PRESENCE_VALID_SECONDS`, and reads everyone's from the start of the topic. A speaker's gateway then translates
each utterance into the languages listeners on every gateway want; a record not renewed in time (its gateway
died) is forgotten. In embedded mode the same records go round the in-memory bus, and there is one gateway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from babelstream.bus.base import Bus, BusError, Subscription
from babelstream.bus.event_publisher import EventPublisher
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import Event, RoomPresencePayload
from babelstream.contracts.topics import ROOM_PRESENCE

log = logging.getLogger(__name__)

# A gateway that stops renewing its records (it died) is forgotten this long after its last one.
PRESENCE_VALID_SECONDS = 15.0


@dataclass(frozen=True)
class RoomView:
    """What one gateway holds in one room."""

    listeners: dict[str, int] = field(default_factory=dict)  # per language
    speakers: dict[str, int] = field(default_factory=dict)  # per language spoken ("" when detected)
    spoken: frozenset[str] = frozenset()  # languages some listener wants spoken aloud
    interim: frozenset[str] = frozenset()  # languages some member reads interim results in (partial translations)

    @property
    def empty(self) -> bool:
        return not self.listeners and not self.speakers


class PresenceBoard:
    def __init__(self, bus: Bus, codec: EventCodec, instance_id: str, on_change: Callable[[str], None]):
        """on_change(room): another gateway's view of `room` changed (the room's audience may have)."""
        self._bus = bus
        self._codec = codec
        self._publisher = EventPublisher(bus, codec)
        self._instance_id = instance_id
        self._on_change = on_change
        self._local: dict[str, RoomView] = {}
        self._remote: dict[str, dict[str, tuple[RoomView, float]]] = {}  # room -> gateway -> (view, expires at)
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task] = []
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()

    async def start(self) -> None:
        # From the beginning of the (compacted) topic: the rooms other gateways hold now are all there.
        self._subscription = await self._bus.subscribe(
            [ROOM_PRESENCE], f"babelstream.{self._instance_id}.presence", from_latest=False
        )
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._publish_loop())]

    async def stop(self) -> None:
        for room in list(self._local):
            self.announce(room, RoomView())
        await self._flush()
        for task in self._tasks:
            task.cancel()
        if self._subscription is not None:
            await self._subscription.close()

    # -- this gateway's view ---------------------------------------------------------------------------

    def announce(self, room: str, view: RoomView) -> None:
        """This gateway's members of `room` changed: published at once (off the caller's path)."""
        if view.empty:
            if room not in self._local:
                return
            self._local.pop(room)
        else:
            self._local[room] = view
        self._dirty.add(room)
        self._wake.set()

    async def _publish_loop(self) -> None:
        renew_every = PRESENCE_VALID_SECONDS / 3
        renewed_at = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=renew_every)
            except TimeoutError:
                pass
            self._wake.clear()
            if time.monotonic() - renewed_at >= renew_every:
                self._dirty.update(self._local)
                renewed_at = time.monotonic()
            await self._flush()

    async def _flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for room in dirty:
            view = self._local.get(room, RoomView())
            event = Event(
                payload=RoomPresencePayload(
                    room=room,
                    gateway=self._instance_id,
                    listeners=dict(view.listeners),
                    speakers=dict(view.speakers),
                    spoken_languages=tuple(sorted(view.spoken)),
                    valid_for_ms=int(PRESENCE_VALID_SECONDS * 1000),
                    interim_languages=tuple(sorted(view.interim)),
                ),
                correlation_id=f"{room}|{self._instance_id}",
                source_service=self._instance_id,
            )
            try:
                await self._publisher.publish(event)
            except (BusError, ContractError) as failure:
                # The next renewal tries again; until then other gateways keep the last record they read.
                log.warning("presence of room %s not published: %s", room, failure)
                self._dirty.add(room)

    # -- everyone else's ---------------------------------------------------------------------------------

    def remote_views(self, room: str) -> list[RoomView]:
        gateways = self._remote.get(room)
        if not gateways:
            return []
        now = time.monotonic()
        for gateway in [g for g, (_, expires) in gateways.items() if expires <= now]:
            del gateways[gateway]
        if not gateways:
            del self._remote[room]
        return [view for view, _ in gateways.values()]

    def rooms_held_elsewhere(self) -> int:
        return len(self._remote)

    async def _read(self) -> None:
        while True:
            message = await self._subscription.next(timeout_seconds=1.0)
            if message is None:
                continue
            try:
                event = self._codec.decode(message.value)
            except ContractError as error:
                log.warning("undecodable presence on %s@%d: %s", message.topic, message.offset, error)
                event = None
            # Committed as read: the in-memory bus keeps what no group has committed, and nothing here is replayed.
            await self._subscription.commit(message)
            if event is None or not isinstance(event.payload, RoomPresencePayload):
                continue
            if event.payload.gateway != self._instance_id:
                self._learn(event)

    def _learn(self, event: Event) -> None:
        payload: RoomPresencePayload = event.payload
        gateways = self._remote.setdefault(payload.room, {})
        view = RoomView(dict(payload.listeners), dict(payload.speakers), frozenset(payload.spoken_languages),
                        frozenset(payload.interim_languages))
        if view.empty:
            gateways.pop(payload.gateway, None)
            if not gateways:
                del self._remote[payload.room]
        else:
            # Valid from when it was written: a dead gateway's last record, read from the start of the topic, is
            # already out of date.
            left = event.timestamp.timestamp() + payload.valid_for_ms / 1000 - time.time()
            if left <= 0:
                gateways.pop(payload.gateway, None)
            else:
                gateways[payload.gateway] = (view, time.monotonic() + left)
            if not gateways:
                del self._remote[payload.room]
        self._on_change(payload.room)
