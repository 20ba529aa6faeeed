"""How a babelstream process writes its log: lines for a person (`text`) or one JSON object per line for a log
pipeline (`json`), chosen by LOG_FORMAT and set up once, by the composition root (`cli.py`), for every logger:
babelstream's, uvicorn's (served with `log_config=None`, so its records reach the root's handler) and libraries'.

A record's extra fields (`log.info(..., extra={...})`, as the session line passes them) become keys of its JSON
object; the text format shows the message only, so a message carries its fields in words too.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from babelstream.gateway.access.redaction import CredentialFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# A record's own attributes; anything else on it came in `extra` and is written as a field of its own.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName",
    "color_message",  # uvicorn's copy of its message with terminal colours
}


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # "text": a line per record for people reading a terminal or journal; "json": one JSON object per line
    # (time, level, logger, message, and the record's fields) for a log pipeline to parse.
    log_format: Literal["text", "json"] = "text"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in a message or a traceback are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((key, value) for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: LogSettings, *, verbose: bool = False) -> None:
    """The root logger writes to stderr in the chosen format; every other logger passes its records up to it.
    Its handler blanks credentials in every record it writes, whichever logger it came from (the filter uvicorn's
    loggers carry, gateway/access/redaction.py, applied once more where all lines meet)."""
    root = logging.getLogger()
    if root.handlers:  # a program that calls main() has its own logging (a test runner's capture): it stays
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(CredentialFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)  # a library's warnings too, which would otherwise be printed as bare text
