"""What a room may be called: URL-safe (it goes in /ws/listen's query and in a share link) and short."""

from __future__ import annotations

import re

from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded

ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def parse_room_id(value: object) -> str:
    """The room id, or a `malformed` refusal (1003) saying what a room id may be."""
    if not isinstance(value, str) or not ROOM_ID.fullmatch(value):
        raise SessionEnded(
            CloseCode.UNSUPPORTED_DATA,
            f"a room id is 1-64 characters of A-Z, a-z, 0-9, '-' and '_'; got {value!r:.80}",
            kind=Kind.MALFORMED,
        )
    return value
