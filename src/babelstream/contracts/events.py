"""Python records mirroring the Avro schemas in schemas/ (the schemas are the source of truth).

Every event is an `Event` envelope around one typed payload. Records are frozen: a stage never edits an event,
it derives a new one (`Event.derive`) that keeps the correlation id and extends the timing trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import ClassVar


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def utc_now_millis() -> datetime:
    """The envelope's timestamp is timestamp-millis: truncate so a decoded event equals the one sent."""
    now = utc_now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


# Stable namespace so a re-processed input yields the same output ids: duplicates are recognisable downstream.
_DERIVED_ID_NAMESPACE = uuid.UUID("6f1d7c1e-8a4e-4b8e-9a59-0c9f3a2d5b11")


def derived_id(source_event_id: str, *parts: str) -> str:
    return str(uuid.uuid5(_DERIVED_ID_NAMESPACE, ":".join((source_event_id, *parts))))


@dataclass(frozen=True)
class StageTiming:
    stage: str
    service: str
    started_at: datetime
    finished_at: datetime

    @property
    def duration_ms(self) -> float:
        return (self.finished_at - self.started_at).total_seconds() * 1000


@dataclass(frozen=True)
class SessionOptions:
    source_language: str | None = None
    target_languages: tuple[str, ...] = ()
    synthesize: bool = True
    reply_to: str | None = None
    room: str | None = None
    # Which targets to speak when `synthesize`; None speaks every target (a session without a room).
    spoken_languages: tuple[str, ...] | None = None

    def speaks(self, language: str) -> bool:
        return self.synthesize and (self.spoken_languages is None or language in self.spoken_languages)


@dataclass(frozen=True)
class AudioInputPayload:
    EVENT_TYPE: ClassVar[str] = "AudioInputEvent"
    audio_bytes: bytes
    sample_rate_hz: int
    audio_format: str = "wav"
    language_hint: str | None = None
    options: SessionOptions = SessionOptions()


@dataclass(frozen=True)
class SpeechSegmentPayload:
    EVENT_TYPE: ClassVar[str] = "SpeechSegmentEvent"
    audio_bytes: bytes
    sample_rate_hz: int
    segment_index: int
    start_ms: int
    end_ms: int
    options: SessionOptions
    is_last: bool = False
    audio_format: str = "wav"
    source_event_id: str | None = None


@dataclass(frozen=True)
class TextRecognizedPayload:
    EVENT_TYPE: ClassVar[str] = "TextRecognizedEvent"
    text: str
    language: str
    confidence: float
    segment_index: int
    start_ms: int
    end_ms: int
    options: SessionOptions
    is_last: bool = False
    model: str = ""


@dataclass(frozen=True)
class TextTranslatedPayload:
    EVENT_TYPE: ClassVar[str] = "TextTranslatedEvent"
    text: str
    source_text: str
    source_language: str
    target_language: str
    engine: str
    segment_index: int
    start_ms: int
    end_ms: int
    options: SessionOptions
    error: str | None = None
    via: str | None = None  # a pivot's intermediate language; None for a direct engine


@dataclass(frozen=True)
class AudioSynthesisPayload:
    EVENT_TYPE: ClassVar[str] = "AudioSynthesisEvent"
    audio_bytes: bytes
    sample_rate_hz: int
    duration_ms: int
    voice: str
    engine: str
    language: str
    text: str
    segment_index: int
    audio_format: str = "wav"
    error: str | None = None
    ogg_opus_bytes: bytes = b""  # the same speech for a room's listeners (engines/tts/ogg_opus.py); b"": not made


@dataclass(frozen=True)
class SpeechWindowPayload:
    """The audio an open utterance gained since its previous window (interim results; docs/protocol.md)."""

    EVENT_TYPE: ClassVar[str] = "SpeechWindowEvent"
    segment_index: int
    start_ms: int
    end_ms: int
    options: SessionOptions
    audio_bytes: bytes = b""
    sample_rate_hz: int = 16000
    window_index: int = 0
    audio_offset_ms: int = 0
    closed: bool = False
    translate: bool = False


