"""The session's messages (built as dicts in messages.py, their one owner) as babelstream.v1 protobuf, and the
client's Config as the start message's fields (checked by requests.parse_start, as the JSON one is).

A server message is one ServerMessage whose oneof case is the JSON `type`; its fields are the JSON's, but for the
few a typed message does not need (`OMITTED`) and one renamed (`RENAMED`: the spoken WAV travels as bytes, not
base64). docs/protocol.md ("gRPC") says so; tests/unit/test_grpc_proto.py holds every message to it.
"""

from __future__ import annotations

from google.protobuf.json_format import ParseDict

from babelstream.gateway.requests import ResumeRequest, StartRequest, parse_resume, parse_start
from babelstream.v1 import stream_pb2

# `type` is the oneof case; `status` is `connected`'s stand-in for a type; a warning's `code` repeats its kind for
# WebSocket clients older than `kind`.
OMITTED = frozenset({"type", "status", "code"})
# json_format reads a bytes field from base64 text: the WAV is decoded once, straight into the message.
RENAMED = {"audio_b64": "audio_wav"}
# The error is no message on gRPC: it is the call's status (status.py).
ERROR_IN_STATUS = b""

_START_FIELDS = (
    "mode", "sample_rate_hz", "language", "synthesize", "wait_for_results", "room", "partials", "translate_partials",
)


def _fields(message: dict) -> dict:
    return {RENAMED.get(name, name): value for name, value in message.items()
            if name not in OMITTED and value is not None}


def server_message(message: dict) -> stream_pb2.ServerMessage:
    case = message.get("type", "connected")
    # ignore_unknown_fields=False: a field messages.py sends and the .proto lacks fails here, in the tests.
    return ParseDict({case: _fields(message)}, stream_pb2.ServerMessage())


def encode(message: dict) -> bytes:
    """The Connection's `encode` for a gRPC call: the message's wire bytes (the outbox bounds their length)."""
    if message.get("type") == "error":
        return ERROR_IN_STATUS
    return server_message(message).SerializeToString()


def start_request(config: stream_pb2.Config) -> StartRequest | ResumeRequest:
    """The config as the JSON start (or resume) message's fields (those set), checked by the one parser of each."""
    fields: dict = {"event": "start"}
    for name in _START_FIELDS:
        if config.HasField(name):
            fields[name] = getattr(config, name)
    if config.HasField("targets"):
        fields["targets"] = list(config.targets.languages)
    if config.HasField("resume"):
        resume = config.resume
        return parse_resume({
            **fields, "event": "resume", "correlation_id": resume.correlation_id, "resume_token": resume.resume_token,
            "audio_ms": resume.audio_ms, "received": list(resume.received),
        })
    return parse_start(fields)


def languages_response(answer: dict) -> stream_pb2.LanguagesResponse:
    """GET /api/languages's answer (languages.py) as the Languages RPC's."""
    answer = {name: value for name, value in answer.items() if value is not None}
    if "pair_quality" in answer:
        answer["pair_quality"] = {pair: _fields(quality) for pair, quality in answer["pair_quality"].items()}
    return ParseDict(answer, stream_pb2.LanguagesResponse())
