"""One room on one gateway: its members here, its recent history, and what it has delivered."""

from __future__ import annotations

from collections.abc import Callable

from babelstream.gateway.rooms.bounded_set import RecentSet
from babelstream.gateway.rooms.history import RoomHistory
from babelstream.gateway.rooms.member import Member
from babelstream.gateway.rooms.presence import RoomView
from babelstream.gateway.rooms.room_partials import RoomPartials

# Event ids remembered per room to drop a redelivered result (at-least-once delivery redelivers within seconds).
_DELIVERED_REMEMBERED = 2048


class Room:
    def __init__(self, room_id: str, history_size: int, now: float):
        self.id = room_id
        self.listeners: dict[str, set[Member]] = {}  # by language
        self.speakers: set[Member] = set()
        self.history = RoomHistory(history_size)
        self.partials = RoomPartials()  # the speakers' interim results (never history)
        self.partial_listeners = 0  # members here who take interim results (listeners, and conversation speakers)
        self.delivered = RecentSet(_DELIVERED_REMEMBERED)
        self.last_active = now  # an utterance's result, or a member joining
        self.audience_due = False
        # Members joined while this gateway reads the room's history back, each with what starts it once read.
        self.waiting: dict[Member, Callable[[], None]] = {}
        self.local_view = RoomView()  # what its members here want, as of their last change (RoomDirectory keeps it)

    @property
    def listener_count(self) -> int:
        return sum(len(members) for members in self.listeners.values())

    @property
    def has_members(self) -> bool:
        return bool(self.listeners) or bool(self.speakers)

    def add_listener(self, member: Member) -> None:
        members = self.listeners.setdefault(member.language, set())
        if member not in members:
            members.add(member)
            self.partial_listeners += member.partials

    def remove_listener(self, member: Member, language: str | None = None) -> None:
        language = member.language if language is None else language
        members = self.listeners.get(language)
        if members is not None and member in members:
            members.remove(member)
            self.partial_listeners -= member.partials
            if not members:
                del self.listeners[language]

    def add_speaker(self, member: Member) -> None:
        if member not in self.speakers:
            self.speakers.add(member)
            self.partial_listeners += member.partials

    def remove_speaker(self, member: Member) -> None:
        if member in self.speakers:
            self.speakers.remove(member)
            self.partial_listeners -= member.partials

    def listeners_of_partials(self, language: str | None = None):
        """Who takes interim results: every member who does (a partial caption), or those reading `language`
        (a partial translation): listeners, and speakers who take partials themselves (conversation mode: each
        sees the others' words as they speak them; its own come to it directly)."""
        groups = self.listeners.values() if language is None else (self.listeners.get(language, ()),)
        for members in groups:
            for member in members:
                if member.partials:
                    yield member
        for speaker in self.speakers:
            if speaker.partials and (language is None or speaker.language == language):
                yield speaker

    def members(self):
        for members in self.listeners.values():
            yield from members
        yield from self.speakers

    def members_reading(self, language: str):
        """Who reads `language`: its listeners, and the speakers who speak it."""
        yield from self.listeners.get(language, ())
        for speaker in self.speakers:
            if speaker.language == language:
                yield speaker

    def view(self) -> RoomView:
        speakers: dict[str, int] = {}
        spoken = {language for language, members in self.listeners.items() if any(m.voice for m in members)}
        interim = {language for language, members in self.listeners.items() if any(m.partials for m in members)}
        for speaker in self.speakers:
            speakers[speaker.language or ""] = speakers.get(speaker.language or "", 0) + 1
            if speaker.voice and speaker.language:
                spoken.add(speaker.language)
            if speaker.partials and speaker.language:
                interim.add(speaker.language)
        return RoomView(
            listeners={language: len(members) for language, members in self.listeners.items()},
            speakers=speakers,
            spoken=frozenset(spoken),
            interim=frozenset(interim),
        )
