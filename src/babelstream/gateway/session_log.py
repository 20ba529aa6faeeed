"""One log line per session, when it ends: what an operator needs to find a session and see how it went.

Who (the client's address: the peer's, or from a trusted proxy the one it speaks for; the key's name or the
token's subject, never the credential), how long, how much audio, how many segments, and how it ended (the close
code, the error's kind and reason). Never anything a person said: no audio, transcript or translation reaches this
line, nor any other line of the gateway's.

With LOG_FORMAT=json the fields are also the JSON object's keys (log_format.py writes a record's extra fields).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.session_context import SessionObserver

if TYPE_CHECKING:
    from babelstream.gateway.errors import SessionEnded
    from babelstream.gateway.session import Session

log = logging.getLogger(__name__)

_REASON_CHARS = 300


class SessionLog(SessionObserver):
    """Notes when each session started and whether it got its summary; writes its line when it ends."""

    def __init__(self) -> None:
        self._started: dict[Session, float] = {}
        self._summarised: set[Session] = set()

    def session_started(self, session: Session) -> None:
        self._started[session] = time.monotonic()

    def message_sent(self, session: Session, message: dict) -> None:
        if message.get("type") == "summary":  # a normal end: the close 1000 follows it
            self._summarised.add(session)

    def session_ended(self, session: Session, ended: SessionEnded | None) -> None:
        started = self._started.pop(session, None)
        summarised = session in self._summarised
        self._summarised.discard(session)
        if not log.isEnabledFor(logging.INFO):  # a bench's thousands of sessions, with logging left unconfigured
            return
        if ended is not None:
            # A reason may quote what the client sent (an unknown start field): bounded, and never audio or text.
            close_code, kind, reason = ended.code, str(ended.kind), ended.reason[:_REASON_CHARS]
        elif summarised:
            close_code, kind, reason = int(CloseCode.NORMAL), "done", None
        else:
            close_code, kind, reason = None, "client_left", None  # no result could reach it: nothing to close
        fields = {
            "correlation_id": session.correlation_id,
            "client": session.client,
            "transport": session.transport,  # the door: websocket or grpc (close_code is the WebSocket's for both)
            "principal": session.principal.name,
            "auth": str(session.principal.method),
            "duration_s": round(time.monotonic() - started, 3) if started is not None else None,
            "received_bytes": session.received_bytes,
            "segments": session.ledger.segment_count,
            "close_code": close_code,
            "kind": kind,
            "reason": reason,
        }
        log.info("session ended: %s", _key_values(fields), extra=fields)


def _key_values(fields: dict[str, object]) -> str:
    """`key=value ...` for the text format; a value with a space, a quote or a control character is written as a
    JSON string, so a reason that echoes what a client sent cannot forge a line of its own."""
    parts = []
    for key, value in fields.items():
        text = "-" if value is None else str(value)
        if not text or not text.isprintable() or any(c in text for c in ' "='):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)
