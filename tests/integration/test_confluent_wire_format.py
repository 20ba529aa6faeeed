"""The Confluent wire format against a real schema registry: magic byte 0, 4-byte big-endian schema id, Avro body;
subjects `<topic>-value` registered with BACKWARD compatibility; readable by confluent-kafka's own AvroDeserializer
and the reverse, through Kafka too. An id the registry does not have is the message's fault (dead-lettered), an
unreachable registry is not (waited out, and the stage goes on when it is back); credentials in the registry's URL
reach neither logs nor error text, and reach the registry as Basic auth, which it checks.

The registry is Apicurio Registry (its Confluent-compatible API), started for the run by scripts/run-tests.sh
with Basic auth on; see tests/support/schema_registry.py. It lives for the whole run, so each test that counts
subjects uses topics of its own. What a client asked is observed through a recording proxy in front of it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import struct
import time
import uuid
from dataclasses import fields

import pytest
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry import SchemaRegistryClient as ConfluentRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro.schema import parse_schema, to_parsing_canonical_form

from babelstream.bus.kafka import KafkaBus
from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import ConfluentCodec, SingleObjectCodec, codec_from_settings, to_record
from babelstream.contracts.errors import MalformedEvent, PayloadTooLarge, SchemaRegistryError, UnknownSchemaId
from babelstream.contracts.events import Event, SessionOptions
from babelstream.contracts.registry import SchemaRegistry
from babelstream.contracts.schemas import event_schemas
from babelstream.contracts.topics import ASR_TEXT, DEAD_LETTER, TOPIC_OF_EVENT_TYPE
from babelstream.stages.runtime import StageRunner
from tests.support.events import EVENT_TYPES, audio_event, expected_record, older_schema, sample_event, write_with
from tests.support.schema_registry import recording_proxy, unique_topic


def canonical(schema_json: str) -> str:
    return to_parsing_canonical_form(parse_schema(json.loads(schema_json), _write_hint=False))


def confluent_client(registry) -> ConfluentRegistryClient:
    """confluent-kafka's client as a third party configures it: credentials apart from the URL."""
    return ConfluentRegistryClient({"url": registry.plain_url, "basic.auth.user.info": registry.user_info})


@pytest.fixture
def proxy(schema_registry):
    with recording_proxy(schema_registry) as running:
        yield running


def test_encode_writes_magic_zero_and_the_registered_id(schema_registry, proxy):
    topic = unique_topic(ASR_TEXT)
    subject = f"{topic}-value"
    codec = ConfluentCodec(SchemaRegistry(proxy.url))
    event = sample_event("TextRecognizedEvent")
    data = codec.encode(event, topic)
    assert data[0] == 0
    (schema_id,) = struct.unpack(">I", data[1:5])
    # compatibility is set on the subject before the schema is registered under it
    assert [(c.method, c.path) for c in proxy.calls] == [("PUT", f"/config/{subject}"), ("POST", f"/subjects/{subject}/versions")]
    # what the registry now holds, asked of it directly
    assert schema_registry.get(f"/config/{subject}")["compatibilityLevel"] == "BACKWARD"
    latest = schema_registry.get(f"/subjects/{subject}/versions/latest")
    assert (latest["id"], latest["version"]) == (schema_id, 1)
    assert canonical(schema_registry.get(f"/schemas/ids/{schema_id}")["schema"]) == event_schemas()["TextRecognizedEvent"].canonical
    # a second event reuses the id without asking again
    codec.encode(sample_event("TextRecognizedEvent"), topic)
    assert len(proxy.calls) == 2
    assert codec.decode(data) == event


