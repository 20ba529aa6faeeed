"""Runs a real gateway (uvicorn, real sockets) inside the test's event loop, and talks to it with babelstream.client."""

from __future__ import annotations

import asyncio
import json
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn

from babelstream.client.connection import AudioConnection, Closed, Refused
from babelstream.client.pacing import Pacing, send_paced
from babelstream.gateway.gateway import Gateway
from babelstream.gateway.grpc.server import GrpcServer
from babelstream.gateway.http_app import create_app
from babelstream.gateway.settings import GatewaySettings
from babelstream.gateway.websocket.uvicorn_adapter import uvicorn_config
from babelstream.segmentation import SegmentationSettings, endpointer_factory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def serve_app(app, gateway, port: int | None = None, routes=None, **uvicorn_options):
    """`gateway.settings.grpc_port`, when the app opens the gRPC ingress (its `doors`), is where it listens."""
    """Served the way `babelstream` serves it: the app, and /ws/audio beside it on the same port (plus `routes`)."""
    port = port or free_port()
    config = uvicorn_config(app, gateway, "127.0.0.1", port, routes=routes, log_level="warning", **uvicorn_options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@asynccontextmanager
async def running_gateway(bus, codec, capabilities=None, on_startup=None, on_shutdown=None, observer=None, routes=None,
                          grpc: bool = False, **settings):
    """grpc: the gRPC ingress too, on a free port (`gateway.settings.grpc_port`; `grpc_address(gateway)`)."""
    # Every test client is 127.0.0.1: one address standing for many clients, as behind a NAT. The per-address
    # limits would turn a busy test away; tests of those limits set them (tests/integration/test_connection_limits.py).
    settings.setdefault("max_connections_per_ip", 10_000)
    settings.setdefault("max_handshakes_per_second_per_ip", 10_000)
    settings["grpc_port"] = free_port() if grpc else 0
    gateway_settings = GatewaySettings(**settings)
    gateway = Gateway(gateway_settings, bus, codec, endpointer_factory(SegmentationSettings()), capabilities, observer)
    app = create_app(gateway, on_startup=on_startup, on_shutdown=on_shutdown,
                     doors=(GrpcServer(gateway),) if grpc else ())
    async with serve_app(app, gateway, routes=routes) as address:
        yield gateway, address


@asynccontextmanager
async def running_embedded_platform(grpc: bool = False):
    """What `make run` serves: the gateway and every stage in one process on the in-memory bus, real models; with
    the gRPC ingress on a free port when `grpc` (`grpc_address(platform.gateway)`: yielded second then)."""
    from babelstream.platform import STAGE_NAMES, Platform
    from babelstream.settings import Settings

    settings = Settings.from_environment(bus={"bus": "memory"}, gateway={"grpc_port": free_port() if grpc else 0})
    platform = Platform(settings, gateway=True, stages=STAGE_NAMES)
    if grpc:
        async with serve_app(platform.app(), gateway=platform.gateway) as address:
            yield address, grpc_address(platform.gateway)
        return
    async with serve_app(platform.app(), gateway=platform.gateway) as address:
        yield address


def grpc_address(gateway: Gateway) -> str:
    return f"127.0.0.1:{gateway.settings.grpc_port}"


HOLD = object()


@dataclass
class Conversation:
    """Everything one client saw: the JSON messages in order (as received), and how the socket closed."""

    messages: list[dict] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m.get("type") == kind]

    @property
    def correlation_id(self) -> str:
        return self.messages[0]["correlation_id"]


async def stream(address: str, frames, *, start: dict | None = None, done: bool = True, pace_seconds: float = 0.0,
                 origin: str | None = None, timeout: float = 120.0, on_message=None,
                 token: str | None = None) -> Conversation:
    """Connects, optionally sends a start message, sends `frames` (bytes or str), then done, and reads to close.
    Frames ending with HOLD: keep the socket open without done (for the deadline tests). `token`: the credential
    (an API key or a JWT), sent as ?token= as the page sends it.

    The start message and the frames go out unchecked (send_raw): these tests also send what a client must not."""
    conversation = Conversation()
    frames = list(frames)
    if frames and frames[-1] is HOLD:
        frames.pop()
        done = False

    def record(message) -> None:
        conversation.messages.append(message.data)
        if on_message:
            on_message(message.data)

    try:
        query = f"?token={token}" if token else ""
        connection = await AudioConnection.open(f"ws://{address}/ws/audio{query}", origin=origin)
    except Refused as refused:
        record(refused.error)
        conversation.close_code = refused.close_code
        return conversation
    record(connection.connected)
    async with connection:

        async def read() -> None:
            async for message in connection.messages():
                record(message)

        reader = asyncio.create_task(read())
        try:
            if start is not None:
                await connection.send_raw(json.dumps(start))
            await send_paced(connection.send_raw, frames, Pacing(0, pace_seconds, after_capture=False))
            if done:
                await connection.send_done()
        except Closed:
            pass  # the server ended the session: the reader has its messages
        await asyncio.wait_for(reader, timeout)
        conversation.close_code = connection.close_code
        conversation.close_reason = connection.close_reason
    return conversation


def frames_of(pcm: bytes, frame_ms: int = 20, sample_rate_hz: int = 16000) -> list[bytes]:
    size = sample_rate_hz * 2 * frame_ms // 1000
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]
