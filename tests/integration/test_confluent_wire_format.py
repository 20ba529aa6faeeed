"""The Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body; subjects `<topic>-value`
registered with BACKWARD compatibility; readable by confluent-kafka's own AvroDeserializer and the reverse. An id
the registry does not have is the message's fault (dead-lettered), an unreachable registry is not (waited out);
credentials in the registry's URL reach neither logs nor error text.

The registry here is a test double (tests/support/registry_double.py): a real HTTP server implementing the subset of
the Schema Registry REST API that both clients use, recording each call. No real registry can run on this
machine; the double follows the documented API closely enough for confluent-kafka's client to work unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import struct
from dataclasses import fields

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient as ConfluentRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import ConfluentCodec, SingleObjectCodec, codec_from_settings, to_record
from babelstream.contracts.errors import MalformedEvent, PayloadTooLarge, SchemaRegistryError, UnknownSchemaId
from babelstream.contracts.events import Event, SessionOptions
from babelstream.contracts.registry import SchemaRegistryClient
from babelstream.contracts.schemas import event_schemas
from babelstream.contracts.topics import ASR_TEXT, DEAD_LETTER, TOPIC_OF_EVENT_TYPE
from babelstream.stages.runtime import StageRunner
from tests.support.events import EVENT_TYPES, audio_event, expected_record, older_schema, sample_event, write_with
from tests.support.registry_double import registry_double

SUBJECT = f"{ASR_TEXT}-value"


@pytest.fixture
def registry():
    with registry_double() as running:
        yield running


def test_encode_writes_magic_zero_and_the_registered_id(registry):
    codec = ConfluentCodec(SchemaRegistryClient(registry.url))
    event = sample_event("TextRecognizedEvent")
    data = codec.encode(event, ASR_TEXT)
    assert data[0] == 0
    (schema_id,) = struct.unpack(">I", data[1:5])
    assert registry.state.subjects == {SUBJECT: [schema_id]}
    assert registry.state.config == {SUBJECT: "BACKWARD"}
    # compatibility is set on the subject before the schema is registered under it
    assert [(c.method, c.path) for c in registry.state.calls] == [
        ("PUT", f"/config/{SUBJECT}"),
        ("POST", f"/subjects/{SUBJECT}/versions"),
    ]
    registered = registry.state.schemas[schema_id]
    assert registry.state._canonical(registered) == event_schemas()["TextRecognizedEvent"].canonical
    # a second event reuses the id without asking again
    codec.encode(sample_event("TextRecognizedEvent"), ASR_TEXT)
    assert len(registry.state.calls) == 2
    assert codec.decode(data) == event


def test_prepare_registers_every_event_type_under_its_topic_subject(registry):
    codec = ConfluentCodec(SchemaRegistryClient(registry.url))
    codec.prepare(TOPIC_OF_EVENT_TYPE)
    subjects = {f"{topic}-value" for topic in TOPIC_OF_EVENT_TYPE.values()}
    assert set(registry.state.subjects) == subjects
    assert registry.state.config == {subject: "BACKWARD" for subject in subjects}
    calls = len(registry.state.calls)
    for event_type in EVENT_TYPES:
        codec.encode(sample_event(event_type), TOPIC_OF_EVENT_TYPE[event_type])
    assert len(registry.state.calls) == calls  # nothing on the hot path


def test_confluent_kafkas_deserializer_reads_our_bytes(registry):
    """Any Confluent-compatible consumer can read what we produce."""
    event = sample_event("TextRecognizedEvent")
    data = ConfluentCodec(SchemaRegistryClient(registry.url)).encode(event, ASR_TEXT)
    deserializer = AvroDeserializer(ConfluentRegistryClient({"url": registry.url}))
    record = deserializer(data, SerializationContext(ASR_TEXT, MessageField.VALUE))
    assert record == expected_record(event)
    (schema_id,) = struct.unpack(">I", data[1:5])
    assert registry.state.calls_to("GET", f"/schemas/ids/{schema_id}")


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_confluent_kafkas_deserializer_reads_every_event_type(registry, event_type):
    event = sample_event(event_type)
    topic = TOPIC_OF_EVENT_TYPE[event_type]
    data = ConfluentCodec(SchemaRegistryClient(registry.url)).encode(event, topic)
    deserializer = AvroDeserializer(ConfluentRegistryClient({"url": registry.url}))
    assert deserializer(data, SerializationContext(topic, MessageField.VALUE)) == expected_record(event)


def test_bytes_from_confluent_kafkas_serializer_decode_with_our_codec(registry):
    event = sample_event("TextRecognizedEvent")
    serializer = AvroSerializer(ConfluentRegistryClient({"url": registry.url}), event_schemas()["TextRecognizedEvent"].json)
    data = serializer(to_record(event), SerializationContext(ASR_TEXT, MessageField.VALUE))
    assert data[0] == 0
    (schema_id,) = struct.unpack(">I", data[1:5])
    # confluent-kafka registered under the same subject (TopicNameStrategy)
    assert registry.state.calls_to("POST", f"/subjects/{SUBJECT}/versions")
    assert registry.state.subjects == {SUBJECT: [schema_id]}
    ours = ConfluentCodec(SchemaRegistryClient(registry.url))
    assert ours.decode(data) == event
    # same schema, same id, same body: the two producers are byte-for-byte interchangeable
    assert ours.encode(event, ASR_TEXT) == data


def test_decode_falls_back_to_single_object_bytes(registry):
    event = sample_event("TextRecognizedEvent")
    codec = ConfluentCodec(SchemaRegistryClient(registry.url))
    assert codec.decode(SingleObjectCodec().encode(event, ASR_TEXT)) == event
    assert registry.state.calls == []


def test_codec_is_chosen_by_whether_a_registry_is_configured(registry):
    assert isinstance(codec_from_settings(None), SingleObjectCodec)
    assert isinstance(codec_from_settings(""), SingleObjectCodec)
    assert isinstance(codec_from_settings(registry.url), ConfluentCodec)


def test_a_truncated_confluent_body_is_malformed(registry):
    codec = ConfluentCodec(SchemaRegistryClient(registry.url))
    data = codec.encode(sample_event("TextRecognizedEvent"), ASR_TEXT)
    with pytest.raises(MalformedEvent, match="does not decode"):
        codec.decode(data[: len(data) // 2])


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_registry_that_is_down_is_a_clear_schema_registry_error():
    url = closed_port_url()
    codec = ConfluentCodec(SchemaRegistryClient(url, timeout_seconds=2.0))
    with pytest.raises(SchemaRegistryError, match="schema registry unreachable at") as caught:
        codec.encode(sample_event("TextRecognizedEvent"), ASR_TEXT)
    assert url in str(caught.value)
    with pytest.raises(SchemaRegistryError, match="unreachable"):
        codec.decode(b"\x00\x00\x00\x00\x07" + b"\x00" * 20)


def test_oversize_audio_is_refused_before_the_registry_is_asked():
    codec = ConfluentCodec(SchemaRegistryClient(closed_port_url(), timeout_seconds=2.0))
    with pytest.raises(PayloadTooLarge):
        codec.encode(audio_event(1_572_865), "speech.audio.ingress")


def test_an_unknown_schema_id_is_the_messages_fault_not_a_registry_outage(registry):
    """Issue #10, finding 5: the registry's 404 for an id was taken for an outage and waited out forever."""
    codec = ConfluentCodec(SchemaRegistryClient(registry.url))
    with pytest.raises(UnknownSchemaId, match=r"schema id 4242 is not in the schema registry at http://") as caught:
        codec.decode(struct.pack(">bI", 0, 4242) + b"\x00" * 20)
    assert isinstance(caught.value, MalformedEvent) and not isinstance(caught.value, SchemaRegistryError)