@dataclass(frozen=True)
class PartialTranscriptPayload:
    EVENT_TYPE: ClassVar[str] = "PartialTranscriptEvent"
    stable_text: str
    segment_index: int
    start_ms: int
    end_ms: int
    options: SessionOptions
    unstable_text: str = ""
    language: str = ""
    window_index: int = 0
    translate: bool = False


@dataclass(frozen=True)
class PartialTranslationPayload:
    """An open utterance's stable text, translated (docs/protocol.md, "partial_translation"); the final
    TextTranslatedEvent of the utterance replaces it."""

    EVENT_TYPE: ClassVar[str] = "PartialTranslationEvent"
    text: str
    source_text: str
    source_language: str
    target_language: str
    segment_index: int
    start_ms: int
    end_ms: int
    options: SessionOptions
    engine: str = ""


@dataclass(frozen=True)
class DeadLetterPayload:
    EVENT_TYPE: ClassVar[str] = "DeadLetterEvent"
    stage: str
    error: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_value: bytes
    original_key: bytes | None = None


@dataclass(frozen=True)
class RoomPresencePayload:
    EVENT_TYPE: ClassVar[str] = "RoomPresenceEvent"
    room: str
    gateway: str
    listeners: dict[str, int]  # listeners per language
    speakers: dict[str, int]  # speakers per language spoken ("" when detected)
    spoken_languages: tuple[str, ...]
    valid_for_ms: int
    interim_languages: tuple[str, ...] = ()  # languages some member there reads interim results in


Payload = (
    AudioInputPayload
    | SpeechSegmentPayload
    | TextRecognizedPayload
    | TextTranslatedPayload
    | AudioSynthesisPayload
    | DeadLetterPayload
    | RoomPresencePayload
    | SpeechWindowPayload
    | PartialTranscriptPayload
    | PartialTranslationPayload
)

PAYLOAD_TYPES: dict[str, type] = {
    cls.EVENT_TYPE: cls
    for cls in (
        AudioInputPayload,
        SpeechSegmentPayload,
        TextRecognizedPayload,
        TextTranslatedPayload,
        AudioSynthesisPayload,
        DeadLetterPayload,
        RoomPresencePayload,
        SpeechWindowPayload,
        PartialTranscriptPayload,
        PartialTranslationPayload,
    )
}


@dataclass(frozen=True)
class Event:
    payload: Payload
    correlation_id: str
    source_service: str
    event_id: str = field(default_factory=new_id)
    timestamp: datetime = field(default_factory=utc_now_millis)
    timings: tuple[StageTiming, ...] = ()
    # Where the session's results go on the reply topics (bus/reply_route.py); every derived event keeps it, so a
    # stage routes its outputs without knowing which gateway, or room, they are for.
    reply_partition: int | None = None

    @property
    def event_type(self) -> str:
        return self.payload.EVENT_TYPE

    def derive(
        self,
        payload: Payload,
        *,
        stage: str,
        service: str,
        started_at: datetime,
        id_parts: tuple[str, ...] = (),
    ) -> Event:
        """The next event of this correlation chain, with this stage's hop appended to the timing trail."""
        finished_at = utc_now()
        return Event(
            payload=payload,
            correlation_id=self.correlation_id,
            source_service=service,
            event_id=derived_id(self.event_id, stage, *id_parts),
            timestamp=finished_at.replace(microsecond=finished_at.microsecond // 1000 * 1000),
            timings=(*self.timings, StageTiming(stage, service, started_at, finished_at)),
            reply_partition=self.reply_partition,
        )

    def with_timing(self, timing: StageTiming) -> Event:
        return replace(self, timings=(*self.timings, timing))

    def routed_to(self, reply_partition: int | None) -> Event:
        return replace(self, reply_partition=reply_partition)
