"""Event <-> bytes.

Two wire formats, chosen by whether a schema registry is configured:
- no registry: Avro single-object encoding (0xC3 0x01, 8-byte CRC-64-AVRO fingerprint, body) — self-describing,
  any Avro library that knows our schemas can read it;
- SCHEMA_REGISTRY_URL set: Confluent wire format (0x00, 4-byte big-endian schema id, body), subjects
  `<topic>-value`, written and read by confluent-kafka's own Avro serializer and deserializer, so any
  Confluent-compatible consumer can read it.
Both refuse an oversize payload or message before anything is sent.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import fields
from typing import Any, Protocol

from confluent_kafka.schema_registry import Schema, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import schemaless_reader, schemaless_writer

from babelstream.contracts import limits
from babelstream.contracts.errors import ContractError, EventTooLarge, MalformedEvent, PayloadTooLarge
from babelstream.contracts.events import PAYLOAD_TYPES, Event, RoomPresencePayload, SessionOptions, StageTiming
from babelstream.contracts.registry import SchemaRegistry
from babelstream.contracts.schemas import EventSchema, event_schemas, schema_by_fingerprint

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = 0


class EventCodec(Protocol):
    def encode(self, event: Event, topic: str) -> bytes: ...

    def decode(self, data: bytes) -> Event: ...


def to_record(event: Event) -> dict[str, Any]:
    payload = {f.name: getattr(event.payload, f.name) for f in fields(event.payload)}
    options = payload.get("options")
    if isinstance(options, SessionOptions):
        payload["options"] = {
            "source_language": options.source_language,
            "target_languages": list(options.target_languages),
            "synthesize": options.synthesize,
            "reply_to": options.reply_to,
            "room": options.room,
            "spoken_languages": None if options.spoken_languages is None else list(options.spoken_languages),
        }
    if isinstance(event.payload, RoomPresencePayload):
        payload["spoken_languages"] = list(payload["spoken_languages"])
        payload["interim_languages"] = list(payload["interim_languages"])
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "correlation_id": event.correlation_id,
        "timestamp": event.timestamp,
        "source_service": event.source_service,
        "timings": [
            {"stage": t.stage, "service": t.service, "started_at": t.started_at, "finished_at": t.finished_at}
            for t in event.timings
        ],
        "payload": payload,
        # Only the session chain's schemas have it; the writer ignores it for the others (presence, dead letters).
        "reply_partition": event.reply_partition,
    }


def from_record(record: dict[str, Any]) -> Event:
    payload_type = PAYLOAD_TYPES.get(record["event_type"])
    if payload_type is None:
        raise MalformedEvent(f"unknown event_type {record['event_type']!r}")
    payload = dict(record["payload"])
    if "options" in payload:
        options = payload["options"]
        payload["options"] = SessionOptions(
            source_language=options["source_language"],
            target_languages=tuple(options["target_languages"]),
            synthesize=options["synthesize"],
            reply_to=options["reply_to"],
            room=options.get("room"),
            spoken_languages=None if options.get("spoken_languages") is None else tuple(options["spoken_languages"]),
        )
    if record["event_type"] == "RoomPresenceEvent":
        payload["spoken_languages"] = tuple(payload["spoken_languages"])
        payload["interim_languages"] = tuple(payload.get("interim_languages", ()))
    return Event(
        payload=payload_type(**payload),
        correlation_id=record["correlation_id"],
        source_service=record["source_service"],
        event_id=record["event_id"],
        timestamp=record["timestamp"],
        timings=tuple(StageTiming(**t) for t in record["timings"]),
        reply_partition=_partition(record.get("reply_partition")),
    )


def _partition(value: int | None) -> int | None:
    # An Avro reader takes any varint for an int: a partition must be one Kafka can name (and encode again).
    if value is not None and not 0 <= value < 2**31:
        raise ValueError(f"reply_partition {value} is not a partition")
    return value


def check_payload_size(event: Event) -> None:
    audio = getattr(event.payload, "audio_bytes", None)
    if audio is not None and len(audio) > limits.MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(len(audio), limits.MAX_PAYLOAD_BYTES)


def check_message_size(value: bytes, key: bytes | None = None) -> None:
    size = len(value) + (len(key) if key else 0) + limits.RECORD_OVERHEAD_BYTES
    if size > limits.MAX_MESSAGE_BYTES:
        raise EventTooLarge(size, limits.MAX_MESSAGE_BYTES)


def _write(header: bytes, schema: EventSchema, event: Event) -> bytes:
    """header + Avro body, written into one buffer: an audio event is ~100 KB, so every copy counts."""
    buffer = io.BytesIO()
    buffer.write(header)
    schemaless_writer(buffer, schema.parsed, to_record(event))
    return buffer.getvalue()


def _schema_for(event: Event) -> EventSchema:
    return event_schemas()[event.event_type]


class SingleObjectCodec:
    """Avro single-object encoding: the fingerprint names the writer schema, no registry needed."""

    def encode(self, event: Event, topic: str) -> bytes:
        check_payload_size(event)
        schema = _schema_for(event)
        value = _write(SINGLE_OBJECT_MAGIC + schema.fingerprint, schema, event)
        check_message_size(value)
        return value

    def decode(self, data: bytes) -> Event:
        if len(data) < 10 or data[:2] != SINGLE_OBJECT_MAGIC:
            raise MalformedEvent("not Avro single-object encoded (missing 0xC3 0x01 header)")
        schema = schema_by_fingerprint().get(bytes(data[2:10]))
        if schema is None:
            raise MalformedEvent(f"unknown schema fingerprint {bytes(data[2:10]).hex()}")
        return _read(io.BytesIO(data[10:]), schema.parsed, None)


class ConfluentCodec:
    """Confluent wire format through confluent-kafka's own AvroSerializer and AvroDeserializer (on fastavro), so
    what we write is what any Confluent producer writes, byte for byte. Schemas are registered under
    `<topic>-value` (TopicNameStrategy), each subject set to BACKWARD compatibility before its first schema.

    Around the library, and ours: the size limits (checked before anything is sent), choosing the reader schema
    (our current one for the writer's event type, so data written with an older schema decodes with defaults),
    and naming its failures (UnknownSchemaId, SchemaRegistryError: contracts/registry.py)."""

    def __init__(self, registry: SchemaRegistry):
        self._registry = registry
        client = registry.client
        self._serializers = {
            # TopicNameStrategy named outright: the library's default (ASSOCIATED) would ask the registry for the
            # topic's associations on each topic's first event, a call Apicurio answers 404 and we do not use.
            event_type: AvroSerializer(
                client, schema.json, conf={"auto.register.schemas": True, "subject.name.strategy": _subject_of}
            )
            for event_type, schema in event_schemas().items()
        }
        self._deserializers = {
            event_type: AvroDeserializer(client, schema.json) for event_type, schema in event_schemas().items()
        }
        self._ready: set[tuple[str, str]] = set()  # (event type, topic) whose subject is configured and registered
        self._event_type_by_id: dict[int, str] = {}

    def prepare(self, topics_by_event_type: dict[str, str]) -> None:
        """Register every schema up front so encode never blocks on HTTP in a hot path."""
        for event_type, topic in topics_by_event_type.items():
            self._subject_ready(event_type, topic)

    def _subject_ready(self, event_type: str, topic: str) -> None:
        if (event_type, topic) in self._ready:
            return
        subject = _subject_of(_value_of(topic), None)
        schema = Schema(event_schemas()[event_type].json, "AVRO")
        with self._registry.answering(f"PUT /config/{subject}"):
            self._registry.client.set_compatibility(subject, "BACKWARD")
        with self._registry.answering(f"POST /subjects/{subject}/versions"):
            # the serializer registers the same (subject, schema) on its first call: the client's cache answers it
            self._registry.client.register_schema(subject, schema)
        self._ready.add((event_type, topic))

    def encode(self, event: Event, topic: str) -> bytes:
        check_payload_size(event)
        self._subject_ready(event.event_type, topic)
        with self._registry.answering(f"POST /subjects/{topic}-value/versions"):
            value = self._serializers[event.event_type](to_record(event), _value_of(topic))
        check_message_size(value)
        return value

    def decode(self, data: bytes) -> Event:
        if len(data) < 5 or data[0] != CONFLUENT_MAGIC:
            # Accept single-object events too: a topic may hold both while producers migrate.
            return SingleObjectCodec().decode(data)
        (schema_id,) = struct.unpack(">I", data[1:5])
        event_type = self._writer_event_type(schema_id)
        deserializer = self._deserializers.get(event_type)
        if deserializer is None:
            raise MalformedEvent(f"schema id {schema_id} is a {event_type!r}, not one of our events")
        try:
            # No SerializationContext: our reader schema is fixed per event type, and with no subject the
            # deserializer runs no data-contract rules (we define none) and makes no other registry call.
            with self._registry.answering(f"GET /schemas/ids/{schema_id}", schema_id):
                record = deserializer(data, None)
        except ContractError:
            raise
        except Exception as error:  # fastavro raises many types on truncated or garbled bodies
            raise MalformedEvent(f"Avro body does not decode: {error}") from error
        return _event_from(record)

    def _writer_event_type(self, schema_id: int) -> str:
        """The event type a schema id was written with (its record's name), from the registry once per id."""
        if schema_id not in self._event_type_by_id:
            with self._registry.answering(f"GET /schemas/ids/{schema_id}", schema_id):
                writer = self._registry.client.get_schema(schema_id)  # cached by the client, and by the deserializer
            try:
                name = json.loads(writer.schema_str or "null")["name"]
            except (ValueError, TypeError, KeyError) as error:
                raise MalformedEvent(f"schema id {schema_id} is not an Avro record schema") from error
            self._event_type_by_id[schema_id] = str(name).rsplit(".", 1)[-1]
        return self._event_type_by_id[schema_id]


def _subject_of(ctx: SerializationContext | None, record_name: str | None) -> str:
    """TopicNameStrategy: `<topic>-value`."""
    subject = topic_subject_name_strategy(ctx, record_name)
    assert subject is not None  # only None without a context, and we always give one
    return subject


def _value_of(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def _event_from(record: Any) -> Event:
    if not isinstance(record, dict):
        raise MalformedEvent("Avro body is not a record")
    try:
        return from_record(record)
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedEvent(f"record does not match the event contract: {error}") from error


def _read(body: io.BytesIO, writer: Any, reader: Any) -> Event:
    try:
        record = schemaless_reader(body, writer, reader)
    except Exception as error:  # fastavro raises many types on truncated or garbled bodies
        raise MalformedEvent(f"Avro body does not decode: {error}") from error
    trailing = len(body.read())
    if trailing:
        raise MalformedEvent(f"{trailing} unexpected bytes after the Avro body")
    return _event_from(record)


def codec_from_settings(schema_registry_url: str | None) -> EventCodec:
    if schema_registry_url:
        return ConfluentCodec(SchemaRegistry(schema_registry_url))
    return SingleObjectCodec()
