"""One Translate call from the client's side, on the stubs generated from proto/babelstream/v1/stream.proto.

    talk = translate("127.0.0.1:50051", requests(Start(targets=("es",)), frames, frame_seconds=0.02),
                     metadata=bearer(key), on_message=print)
    talk.of("transcript"), talk.code, talk.kind

`requests` yields the config, the audio (in real time when `frame_seconds` is the frames' duration) and done. What
the server sends is kept in order as (case, message) pairs; the call's end is its status, with the same `kind` as the
WebSocket's error (from the trailing metadata) when it is not OK.

Blocking, on grpc's synchronous client (async code runs it with asyncio.to_thread; `on_message` is then called on
grpc's thread). Not grpc.aio's client: when it writes after the server has ended the call (a limit ended it while the
client was still streaming), it can replace the server's status with its own INTERNAL "Internal error from Core",
and the kind is lost; the synchronous client keeps the server's status.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict

from babelstream.client.messages import ServerMessage, Start, from_dict
from babelstream.v1 import stream_pb2, stream_pb2_grpc

KIND_METADATA = "babelstream-kind"
ERROR_METADATA = "babelstream-error-bin"
HOLD = object()  # in a request stream: keep the stream open, sending nothing more, until the call ends


def config_of(start: Start) -> stream_pb2.Config:
    fields = {name: value for name, value in start.message().items() if name not in ("event", "targets")}
    config = stream_pb2.Config(**fields)
    if start.targets is not None:
        config.targets.SetInParent()  # set, even empty: [] asks for captions only
        config.targets.languages.extend(start.targets)
    return config


def as_record(case: str, message, received_at: float = 0.0) -> ServerMessage:
    """A server message as the record client/messages.py makes of the WebSocket's JSON (the same fields, `audio_wav`
    as `audio_b64`): what a client shows, it shows alike from either door."""
    data = MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    for item in message.DESCRIPTOR.fields:  # proto3's JSON writes 64-bit integers as strings; the protocol's are numbers
        if item.type == FieldDescriptor.TYPE_INT64 and item.name in data:
            data[item.name] = int(data[item.name])
    if "audio_wav" in data:
        data["audio_b64"] = data.pop("audio_wav")  # json_format writes bytes as base64 already
    data.update({"status": "connected"} if case == "connected" else {"type": case})
    return from_dict(data, received_at)


def channel_to(target: str) -> grpc.Channel:
    """`HOST:PORT` plain, `grpcs://HOST:PORT` over TLS (the system's trusted roots)."""
    if target.startswith("grpcs://"):
        return grpc.secure_channel(target.removeprefix("grpcs://"), grpc.ssl_channel_credentials())
    return grpc.insecure_channel(target.removeprefix("grpc://"))


def bearer(credential: str | None) -> tuple[tuple[str, str], ...]:
    """The call's metadata for a key or token (none when `credential` is None)."""
    return (("authorization", f"Bearer {credential}"),) if credential else ()


def requests(start: Start | stream_pb2.Config | None, frames: Iterable[bytes], *, frame_seconds: float = 0.0,
             done: bool = True) -> Iterator[stream_pb2.ClientMessage]:
    """The config (if any), each frame as audio (one every `frame_seconds`), then done."""
    if start is not None:
        config = start if isinstance(start, stream_pb2.Config) else config_of(start)
        yield stream_pb2.ClientMessage(config=config)
    began = time.monotonic()
    for position, frame in enumerate(frames):
        if frame is HOLD:
            yield HOLD
            return
        if frame_seconds:
            time.sleep(max(0.0, began + position * frame_seconds - time.monotonic()))
        yield stream_pb2.ClientMessage(audio=stream_pb2.Audio(pcm=frame))
    if done:
        yield stream_pb2.ClientMessage(done=stream_pb2.Done())


@dataclass
class Conversation:
    messages: list[tuple[str, object]] = field(default_factory=list)
    code: grpc.StatusCode | None = None
    details: str = ""
    kind: str | None = None  # the error's kind (trailing metadata), None when the call ended OK
    error: stream_pb2.Error | None = None

    def of(self, case: str) -> list:
        return [message for name, message in self.messages if name == case]

    @property
    def correlation_id(self) -> str:
        return self.of("connected")[0].correlation_id


def translate(target: str, request_stream: Iterable, *, metadata=(), timeout: float | None = None,
              credentials: grpc.ChannelCredentials | None = None,
              on_message: Callable[[str, object], None] | None = None) -> Conversation:
    """Runs one Translate call to its end; a status other than OK is in the conversation, not raised.
    `target`: as `channel_to` reads it; `credentials`: TLS with these (a private CA's root, say) instead."""
    conversation = Conversation()
    over = threading.Event()

    def sent() -> Iterator[stream_pb2.ClientMessage]:
        for message in request_stream:
            if message is HOLD:
                over.wait()
                return
            if over.is_set():
                return
            yield message

    channel = grpc.secure_channel(target.removeprefix("grpcs://"), credentials) if credentials else channel_to(target)
    with channel:
        call = stream_pb2_grpc.BabelstreamStub(channel).Translate(sent(), metadata=metadata, timeout=timeout)
        try:
            for reply in call:
                case = reply.WhichOneof("message")
                message = getattr(reply, case)
                conversation.messages.append((case, message))
                if on_message is not None:
                    on_message(case, message)
        except grpc.RpcError:
            pass  # the status below says why
        finally:
            over.set()
        conversation.code = call.code()
        conversation.details = call.details() or ""
        for name, value in call.trailing_metadata() or ():
            if name == KIND_METADATA:
                conversation.kind = value
            elif name == ERROR_METADATA:
                conversation.error = stream_pb2.Error.FromString(value)
    return conversation
