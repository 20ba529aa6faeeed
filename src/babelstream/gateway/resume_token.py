"""Resume tokens: what lets a client take its session up again on any gateway after its socket or its gateway died.

A token is `v1.<correlation id>.<started>.<expires>.<signature>`: the signature is an HMAC-SHA256, keyed by
RESUME_SECRET, over the version, the session's correlation id, the principal its credential named, when the session
started and when the token expires (Unix seconds). Nothing is stored: any gateway holding the same secret checks it.
It is unguessable without the secret, bound to one session and one principal, and compared in constant time.
Without RESUME_SECRET each process draws a random key at start, so a session can then resume only on the gateway
that issued its token (a dropped network, not a dead process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from babelstream.gateway.access.principal import Principal

_VERSION = "v1"
_KEY_BYTES = 32


class ResumeRefused(Exception):
    """The token is not one this gateway accepts for that session: forged, expired, another session's or another
    principal's. The reason is for the client; it never says which check failed beyond that."""


@dataclass(frozen=True)
class ResumeGrant:
    correlation_id: str
    started_at: float  # Unix seconds: the session's limits count from here, not from the resume


class ResumeTokens:
    def __init__(self, secret: bytes | None, valid_seconds: float):
        """secret: RESUME_SECRET (shared by every gateway), or None for a key of this process only.
        valid_seconds: how long a token is good for after it is issued."""
        self._key = secret if secret else secrets.token_bytes(_KEY_BYTES)
        self.valid_seconds = valid_seconds

    def issue(self, correlation_id: str, principal: Principal, started_at: float, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.valid_seconds)
        started = int(started_at)
        signature = self._sign(correlation_id, principal, started, expires)
        return f"{_VERSION}.{correlation_id}.{started}.{expires}.{signature}"

    def verify(self, token: object, correlation_id: str, principal: Principal, *, now: float | None = None) -> ResumeGrant:
        if not isinstance(token, str) or len(token) > 256:
            raise ResumeRefused("resume_token must be the token given in `connected`")
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != _VERSION or not parts[2].isdigit() or not parts[3].isdigit():
            raise ResumeRefused("resume_token is not a resume token")
        _, session, started, expires, signature = parts
        expected = self._sign(correlation_id, principal, int(started), int(expires))
        # Checked whatever the other fields say, in constant time: a forger learns nothing from how long it took.
        genuine = hmac.compare_digest(signature.encode(), expected.encode())
        if not genuine or session != correlation_id:
            raise ResumeRefused("resume_token is not valid for this session and credential")
        if int(expires) < (time.time() if now is None else now):
            raise ResumeRefused("resume_token has expired")
        return ResumeGrant(correlation_id, float(started))

    def _sign(self, correlation_id: str, principal: Principal, started: int, expires: int) -> str:
        # Length-prefixed fields: no two different tuples sign the same bytes.
        fields = (_VERSION, correlation_id, str(principal.method), principal.name, str(started), str(expires))
        message = b"".join(len(f.encode()).to_bytes(4, "big") + f.encode() for f in fields)
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