def test_prepare_registers_every_event_type_under_its_topic_subject(schema_registry, proxy):
    topics = {event_type: unique_topic(topic) for event_type, topic in TOPIC_OF_EVENT_TYPE.items()}
    codec = ConfluentCodec(SchemaRegistry(proxy.url))
    codec.prepare(topics)
    subjects = set(schema_registry.get("/subjects"))
    for topic in topics.values():
        assert f"{topic}-value" in subjects
        assert schema_registry.get(f"/config/{topic}-value")["compatibilityLevel"] == "BACKWARD"
    calls = len(proxy.calls)
    for event_type in EVENT_TYPES:
        codec.encode(sample_event(event_type), topics[event_type])
    assert len(proxy.calls) == calls  # nothing on the hot path


def test_confluent_kafkas_deserializer_reads_our_bytes(schema_registry):
    """Any Confluent-compatible consumer can read what we produce."""
    event = sample_event("TextRecognizedEvent")
    data = ConfluentCodec(SchemaRegistry(schema_registry.url)).encode(event, ASR_TEXT)
    deserializer = AvroDeserializer(confluent_client(schema_registry))
    assert deserializer(data, SerializationContext(ASR_TEXT, MessageField.VALUE)) == expected_record(event)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_confluent_kafkas_deserializer_reads_every_event_type(schema_registry, event_type):
    event = sample_event(event_type)
    topic = TOPIC_OF_EVENT_TYPE[event_type]
    data = ConfluentCodec(SchemaRegistry(schema_registry.url)).encode(event, topic)
    deserializer = AvroDeserializer(confluent_client(schema_registry))
    assert deserializer(data, SerializationContext(topic, MessageField.VALUE)) == expected_record(event)


def test_bytes_from_confluent_kafkas_serializer_decode_with_our_codec(schema_registry):
    topic = unique_topic(ASR_TEXT)
    event = sample_event("TextRecognizedEvent")
    serializer = AvroSerializer(confluent_client(schema_registry), event_schemas()["TextRecognizedEvent"].json)
    data = serializer(to_record(event), SerializationContext(topic, MessageField.VALUE))
    assert data[0] == 0
    (schema_id,) = struct.unpack(">I", data[1:5])
    # confluent-kafka registered under the same subject (TopicNameStrategy)
    assert schema_registry.get(f"/subjects/{topic}-value/versions/latest")["id"] == schema_id
    ours = ConfluentCodec(SchemaRegistry(schema_registry.url))
    assert ours.decode(data) == event
    # same schema, same id, same body: the two producers are byte-for-byte interchangeable
    assert ours.encode(event, topic) == data


def test_decode_falls_back_to_single_object_bytes(proxy):
    event = sample_event("TextRecognizedEvent")
    codec = ConfluentCodec(SchemaRegistry(proxy.url))
    assert codec.decode(SingleObjectCodec().encode(event, ASR_TEXT)) == event
    assert proxy.calls == []


def test_codec_is_chosen_by_whether_a_registry_is_configured():
    assert isinstance(codec_from_settings(None), SingleObjectCodec)
    assert isinstance(codec_from_settings(""), SingleObjectCodec)
    assert isinstance(codec_from_settings("http://127.0.0.1:1/apis/ccompat/v7"), ConfluentCodec)  # nothing asked yet


def test_a_truncated_confluent_body_is_malformed(schema_registry):
    codec = ConfluentCodec(SchemaRegistry(schema_registry.url))
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
    codec = ConfluentCodec(SchemaRegistry(url, timeout_seconds=2.0))
    with pytest.raises(SchemaRegistryError, match="schema registry unreachable at") as caught:
        codec.encode(sample_event("TextRecognizedEvent"), ASR_TEXT)
    assert url in str(caught.value)
    with pytest.raises(SchemaRegistryError, match="unreachable"):
        codec.decode(b"\x00\x00\x00\x00\x07" + b"\x00" * 20)


def test_oversize_audio_is_refused_before_the_registry_is_asked():
    codec = ConfluentCodec(SchemaRegistry(closed_port_url(), timeout_seconds=2.0))
    with pytest.raises(PayloadTooLarge):
        codec.encode(audio_event(1_572_865), "speech.audio.ingress")


