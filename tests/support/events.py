"""Sample events with every field set, and what any Avro reader should make of them (shared by the contract
tests and the Confluent wire-format tests)."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from typing import Any

import fastavro

from babelstream.contracts.events import (
    AudioInputPayload,
    AudioSynthesisPayload,
    DeadLetterPayload,
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    RoomPresencePayload,
    SessionOptions,
    SpeechSegmentPayload,
    SpeechWindowPayload,
    StageTiming,
    TextRecognizedPayload,
    TextTranslatedPayload,
)
from babelstream.contracts.schemas import event_schemas
from babelstream.contracts.topics import TOPIC_OF_EVENT_TYPE

EVENT_TYPES = sorted(TOPIC_OF_EVENT_TYPE)


T0 = datetime(2025, 3, 4, 5, 6, 7, 123000, tzinfo=timezone.utc)  # timestamp-millis: whole milliseconds
OPTIONS = SessionOptions(
    source_language="de", target_languages=("en", "fr"), synthesize=False, reply_to="gateway-7", room="aula-1",
    spoken_languages=("fr",),
)
TIMINGS = (
    StageTiming("gateway", "gateway-7", T0, T0 + timedelta(microseconds=1_501)),
    StageTiming("asr", "asr-ä-1", T0 + timedelta(milliseconds=3), T0 + timedelta(milliseconds=250, microseconds=7)),
)
WAV = b"RIFF\x00\xff\x10" + bytes(range(256)) * 3


def payload_for(event_type: str) -> Any:
    return {
        "AudioInputEvent": AudioInputPayload(
            audio_bytes=WAV, sample_rate_hz=48000, audio_format="wav", language_hint="de", options=OPTIONS
        ),
        "SpeechSegmentEvent": SpeechSegmentPayload(
            audio_bytes=WAV, sample_rate_hz=16000, segment_index=4, start_ms=12_000, end_ms=13_500,
            options=OPTIONS, is_last=True, audio_format="wav", source_event_id=str(uuid.uuid4()),
        ),
        "TextRecognizedEvent": TextRecognizedPayload(
            text="Grüß Gott, wie geht's? 你好 🎤", language="de", confidence=0.875, segment_index=4,
            start_ms=12_000, end_ms=13_500, options=OPTIONS, is_last=True, model="whisper-base",
        ),
        "TextTranslatedEvent": TextTranslatedPayload(
            text="Hello, how are you? «ça va»", source_text="Grüß Gott, wie geht's?", source_language="de",
            target_language="en", engine="opus-mt", segment_index=4, start_ms=12_000, end_ms=13_500,
            options=OPTIONS, error="partly: the 🎤 could not be translated",
        ),
        "AudioSynthesisEvent": AudioSynthesisPayload(
            audio_bytes=WAV, sample_rate_hz=22050, duration_ms=1_250, voice="en_US-joe", engine="piper",
            language="en", text="Hello, how are you?", segment_index=4, audio_format="wav", error="clipped",
        ),
        "DeadLetterEvent": DeadLetterPayload(
            stage="asr", error="MalformedEvent: garbled ünïcode", original_topic="speech.audio.speech_segment",
            original_partition=2, original_offset=2**40, original_value=b"\x00\xc3\x01garbage\xff",
            original_key=b"key-\xe2\x82\xac",
        ),
        "RoomPresenceEvent": RoomPresencePayload(
            room="aula-1", gateway="gateway-7", listeners={"es": 3, "pt": 1}, speakers={"en": 1, "": 1},
            spoken_languages=("es",), valid_for_ms=15_000, interim_languages=("es", "pt"),
        ),
        "SpeechWindowEvent": SpeechWindowPayload(
            segment_index=4, start_ms=12_000, end_ms=13_000, options=OPTIONS, audio_bytes=WAV, sample_rate_hz=16000,
            window_index=2, audio_offset_ms=12_500, closed=True, translate=True,
        ),
        "PartialTranscriptEvent": PartialTranscriptPayload(
            stable_text="Grüß Gott,", segment_index=4, start_ms=12_000, end_ms=13_000, options=OPTIONS,
            unstable_text=" wie geht's? 🎤", language="de", window_index=2, translate=True,
        ),
        "PartialTranslationEvent": PartialTranslationPayload(
            text="Hello, «ça va»", source_text="Grüß Gott,", source_language="de", target_language="en",
            segment_index=4, start_ms=12_000, end_ms=13_000, options=OPTIONS, engine="opus-mt+apertium",
        ),
    }[event_type]


def sample_event(event_type: str) -> Event:
    return Event(
        payload=payload_for(event_type),
        correlation_id=str(uuid.uuid4()),
        source_service="sérvice-1",
        event_id=str(uuid.uuid4()),
        timestamp=T0,
        timings=TIMINGS,
        reply_partition=REPLY_PARTITION if routed(event_type) else None,
    )


# A reply partition past the default count: the field is the gateway's word, never checked against a topic here.
REPLY_PARTITION = 41


def routed(event_type: str) -> bool:
    """Whether the event type's envelope carries `reply_partition` (the session chain's events do)."""
    return any(f["name"] == "reply_partition" for f in event_schemas()[event_type].schema["fields"])


def expected_record(event: Event) -> dict:
    """What any Avro reader should get from the body, built from the event without the codec's helpers."""

    def plain(value: Any) -> Any:
        if isinstance(value, SessionOptions):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    record = {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "correlation_id": event.correlation_id,
        "timestamp": event.timestamp,
        "source_service": event.source_service,
        "timings": [
            {"stage": t.stage, "service": t.service, "started_at": t.started_at, "finished_at": t.finished_at}
            for t in event.timings
        ],
        "payload": {f.name: plain(getattr(event.payload, f.name)) for f in fields(event.payload)},
    }
    if routed(event.event_type):
        record["reply_partition"] = event.reply_partition
    return record


def audio_event(size: int) -> Event:
    return Event(payload=AudioInputPayload(audio_bytes=b"\x01" * size, sample_rate_hz=16000), correlation_id="c", source_service="s")



def older_schema(event_type: str, dropped_field: str) -> dict:
    schema = json.loads(event_schemas()[event_type].json)
    payload = next(f for f in schema["fields"] if f["name"] == "payload")["type"]
    payload["fields"] = [f for f in payload["fields"] if f["name"] != dropped_field]
    return schema


def write_with(schema: dict, record: dict) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return body.getvalue()
