"""What a listener may send: the /ws/listen query (room, lang, voice, audio, partials) and, on the open socket, a listen message
changing its language or voice. docs/protocol.md describes both; the server's answers are built in messages.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from babelstream.gateway.requests import language_code, malformed
from babelstream.gateway.rooms.room_id import parse_room_id

_QUERY_FIELDS = {"room", "lang", "voice", "audio", "partials", "token"}
_FLAGS = {"1": True, "true": True, "0": False, "false": False}
# How a listener gets spoken translations: a binary frame of Ogg Opus (13x smaller than the WAV; the default), a
# binary frame of the WAV, or the WAV base64 in a JSON text message (as /ws/audio sends it).
AUDIO_FORMATS = ("opus", "wav", "json")


@dataclass(frozen=True)
class ListenRequest:
    room: str
    language: str
    voice: bool = True
    audio: str = "opus"  # one of AUDIO_FORMATS
    partials: bool = True  # the open utterance's words while it is spoken, when the speaker's session makes them


@dataclass(frozen=True)
class ListenChange:
    language: str | None = None  # None: keep it
    voice: bool | None = None


def parse_listen_query(query_string: str) -> ListenRequest:
    fields: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name not in _QUERY_FIELDS:
            raise malformed(f"unknown query parameter {name!r:.40}; known: {sorted(_QUERY_FIELDS)}")
        if name in fields:
            raise malformed(f"query parameter {name!r} given twice")
        fields[name] = value
    if "room" not in fields:
        raise malformed("/ws/listen needs ?room=<room id>&lang=<language code>")
    room = parse_room_id(fields["room"])
    if "lang" not in fields:
        raise malformed("/ws/listen needs lang=<language code>: the language to read and hear the room in")
    flags = {}
    for name in ("voice", "partials"):
        flag = fields.get(name, "1").lower()
        if flag not in _FLAGS:
            raise malformed(f"{name} must be 1 or 0, got {flag!r:.20}")
        flags[name] = _FLAGS[flag]
    audio = fields.get("audio", AUDIO_FORMATS[0]).lower()
    if audio not in AUDIO_FORMATS:
        raise malformed(f"audio must be one of {', '.join(AUDIO_FORMATS)}, got {audio!r:.20}")
    return ListenRequest(room=room, language=language_code(fields["lang"], "lang"), voice=flags["voice"], audio=audio,
                         partials=flags["partials"])


def parse_listen_message(text: str) -> ListenChange:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise malformed('a listener sends only {"event":"listen","lang":"<code>"} (or "voice": true/false)') from None
    if not isinstance(message, dict) or message.get("event") != "listen":
        raise malformed('a listener sends only {"event":"listen","lang":"<code>"} (or "voice": true/false)')
    unknown = sorted(set(message) - {"event", "lang", "voice"})
    if unknown:
        raise malformed(f"unknown listen field(s) {unknown}; known: ['event', 'lang', 'voice']")
    voice = message.get("voice")
    if voice is not None and not isinstance(voice, bool):
        raise malformed("voice must be true or false")
    language = message.get("lang")
    return ListenChange(language=None if language is None else language_code(language, "lang"), voice=voice)
