"""The native /ws/audio server over real sockets: what a client sees on the wire, and what reaches the bus.

Raw TCP for what a well-behaved WebSocket client never sends (unmasked frames, lying lengths, bad UTF-8,
a dropped connection); the websockets client for the rest.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import uuid
import wave

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.topics import AUDIO_INGRESS, SPEECH_SEGMENT
from babelstream.gateway.websocket.frames import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT
from tests.support.harness import frames_of, running_gateway, stream
from tests.support.frames import client_frame
from tests.support.raw_socket import TIMEOUT, RawSocket
from tests.support.gateway_cases import CODEC, PCM, consume_all

SINGLE = {"transport": "native", "default_mode": "single"}
AUDIO = bytes(range(256)) * 5  # 1,280 bytes: one 40 ms frame


def close_frame(code: int, reason: str = "") -> bytes:
    return client_frame(CLOSE, struct.pack("!H", code) + reason.encode())


async def until(predicate, timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def published_pcm(events) -> list[tuple[str, bytes]]:
    """(correlation id, PCM) of each AudioInputEvent published."""
    found = []
    for _, event in events:
        with wave.open(io.BytesIO(event.payload.audio_bytes)) as wav:
            found.append((event.correlation_id, wav.readframes(wav.getnframes())))
    return found


# -- the normal session ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, topic", [("live", SPEECH_SEGMENT), ("single", AUDIO_INGRESS)])
async def test_server_speaks_first_and_a_stream_ends_with_ack_then_1000(mode, topic):
    """connected with a server-made uuid4 first; after done: ack naming the published events, then close 1000."""
    bus = MemoryBus()
    async with running_gateway(bus, CODEC) as (gateway, address):
        talk = await stream(address, frames_of(PCM), start={"event": "start", "mode": mode, "wait_for_results": False})
        await until(lambda: gateway.slots.in_use == 0)
    # The one field a client that never resumes sees added: the token a resume presents.
    token = talk.messages[0]["resume_token"]
    assert talk.messages[0] == {"status": "connected", "correlation_id": talk.correlation_id, "resume_token": token}
    assert token.startswith(f"v1.{talk.correlation_id}.")
    assert uuid.UUID(talk.correlation_id).version == 4
    assert talk.messages[1]["type"] == "ready" and talk.messages[1]["mode"] == mode
    [ack] = talk.of_type("ack")
    assert ack["correlation_id"] == talk.correlation_id and ack["received_bytes"] == len(PCM)
    assert talk.close_code == 1000
    events = await consume_all(bus, topic)
    assert [event.event_id for _, event in events] == ack["event_ids"] and ack["event_ids"]
    assert {event.correlation_id for _, event in events} == {talk.correlation_id}


async def test_two_sessions_get_different_correlation_ids():
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (_, address):
        first, hello_first = await RawSocket.connected(address)
        second, hello_second = await RawSocket.connected(address)
        first.drop()
        second.drop()
    assert hello_first["correlation_id"] != hello_second["correlation_id"]


# -- protocol violations -----------------------------------------------------------------------------


async def test_unmasked_frame_ends_with_1002_and_the_audio_already_sent_is_published():
    """Breaking RFC 6455 is not abuse: error 1002, close 1002, the TCP connection closed, the audio kept."""
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, **SINGLE) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO))
        await socket.sync()
        socket.send(client_frame(BINARY, b"\0" * 640, masked=False))
        messages, code = await socket.until_close()
        assert await socket.closed_by_server() == b""  # without waiting for the client's close
        await until(lambda: gateway.slots.in_use == 0)
        rejected = gateway.metrics.registry.get_sample_value("babelstream_gateway_rejections_total", {"reason": "protocol_error", "transport": "websocket"})
    assert messages == [{"type": "error", "code": 1002, "kind": "protocol_error", "reason": "client frames must be masked"}]
    assert code == 1002 and rejected == 1
    assert published_pcm(await consume_all(bus, AUDIO_INGRESS)) == [(hello["correlation_id"], AUDIO)]


async def test_audio_in_the_same_read_as_a_bad_frame_is_published():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, **SINGLE) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO) + client_frame(BINARY, b"\0" * 640, masked=False))
        _, code = await socket.until_close()
        await until(lambda: gateway.slots.in_use == 0)
    assert code == 1002
    assert published_pcm(await consume_all(bus, AUDIO_INGRESS)) == [(hello["correlation_id"], AUDIO)]


@pytest.mark.parametrize(
    "frame, reason",
    [
        pytest.param(client_frame(BINARY, b"\0" * 4, rsv=0x40), "reserved bits set: no extension was negotiated", id="rsv1"),
        pytest.param(client_frame(0x3, b"\0"), "unknown opcode 0x3", id="opcode-0x3"),
        pytest.param(client_frame(CONTINUATION, b"\0\0"), "continuation frame without a message to continue", id="orphan"),
        pytest.param(client_frame(PING, b"p" * 126), "control frame payload over 125 bytes", id="ping-126"),
    ],
)
async def test_other_rfc_violations_end_with_1002(frame, reason):
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (gateway, address):
        socket, _ = await RawSocket.connected(address)
        socket.send(frame)
        messages, code = await socket.until_close()
        assert await socket.closed_by_server() == b""
        await until(lambda: gateway.slots.in_use == 0)
    assert (messages, code) == ([{"type": "error", "code": 1002, "kind": "protocol_error", "reason": reason}], 1002)


async def test_text_that_is_not_utf8_ends_with_1007():
    """Error 1007 then close 1007; once the client answers the close, the server closes the connection."""
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (gateway, address):
        socket, _ = await RawSocket.connected(address)
        socket.send(client_frame(TEXT, b'{"event":"\xff\xfe"}'))
        messages, code = await socket.until_close()
        socket.send(close_frame(1007))
        assert await socket.closed_by_server() == b""
        await until(lambda: gateway.slots.in_use == 0)
    assert (messages, code) == ([{"type": "error", "code": 1007, "kind": "malformed", "reason": "text frame is not valid UTF-8"}], 1007)


async def test_frame_declared_over_max_chunk_bytes_is_refused_from_its_header():
    """1009 arrives while most of the payload is still unsent; the audio of an abusive session is dropped, and a
    close frame sent after the rest of the payload is still read."""
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, max_chunk_bytes=4096, **SINGLE) as (gateway, address):
        socket, _ = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO))
        big = client_frame(BINARY, b"\1" * 100_000)
        socket.send(big[:1000])  # header + 986 bytes of a declared 100,000
        messages, code = await socket.until_close()
        socket.send(big[1000:] + close_frame(1000))
        assert await socket.closed_by_server() == b""  # the close answer was found behind the skipped payload
        await until(lambda: gateway.slots.in_use == 0)
    assert messages == [{"type": "error", "code": 1009, "kind": "frame_too_large", "reason": "frame of 100000 bytes is over the 4096-byte limit"}]
    assert code == 1009
    assert await consume_all(bus, AUDIO_INGRESS) == []


async def test_fragmented_message_over_max_chunk_bytes_is_refused_1009():
    async with running_gateway(MemoryBus(), CODEC, max_chunk_bytes=4096, **SINGLE) as (_, address):
        socket, _ = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, b"\0" * 3000, fin=False) + client_frame(CONTINUATION, b"\0" * 3000, fin=False))
        messages, code = await socket.until_close()
        socket.drop()
    assert messages == [{"type": "error", "code": 1009, "kind": "frame_too_large", "reason": "frame of 6000 bytes is over the 4096-byte limit"}]
    assert code == 1009


# -- frames a client may send ------------------------------------------------------------------------


async def test_fragmented_audio_is_one_message_and_a_ping_between_fragments_is_answered():
    bus = MemoryBus()
    pcm = bytes(range(256)) * 12  # 3,072 bytes
    async with running_gateway(bus, CODEC, **SINGLE) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(TEXT, json.dumps({"event": "start", "wait_for_results": False}).encode()))
        socket.send(client_frame(BINARY, pcm[:1000], fin=False))
        socket.send(client_frame(PING, b"between"))
        socket.send(client_frame(CONTINUATION, pcm[1000:2001], fin=False))  # odd alone, even once joined
        socket.send(client_frame(CONTINUATION, pcm[2001:]))
        assert await socket.next_frame() == (PONG, b"between")
        socket.send(client_frame(TEXT, json.dumps({"event": "done"}).encode()))
        messages, code = await socket.until_close()
        socket.send(close_frame(1000))
        assert await socket.closed_by_server() == b""
        await until(lambda: gateway.slots.in_use == 0)
    [ack] = [m for m in messages if m.get("type") == "ack"]
    assert ack["received_bytes"] == len(pcm) and code == 1000
    assert published_pcm(await consume_all(bus, AUDIO_INGRESS)) == [(hello["correlation_id"], pcm)]


async def test_ping_is_answered_with_a_pong_of_the_same_payload():
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (_, address):
        socket, _ = await RawSocket.connected(address)
        socket.send(client_frame(PING, b""))
        assert await socket.next_frame() == (PONG, b"")
        socket.send(client_frame(PING, bytes(range(125))))
        assert await socket.next_frame() == (PONG, bytes(range(125)))
        async with connect(f"ws://{address}/ws/audio") as ws:
            pong = await ws.ping(b"from websockets")
            latency = await asyncio.wait_for(pong, TIMEOUT)  # websockets matches the pong's payload to its ping
            assert latency >= 0
        socket.drop()


@pytest.mark.parametrize(
    "close_payload, answer_code",
    [
        pytest.param(struct.pack("!H", 1001) + b"leaving", 1001, id="1001-with-reason"),
        pytest.param(struct.pack("!H", 4000), 4000, id="4000"),
        pytest.param(b"", None, id="no-code"),  # the answer carries none either
        pytest.param(struct.pack("!H", 999), 1002, id="invalid-999"),  # a code a peer may not send
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


async def test_client_close_with_the_websockets_client_gets_the_same_code_back():
    async with running_gateway(MemoryBus(), CODEC, **SINGLE) as (gateway, address):
        async with connect(f"ws://{address}/ws/audio") as ws:
            json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            await ws.send(AUDIO)
            await asyncio.wait_for(ws.close(code=4001, reason="user hung up"), TIMEOUT)
        await until(lambda: gateway.slots.in_use == 0)
    assert ws.close_code == 4001 and ws.protocol.close_rcvd.code == 4001


@pytest.mark.parametrize("how", ["abort", "close"])
async def test_client_dropping_tcp_mid_stream_publishes_its_audio_and_frees_the_slot(how):
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, **SINGLE) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO))
        await socket.sync()
        assert gateway.slots.in_use == 1
        if how == "abort":
            socket.drop()
        else:
            socket.writer.close()
        await until(lambda: gateway.slots.in_use == 0)
        assert gateway.metrics.registry.get_sample_value("babelstream_gateway_open_connections") == 0
    assert published_pcm(await consume_all(bus, AUDIO_INGRESS)) == [(hello["correlation_id"], AUDIO)]


async def test_gateway_shutdown_tells_a_streaming_client_1012_after_publishing_its_audio():
    """uvicorn stopping calls the protocol's shutdown: the audio held is published, then error 1012 and close 1012."""
    bus = MemoryBus()
    serving = running_gateway(bus, CODEC, **SINGLE)
    gateway, address = await serving.__aenter__()
    stopping = None
    try:
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, AUDIO))
        await socket.sync()
        stopping = asyncio.create_task(serving.__aexit__(None, None, None))
        messages, code = await socket.until_close()
        socket.send(close_frame(code))
        assert await socket.closed_by_server() == b""
        await asyncio.wait_for(stopping, TIMEOUT)
    finally:
        if stopping is None:
            await serving.__aexit__(None, None, None)
    assert messages == [{"type": "error", "code": 1012, "kind": "shutdown", "reason": "the gateway is shutting down; reconnect"}]
    assert code == 1012 and gateway.slots.in_use == 0
    assert published_pcm(await consume_all(bus, AUDIO_INGRESS)) == [(hello["correlation_id"], AUDIO)]