def test_an_unknown_schema_id_is_the_messages_fault_not_a_registry_outage(schema_registry):
    """Issue #10, finding 5: the registry's 404 for an id was taken for an outage and waited out forever."""
    codec = ConfluentCodec(SchemaRegistry(schema_registry.url))
    with pytest.raises(UnknownSchemaId, match=r"schema id 424242 is not in the schema registry at http://") as caught:
        codec.decode(struct.pack(">bI", 0, 424242) + b"\x00" * 20)
    assert isinstance(caught.value, MalformedEvent) and not isinstance(caught.value, SchemaRegistryError)


def test_a_404_that_is_not_the_registrys_schema_not_found_is_still_waited_out(schema_registry):
    """A wrong SCHEMA_REGISTRY_URL (here a path the registry does not serve) answers 404 to every id: that is the
    configuration's fault, and dead-lettering every message until it is fixed would lose them all."""
    codec = ConfluentCodec(SchemaRegistry(f"{schema_registry.url}/not-the-registry"))
    with pytest.raises(SchemaRegistryError, match=r"GET /schemas/ids/1 at .* -> 404"):
        codec.decode(struct.pack(">bI", 0, 1) + b"\x00" * 20)


def test_a_wrong_password_is_waited_out_and_not_quoted(schema_registry):
    """The registry refuses (401): the configuration's fault, not the message's; the password is in no text."""
    wrong = schema_registry.url.replace(f":{schema_registry.password}@", ":not-the-password@")
    codec = ConfluentCodec(SchemaRegistry(wrong))
    with pytest.raises(SchemaRegistryError, match=r"-> 401") as refused:
        codec.encode(sample_event("TextRecognizedEvent"), unique_topic(ASR_TEXT))
    with pytest.raises(SchemaRegistryError, match=r"GET /schemas/ids/1 at .* -> 401"):
        codec.decode(struct.pack(">bI", 0, 1) + b"\x00" * 20)
    assert "not-the-password" not in str(refused.value) and "[redacted]@" in str(refused.value)


class RecordingStage:
    """Takes TextRecognizedEvents and produces nothing: what a stage was handed is all these tests need."""

    name = "recording"
    input_topic = ASR_TEXT

    def __init__(self) -> None:
        self.handled: list[str] = []

    def warm_up(self) -> None:
        pass

    async def handle(self, event: Event) -> list[Event]:
        self.handled.append(event.event_id)
        return []


