"""What a client may send: the start message and done, parsed and checked (on /ws/audio as text; gRPC's config
is checked here too).

docs/protocol.md describes them for client developers; the server's own messages are built in messages.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from babelstream.contracts.audio_format import PIPELINE_SAMPLE_RATE_HZ
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.rooms.room_id import parse_room_id

# Rates a client may declare; anything else is refused rather than guessed.
ACCEPTED_SAMPLE_RATES_HZ = (8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
MODES = ("live", "single", "batch")
AUTO = "auto"
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
MAX_TARGET_LANGUAGES = 8
# Event ids a resume may list as received: what one text message holds under the default MAX_CHUNK_BYTES (65,536):
# 1,500 ids of 36 characters, quoted and comma-separated, are ~58.5 KB (2,000 were ~78 KB: refused 1009).
MAX_RESUME_RECEIVED = 1500
_RESUME_FIELDS = ("correlation_id", "resume_token", "audio_ms", "received")


@dataclass(frozen=True)
class StartRequest:
    """The optional first text message. Every field may be omitted; the operator's defaults fill the gaps."""

    mode: str | None = None
    sample_rate_hz: int = PIPELINE_SAMPLE_RATE_HZ
    source_language: str | None = None  # a code, AUTO, or None for the operator's default
    target_languages: tuple[str, ...] | None = None
    synthesize: bool = True
    wait_for_results: bool = True
    partials: bool | None = None  # None: the server's default (PARTIALS)
    translate_partials: bool = False
    room: str | None = None  # a room to speak into (rooms/): its listeners get the results too


@dataclass(frozen=True)
class ResumeRequest:
    """Instead of a start: take up a session whose socket or gateway died (docs/protocol.md, "Resuming a session").
    `start` holds the start fields again (the rate, the languages: nothing of them is on the bus)."""

    correlation_id: str
    resume_token: str
    start: StartRequest
    # Where, on the session's timeline (ms of audio since its first frame), the audio sent from now on begins.
    audio_ms: int
    received: frozenset[str] = frozenset()  # event ids of results the client already has: not sent again


@dataclass(frozen=True)
class DoneRequest:
    pass


def malformed(reason: str) -> SessionEnded:
    return SessionEnded(CloseCode.UNSUPPORTED_DATA, reason, kind=Kind.MALFORMED)


def language_code(value: object, field: str) -> str:
    if not isinstance(value, str) or not _LANGUAGE_CODE.fullmatch(value.lower()):
        raise malformed(f"{field} must be an ISO 639-1 code such as \"en\", got {value!r}")
    return value.lower()


def parse_text_message(text: str) -> StartRequest | DoneRequest | ResumeRequest:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deep enough to exhaust the parser's stack
        raise malformed("text frames must be JSON: {\"event\":\"start\",...} or {\"event\":\"done\"}") from None
    if not isinstance(message, dict):
        raise malformed("a text frame must be a JSON object")
    event = message.get("event")
    if event == "done":
        return DoneRequest()
    if event == "resume":
        return parse_resume(message)
    if event != "start":
        raise malformed(f"unknown event {event!r}: expected \"start\", \"resume\" or \"done\"")
    return parse_start(message)


def parse_resume(message: dict) -> ResumeRequest:
    correlation_id, token = message.get("correlation_id"), message.get("resume_token")
    if not isinstance(correlation_id, str) or not 0 < len(correlation_id) <= 64:
        raise malformed("resume needs the correlation_id `connected` gave")
    if not isinstance(token, str) or not token:
        raise malformed("resume needs the resume_token `connected` gave")
    audio_ms = message.get("audio_ms", 0)
    if type(audio_ms) is not int or audio_ms < 0:
        raise malformed("audio_ms must be a whole number of milliseconds, 0 or more")
    received = message.get("received", [])
    if (not isinstance(received, list) or len(received) > MAX_RESUME_RECEIVED
            or not all(isinstance(r, str) and len(r) <= 64 for r in received)):
        raise malformed(f"received must be a list of at most {MAX_RESUME_RECEIVED} event ids")
    start = parse_start({name: value for name, value in message.items() if name not in _RESUME_FIELDS})
    if start.mode == "single":
        raise malformed("only a live or batch session can be resumed: a single one is published whole at done")
    return ResumeRequest(correlation_id, token, start, audio_ms, frozenset(received))


def parse_start(message: dict) -> StartRequest:
    """The start message's fields, checked: from the JSON text, or from gRPC's Config (grpc/proto_messages.py) put in
    the same shape, so both doors accept and refuse exactly the same starts."""
    known = {
        "event", "mode", "sample_rate_hz", "language", "language_hint", "targets", "synthesize", "wait_for_results",
        "room", "partials", "translate_partials",
    }
    unknown = sorted(set(message) - known)
    if unknown:
        raise malformed(f"unknown start field(s) {unknown}; known: {sorted(known)}")
    mode = message.get("mode")
    if mode is not None and mode not in MODES:
        raise malformed(f"mode must be one of {list(MODES)}, got {mode!r}")
    rate = message.get("sample_rate_hz", PIPELINE_SAMPLE_RATE_HZ)
    if type(rate) is not int or rate not in ACCEPTED_SAMPLE_RATES_HZ:  # 16000.0 == 16000, and true == 1
        raise malformed(f"sample_rate_hz {rate!r} is not supported; use one of {list(ACCEPTED_SAMPLE_RATES_HZ)}")
    language = message.get("language", message.get("language_hint"))
    # None: the operator's default; AUTO: the multilingual model detects the language of each utterance.
    source = None if language in (None, "") else AUTO if language == AUTO else language_code(language, "language")
    targets = message.get("targets")
    if targets is not None:
        if isinstance(targets, str):
            targets = [t for t in targets.split(",") if t.strip()]
        if not isinstance(targets, list) or len(targets) > MAX_TARGET_LANGUAGES:
            raise malformed(f"targets must be a list of at most {MAX_TARGET_LANGUAGES} language codes")
        targets = tuple(dict.fromkeys(language_code(t.strip() if isinstance(t, str) else t, "targets") for t in targets))
    for flag in ("synthesize", "wait_for_results", "partials", "translate_partials"):
        if not isinstance(message.get(flag, True), bool):
            raise malformed(f"{flag} must be true or false")
    return StartRequest(
        mode=mode,
        sample_rate_hz=rate,
        source_language=source,
        target_languages=targets,
        synthesize=message.get("synthesize", True),
        wait_for_results=message.get("wait_for_results", True),
        room=None if message.get("room") is None else parse_room_id(message["room"]),
        partials=message.get("partials"),
        translate_partials=message.get("translate_partials", False),
    )
