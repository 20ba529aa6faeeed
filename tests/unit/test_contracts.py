"""The event contracts: schemas, the single-object wire format, size limits, malformed input, derived ids and
schema evolution.

The wire-format checks do not trust the package's own schema loading: they read the .avsc files with `json`,
compute the Parsing Canonical Form and the CRC-64-AVRO fingerprint with the small implementations below
(straight from the Avro specification), and decode bodies with plain `fastavro.schemaless_reader`, as another
Avro implementation that only has the .avsc files would.
"""

from __future__ import annotations

import io
import json
import random
import struct
import uuid
from dataclasses import fields
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import fastavro
import pytest

from babelstream.bus.event_publisher import EventPublisher
from babelstream.bus.memory import MemoryBus
from babelstream.contracts import limits
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.contracts.errors import EventTooLarge, MalformedEvent, PayloadTooLarge
from babelstream.contracts.events import (
    AudioInputPayload,
    AudioSynthesisPayload,
    DeadLetterPayload,
    Event,
    SessionOptions,
    SpeechSegmentPayload,
    derived_id,
)
from babelstream.contracts.registry import redacted_url
from babelstream.contracts.schemas import event_schemas
from babelstream.contracts.topics import DEAD_LETTER, TOPIC_OF_EVENT_TYPE, TRANSLATION_TEXT
from tests.support.events import (
    EVENT_TYPES,
    audio_event,
    expected_record,
    older_schema,
    payload_for,
    sample_event,
    write_with,
)

SCHEMA_DIR = Path(str(resources.files("babelstream.contracts") / "schemas"))
CODEC = SingleObjectCodec()


# --- an independent reading of the .avsc files -------------------------------------------------------------

def raw_schema_files() -> dict[str, dict]:
    return {p.name[: -len(".avsc")]: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.avsc"))}


def expanded_event_schema(event_type: str) -> dict:
    """The event's .avsc with references to the other files' named types replaced by their definitions
    (at first use, as a standalone writer schema must have them)."""
    files = raw_schema_files()
    defined: set[str] = set()

    def expand(node: Any) -> Any:
        if isinstance(node, str):
            if node in files and node not in defined:
                defined.add(node)
                return expand(files[node])
            return node
        if isinstance(node, list):
            return [expand(n) for n in node]
        if isinstance(node, dict):
            if node.get("type") in ("record", "enum", "fixed"):
                defined.add(f"{node.get('namespace', 'babelstream')}.{node['name']}" if "." not in node["name"] else node["name"])
            return {k: (expand(v) if k in ("type", "items", "values", "fields") else v) for k, v in node.items()}
        return node

    return expand(files[f"babelstream.{event_type}"])


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def parsing_canonical_form(schema: Any, namespace: str = "") -> str:
    """Avro 1.11 spec, "Parsing Canonical Form for Schemas" (enough of it for records/arrays/unions/logical)."""

    def full(name: str, ns: str) -> str:
        return name if "." in name or not ns else f"{ns}.{name}"

    if isinstance(schema, str):
        return json.dumps(schema if schema in _PRIMITIVES else full(schema, namespace))
    if isinstance(schema, list):
        return "[" + ",".join(parsing_canonical_form(s, namespace) for s in schema) + "]"
    kind = schema["type"]
    if kind in _PRIMITIVES:
        return json.dumps(kind)
    if kind == "record":
        name = full(schema["name"], schema.get("namespace", namespace))
        inner_ns = name.rsplit(".", 1)[0] if "." in name else ""
        fields_pcf = ",".join(
            '{"name":' + json.dumps(f["name"]) + ',"type":' + parsing_canonical_form(f["type"], inner_ns) + "}"
            for f in schema["fields"]
        )
        return '{"name":' + json.dumps(name) + ',"type":"record","fields":[' + fields_pcf + "]}"
    if kind == "array":
        return '{"type":"array","items":' + parsing_canonical_form(schema["items"], namespace) + "}"
    if kind == "map":
        return '{"type":"map","values":' + parsing_canonical_form(schema["values"], namespace) + "}"
    return parsing_canonical_form(kind, namespace)


_CRC64_EMPTY = 0xC15D213AA4D7A795
_CRC64_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_CRC64_EMPTY & -(_fp & 1))
    _CRC64_TABLE.append(_fp)


