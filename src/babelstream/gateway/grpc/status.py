"""How a session that ends early ends a gRPC call: a status code per error kind, the reason as the status's details,
and the kind (and the whole error) in the trailing metadata. docs/protocol.md has the table for client developers;
a test keeps it and `STATUS_OF_KIND` in step."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from babelstream.gateway.errors import Kind
from babelstream.v1 import stream_pb2

KIND_METADATA = "babelstream-kind"
ERROR_METADATA = "babelstream-error-bin"  # `-bin`: a serialized babelstream.v1.Error

_S = grpc.StatusCode
STATUS_OF_KIND: dict[Kind, grpc.StatusCode] = {
    Kind.ORIGIN: _S.PERMISSION_DENIED,
    Kind.UNAUTHENTICATED: _S.UNAUTHENTICATED,
    Kind.FORBIDDEN: _S.PERMISSION_DENIED,
    Kind.CAPACITY: _S.RESOURCE_EXHAUSTED,
    Kind.OVERLOADED: _S.RESOURCE_EXHAUSTED,
    Kind.PIPELINE_UNAVAILABLE: _S.UNAVAILABLE,  # the bus is unreachable: retry later (retry_after_ms)
    Kind.MALFORMED: _S.INVALID_ARGUMENT,
    Kind.UNSUPPORTED_LANGUAGE: _S.INVALID_ARGUMENT,
    Kind.EMPTY_STREAM: _S.INVALID_ARGUMENT,
    Kind.NOT_WHOLE_SAMPLES: _S.INVALID_ARGUMENT,
    Kind.PROTOCOL_ERROR: _S.INVALID_ARGUMENT,
    Kind.RESUME_REFUSED: _S.PERMISSION_DENIED,  # the token is not this credential's for that session: start anew
    Kind.RATE: _S.RESOURCE_EXHAUSTED,
    Kind.AUDIO_TOO_FAST: _S.RESOURCE_EXHAUSTED,
    Kind.FRAME_TOO_LARGE: _S.RESOURCE_EXHAUSTED,
    Kind.BUFFER_FULL: _S.RESOURCE_EXHAUSTED,
    # Not DEADLINE_EXCEEDED: that is what the client's own deadline gives it, and a client must tell the server's
    # limit on a session (which a room lifts) from its own deadline without reading the metadata.
    Kind.SESSION_TOO_LONG: _S.OUT_OF_RANGE,
    Kind.IDLE: _S.DEADLINE_EXCEEDED,  # the server's wait for the next message ran out
    Kind.SLOW_READER: _S.RESOURCE_EXHAUSTED,
    Kind.PUBLISH_FAILED: _S.UNAVAILABLE,  # retry the session
    Kind.SHUTDOWN: _S.UNAVAILABLE,  # reconnect (to another gateway)
    Kind.INTERNAL: _S.INTERNAL,
}


@dataclass(frozen=True)
class CallEnding:
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def ending_of(error: dict) -> CallEnding:
    """The status that ends a call for the session's error message (messages.error builds it, for both doors)."""
    kind = Kind(error["kind"])
    detail = stream_pb2.Error(code=error["code"], kind=error["kind"], reason=error["reason"],
                              retry_after_ms=error.get("retry_after_ms"))
    return CallEnding(
        STATUS_OF_KIND[kind], error["reason"],
        ((KIND_METADATA, str(kind)), (ERROR_METADATA, detail.SerializeToString())),
    )