# -- the other things on the same port ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/other", "/ws/%61udio", "/ws/audio/", "//ws/audio"])
async def test_upgrade_to_any_other_path_is_refused_403(path):
    """Exactly one way to a session: /ws/%61udio once reached an ASGI /ws/audio route without the native limits."""
    async with running_gateway(MemoryBus(), CODEC) as (gateway, address):
        with pytest.raises(InvalidStatus) as refused:
            await asyncio.wait_for(connect(f"ws://{address}{path}"), TIMEOUT)
        assert gateway.slots.in_use == 0
        # The native path still serves /ws/audio on the same port afterwards.
        socket, hello = await RawSocket.connected(address)
        assert hello["status"] == "connected" and gateway.slots.in_use == 1
        socket.drop()
    assert refused.value.response.status_code == 403


async def test_plain_http_on_the_same_port_still_works():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        socket, _ = await RawSocket.connected(address)  # a live WebSocket does not disturb HTTP
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            health = await client.get(f"http://{address}/healthz")
            ready = await client.get(f"http://{address}/readyz")
        socket.drop()
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


async def test_no_generated_api_documentation_is_served():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            statuses = [(await client.get(f"http://{address}{path}")).status_code
                        for path in ("/docs", "/redoc", "/openapi.json")]
    assert statuses == [404, 404, 404]