def test_a_404_that_is_not_the_registrys_schema_not_found_is_still_waited_out(registry):
    """A wrong SCHEMA_REGISTRY_URL (here a path the registry does not serve) answers 404 to every id: that is the
    configuration's fault, and dead-lettering every message until it is fixed would lose them all."""
    codec = ConfluentCodec(SchemaRegistryClient(f"{registry.url}/not-the-registry"))
    with pytest.raises(SchemaRegistryError, match=r"GET /schemas/ids/1 -> 404"):
        codec.decode(struct.pack(">bI", 0, 1) + b"\x00" * 20)


class RecordingStage:
    """Takes TextRecognizedEvents and produces nothing: what a stage was handed is all this test needs."""

    name = "recording"
    input_topic = ASR_TEXT

    def __init__(self) -> None:
        self.handled: list[str] = []

    def warm_up(self) -> None:
        pass

    async def handle(self, event: Event) -> list[Event]:
        self.handled.append(event.event_id)
        return []


async def test_a_stage_dead_letters_a_value_with_an_unknown_schema_id_and_handles_the_next(registry):
    """Issue #10, finding 5: one such value stopped the stage (on Kafka, its whole partition) for good."""
    codec = ConfluentCodec(SchemaRegistryClient(registry.url))
    bus = MemoryBus()
    letters = await bus.subscribe([DEAD_LETTER], "test-letters")
    stage = RecordingStage()
    runner = StageRunner(stage, bus, codec, service="recording-1")
    await runner.start()
    try:
        unknown = struct.pack(">bI", 0, 4242) + b"\x00" * 20
        await bus.publish(ASR_TEXT, b"session-1", unknown)
        valid = sample_event("TextRecognizedEvent")
        await bus.publish(ASR_TEXT, valid.correlation_id.encode(), codec.encode(valid, ASR_TEXT))
        deadline = asyncio.get_running_loop().time() + 10
        while not stage.handled and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert stage.handled == [valid.event_id]
        message = await letters.next(timeout_seconds=5)
    finally:
        await runner.stop()
    assert message is not None
    letter = codec.decode(message.value).payload
    assert letter.original_value == unknown and letter.original_topic == ASR_TEXT
    assert "UnknownSchemaId" in letter.error and "4242" in letter.error
    assert runner.counters.dead_lettered == 1


