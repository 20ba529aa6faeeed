"""What the room needs of whoever is in it: a listener on /ws/listen, or a speaker's session (a speaker hears the
others in its own language: conversation mode)."""

from __future__ import annotations

from typing import Protocol

from babelstream.gateway.shared_message import SharedMessage


class Member(Protocol):
    # A speaker's correlation id: its own results reach it directly, never a second time through the room.
    member_id: str
    language: str | None  # what it reads and hears; None: captions only (a speaker whose language is detected)
    voice: bool  # whether it wants the spoken translation
    # Whether it takes the other speakers' interim results: a listener that asks, a speaker that takes its own.
    partials: bool

    def deliver(self, shared: SharedMessage, *, audio: bool, interim: bool = False) -> None:
        """One message for it (encoded once for every member on the same wire format). Never blocks: a member that
        cannot keep up drops interim results, then audio, then is closed. `interim`: a partial or a partial
        translation, superseded by the next one anyway."""

    def audience_changed(self, message: dict) -> None:
        """Who listens now (speakers show it; a listener ignores it)."""