async def wait_until(condition, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


async def test_a_stage_dead_letters_a_value_with_an_unknown_schema_id_and_handles_the_next(schema_registry):
    """Issue #10, finding 5: one such value stopped the stage (on Kafka, its whole partition) for good."""
    codec = ConfluentCodec(SchemaRegistry(schema_registry.url))
    bus = MemoryBus()
    letters = await bus.subscribe([DEAD_LETTER], "test-letters")
    stage = RecordingStage()
    runner = StageRunner(stage, bus, codec, service="recording-1")
    await runner.start()
    try:
        unknown = struct.pack(">bI", 0, 424242) + b"\x00" * 20
        await bus.publish(ASR_TEXT, b"session-1", unknown)
        valid = sample_event("TextRecognizedEvent")
        await bus.publish(ASR_TEXT, valid.correlation_id.encode(), codec.encode(valid, ASR_TEXT))
        await wait_until(lambda: stage.handled, 10)
        assert stage.handled == [valid.event_id]
        message = await letters.next(timeout_seconds=5)
    finally:
        await runner.stop()
    assert message is not None
    letter = codec.decode(message.value).payload
    assert letter.original_value == unknown and letter.original_topic == ASR_TEXT
    assert "UnknownSchemaId" in letter.error and "424242" in letter.error
    assert runner.counters.dead_lettered == 1


async def test_a_stage_waits_while_the_registry_is_unreachable_and_goes_on_when_it_is_back(schema_registry, proxy):
    """The stage's codec meets a schema id it has not seen while the registry is off the network (the proxy
    refuses connections): it neither drops nor dead-letters the event, and handles it once the registry is back."""
    writer = ConfluentCodec(SchemaRegistry(schema_registry.url))  # a producer that reached the registry
    valid = sample_event("TextRecognizedEvent")
    value = writer.encode(valid, unique_topic(ASR_TEXT))
    codec = ConfluentCodec(SchemaRegistry(proxy.url, timeout_seconds=2.0))
    bus = MemoryBus()
    stage = RecordingStage()
    runner = StageRunner(stage, bus, codec, service="recording-2")
    await runner.start()
    try:
        proxy.down()
        await bus.publish(ASR_TEXT, valid.correlation_id.encode(), value)
        await asyncio.sleep(1.5)  # a few refused fetches of the writer schema, retried with backoff
        assert stage.handled == [] and runner.counters.dead_lettered == 0
        proxy.up()
        await wait_until(lambda: stage.handled, 15)
    finally:
        proxy.down()
        await runner.stop()
    assert stage.handled == [valid.event_id]
    assert runner.counters.dead_lettered == 0
    assert proxy.calls_to("GET", f"/schemas/ids/{struct.unpack('>I', value[1:5])[0]}")


def test_a_password_in_the_registry_url_reaches_no_log_and_no_error(schema_registry, proxy, caplog):
    """Issue #10: SCHEMA_REGISTRY_URL=https://user:password@host was written, password and all, by httpx's request
    log and in the codec's error text (which a stage logs and puts in dead letters)."""
    caplog.set_level(logging.DEBUG)
    password = schema_registry.password
    codec = ConfluentCodec(SchemaRegistry(proxy.url))
    event = sample_event("TextRecognizedEvent")
    assert codec.decode(codec.encode(event, unique_topic(ASR_TEXT))) == event
    # The credentials reach the registry as Basic auth (which it checks: it refuses calls without them) ...
    assert {call.authorization for call in proxy.calls} == {
        "Basic " + base64.b64encode(schema_registry.user_info.encode()).decode()
    }
    with pytest.raises(UnknownSchemaId) as unknown:
        codec.decode(struct.pack(">bI", 0, 424242) + b"\x00" * 20)
    down = ConfluentCodec(SchemaRegistry(closed_port_url().replace("http://", f"http://ann:{password}@"),
                                         timeout_seconds=2.0))
    with pytest.raises(SchemaRegistryError) as unreachable:
        down.encode(event, ASR_TEXT)
    assert "http://[redacted]@127.0.0.1:" in str(unreachable.value)
    assert caplog.records  # httpx logged its requests: the check below read something
    # ... and nowhere else
    for text in (str(unknown.value), str(unreachable.value), caplog.text):
        assert password not in text and f"{schema_registry.user}:" not in text


# --- schema evolution through the registry (BACKWARD: the current schema reads data written with an older one)

@pytest.mark.parametrize(
    "event_type, dropped_field, default",
    [("TextTranslatedEvent", "error", None), ("AudioInputEvent", "options", SessionOptions())],
)
def test_an_event_written_with_an_older_schema_decodes_with_the_current_one(
    schema_registry, proxy, event_type, dropped_field, default
):
    topic = unique_topic(TOPIC_OF_EVENT_TYPE[event_type])
    subject = f"{topic}-value"
    event = sample_event(event_type)
    old = older_schema(event_type, dropped_field)
    record = expected_record(event)
    del record["payload"][dropped_field]
    third_party = confluent_client(schema_registry)
    third_party.set_compatibility(subject, "BACKWARD")
    old_id = third_party.register_schema(subject, Schema(json.dumps(old), "AVRO"))
    codec = ConfluentCodec(SchemaRegistry(proxy.url))  # knows only the current schema
    (current_id,) = struct.unpack(">I", codec.encode(event, topic)[1:5])  # the registry checked it is BACKWARD
    assert old_id != current_id
    assert [schema_registry.get(f"/subjects/{subject}/versions/{v}")["id"] for v in (1, 2)] == [old_id, current_id]
    decoded = codec.decode(struct.pack(">bI", 0, old_id) + write_with(old, record))
    assert proxy.calls_to("GET", f"/schemas/ids/{old_id}")  # the writer schema came from the registry
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
        reply_partition=event.reply_partition,
    )