def crc64_avro(data: bytes) -> int:
    fp = _CRC64_EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ byte) & 0xFF]
    return fp


# --- schemas ------------------------------------------------------------------------------------------------

def test_every_avsc_in_the_package_parses_with_fastavro():
    files = raw_schema_files()
    assert len(files) == 12
    named: dict = {}
    # the shared named types first, then the events that reference them
    for name in sorted(files, key=lambda n: not n.endswith(("StageTiming", "SessionOptions"))):
        fastavro.parse_schema(files[name], named_schemas=named)
    for event_type in EVENT_TYPES:
        fastavro.parse_schema(expanded_event_schema(event_type))
    assert set(event_schemas()) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_schema_has_the_envelope_fields(event_type):
    schema = raw_schema_files()[f"babelstream.{event_type}"]
    by_name = {f["name"]: f for f in schema["fields"]}
    for name in ("event_id", "event_type", "correlation_id", "source_service"):
        assert by_name[name]["type"] == "string", name
    assert by_name["timestamp"]["type"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert by_name["timings"]["type"] == {"type": "array", "items": "babelstream.StageTiming"}
    assert by_name["payload"]["type"]["type"] == "record"


def test_audio_input_payload_fields():
    schema = raw_schema_files()["babelstream.AudioInputEvent"]
    payload = {f["name"]: f for f in next(f for f in schema["fields"] if f["name"] == "payload")["type"]["fields"]}
    assert payload["audio_bytes"]["type"] == "bytes"
    assert payload["audio_format"] == {"name": "audio_format", "type": "string", "default": "wav"}
    assert payload["sample_rate_hz"]["type"] == "int"
    assert payload["language_hint"]["type"] == ["null", "string"]
    assert AudioInputPayload(audio_bytes=b"", sample_rate_hz=16000).audio_format == "wav"


def test_package_fingerprints_match_an_independent_crc64_of_the_canonical_form():
    for event_type in EVENT_TYPES:
        canonical = parsing_canonical_form(expanded_event_schema(event_type))
        assert event_schemas()[event_type].canonical == canonical
        assert event_schemas()[event_type].fingerprint == struct.pack("<Q", crc64_avro(canonical.encode()))


def test_crc64_avro_reference_value():
    # The Avro spec's test vector: the fingerprint of the canonical schema "int".
    assert crc64_avro(b'"int"') == 0x7275D51A3F395C8F


# --- single-object encoding ---------------------------------------------------------------------------------

@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_event_type_round_trips(event_type):
    event = sample_event(event_type)
    decoded = CODEC.decode(CODEC.encode(event, TOPIC_OF_EVENT_TYPE[event_type]))
    assert decoded == event
    assert decoded.event_type == event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_single_object_bytes_are_readable_by_any_avro_reader(event_type):
    event = sample_event(event_type)
    data = CODEC.encode(event, TOPIC_OF_EVENT_TYPE[event_type])
    schema = expanded_event_schema(event_type)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == struct.pack("<Q", crc64_avro(parsing_canonical_form(schema).encode()))
    body = io.BytesIO(data[10:])
    record = fastavro.schemaless_reader(body, fastavro.parse_schema(schema))
    assert body.read() == b""  # the body is exactly one datum
    assert record == expected_record(event)


def test_defaults_round_trip_too():
    event = Event(payload=AudioInputPayload(audio_bytes=b"", sample_rate_hz=8000), correlation_id="c", source_service="s")
    decoded = CODEC.decode(CODEC.encode(event, "t"))
    assert decoded == event and decoded.payload.options == SessionOptions()


# --- size limits --------------------------------------------------------------------------------------------

def test_audio_over_the_inline_cap_is_refused_naming_both_sizes():
    assert limits.MAX_PAYLOAD_BYTES == 1_572_864
    with pytest.raises(PayloadTooLarge) as caught:
        CODEC.encode(audio_event(1_572_865), "speech.audio.ingress")
    assert (caught.value.size, caught.value.limit) == (1_572_865, 1_572_864)
    assert "1572865" in str(caught.value) and "1572864" in str(caught.value)


def test_audio_exactly_at_the_inline_cap_is_accepted():
    event = audio_event(1_572_864)
    assert CODEC.decode(CODEC.encode(event, "speech.audio.ingress")) == event


@pytest.mark.parametrize("payload_type", [SpeechSegmentPayload, AudioSynthesisPayload])
def test_the_audio_cap_applies_to_every_audio_payload(payload_type):
    event = sample_event(payload_type.EVENT_TYPE)
    event = Event(
        payload=type(event.payload)(**{**{f.name: getattr(event.payload, f.name) for f in fields(event.payload)}, "audio_bytes": b"\0" * 1_572_865}),
        correlation_id="c",
        source_service="s",
    )
    with pytest.raises(PayloadTooLarge):
        CODEC.encode(event, "t")


def dead_letter(value_size: int) -> Event:
    return Event(
        payload=DeadLetterPayload(
            stage="asr", error="boom", original_topic="t", original_partition=0, original_offset=1,
            original_value=b"\x02" * value_size,
        ),
        correlation_id="c",
        source_service="s",
    )


async def test_an_event_over_the_message_limit_is_refused_before_anything_is_sent():
    bus = MemoryBus()
    watcher = await bus.subscribe([DEAD_LETTER], "watcher")
    with pytest.raises(EventTooLarge) as caught:
        await EventPublisher(bus, CODEC).publish(dead_letter(2_100_000))
    assert caught.value.limit == limits.MAX_MESSAGE_BYTES == 2_097_152
    assert caught.value.size > 2_100_000
    assert str(caught.value.size) in str(caught.value) and "2097152" in str(caught.value)
    assert await watcher.next(timeout_seconds=0.05) is None


def test_the_message_limit_boundary_counts_the_record_overhead():
    # bytes fields carry a zig-zag varint length: 1 byte for b"", 4 bytes for ~2 MB
    empty = len(CODEC.encode(dead_letter(0), DEAD_LETTER))
    largest = limits.MAX_MESSAGE_BYTES - limits.RECORD_OVERHEAD_BYTES - (empty - 1 + 4)
    assert len(CODEC.encode(dead_letter(largest), DEAD_LETTER)) + limits.RECORD_OVERHEAD_BYTES == limits.MAX_MESSAGE_BYTES
    with pytest.raises(EventTooLarge):
        CODEC.encode(dead_letter(largest + 1), DEAD_LETTER)


# --- malformed input ----------------------------------------------------------------------------------------

def test_empty_bytes_are_malformed():
    with pytest.raises(MalformedEvent, match="single-object"):
        CODEC.decode(b"")


def test_random_bytes_are_malformed():
    rng = random.Random(7)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        if data[:2] == b"\xc3\x01":
            continue
        with pytest.raises(MalformedEvent, match="missing 0xC3 0x01 header"):
            CODEC.decode(data)


def test_random_bodies_behind_a_known_fingerprint_are_malformed_not_crashes():
    rng = random.Random(11)
    for schema in event_schemas().values():
        for _ in range(300):
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
            with pytest.raises(MalformedEvent):
                CODEC.decode(b"\xc3\x01" + schema.fingerprint + body)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_truncated_body_is_malformed(event_type):
    data = CODEC.encode(sample_event(event_type), "t")
    for cut in sorted({10, 11, 12, 20, len(data) // 2, len(data) - 2, len(data) - 1}):
        with pytest.raises(MalformedEvent, match="does not decode"):
            CODEC.decode(data[:cut])


def test_a_too_short_header_is_malformed():
    data = CODEC.encode(sample_event("TextRecognizedEvent"), "t")
    for cut in range(0, 10):
        with pytest.raises(MalformedEvent):
            CODEC.decode(data[:cut])


def test_trailing_bytes_after_the_body_are_malformed():
    data = CODEC.encode(sample_event("TextRecognizedEvent"), "t")
    with pytest.raises(MalformedEvent, match="3 unexpected bytes after the Avro body"):
        CODEC.decode(data + b"xyz")


def test_an_unknown_fingerprint_is_malformed_and_named():
    data = CODEC.encode(sample_event("TextRecognizedEvent"), "t")
    unknown = bytes.fromhex("0123456789abcdef")
    with pytest.raises(MalformedEvent, match="unknown schema fingerprint 0123456789abcdef"):
        CODEC.decode(data[:2] + unknown + data[10:])


def transcript_claiming_to_be(event_type: str) -> bytes:
    """A valid TextRecognizedEvent body, single-object encoded, whose event_type field says something else."""
    record = expected_record(sample_event("TextRecognizedEvent"))
    record["event_type"] = event_type
    schema = event_schemas()["TextRecognizedEvent"]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema.parsed, record)
    return b"\xc3\x01" + schema.fingerprint + body.getvalue()


def test_a_valid_body_with_an_unknown_event_type_is_malformed():
    with pytest.raises(MalformedEvent, match="unknown event_type 'PizzaOrderedEvent'"):
        CODEC.decode(transcript_claiming_to_be("PizzaOrderedEvent"))


def test_a_body_whose_event_type_names_another_payload_is_malformed():
    with pytest.raises(MalformedEvent, match="does not match the event contract"):
        CODEC.decode(transcript_claiming_to_be("AudioInputEvent"))


# --- derived ids --------------------------------------------------------------------------------------------

def test_derived_id_is_deterministic_and_distinguishes_its_parts():
    source = str(uuid.uuid4())
    assert derived_id(source, "translate", "en") == derived_id(source, "translate", "en")
    assert uuid.UUID(derived_id(source, "translate", "en")).version == 5
    assert len({derived_id(source, "translate", "en"), derived_id(source, "translate", "fr"),
                derived_id(source, "asr"), derived_id(str(uuid.uuid4()), "translate", "en")}) == 4


def test_derive_keeps_the_correlation_id_and_appends_one_hop():
    parent = sample_event("TextRecognizedEvent")
    started = datetime.now(timezone.utc)
    translated = payload_for("TextTranslatedEvent")
    child = parent.derive(translated, stage="translate", service="translate-1", started_at=started, id_parts=("en",))
    again = parent.derive(translated, stage="translate", service="translate-1", started_at=started, id_parts=("en",))
    assert child.correlation_id == parent.correlation_id
    assert child.event_id == again.event_id == derived_id(parent.event_id, "translate", "en")
    assert child.event_id != parent.event_id
    assert child.source_service == "translate-1"
    assert child.timings[:2] == parent.timings and len(child.timings) == 3
    hop = child.timings[-1]
    assert (hop.stage, hop.service, hop.started_at) == ("translate", "translate-1", started)
    assert hop.finished_at >= hop.started_at
    assert child.timestamp.microsecond % 1000 == 0
    assert CODEC.decode(CODEC.encode(child, TRANSLATION_TEXT)) == child


# --- schema evolution (BACKWARD: the current schema reads data written with an older one) -------------------
# (through a schema registry: tests/integration/test_confluent_wire_format.py)

def test_single_object_decoding_cannot_read_an_older_writer_without_a_registry():
    """Why evolution needs the Confluent path: the fingerprint of an old schema is unknown to this build."""
    old = older_schema("TextTranslatedEvent", "error")
    canonical = parsing_canonical_form(old)
    record = expected_record(sample_event("TextTranslatedEvent"))
    del record["payload"]["error"]
    data = b"\xc3\x01" + struct.pack("<Q", crc64_avro(canonical.encode())) + write_with(old, record)
    with pytest.raises(MalformedEvent, match="unknown schema fingerprint"):
        CODEC.decode(data)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://ann:s3cret@registry.example:8081/base", "https://[redacted]@registry.example:8081/base"),
        ("http://key-only@127.0.0.1:8081", "http://[redacted]@127.0.0.1:8081"),
        ("http://a:b@c@host", "http://[redacted]@host"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
    ],
)
def test_a_registry_urls_credentials_are_redacted_for_logs(url, shown):
    assert redacted_url(url) == shown
