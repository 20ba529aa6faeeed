"""Routes result events from the bus to the sockets that asked for them, and to the rooms.

Every gateway process consumes the result topics in consumer groups of its own (so each sees every result), and
hands each event to the session whose correlation_id it carries, if that session is here, and to the rooms
(rooms/directory.py), which keep every room's history and give the result to their members on this gateway.
Two gateways on the same topics therefore each answer their own clients, and each serves its own listeners.

Text results are read from `history_seconds` back when the gateway starts, so the rooms' recent history is on
every gateway, a new one included; spoken audio is read from the end (it is never history), and so are interim
results (`speech.asr.partial`, `speech.translation.partial`), which go to their session only: they are neither
history nor a room's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from babelstream.bus.base import Bus, Message, Subscription
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.errors import ContractError
from babelstream.contracts.events import Event
from babelstream.contracts.topics import ASR_PARTIAL, HISTORY_TOPICS, TRANSLATION_PARTIAL, TTS_AUDIO

log = logging.getLogger(__name__)

# The group's offsets matter only to the in-memory bus (to trim its logs), so commit in batches.
_COMMIT_EVERY = 50
_INTERIM_TOPICS = (ASR_PARTIAL, TRANSLATION_PARTIAL)


class ResultListener(Protocol):
    def on_result(self, event: Event) -> None: ...


class RoomResults(Protocol):
    def wants(self, topic: str, key: str) -> bool: ...

    def on_result(self, event: Event) -> None: ...


class ResultRouter:
    def __init__(self, bus: Bus, codec: EventCodec, instance_id: str, *, rooms: RoomResults | None = None,
                 history_seconds: float = 0.0):
        self._bus = bus
        self._codec = codec
        self._group = f"babelstream.{instance_id}"  # groups of its own: this gateway sees every result
        self._rooms = rooms
        self._history_seconds = history_seconds
        self._listeners: dict[str, ResultListener] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task] = []

    def register(self, correlation_id: str, listener: ResultListener) -> None:
        self._listeners[correlation_id] = listener

    def unregister(self, correlation_id: str, listener: ResultListener) -> None:
        if self._listeners.get(correlation_id) is listener:  # a resumed session may hold the id since
            del self._listeners[correlation_id]

    def listener(self, correlation_id: str) -> ResultListener | None:
        return self._listeners.get(correlation_id)

    async def start(self) -> None:
        since = self._history_seconds if self._rooms is not None and self._history_seconds > 0 else None
        text = await self._bus.subscribe(
            list(HISTORY_TOPICS), f"{self._group}.text", from_latest=since is None, since_seconds=since
        )
        audio = await self._bus.subscribe([TTS_AUDIO], f"{self._group}.audio", from_latest=True)
        partials = await self._bus.subscribe(
            list(_INTERIM_TOPICS), f"{self._group}.partial", from_latest=True
        )
        self._subscriptions = [text, audio, partials]
        self._tasks = [asyncio.create_task(self._route(subscription)) for subscription in self._subscriptions]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for subscription in self._subscriptions:
            await subscription.close()

    def _dispatch(self, message: Message) -> None:
        key = message.key.decode() if message.key else ""
        listener = self._listeners.get(key)
        rooms = (
            self._rooms if self._rooms is not None and message.topic not in _INTERIM_TOPICS
            and self._rooms.wants(message.topic, key)
            else None
        )
        if listener is None and rooms is None:
            return  # another gateway's session, not a room's: not even decoded
        event = self._codec.decode(message.value)
        if listener is not None:
            listener.on_result(event)
        if rooms is not None:
            rooms.on_result(event)

    async def _route(self, subscription: Subscription) -> None:
        uncommitted = 0
        latest: dict[tuple[str, int], Message] = {}
        while True:
            message = await subscription.next(timeout_seconds=1.0)
            if message is None:
                continue
            try:
                self._dispatch(message)
            except ContractError as error:
                # Stages send their bad input to the dead-letter topic; a bad result is only logged here.
                log.warning("undecodable result on %s@%d: %s", message.topic, message.offset, error)
            except Exception:
                log.exception("result routing failed for %s@%d", message.topic, message.offset)
            latest[(message.topic, message.partition)] = message
            uncommitted += 1
            if uncommitted >= _COMMIT_EVERY:
                for last in latest.values():
                    await subscription.commit(last)
                latest.clear()
                uncommitted = 0
