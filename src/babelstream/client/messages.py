"""The protocol's messages as typed, immutable records (docs/protocol.md describes each field).

Client -> server: `Start` (and done, which has no fields). Server -> client: one class per message, built by
`parse`. Parsing is lenient the way a client must be: a field the server left out takes its default, a field
this version does not know is kept in `data` (the whole JSON object, as received), and a message type it does
not know becomes `Unknown` instead of an error, so an older client keeps working against a newer server.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Union

DONE = json.dumps({"event": "done"})


@dataclass(frozen=True, kw_only=True)
class Start:
    """The optional first message; a field left as None is not sent and the server's default applies."""

    mode: str | None = None
    sample_rate_hz: int | None = None
    language: str | None = None
    targets: tuple[str, ...] | None = None
    synthesize: bool | None = None
    wait_for_results: bool | None = None
    partials: bool | None = None
    translate_partials: bool | None = None
    room: str | None = None  # speak into this room: its listeners get the results too

    def message(self) -> dict:
        body: dict[str, Any] = {"event": "start"}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:
                body[item.name] = list(value) if isinstance(value, tuple) else value
        return body

    def encode(self) -> str:
        return json.dumps(self.message())


@dataclass(frozen=True, kw_only=True)
class _Message:
    type: ClassVar[str]
    # The JSON object as received (every field, known or not), and when the client took it off the socket
    # (time.perf_counter(); 0.0 for a message built by hand).
    data: dict = field(default_factory=dict, repr=False, compare=False)
    received_at: float = field(default=0.0, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class Connected(_Message):
    type: ClassVar[str] = "connected"
    correlation_id: str = ""
    room: str | None = None  # a listener's (/ws/listen)
    resume_token: str = ""  # a speaker's: what a resume presents ("" from servers before resuming)


@dataclass(frozen=True, kw_only=True)
class Resumed(_Message):
    """A resume was taken: the session is `correlation_id` again; `replayed` results follow `ready`."""

    type: ClassVar[str] = "resumed"
    correlation_id: str = ""
    resume_token: str = ""
    next_segment: int = 0
    published_ms: int = 0
    audio_ms: int = 0
    replayed: int = 0


@dataclass(frozen=True, kw_only=True)
class Ready(_Message):
    type: ClassVar[str] = "ready"
    mode: str = ""
    sample_rate_hz: int = 0
    source_language: str = ""
    target_languages: tuple[str, ...] = ()
    synthesize: bool = False
    partials: bool = False  # whether `partial` messages come (False from servers before them)
    # What the session may send (max_messages_per_second, max_audio_speed, ...); empty from servers before it.
    limits: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class WarningMessage(_Message):
    """Something asked for cannot be done; the session goes on. Which fields are set depends on `code`."""

    type: ClassVar[str] = "warning"
    code: str = ""
    reason: str = ""
    segment_index: int | None = None
    language: str | None = None
    source_language: str | None = None
    target_language: str | None = None


@dataclass(frozen=True, kw_only=True)
class Segment(_Message):
    type: ClassVar[str] = "segment"
    segment_index: int = 0
    start_ms: int = 0
    end_ms: int = 0
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class Partial(_Message):
    """What is being said in an utterance still open: `stable_text` only grows within one `start_ms`."""

    type: ClassVar[str] = "partial"
    segment_index: int = 0
    stable_text: str = ""
    unstable_text: str = ""
    language: str = ""
    start_ms: int = 0
    audio_ms: int = 0
    room: str | None = None  # a room's listener's: which room, whose utterance (as on a Transcript)
    speaker: str = ""

    @property
    def text(self) -> str:
        return self.stable_text + self.unstable_text


@dataclass(frozen=True, kw_only=True)
class PartialTranslation(_Message):
    """An utterance still open: its stable text so far (`source_text`), translated into `language`; the
    utterance's `Translation` replaces it."""

    type: ClassVar[str] = "partial_translation"
    segment_index: int = 0
    language: str = ""
    text: str = ""
    source_text: str = ""
    start_ms: int = 0
    audio_ms: int = 0
    room: str | None = None  # a room's listener's: which room, whose utterance (as on a Translation)
    speaker: str = ""


@dataclass(frozen=True, kw_only=True)
class _Result(_Message):
    segment_index: int = 0
    start_ms: int = 0
    end_ms: int = 0
    latency_ms: float = 0.0  # the gateway's own figure: from its cut of the utterance to sending this
    stage_ms: dict = field(default_factory=dict)  # milliseconds each stage worked on it, and "bus"
    event_id: str = ""
    # As a room's member gets it (/ws/listen, or a speaker hearing another): which room, whose utterance (the
    # speaker's correlation id), and whether it is history read on arrival rather than live.
    room: str | None = None
    speaker: str = ""
    history: bool = False


@dataclass(frozen=True, kw_only=True)
class Transcript(_Result):
    type: ClassVar[str] = "transcript"
    text: str = ""
    language: str = ""
    confidence: float = 0.0
    revised: bool = False  # it disagrees with the stable text of its utterance's partials


@dataclass(frozen=True, kw_only=True)
class Translation(_Result):
    type: ClassVar[str] = "translation"
    source_language: str = ""
    target_language: str = ""
    text: str = ""
    source_text: str = ""
    engine: str = ""


@dataclass(frozen=True, kw_only=True)
class Audio(_Result):
    """A translation spoken: a whole audio file, `format` "wav" (PCM16 mono) or "ogg_opus". In a text message it
    is a WAV, base64 (`audio_b64`); in a room listener's binary frame (`parse_audio_frame`) the file's own bytes."""

    type: ClassVar[str] = "audio"
    language: str = ""
    text: str = ""
    format: str = "wav"
    sample_rate_hz: int = 0
    duration_ms: int = 0
    voice: str = ""
    engine: str = ""
    audio_b64: str = field(default="", repr=False)
    audio_bytes: bytes = field(default=b"", repr=False)  # from a binary frame

    @property
    def audio(self) -> bytes:
        """The audio file (WAV or Ogg Opus, as `format` says)."""
        return self.audio_bytes or base64.b64decode(self.audio_b64)

    @property
    def wav(self) -> bytes:
        if self.format != "wav":
            raise ValueError(f"this spoken translation is {self.format}, not wav: read .audio")
        return self.audio


@dataclass(frozen=True, kw_only=True)
class Ack(_Message):
    type: ClassVar[str] = "ack"
    correlation_id: str = ""
    event_id: str = ""
    event_ids: tuple[str, ...] = ()
    segments: int = 0
    received_bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class Summary(_Message):
    type: ClassVar[str] = "summary"
    correlation_id: str = ""
    complete: bool = False
    segments: int = 0
    transcripts: int = 0
    translations: int = 0
    audio: int = 0
    warnings: int = 0
    missing_segments: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ErrorMessage(_Message):
    """The session ends; the close `code` follows. `kind` names the cause for programs (rate, idle, origin,
    capacity...): read it instead of the English `reason`. None from a server that does not send it yet."""

    type: ClassVar[str] = "error"
    code: int = 0
    kind: str | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Listening(_Message):
    """A listener's language is set; `history` messages of the room follow, then live ones."""

    type: ClassVar[str] = "listening"
    room: str = ""
    language: str = ""
    voice: bool = True
    partials: bool = False  # whether the room's interim results come (False from servers before them)
    history: int = 0


@dataclass(frozen=True, kw_only=True)
class Audience(_Message):
    """Who listens to a speaker's room, on every gateway."""

    type: ClassVar[str] = "audience"
    room: str = ""
    listeners: int = 0
    languages: dict = field(default_factory=dict)
    speakers: int = 0


@dataclass(frozen=True, kw_only=True)
class Unknown(_Message):
    """A message this client does not know (a newer server): kept whole in `data`."""

    type: ClassVar[str] = "unknown"


ServerMessage = Union[
    Connected, Ready, WarningMessage, Segment, Partial, PartialTranslation, Transcript, Translation, Audio, Ack,
    Summary, ErrorMessage, Listening, Audience, Resumed, Unknown
]
_BY_TYPE: dict[str, type] = {
    cls.type: cls
    for cls in (
        Ready, WarningMessage, Segment, Partial, PartialTranslation, Transcript, Translation, Audio, Ack, Summary,
        ErrorMessage, Listening, Audience, Resumed,
    )
}


def parse(text: str | bytes, received_at: float = 0.0) -> ServerMessage:
    """One text frame from the server as its record."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return Unknown(data={"value": data}, received_at=received_at)
    return from_dict(data, received_at)


# A binary frame from /ws/listen (docs/protocol.md, "Rooms"): this many bytes give the JSON header's length.
AUDIO_HEADER_LENGTH_BYTES = 4


def parse_audio_frame(frame: bytes, received_at: float = 0.0) -> ServerMessage:
    """One binary frame from /ws/listen: a spoken translation (the header's fields, and the file's bytes)."""
    length = int.from_bytes(frame[:AUDIO_HEADER_LENGTH_BYTES], "big")
    end = AUDIO_HEADER_LENGTH_BYTES + length
    if len(frame) < end:
        raise ValueError(f"binary frame of {len(frame)} bytes is shorter than its {length}-byte header says")
    data = json.loads(frame[AUDIO_HEADER_LENGTH_BYTES:end])
    if not isinstance(data, dict):
        raise ValueError("a binary frame's header is not a JSON object")
    message = from_dict(data, received_at)
    if isinstance(message, Audio):
        return dataclasses.replace(message, audio_bytes=bytes(frame[end:]))
    return message


def from_dict(data: dict, received_at: float = 0.0) -> ServerMessage:
    if "type" not in data and data.get("status") == "connected":  # the one message without a type
        cls: type = Connected
    else:
        cls = _BY_TYPE.get(data.get("type"), Unknown)  # type: ignore[arg-type]
    values = {}
    for item in fields(cls):
        if item.name in data and item.name not in ("data", "received_at", "audio_bytes"):
            value = data[item.name]
            values[item.name] = tuple(value) if isinstance(value, list) else value
    return cls(data=data, received_at=received_at, **values)
