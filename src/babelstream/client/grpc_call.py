"""One Translate call from the client's side: grpc.aio and the stubs generated from proto/babelstream/v1/stream.proto.

    async with grpc.aio.insecure_channel("127.0.0.1:50051") as channel:
        talk = await translate(channel, requests(Start(targets=("es",)), frames), metadata=bearer(key))
        talk.of("transcript"), talk.code, talk.kind

`requests` yields the config, the audio (paced as `pacing` says) and done. What the server sends is kept in order as
(case, message) pairs; the call's end is its status, and for an error the same `kind` as the WebSocket's (from the
trailing metadata).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import grpc

from babelstream.client.messages import Start
from babelstream.v1 import stream_pb2, stream_pb2_grpc

KIND_METADATA = "babelstream-kind"
ERROR_METADATA = "babelstream-error-bin"


def config_of(start: Start) -> stream_pb2.Config:
    fields = {name: value for name, value in start.message().items() if name not in ("event", "targets")}
    config = stream_pb2.Config(**fields)
    if start.targets is not None:
        config.targets.languages.extend(start.targets)
        config.targets.SetInParent()
    return config


def bearer(credential: str | None) -> tuple[tuple[str, str], ...]:
    """The call's metadata for a key or token (none when `credential` is None)."""
    return (("authorization", f"Bearer {credential}"),) if credential else ()


async def requests(start: Start | stream_pb2.Config | None, frames: Iterable[bytes], *, frame_seconds: float = 0.0,
                   done: bool = True) -> AsyncIterator[stream_pb2.ClientMessage]:
    """The config (if any), each frame as audio (one every `frame_seconds`: real time for a live session), done."""
    if start is not None:
        config = start if isinstance(start, stream_pb2.Config) else config_of(start)
        yield stream_pb2.ClientMessage(config=config)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for position, frame in enumerate(frames):
        if frame_seconds:
            await asyncio.sleep(max(0.0, began + position * frame_seconds - loop.time()))
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


async def translate(channel: grpc.aio.Channel, request_stream, *, metadata=(), timeout: float | None = None,
                    on_message: Callable[[str, object], None] | None = None) -> Conversation:
    """Runs one Translate call to its end; a status other than OK is in the conversation, not raised."""
    conversation = Conversation()
    call = stream_pb2_grpc.BabelstreamStub(channel).Translate(request_stream, metadata=metadata, timeout=timeout)
    try:
        async for reply in call:
            case = reply.WhichOneof("message")
            message = getattr(reply, case)
            conversation.messages.append((case, message))
            if on_message is not None:
                on_message(case, message)
    except grpc.aio.AioRpcError:
        pass  # the status below says why
    conversation.code = await call.code()
    conversation.details = await call.details() or ""
    for name, value in await call.trailing_metadata() or ():
        if name == KIND_METADATA:
            conversation.kind = value
        elif name == ERROR_METADATA:
            conversation.error = stream_pb2.Error.FromString(value)
    return conversation
