"""The rooms one gateway knows: who is in them here, what every gateway's members want, and where results go.

A room speaker's results come back on the room's reply partition, which every gateway holding members of the room
reads (gateway/router.py, told by `watch_holding`), so each keeps the recent history of its rooms (and of the
other rooms sharing their partitions) and hands each result to its own members of the room: a speaker on gateway
A and listeners on B and C all get the same results, from the same partition, in each speaker's order. A speaker's utterance
is translated into the union of the languages its room's members want on every gateway (presence.py), once per
language; each result is encoded once and given to every member that reads that language. The speakers' interim
results (partials, and partial translations in the room's languages, made once per room by the translate stage) go
to the listeners who take them, never into the history (rooms/room_partials.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from babelstream.bus.base import Bus
from babelstream.contracts.codec import EventCodec
from babelstream.contracts.events import (
    AudioSynthesisPayload,
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    SessionOptions,
    TextRecognizedPayload,
    TextTranslatedPayload,
)
from babelstream.contracts.topics import ASR_PARTIAL, HISTORY_REPLY_TOPICS, TRANSLATION_PARTIAL
from babelstream.gateway import messages
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.metrics import GatewayMetrics
from babelstream.gateway.shared_message import SharedMessage
from babelstream.gateway.rooms.member import Member
from babelstream.gateway.rooms.presence import PresenceBoard, RoomView
from babelstream.gateway.rooms.room import Room
from babelstream.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

# Which room a speaker's session talks into, learnt from its transcripts (spoken audio events do not say): the
# newest this many speakers are remembered.
_SPEAKERS_REMEMBERED = 4096
# A room's audience (how many listen, in which languages) goes to its speakers at most this often.
_AUDIENCE_EVERY_SECONDS = 1.0
_INTERIM_TOPICS = (ASR_PARTIAL, TRANSLATION_PARTIAL)
_INTERIM_PAYLOADS = (PartialTranscriptPayload, PartialTranslationPayload)


def _nobody(room_id: str) -> None:
    pass


def _always(room_id: str) -> bool:
    return True


class RoomDirectory:
    def __init__(self, settings: GatewaySettings, bus: Bus, codec: EventCodec, instance_id: str,
                 metrics: GatewayMetrics):
        self._settings = settings
        self._metrics = metrics
        self._rooms: dict[str, Room] = {}
        self._speaker_rooms: OrderedDict[str, str] = OrderedDict()  # speaker's correlation id -> room
        self.presence = PresenceBoard(bus, codec, instance_id, on_change=self._audience_changed)
        self._tasks: list[asyncio.Task] = []
        self._hold: Callable[[str], None] = _nobody
        self._release: Callable[[str], None] = _nobody
        self._history_ready: Callable[[str], bool] = _always
        metrics.rooms.set_function(lambda: sum(1 for room in self._rooms.values() if room.has_members))
        metrics.listeners.set_function(lambda: sum(room.listener_count for room in self._rooms.values()))

    def watch_holding(self, hold: Callable[[str], None], release: Callable[[str], None],
                      history_ready: Callable[[str], bool]) -> None:
        """hold(room) when this gateway gets the room's first member, release(room) when its last one leaves (the
        rooms held now are told at once); history_ready(room): whether the room's history has been read here."""
        self._hold, self._release, self._history_ready = hold, release, history_ready
        for room in self._rooms.values():
            if room.has_members:
                hold(room.id)

    async def start(self) -> None:
        await self.presence.start()
        self._tasks = [
            asyncio.create_task(self._sweep()),
            asyncio.create_task(self._push_audiences()),
            asyncio.create_task(self._keep_listeners_alive()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.presence.stop()

    # -- members ---------------------------------------------------------------------------------------

    def join_listener(self, member: Member, room_id: str) -> Room:
        """Raises SessionEnded (capacity) when the room is full or this gateway holds all the rooms it may."""
        room = self._room_to_join(room_id)
        limit = self._settings.max_listeners_per_room
        if self.listener_count(room_id) >= limit:
            raise SessionEnded(
                CloseCode.TRY_AGAIN_LATER, f"room {room_id} is full ({limit} listeners)", kind=Kind.CAPACITY
            )
        room.add_listener(member)
        self._changed(room)
        return room

    def join_speaker(self, member: Member, room_id: str) -> Room:
        room = self._room_to_join(room_id)
        room.add_speaker(member)
        self._changed(room)
        return room

    def when_history_ready(self, member: Member, room_id: str, start: Callable[[], None]) -> None:
        """Calls `start` once the room's history is here: now, or when this gateway has read it back (its first
        member here made it read the room's partition; gateway/router.py). Until then results pass `member` by:
        they are in the history it is given first."""
        room = self._rooms[room_id]
        if self._history_ready(room_id):
            start()
        else:
            room.waiting[member] = start

    def history_read(self) -> None:
        for room in list(self._rooms.values()):
            if room.waiting and self._history_ready(room.id):
                waiting, room.waiting = room.waiting, {}
                for start in waiting.values():
                    start()

    def leave(self, member: Member, room_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            return
        room.waiting.pop(member, None)
        room.remove_listener(member)
        room.remove_speaker(member)
        self._changed(room)

    def listener_changed(self, member: Member, room_id: str, old_language: str | None) -> None:
        """A listener changed its language or voice (it is already in the room under `old_language`)."""
        room = self._rooms[room_id]
        room.remove_listener(member, old_language)
        room.add_listener(member)
        self._changed(room)

    def _room_to_join(self, room_id: str) -> Room:
        room = self._rooms.get(room_id)
        if room is not None and room.has_members:
            return room
        held = sum(1 for r in self._rooms.values() if r.has_members)
        if held >= self._settings.max_rooms:
            raise SessionEnded(
                CloseCode.TRY_AGAIN_LATER,
                f"this gateway holds as many rooms as it may ({self._settings.max_rooms}); try again later",
                kind=Kind.CAPACITY,
            )
        return room or self._new_room(room_id)

    def _new_room(self, room_id: str) -> Room:
        # Rooms known only by their history (no member here) are bounded too: the least recently active goes first.
        unheld = [r for r in self._rooms.values() if not r.has_members]
        if len(unheld) >= self._settings.max_rooms:
            oldest = min(unheld, key=lambda r: r.last_active)
            del self._rooms[oldest.id]
        room = self._rooms[room_id] = Room(room_id, self._settings.room_history_utterances, time.monotonic())
        return room

    def _changed(self, room: Room) -> None:
        (self._hold if room.has_members else self._release)(room.id)
        room.last_active = time.monotonic()
        room.local_view = room.view()
        self.presence.announce(room.id, room.local_view)
        self._audience_changed(room.id)

    # -- what a speaker's utterance is translated into --------------------------------------------------

    def views(self, room_id: str) -> list[RoomView]:
        room = self._rooms.get(room_id)
        local = [room.local_view] if room is not None and room.has_members else []
        return local + self.presence.remote_views(room_id)

    def options_for(self, room_id: str, options: SessionOptions) -> SessionOptions:
        """A room speaker's options for its next utterance: its own targets, and every language the room's
        members on every gateway read (but the one it speaks); spoken where a member wants it spoken."""
        targets = set(options.target_languages)
        spoken = set(options.target_languages) if options.synthesize else set()
        for view in self.views(room_id):
            targets.update(view.listeners)
            targets.update(language for language in view.speakers if language)
            spoken.update(view.spoken)
        targets.discard(options.source_language)
        spoken &= targets
        return dataclasses.replace(
            options,
            room=room_id,
            target_languages=tuple(sorted(targets)),
            synthesize=bool(spoken),
            spoken_languages=tuple(sorted(spoken)),
        )

    def interim_options_for(self, room_id: str, options: SessionOptions, own_targets: tuple[str, ...]) -> SessionOptions:
        """The options a room speaker's open utterance's windows go with: their partial translations are made into
        `own_targets` (the speaker's own, when it asked for them) and the languages some member on any gateway reads
        interim results in, not every language of the room (a listener with `partials=0` reads finals only)."""
        targets = set(own_targets)
        for view in self.views(room_id):
            targets.update(view.interim)
        targets.discard(options.source_language)
        return dataclasses.replace(options, room=room_id, target_languages=tuple(sorted(targets)))

    def listener_count(self, room_id: str) -> int:
        return sum(sum(view.listeners.values()) for view in self.views(room_id))

    def audience(self, room_id: str) -> dict:
        languages: dict[str, int] = {}
        speakers = 0
        for view in self.views(room_id):
            for language, count in view.listeners.items():
                languages[language] = languages.get(language, 0) + count
            speakers += sum(view.speakers.values())
        return messages.audience(room_id, languages=languages, speakers=speakers)

    def _audience_changed(self, room_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is not None and room.speakers:
            room.audience_due = True

    async def _push_audiences(self) -> None:
        while True:
            await asyncio.sleep(_AUDIENCE_EVERY_SECONDS)
            for room in list(self._rooms.values()):
                if room.audience_due:
                    room.audience_due = False
                    message = self.audience(room.id)
                    for speaker in list(room.speakers):
                        speaker.audience_changed(message)

    # -- results --------------------------------------------------------------------------------------

    def history(self, room_id: str, language: str | None) -> list[dict]:
        room = self._rooms.get(room_id)
        if room is None:
            return []
        found = (messages.room_result(event, room_id, history=True) for event in room.history.for_language(language))
        return [message for message in found if message is not None]

    def wants(self, topic: str, key: str) -> bool:
        """Whether the router should decode this result for the rooms: every text result (it may be a room's,
        and every gateway keeps the history of the rooms on the partitions it reads), spoken audio only of a speaker whose room has a member here
        who wants it spoken (a spoken translation is 100-300 KB: not decoded for nobody), interim results only while
        a listener here takes them."""
        if topic in HISTORY_REPLY_TOPICS:
            return True
        room_id = self._speaker_rooms.get(key)
        if topic in _INTERIM_TOPICS:
            if room_id is None:
                # A speaker's first utterance: its partials come before any transcript of it has named its room.
                return any(room.partial_listeners for room in self._rooms.values())
            room = self._rooms.get(room_id)
            return room is not None and room.partial_listeners > 0
        if room_id is None:
            return False
        room = self._rooms.get(room_id)
        return room is not None and bool(room.local_view.spoken)

    def on_result(self, event: Event) -> None:
        payload = event.payload
        speaker = event.correlation_id
        options = getattr(payload, "options", None)
        if options is not None:
            if options.room is None:
                return
            room_id = options.room
            self._speaker_rooms[speaker] = room_id
            self._speaker_rooms.move_to_end(speaker)
            if len(self._speaker_rooms) > _SPEAKERS_REMEMBERED:
                self._speaker_rooms.popitem(last=False)
        else:
            room_id = self._speaker_rooms.get(speaker)
            if room_id is None:
                return
        room = self._rooms.get(room_id)
        if isinstance(payload, _INTERIM_PAYLOADS):
            # Not history, and not among the delivered ids (a few a second would push the finals' ids out).
            if room is not None and room.partial_listeners:
                self._fan_out_interim(room, event)
            return
        if room is None:
            if isinstance(payload, AudioSynthesisPayload):
                return  # nobody here to hear it, and audio is not history
            room = self._new_room(room_id)
        if not room.delivered.add(event.event_id):
            return  # redelivered: every member already has it
        room.last_active = time.monotonic()
        room.history.add(event)
        revised = isinstance(payload, TextRecognizedPayload) and room.partials.finished(speaker, payload)
        if room.has_members:
            self._fan_out(room, event, revised=revised)

    def _fan_out_interim(self, room: Room, event: Event) -> None:
        """A speaker's partial (to every listener who takes them) or partial translation (to those reading its
        language). Dropped first by a listener that is behind: the next one supersedes it."""
        payload = event.payload
        speaker = event.correlation_id
        if not room.partials.accept(speaker, payload):
            return  # not more than was shown, or its utterance's transcript came already
        if isinstance(payload, PartialTranscriptPayload):
            message, members = messages.partial(payload), room.listeners_of_partials()
        else:
            message, members = messages.partial_translation(payload), room.listeners_of_partials(payload.target_language)
        shared = SharedMessage(messages.room_interim(message, room.id, speaker))
        delivered = 0
        for member in list(members):
            if member.member_id == speaker or member in room.waiting:
                continue  # a member given the history first takes the finals of what it missed
            member.deliver(shared, audio=False, interim=True)
            delivered += 1
        if delivered:
            self._metrics.room_deliveries.labels(type=message["type"]).inc(delivered)

    def _fan_out(self, room: Room, event: Event, *, revised: bool = False) -> None:
        payload = event.payload
        if isinstance(payload, AudioSynthesisPayload) and payload.language not in room.local_view.spoken:
            return  # nobody here hears that language spoken: not even built (its base64 is most of the cost)
        spoken = isinstance(payload, AudioSynthesisPayload) and not payload.error
        # A spoken translation's bytes are added by each member's form of it (SharedMessage): base64 WAV in JSON,
        # or a binary frame of Ogg Opus; only the forms some member takes are made.
        message = messages.room_result(event, room.id, history=False, inline_audio=not spoken, revised=revised)
        if message is None:
            return
        speaker = event.correlation_id
        audio = False
        if isinstance(payload, TextRecognizedPayload):
            members = room.members()  # the captions go to everyone
        elif isinstance(payload, TextTranslatedPayload):
            members = room.members_reading(payload.target_language)
        elif isinstance(payload, AudioSynthesisPayload):
            audio = True
            members = (m for m in room.members_reading(payload.language) if m.voice)
        else:
            return
        shared = SharedMessage(message, payload if spoken else None)  # encoded once per form, for every member
        delivered = 0
        for member in list(members):
            if member.member_id == speaker or member in room.waiting:
                continue  # its own results reached it directly; or it is given the history first
            member.deliver(shared, audio=audio)
            delivered += 1
        if delivered:
            self._metrics.room_deliveries.labels(type=message["type"]).inc(delivered)

    async def _keep_listeners_alive(self) -> None:
        while True:
            await asyncio.sleep(self._settings.listener_ping_seconds)
            for room in list(self._rooms.values()):
                for members in list(room.listeners.values()):
                    for listener in list(members):
                        listener.keepalive()

    # -- forgetting ----------------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        idle = self._settings.room_idle_seconds
        while True:
            await asyncio.sleep(min(60.0, max(1.0, idle / 4)))
            now = time.monotonic()
            for room in list(self._rooms.values()):
                if now - room.last_active < idle:
                    continue
                if room.has_members:
                    room.history.clear()  # silent that long: what was said before is no longer "recent"
                else:
                    del self._rooms[room.id]