def test_an_event_written_before_reply_routing_decodes_with_no_route(schema_registry, proxy):
    """The envelope's `reply_partition` came later, with a default: what a producer wrote without it (an older
    version, a third party) still decodes, unrouted."""
    event_type = "AudioSynthesisEvent"
    topic = unique_topic(TOPIC_OF_EVENT_TYPE[event_type])
    subject = f"{topic}-value"
    event = sample_event(event_type)
    old = json.loads(event_schemas()[event_type].json)
    old["fields"] = [f for f in old["fields"] if f["name"] != "reply_partition"]
    record = expected_record(event)
    del record["reply_partition"]
    third_party = confluent_client(schema_registry)
    third_party.set_compatibility(subject, "BACKWARD")
    old_id = third_party.register_schema(subject, Schema(json.dumps(old), "AVRO"))
    codec = ConfluentCodec(SchemaRegistry(proxy.url))
    codec.encode(event, topic)  # the current schema, registered after it: the registry found it BACKWARD
    decoded = codec.decode(struct.pack(">bI", 0, old_id) + write_with(old, record))
    assert event.reply_partition is not None and decoded == event.routed_to(None)


# --- through Kafka

@pytest.mark.kafka
async def test_through_kafka_a_stage_reads_our_events_a_third_party_reads_them_and_the_dead_letters(
    schema_registry, kafka_settings
):
    """Events framed with registry ids cross the real broker: a stage on KafkaBus handles them and dead-letters a
    value whose id the registry does not have; a plain confluent-kafka consumer with confluent-kafka's own
    AvroDeserializer reads both our event and the dead letter with the schemas the registry holds."""
    codec = ConfluentCodec(SchemaRegistry(schema_registry.url))
    bus = KafkaBus(kafka_settings, client_id="registry-test")
    await bus.start()
    stage = RecordingStage()
    runner = StageRunner(stage, bus, codec, service="recording-kafka", group_prefix=f"test-{uuid.uuid4().hex[:8]}")
    await runner.start()
    session = f"registry-{uuid.uuid4().hex[:8]}"
    valid = Event(payload=sample_event("TextRecognizedEvent").payload, correlation_id=session, source_service="test")
    unknown = struct.pack(">bI", 0, 424242) + b"\x00" * 20
    try:
        await bus.publish(ASR_TEXT, session.encode(), unknown)
        await bus.publish(ASR_TEXT, session.encode(), codec.encode(valid, ASR_TEXT))
        await wait_until(lambda: valid.event_id in stage.handled and runner.counters.dead_lettered, 60)
    finally:
        await runner.stop()
        await bus.stop()
    assert valid.event_id in stage.handled and runner.counters.dead_lettered == 1

    consumer = Consumer({"bootstrap.servers": kafka_settings.kafka_bootstrap_servers,
                         "group.id": f"third-party-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"})
    deserializer = AvroDeserializer(confluent_client(schema_registry))
    read: dict[str, dict] = {}
    try:
        consumer.subscribe([ASR_TEXT, DEAD_LETTER])
        deadline = time.monotonic() + 60
        while len(read) < 2 and time.monotonic() < deadline:
            message = await asyncio.to_thread(consumer.poll, 0.5)
            if message is None or message.error() or message.key() != session.encode():
                continue
            if message.topic() == ASR_TEXT and message.value() == unknown:
                continue
            read[message.topic()] = deserializer(message.value(), SerializationContext(message.topic(), MessageField.VALUE))
    finally:
        consumer.close()
    assert read[ASR_TEXT] == expected_record(valid)
    letter = read[DEAD_LETTER]
    assert letter["event_type"] == "DeadLetterEvent" and letter["correlation_id"] == session
    assert letter["payload"]["original_value"] == unknown and "UnknownSchemaId" in letter["payload"]["error"]