@pytest.mark.parametrize(
    "handshake, status, header",
    [
        pytest.param({"version": b"8"}, 426, b"\r\nSec-WebSocket-Version: 13\r\n", id="version-8"),
        pytest.param({"key": b"c2hvcnQ="}, 400, b"\r\nConnection: close\r\n", id="key-of-5-bytes"),
    ],
)
async def test_bad_handshake_gets_an_http_refusal_and_the_connection_closes(handshake, status, header):
    async with running_gateway(MemoryBus(), CODEC) as (gateway, address):
        socket = await RawSocket.open(address, **handshake)
        body = await socket.closed_by_server()
        assert gateway.slots.in_use == 0
    assert socket.response_head.startswith(b"HTTP/1.1 %d " % status)
    assert header in socket.response_head
    length = int(socket.response_head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert len(body) == length > 0


async def test_over_capacity_is_refused_1013_on_the_native_path():
    async with running_gateway(MemoryBus(), CODEC, max_connections=1, **SINGLE) as (gateway, address):
        holder, _ = await RawSocket.connected(address)
        refused = await asyncio.wait_for(stream(address, []), TIMEOUT)
        assert gateway.slots.in_use == 1
        holder.drop()
        await until(lambda: gateway.slots.in_use == 0)
        served = await asyncio.wait_for(stream(address, [AUDIO], start={"event": "start", "wait_for_results": False}), TIMEOUT)
    assert refused.close_code == 1013
    assert refused.messages == [
        {"type": "error", "code": 1013, "kind": "capacity", "reason": "server is full (1 sessions); try again later"}
    ]
    assert served.close_code == 1000 and served.messages[0]["status"] == "connected"


async def test_origin_not_on_the_allowlist_is_refused_1008_on_the_native_path():
    async with running_gateway(MemoryBus(), CODEC, origin_allowlist=("http://good.example",), **SINGLE) as (gateway, address):
        refused = await asyncio.wait_for(stream(address, [], origin="http://evil.example"), TIMEOUT)
        assert gateway.slots.in_use == 0
        allowed = await asyncio.wait_for(
            stream(address, [AUDIO], origin="http://good.example/", start={"event": "start", "wait_for_results": False}),
            TIMEOUT,
        )
    assert refused.close_code == 1008
    [error] = refused.messages
    assert (error["type"], error["code"], error["kind"]) == ("error", 1008, "origin")
    assert "http://evil.example" in error["reason"]
    assert allowed.close_code == 1000 and allowed.messages[0]["status"] == "connected"


async def test_a_client_leaving_while_results_are_pending_frees_its_slot_at_once():
    """After done the session waits for results (up to RESULTS_TIMEOUT_SECONDS); a client that closes meanwhile
    ends that wait: nobody is left to read the results, and the slot is not held for the rest of the timeout."""
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, **SINGLE, results_timeout_seconds=30) as (gateway, address):
        async with connect(f"ws://{address}/ws/audio") as ws:
            json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            for frame in frames_of(PCM):
                await ws.send(frame)
            await ws.send(json.dumps({"event": "done"}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert ack["type"] == "ack"
            assert gateway.slots.in_use == 1  # waiting for results no stage will send
        started = asyncio.get_running_loop().time()
        await until(lambda: gateway.slots.in_use == 0, timeout=3)
        assert asyncio.get_running_loop().time() - started < 3
