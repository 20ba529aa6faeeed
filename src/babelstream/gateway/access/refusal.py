"""Why a request is refused: a stable kind a client switches on, and a reason a person reads.

A reason never echoes the credential presented (not even a prefix of it): refusals are sent to the client and
logged, and a token pasted into the wrong field must not end up in either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RefusalKind(enum.StrEnum):
    """The same strings as the gateway's error kinds (`error.kind` on the WebSocket, `kind` in an HTTP 401/403
    body); docs/security.md lists them."""

    # No credential, or one that is not accepted: unknown key, bad signature, expired, wrong audience,
    # malformed. The client should ask for (or fetch) a new credential. WebSocket close 1008, HTTP 401.
    UNAUTHENTICATED = "unauthenticated"
    # A valid credential that does not allow this: a token restricted to another room or to the listener role.
    # Another credential is needed, not the same one again. WebSocket close 1008, HTTP 403.
    FORBIDDEN = "forbidden"
    # A browser page from another site (Origin). WebSocket close 1008, HTTP 403.
    ORIGIN = "origin"


_HTTP_STATUS = {RefusalKind.UNAUTHENTICATED: 401, RefusalKind.FORBIDDEN: 403, RefusalKind.ORIGIN: 403}


@dataclass(frozen=True)
class Refusal:
    kind: RefusalKind
    reason: str
    # True when a credential was presented (RFC 6750: the 401 then says error="invalid_token").
    credential_presented: bool = False

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self.kind]

    def body(self) -> dict[str, str]:
        """The JSON body of an HTTP refusal; the WebSocket error message carries the same two fields."""
        return {"kind": str(self.kind), "reason": self.reason}
