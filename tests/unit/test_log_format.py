"""LOG_FORMAT=json: one JSON object per line, with a record's extra fields as keys of their own.
(A whole process writing nothing else, uvicorn's lines included: tests/integration/test_logs.py.)"""

from __future__ import annotations

import json
import logging
import sys

from babelstream.log_format import JsonFormatter, LogSettings


def record(message: str, *args, exc_info=None, **extra) -> logging.LogRecord:
    made = logging.LogRecord("babelstream.test", logging.WARNING, __file__, 1, message, args, exc_info)
    made.__dict__.update(extra)
    return made


def test_a_record_is_one_line_of_json_with_its_fields():
    line = JsonFormatter().format(record("session ended: %s", "a=1", correlation_id="c-1", segments=2, peer=None))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "session ended: a=1"
    assert (entry["level"], entry["logger"]) == ("WARNING", "babelstream.test")
    assert entry["time"].endswith("+00:00")
    assert (entry["correlation_id"], entry["segments"], entry["peer"]) == ("c-1", 2, None)
    assert "args" not in entry and "msg" not in entry and "levelno" not in entry


def test_a_traceback_and_a_multi_line_message_stay_on_one_line():
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        line = JsonFormatter().format(record("line one\nline two", exc_info=sys.exc_info()))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "line one\nline two"
    assert "ValueError: first\nsecond" in entry["exception"]


def test_the_format_is_text_unless_json_is_asked_for(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert LogSettings().log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert LogSettings().log_format == "json"