def test_a_password_in_the_registry_url_reaches_no_log_and_no_error(registry, caplog):
    """Issue #10: SCHEMA_REGISTRY_URL=https://user:password@host was written, password and all, by httpx's request
    log and in the codec's error text (which a stage logs and puts in dead letters)."""
    caplog.set_level(logging.DEBUG)
    password = "s3cret-registry-pw"
    with_credentials = registry.url.replace("http://", f"http://ann:{password}@")
    codec = ConfluentCodec(SchemaRegistryClient(with_credentials))
    event = sample_event("TextRecognizedEvent")
    assert codec.decode(codec.encode(event, ASR_TEXT)) == event
    # The credentials still reach the registry: as Basic auth, not in the URL.
    assert {call.authorization for call in registry.state.calls} == {
        "Basic " + base64.b64encode(f"ann:{password}".encode()).decode()
    }
    with pytest.raises(UnknownSchemaId) as unknown:
        codec.decode(struct.pack(">bI", 0, 4242) + b"\x00" * 20)
    down = ConfluentCodec(SchemaRegistryClient(closed_port_url().replace("http://", f"http://ann:{password}@"),
                                               timeout_seconds=2.0))
    with pytest.raises(SchemaRegistryError) as unreachable:
        down.encode(event, ASR_TEXT)
    assert "http://[redacted]@127.0.0.1:" in str(unreachable.value)
    assert caplog.records  # httpx logged its requests: the check below read something
    for text in (str(unknown.value), str(unreachable.value), caplog.text):
        assert password not in text and "ann:" not in text


# --- schema evolution through the registry (BACKWARD: the current schema reads data written with an older one)

@pytest.mark.parametrize(
    "event_type, dropped_field, default",
    [("TextTranslatedEvent", "error", None), ("AudioInputEvent", "options", SessionOptions())],
)
def test_an_event_written_with_an_older_schema_decodes_with_the_current_one(event_type, dropped_field, default):
    topic = TOPIC_OF_EVENT_TYPE[event_type]
    event = sample_event(event_type)
    old = older_schema(event_type, dropped_field)
    record = expected_record(event)
    del record["payload"][dropped_field]
    with registry_double() as registry:
        client = SchemaRegistryClient(registry.url)
        old_id = client.register(f"{topic}-value", json.dumps(old), compatibility="BACKWARD")
        codec = ConfluentCodec(SchemaRegistryClient(registry.url))  # knows only the current schema
        current_id = codec._schema_id(event_schemas()[event_type], topic)
        assert old_id != current_id
        assert registry.state.subjects[f"{topic}-value"] == [old_id, current_id]
        decoded = codec.decode(struct.pack(">bI", 0, old_id) + write_with(old, record))
        assert registry.state.calls_to("GET", f"/schemas/ids/{old_id}")  # the writer schema came from the registry
    assert getattr(decoded.payload, dropped_field) == default
    expected_payload = {f.name: getattr(event.payload, f.name) for f in fields(event.payload)}
    expected_payload[dropped_field] = default
    assert decoded == Event(
        payload=type(event.payload)(**expected_payload),
        correlation_id=event.correlation_id,
        source_service=event.source_service,
        event_id=event.event_id,
        timestamp=event.timestamp,
        timings=event.timings,
    )
