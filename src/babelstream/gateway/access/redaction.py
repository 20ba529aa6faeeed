"""Credentials never reach logs: a filter that blanks them in whatever a logger is about to write.

The access code itself never logs a credential. But uvicorn's access log writes each request's path with its
query string (`GET /api/languages?token=...`), and its WebSocket protocol logs the path of every upgrade it
serves; a client may also send a key where a header value ends up in an error. Install `CredentialFilter` on
those loggers' handlers (`install_redaction()` does uvicorn's).
"""

from __future__ import annotations

import logging
import re

from babelstream.gateway.access.api_keys import KEY_PREFIX

REDACTED = "[redacted]"
_PATTERNS = (
    # ?token=... / &access_token=... in a logged URL or query string
    re.compile(r"(?i)((?:^|[?&;\s])(?:access_)?token=)[^&#\s\"']*"),
    # Authorization: Bearer ... in a logged header
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # a key of ours anywhere (a pasted key, an exception message)
    re.compile(r"()" + re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{8,}"),
    # a JWT anywhere: its header always begins with base64url '{"' = eyJ
    re.compile(r"()eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
)

UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


def _redacted(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class CredentialFilter(logging.Filter):
    """Rewrites a record's message and string arguments with `redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def install_redaction(logger_names: tuple[str, ...] = UVICORN_LOGGERS) -> CredentialFilter:
    """Attach one filter to the named loggers (a logger's filters run for records logged on it; uvicorn's access
    and error records are logged on these two directly). Idempotent."""
    credential_filter = CredentialFilter()
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, CredentialFilter) for existing in logger.filters):
            logger.addFilter(credential_filter)
    return credential_filter
