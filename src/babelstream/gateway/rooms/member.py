"""What the room needs of whoever is in it: a listener on /ws/listen, or a speaker's session (a speaker hears the
others in its own language: conversation mode)."""

from __future__ import annotations

from typing import Protocol


class Member(Protocol):
    # A speaker's correlation id: its own results reach it directly, never a second time through the room.
    member_id: str
    language: str | None  # what it reads and hears; None: captions only (a speaker whose language is detected)
    voice: bool  # whether it wants the spoken translation

    def deliver(self, text: str, *, audio: bool) -> None:
        """One encoded message for it. Never blocks: a member that cannot keep up drops audio, then is closed."""

    def audience_changed(self, message: dict) -> None:
        """Who listens now (speakers show it; a listener ignores it)."""
