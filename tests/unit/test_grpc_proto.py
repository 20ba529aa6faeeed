"""The gRPC contract against the code: the checked-in generated code against the .proto (regenerated with the pinned
grpcio-tools), every server message messages.py builds against its protobuf message field by field, the Config
against the start message's fields, and every error kind against its status code and docs/protocol.md's table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from babelstream.contracts.events import AudioSynthesisPayload, Event, TextRecognizedPayload, TextTranslatedPayload
from babelstream.gateway import messages
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.grpc import proto_messages
from babelstream.gateway.grpc.status import ERROR_METADATA, KIND_METADATA, STATUS_OF_KIND, ending_of
from babelstream.gateway.requests import ResumeRequest, StartRequest
from babelstream.v1 import stream_pb2
from tests.support.protocol_messages import OPTIONS, built_messages

REPO = Path(__file__).resolve().parents[2]
GENERATED = ("stream_pb2.py", "stream_pb2.pyi", "stream_pb2_grpc.py")
ROOM_FIELDS = {"room", "speaker", "history"}  # a room's result, from another speaker (messages.room_result)
NOT_ON_TRANSLATE = {"error", "listening"}  # the error is the call's status; listening is /ws/listen's


def test_the_checked_in_code_is_what_the_pinned_grpcio_tools_generate(tmp_path):
    subprocess.run([str(REPO / "scripts" / "generate-proto.sh"), str(tmp_path)], check=True,
                   env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    for name in GENERATED:
        fresh = (tmp_path / "babelstream" / "v1" / name).read_text()
        assert fresh == (REPO / "src" / "babelstream" / "v1" / name).read_text(), (
            f"{name} differs from proto/babelstream/v1/stream.proto: run scripts/generate-proto.sh")


def proto_fields(case: str) -> set[str]:
    message = stream_pb2.ServerMessage.DESCRIPTOR.fields_by_name[case].message_type
    return {field.name for field in message.fields}


def test_every_server_message_is_a_case_and_every_case_a_server_message():
    cases = set(stream_pb2.ServerMessage.DESCRIPTOR.fields_by_name)
    assert cases == set(messages.TYPES) - NOT_ON_TRANSLATE | {"connected"}


def warnings() -> list[dict]:
    """A warning of every kind a speaker may get, as the code builds it (its details depend on its kind)."""
    failed = {"segment_index": 1}
    translation = messages.result(Event(payload=TextTranslatedPayload(
        text="", source_text="Hi.", source_language="en", target_language="ja", engine="x", error="failed",
        segment_index=1, start_ms=0, end_ms=1, options=OPTIONS), correlation_id="c", source_service="s"), 1.0)
    speech = messages.result(Event(payload=AudioSynthesisPayload(
        audio_bytes=b"", sample_rate_hz=22050, duration_ms=0, voice="", engine="x", language="ja", text="",
        error="no voice", **failed), correlation_id="c", source_service="s"), 1.0)
    lost = messages.warning(Kind.AUDIO_LOST, "not published", start_ms=9200, end_ms=11000)
    return [built_messages()["warning"], translation, speech, lost]


@pytest.mark.parametrize("name", sorted(set(built_messages()) - NOT_ON_TRANSLATE))
def test_each_message_has_exactly_the_fields_of_the_websockets(name):
    built = built_messages()[name]
    variants = warnings() if name == "warning" else [built]
    expected = {proto_messages.RENAMED.get(field, field) for variant in variants for field in variant}
    expected -= proto_messages.OMITTED
    room_fields = ROOM_FIELDS if name in ("transcript", "translation", "audio") else set()
    assert proto_fields(name) - room_fields == expected
    expected = {proto_messages.RENAMED.get(field, field) for field in built} - proto_messages.OMITTED
    converted = getattr(stream_pb2.ServerMessage.FromString(proto_messages.encode(built)), name)
    for field in expected - {"stage_ms", "limits", "audio_wav"}:
        value = built[next(k for k in built if proto_messages.RENAMED.get(k, k) == field)]
        if value is None:
            assert not converted.HasField(field), (name, field)
        else:
            got = getattr(converted, field)
            assert (list(got) if isinstance(value, list) else got) == pytest.approx(value), (name, field)


def test_a_rooms_result_carries_the_room_the_speaker_and_history():
    payload = TextRecognizedPayload(text="Hola.", language="es", confidence=0.9, segment_index=2, start_ms=0,
                                    end_ms=900, options=OPTIONS)
    message = messages.room_result(Event(payload=payload, correlation_id="speaker-1", source_service="asr"),
                                   "aula-1", history=True)
    transcript = stream_pb2.ServerMessage.FromString(proto_messages.encode(message)).transcript
    assert (transcript.room, transcript.speaker, transcript.history, transcript.text) == (
        "aula-1", "speaker-1", True, "Hola.")
    assert proto_fields("translation") >= ROOM_FIELDS and proto_fields("audio") >= ROOM_FIELDS


def test_the_wav_travels_as_bytes():
    audio = stream_pb2.ServerMessage.FromString(proto_messages.encode(built_messages()["audio"])).audio
    assert audio.audio_wav == b"RIFF"


def test_the_config_has_the_start_messages_fields_and_is_checked_by_its_parser():
    config_fields = set(stream_pb2.Config.DESCRIPTOR.fields_by_name)
    assert config_fields == {"mode", "sample_rate_hz", "language", "targets", "synthesize", "wait_for_results", "room",
                             "partials", "translate_partials", "resume"}
    assert proto_messages.start_request(stream_pb2.Config()) == StartRequest()
    captions_only = stream_pb2.Config(language="EN", targets=stream_pb2.Targets(languages=[]), room="aula-1")
    assert proto_messages.start_request(captions_only) == StartRequest(source_language="en", target_languages=(),
                                                                        room="aula-1")
    with pytest.raises(SessionEnded) as refused:
        proto_messages.start_request(stream_pb2.Config(targets=stream_pb2.Targets(languages=["english"])))
    assert refused.value.kind is Kind.MALFORMED


def test_a_config_with_resume_is_the_json_resume_message():
    config = stream_pb2.Config(language="en", resume=stream_pb2.Resume(
        correlation_id="c-1", resume_token="v1.c-1.1.2.x", audio_ms=9200, received=["e1", "e2"]))
    assert proto_messages.start_request(config) == ResumeRequest(
        "c-1", "v1.c-1.1.2.x", StartRequest(source_language="en"), 9200, frozenset({"e1", "e2"}))
    with pytest.raises(SessionEnded) as refused:
        proto_messages.start_request(stream_pb2.Config(mode="single", resume=stream_pb2.Resume(
            correlation_id="c-1", resume_token="t")))
    assert refused.value.kind is Kind.MALFORMED


def error_kinds() -> set[Kind]:
    document = (REPO / "docs" / "protocol.md").read_text()
    section = document.split("## Limits, kinds and close codes", 1)[1].split("\n## ", 1)[0]
    return {Kind(kind) for kind in re.findall(r"^\|[^|]*\| `([a-z_]+)` \|", section, re.M)}


def test_every_error_kind_has_a_status_and_the_document_says_which():
    assert set(STATUS_OF_KIND) == error_kinds()
    section = (REPO / "docs" / "protocol.md").read_text().split("## gRPC", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `([a-z_]+)` \| `([A-Z_]+)` \|$", section, re.M))
    assert documented == {str(kind): status.name for kind, status in STATUS_OF_KIND.items()}


def test_an_error_ends_the_call_with_its_kind_and_the_whole_error_in_the_trailers():
    error = messages.error(SessionEnded(1013, "busy", kind=Kind.OVERLOADED, details={"retry_after_ms": 5000}))
    ending = ending_of(error)
    trailers = dict(ending.trailing_metadata)
    assert (ending.code, ending.details, trailers[KIND_METADATA]) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "busy",
                                                                      "overloaded")
    assert stream_pb2.Error.FromString(trailers[ERROR_METADATA]) == stream_pb2.Error(
        code=1013, kind="overloaded", reason="busy", retry_after_ms=5000)
    assert proto_messages.encode(error) is proto_messages.ERROR_IN_STATUS
