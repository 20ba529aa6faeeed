"""Who a credential says the client is, and what it may do: the outcome of an accepted credential."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    """A token's `role` claim, for rooms. A speaker may also listen (it sees its own room); a listener only
    listens."""

    SPEAKER = "speaker"
    LISTENER = "listener"


class Method(enum.StrEnum):
    API_KEY = "api_key"
    JWT = "jwt"
    NONE = "none"  # auth is off (loopback, or --insecure): everyone is the anonymous principal


@dataclass(frozen=True)
class Principal:
    """`name` is the key's name or the token's subject: safe to log, never the secret. `room`/`role` are None
    when the credential is not restricted (API keys never are)."""

    name: str
    method: Method
    room: str | None = None
    role: Role | None = None
    expires_at: float | None = None  # the token's `exp` (Unix seconds); None for keys and anonymous

    def may_enter(self, room: str) -> bool:
        return self.room is None or self.room == room

    def may_act_as(self, role: Role) -> bool:
        if self.role is None or self.role is role:
            return True
        return self.role is Role.SPEAKER and role is Role.LISTENER


ANONYMOUS = Principal(name="anonymous", method=Method.NONE)
