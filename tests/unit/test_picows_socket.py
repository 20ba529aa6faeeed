"""/ws/audio served by picows (WS_AUDIO_SERVER=picows) over real sockets.

The native path's wire tests run here unchanged against picows (imported below); the tests written here are where
picows decides itself (frame-level violations and oversize frames are closed by picows without the JSON error, a
close without a code is answered 1000), and that the connection really is handed to picows's protocol.
"""

from __future__ import annotations

import asyncio
import base64
import os

import pytest
from picows.picows import WSProtocol

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.topics import AUDIO_INGRESS
from babelstream.gateway.websocket.frames import BINARY, CLOSE, PING, TEXT
from tests.harness import frames_of, running_gateway, stream
from tests.unit.test_audio_socket import (  # noqa: F401  (collected here too, run against picows)
    AUDIO,
    SINGLE,
    TIMEOUT,
    RawSocket,
    close_frame,
    published_pcm,
    test_a_client_leaving_while_results_are_pending_frees_its_slot_at_once,
    test_audio_in_the_same_read_as_a_bad_frame_is_published,
    test_bad_handshake_gets_an_http_refusal_and_the_connection_closes,
    test_client_close_with_the_websockets_client_gets_the_same_code_back,
    test_client_dropping_tcp_mid_stream_publishes_its_audio_and_frees_the_slot,
    test_fragmented_audio_is_one_message_and_a_ping_between_fragments_is_answered,
    test_fragmented_message_over_max_chunk_bytes_is_refused_1009,
    test_gateway_shutdown_tells_a_streaming_client_1012_after_publishing_its_audio,
    test_origin_not_on_the_allowlist_is_refused_1008_on_the_native_path,
    test_over_capacity_is_refused_1013_on_the_native_path,
    test_ping_is_answered_with_a_pong_of_the_same_payload,
    test_plain_http_on_the_same_port_still_works,
    test_server_speaks_first_and_a_stream_ends_with_ack_then_1000,
    test_text_that_is_not_utf8_ends_with_1007,
    test_two_sessions_get_different_correlation_ids,
    test_upgrade_to_another_path_goes_to_the_asgi_app_which_refuses_it_403,
    until,
)
from tests.unit.test_gateway_memory import CODEC, PCM, consume_all
from tests.unit.test_websocket_frames import client_frame


@pytest.fixture(autouse=True)
def picows_serves_ws_audio(monkeypatch):
    monkeypatch.setenv("WS_AUDIO_SERVER", "picows")


def rejections(gateway, reason: str) -> float | None:
    return gateway.metrics.registry.get_sample_value("babelstream_gateway_rejections_total", {"reason": reason})


async def test_the_connection_is_handed_to_picows_protocol():
    """After the upgrade the transport calls picows's protocol itself: no adapter between the socket and picows."""
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        await socket.sync()
        listener = gateway.router._listeners[hello["correlation_id"]].connection
        assert isinstance(listener._ws.underlying_transport.get_protocol(), WSProtocol)
        socket.drop()


async def test_a_live_stream_through_picows_ends_with_ack_then_1000():
    async with running_gateway(MemoryBus(), CODEC, transport="native") as (gateway, address):
        talk = await stream(address, frames_of(PCM), start={"event": "start", "mode": "live", "wait_for_results": False})
        await until(lambda: gateway.slots.in_use == 0)
    [ack] = talk.of_type("ack")
    assert ack["received_bytes"] == len(PCM) and ack["segments"] >= 1 and talk.close_code == 1000


async def test_firefox_connection_header_is_accepted():
    """Firefox sends `Connection: keep-alive, Upgrade`; picows alone would answer 400."""
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (_, address):
        host, port = address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"GET /ws/audio HTTP/1.1\r\nHost: " + address.encode() + b"\r\nUpgrade: websocket\r\n"
            b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " + base64.b64encode(os.urandom(16)) + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        writer.transport.abort()
    assert head.startswith(b"HTTP/1.1 101 ")


async def test_frame_declared_over_max_chunk_bytes_is_closed_1009_by_picows_from_its_header():
    """picows refuses the frame from its header (before the payload is buffered) and sends the close itself: no
    JSON error before it. The session still ends as frame_too_large and keeps no audio."""
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, max_chunk_bytes=4096, **SINGLE) as (gateway, address):
        socket, _ = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO))
        await socket.sync()
        socket.send(client_frame(BINARY, b"\1" * 100_000)[:1000])  # header + 986 bytes of a declared 100,000
        messages, code = await socket.until_close()
        await asyncio.wait_for(socket.reader.read(), TIMEOUT)  # picows closes the connection
        await until(lambda: gateway.slots.in_use == 0)
        rejected = rejections(gateway, "frame_too_large")
    assert (messages, code, rejected) == ([], 1009, 1)
    assert await consume_all(bus, AUDIO_INGRESS) == []


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(client_frame(BINARY, b"\0" * 640, masked=False), id="unmasked"),
        pytest.param(client_frame(0x3, b"\0"), id="opcode-0x3"),
        pytest.param(client_frame(PING, b"p" * 126), id="ping-126"),
    ],
)
async def test_frame_level_violations_are_closed_1002_by_picows_and_the_audio_is_published(frame):
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, **SINGLE) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO))
        await socket.sync()
        socket.send(frame)
        messages, code = await socket.until_close()
        await asyncio.wait_for(socket.reader.read(), TIMEOUT)
        await until(lambda: gateway.slots.in_use == 0)
        rejected = rejections(gateway, "protocol_error")
    assert (messages, code, rejected) == ([], 1002, 1)
    assert published_pcm(await consume_all(bus, AUDIO_INGRESS)) == [(hello["correlation_id"], AUDIO)]


@pytest.mark.parametrize(
    "close_payload, answer_code",
    [
        pytest.param(b"\x03\xe9leaving", 1001, id="1001-with-reason"),
        pytest.param(b"\x0f\xa0", 4000, id="4000"),
        pytest.param(b"", 1000, id="no-code"),  # picows cannot send a close without a code
    ],
)
async def test_client_close_mid_stream_is_answered_and_its_audio_published(close_payload, answer_code):
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, **SINGLE) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO))
        socket.send(client_frame(CLOSE, close_payload))
        messages, code = await socket.until_close()
        assert await socket.closed_by_server() == b""
        await until(lambda: gateway.slots.in_use == 0)
    assert (messages, code) == ([], answer_code)
    assert published_pcm(await consume_all(bus, AUDIO_INGRESS)) == [(hello["correlation_id"], AUDIO)]


async def test_server_close_waits_for_the_client_answer():
    """After the server's close (here: done, ack, 1000) the connection stays open until the client answers."""
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (gateway, address):
        socket, _ = await RawSocket.connected(address)
        socket.send(client_frame(TEXT, b'{"event":"start","wait_for_results":false}'))
        socket.send(client_frame(BINARY, AUDIO))
        socket.send(client_frame(TEXT, b'{"event":"done"}'))
        messages, code = await socket.until_close()
        socket.send(close_frame(1000))
        assert await socket.closed_by_server() == b""
        await until(lambda: gateway.slots.in_use == 0)
    assert [m.get("type") for m in messages] == ["ready", "ack", "summary"] and code == 1000
