"""What a socket may cost before it is a session (docs/security.md, "Connection limits"), over real sockets.

Each test sends the abusive input the audit sent (an endless head, a slowloris, silent sockets, a socket flood, a
handshake flood, forged X-Forwarded-For, HTTP/1.0, a frame pipelined behind the upgrade), with small limits so it
runs in a second or two, and checks the documented refusal and that the gateway still answers `/healthz`
promptly. Loopback only: 127.0.0.2 and 127.0.0.3 are other client addresses on the same host (Linux routes all
of 127/8 to lo); /healthz is asked from 127.0.0.3, away from the address under test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct
import time
from contextlib import asynccontextmanager

import httpx
import psutil
import pytest

from babelstream.bus.memory import MemoryBus
from babelstream.gateway.gateway import Gateway
from babelstream.gateway.http_app import create_app
from babelstream.gateway.settings import GatewaySettings
from babelstream.gateway.websocket.frames import BINARY, CLOSE, PING, PONG, TEXT
from babelstream.gateway.websocket.uvicorn_adapter import uvicorn_config
from babelstream.segmentation import SegmentationSettings, endpointer_factory
from tests.support.frames import client_frame
from tests.support.gateway_cases import CODEC
from tests.support.harness import running_gateway, serve_app

TIMEOUT = 5.0  # any single wait; a hang fails instead of blocking the run
OTHER = "127.0.0.2"  # a second client address
PROBE = "127.0.0.3"  # where /healthz is asked from
RESPONSIVE_SECONDS = 0.5  # /healthz answers within this while an attack is going on


# -- a client written byte by byte -----------------------------------------------------------------------------

async def connect(address: str, source: str = "127.0.0.1"):
    host, port = address.split(":")
    return await asyncio.wait_for(asyncio.open_connection(host, int(port), local_addr=(source, 0)), TIMEOUT)


def upgrade_head(address: str, *, version: bytes = b"HTTP/1.1", host: bool = True, forwarded_for: str | None = None,
                 path: bytes = b"/ws/audio") -> bytes:
    lines = [b"GET " + path + b" " + version]
    if host:
        lines.append(b"Host: " + address.encode())
    lines += [b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)),
              b"Sec-WebSocket-Version: 13"]
    if forwarded_for is not None:
        lines.append(b"X-Forwarded-For: " + forwarded_for.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def read_to_close(reader: asyncio.StreamReader, timeout: float = TIMEOUT) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as a close)."""
    received = bytearray()

    async def read() -> None:
        while chunk := await reader.read(65536):
            received.extend(chunk)

    try:
        await asyncio.wait_for(read(), timeout)
    except (ConnectionResetError, BrokenPipeError):
        pass
    return bytes(received)


async def is_open(reader: asyncio.StreamReader, wait: float = 0.1) -> bool:
    """True when the server neither sent anything nor closed within `wait`."""
    try:
        data = await asyncio.wait_for(reader.read(1), wait)
    except asyncio.TimeoutError:
        return True
    except ConnectionResetError:
        return False
    assert not data, f"the server sent {data!r} unasked"
    return False


async def response_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers


async def upgrade(address: str, source: str = "127.0.0.1", **head_options):
    """Sends an upgrade request for /ws/audio; returns the status, the response headers, and the open socket."""
    reader, writer = await connect(address, source)
    writer.write(upgrade_head(address, **head_options))
    status, headers = await response_head(reader)
    return status, headers, (reader, writer)


async def refusal(address: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """A request the server must refuse: its status, headers and plain-text body, and the server closes."""
    reader, writer = await connect(address)
    writer.write(request)
    status, headers = await response_head(reader)
    body = await read_to_close(reader)
    writer.close()
    return status, headers, body


async def next_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await asyncio.wait_for(reader.readexactly(length), TIMEOUT)


async def healthz_seconds(address: str) -> float:
    """How long /healthz takes, asked on a new connection from PROBE; it must answer 200."""
    started = time.perf_counter()
    reader, writer = await connect(address, PROBE)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: " + address.encode() + b"\r\nConnection: close\r\n\r\n")
    response = await read_to_close(reader)
    writer.close()
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]
    return time.perf_counter() - started


async def assert_responsive(address: str) -> None:
    assert await healthz_seconds(address) < RESPONSIVE_SECONDS


async def refusals_counted(address: str) -> dict[str, int]:
    """babelstream_gateway_socket_refusals_total on /metrics, by reason."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://{address}/metrics")).text
    found = re.findall(r'^babelstream_gateway_socket_refusals_total\{reason="([a-z_]+)"\} ([0-9.]+)$', text, re.M)
    return {reason: int(float(value)) for reason, value in found}


def drop(*sockets) -> None:
    for _, writer in sockets:
        writer.transport.abort()


# -- the request head: its size and its time -------------------------------------------------------------------

async def test_a_head_over_max_header_bytes_is_refused_431_and_closed():
    async with running_gateway(MemoryBus(), CODEC, max_header_bytes=4096) as (_, address):
        big = b"GET / HTTP/1.1\r\nHost: " + address.encode() + b"\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n"
        status, headers, body = await refusal(address, big)
        assert status == 431 and headers["content-type"].startswith("text/plain")
        assert b"over 4096 bytes" in body
        assert await refusals_counted(address) == {"header_too_large": 1}  # an operator sees it
        # a head just under the limit is served as usual
        fits = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"a" * 3900 + b"\r\n\r\n"
        reader, writer = await connect(address)
        writer.write(fits)
        assert (await read_to_close(reader)).startswith(b"HTTP/1.1 200 ")
        await assert_responsive(address)


def send_unterminated_head(address: str, where: str, total: int) -> tuple[int, str]:
    """From a thread (its CPU is not the server's): a request head that never ends, up to `total` bytes.
    Returns how many bytes the kernel took before the server closed, and how the sending stopped."""
    host, port = address.split(":")
    start = b"GET /" if where == "url" else b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
    block = b"a" * (1 << 20)
    sent = 0
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(start)
            while sent < total:
                sock.sendall(block)
                sent += len(block)
        except OSError as error:  # the server closed: reset, broken pipe
            return sent, type(error).__name__
    return sent, "sent it all"


@pytest.mark.parametrize("where", ["url", "header"])
async def test_an_endless_head_is_cut_off_and_the_gateway_stays_responsive_with_bounded_memory(where):
    """The audit's 100 MiB head (14 s of CPU, /healthz at 7.45 s): now the server reads 16 KiB of it, answers 431
    and closes; the sender is reset after what the kernel buffers took."""
    total = 100 << 20
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        process = psutil.Process()
        rss_before = process.memory_info().rss
        loop_cpu_before = time.thread_time()  # this thread runs the event loop, so the server
        sender = asyncio.ensure_future(asyncio.to_thread(send_unterminated_head, address, where, total))
        latencies = []
        while not sender.done():
            latencies.append(await healthz_seconds(address))
            await asyncio.sleep(0.02)
        sent, stopped = await sender
        loop_cpu = time.thread_time() - loop_cpu_before
        rss_growth = process.memory_info().rss - rss_before
        await assert_responsive(address)
    assert stopped != "sent it all" and sent < 32 << 20, (sent, stopped)
    assert max(latencies) < RESPONSIVE_SECONDS, latencies
    assert loop_cpu < 1.0, loop_cpu
    assert rss_growth < 32 << 20, rss_growth


async def test_a_silent_socket_is_closed_after_the_handshake_timeout():
    async with running_gateway(MemoryBus(), CODEC, handshake_timeout_seconds=0.5) as (_, address):
        reader, writer = await connect(address)
        started = time.perf_counter()
        assert await read_to_close(reader, 3.0) == b""  # closed, and nothing said
        assert 0.4 < time.perf_counter() - started < 1.5
        await assert_responsive(address)
        assert await refusals_counted(address) == {"handshake_timeout": 1}


async def test_a_slowloris_head_is_closed_after_the_handshake_timeout():
    """One byte every 50 ms: each byte is progress, but the head must be whole 0.5 s after the socket opened."""
    async with running_gateway(MemoryBus(), CODEC, handshake_timeout_seconds=0.5) as (_, address):
        reader, writer = await connect(address)
        started = time.perf_counter()

        async def drip() -> None:
            for byte in upgrade_head(address)[:-1]:
                writer.write(bytes((byte,)))
                await asyncio.sleep(0.05)

        dripping = asyncio.ensure_future(drip())
        assert await read_to_close(reader, 3.0) == b""
        assert 0.4 < time.perf_counter() - started < 1.5
        dripping.cancel()
        await assert_responsive(address)


@asynccontextmanager
async def gateway_with(uvicorn_options: dict, **settings):
    """A gateway served with uvicorn options of the test's choosing (the harness takes uvicorn's defaults)."""
    gateway = Gateway(GatewaySettings(**settings), MemoryBus(), CODEC, endpointer_factory(SegmentationSettings()))
    async with serve_app(create_app(gateway), gateway, **uvicorn_options) as address:
        yield address


async def read_response(reader: asyncio.StreamReader) -> int:
    status, headers = await response_head(reader)
    await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT)
    return status


async def test_an_idle_keep_alive_connection_is_closed_by_uvicorns_keep_alive_timeout():
    async with gateway_with({"timeout_keep_alive": 1}, handshake_timeout_seconds=30) as address:
        reader, writer = await connect(address)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await read_response(reader) == 200
        answered = time.perf_counter()
        assert await read_to_close(reader, 3.0) == b""
        assert 0.8 < time.perf_counter() - answered < 2.0


async def test_a_slowloris_on_a_kept_alive_connection_is_closed_after_the_handshake_timeout():
    """uvicorn stops its keep-alive timer at the next request's first byte; the head's own timer takes over."""
    async with running_gateway(MemoryBus(), CODEC, handshake_timeout_seconds=0.5) as (_, address):
        reader, writer = await connect(address)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await read_response(reader) == 200
        writer.write(b"G")
        started = time.perf_counter()

        async def drip() -> None:
            for byte in b"ET /healthz HTTP/1.1\r\nHost: x\r\n":
                writer.write(bytes((byte,)))
                await asyncio.sleep(0.05)

        dripping = asyncio.ensure_future(drip())
        assert await read_to_close(reader, 3.0) == b""
        assert 0.4 < time.perf_counter() - started < 1.5
        dripping.cancel()


async def test_a_trickled_body_after_the_answer_is_closed_after_the_handshake_timeout():
    """A request answered before its (huge, slow) body arrived: what trickles in after is no request being served."""
    async with running_gateway(MemoryBus(), CODEC, handshake_timeout_seconds=0.5) as (_, address):
        reader, writer = await connect(address)
        writer.write(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nx")
        assert await read_response(reader) == 405
        started = time.perf_counter()

        async def drip() -> None:
            for _ in range(100):
                writer.write(b"x")
                await asyncio.sleep(0.05)

        dripping = asyncio.ensure_future(drip())
        assert await read_to_close(reader, 3.0) == b""
        assert time.perf_counter() - started < 1.5
        dripping.cancel()


# -- sockets: in all, and per address ----------------------------------------------------------------------------

async def test_sockets_past_max_sockets_are_closed_as_they_open_and_freed_places_are_reused():
    limits = {"max_sockets": 20, "max_connections_per_ip": 1000, "handshake_timeout_seconds": 30}
    async with running_gateway(MemoryBus(), CODEC, **limits) as (_, address):
        held = [await connect(address) for _ in range(20)]
        flood = [await connect(address, OTHER) for _ in range(200)]  # the audit's 2,000 idle connections, scaled
        assert [await is_open(reader, 1.0) for reader, _ in flood] == [False] * 200  # at once: no wait
        assert all([await is_open(reader, 0.01) for reader, _ in held])
        drop(held.pop())
        await asyncio.sleep(0.1)
        assert await refusals_counted(address) == {"max_sockets": 200}
        drop(*flood, *held[:10])
        await asyncio.sleep(0.1)
        await assert_responsive(address)  # a freed place serves again
        again = [await connect(address) for _ in range(10)]
        assert all([await is_open(reader, 0.05) for reader, _ in again])
        drop(*again, *held[10:])


async def test_sockets_past_max_connections_per_ip_are_closed_as_they_open_other_addresses_are_not():
    limits = {"max_sockets": 100, "max_connections_per_ip": 5, "handshake_timeout_seconds": 30}
    async with running_gateway(MemoryBus(), CODEC, **limits) as (_, address):
        mine = [await connect(address) for _ in range(5)]
        extra = await connect(address)
        assert not await is_open(extra[0], 0.5)
        others = [await connect(address, OTHER) for _ in range(5)]
        assert all([await is_open(reader, 0.05) for reader, _ in mine + others])
        await assert_responsive(address)
        drop(*mine)
        await asyncio.sleep(0.1)
        mine = [await connect(address) for _ in range(5)]  # the count came back down
        assert all([await is_open(reader, 0.05) for reader, _ in mine])
        drop(*mine, *others)


async def test_a_websocket_keeps_its_place_in_the_count_until_it_closes():
    limits = {"max_connections_per_ip": 3, "max_connections": 10, "handshake_timeout_seconds": 30}
    async with running_gateway(MemoryBus(), CODEC, **limits) as (gateway, address):
        sessions = []
        for _ in range(3):
            status, _, session = await upgrade(address)
            assert status == 101
            sessions.append(session)
        fourth = await connect(address)  # kept: a dropped StreamWriter closes its own socket
        assert not await is_open(fourth[0], 0.5)
        drop(*sessions, fourth)
        deadline = time.perf_counter() + TIMEOUT
        while gateway.slots.in_use and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        again = [await connect(address) for _ in range(3)]
        assert all([await is_open(reader, 0.05) for reader, _ in again])
        drop(*again)


# -- handshakes per second per address, and whom X-Forwarded-For is believed from -------------------------------

async def upgrades(address: str, count: int, source: str = "127.0.0.1", **head_options):
    """`count` upgrade requests at once; their statuses, the 429s' reasons, and how long it took."""
    started = time.perf_counter()
    opened = [await connect(address, source) for _ in range(count)]
    for _, writer in opened:
        writer.write(upgrade_head(address, **head_options))
    statuses, reasons = [], []
    for reader, _ in opened:
        status, headers = await response_head(reader)
        statuses.append(status)
        if status == 429:
            assert headers["content-type"].startswith("text/plain") and headers["retry-after"] == "1"
            reasons.append((await read_to_close(reader)).decode())
    drop(*opened)
    return statuses, reasons, time.perf_counter() - started


async def test_handshakes_past_the_rate_per_address_are_refused_429_with_a_plain_text_reason():
    limits = {"max_handshakes_per_second_per_ip": 3, "max_connections": 20}
    async with running_gateway(MemoryBus(), CODEC, **limits) as (_, address):
        statuses, reasons, took = await upgrades(address, 8)
        allowed = 3 + int(took * 3)  # the bucket holds one second's worth and refills as it goes
        assert statuses.count(101) <= allowed and statuses.count(429) >= 8 - allowed, (statuses, took)
        assert all("more than 3 WebSocket handshakes a second" in reason for reason in reasons)
        assert await refusals_counted(address) == {"handshakes_per_ip": statuses.count(429)}
        other, _, _ = await upgrades(address, 3, OTHER)  # another address has its own bucket
        assert other == [101, 101, 101]
        await asyncio.sleep(1.0)  # refilled
        assert (await upgrades(address, 1))[0] == [101]
        await assert_responsive(address)


async def test_x_forwarded_for_is_ignored_from_an_untrusted_peer():
    limits = {"max_handshakes_per_second_per_ip": 2, "max_connections": 20}
    async with running_gateway(MemoryBus(), CODEC, **limits) as (_, address):
        statuses = []
        for i in range(6):  # each claims another client; all are 127.0.0.1
            statuses += (await upgrades(address, 1, forwarded_for=f"203.0.113.{i}"))[0]
        assert 429 in statuses, statuses


async def test_through_a_trusted_proxy_the_client_it_names_is_counted_not_the_proxy():
    limits = {"max_handshakes_per_second_per_ip": 10, "max_connections_per_ip": 2, "max_connections": 20,
              "trusted_proxies": "127.0.0.1", "handshake_timeout_seconds": 30}
    async with running_gateway(MemoryBus(), CODEC, **limits) as (_, address):
        # five clients through one proxy: five sockets from 127.0.0.1, over its per-address 2, all served
        sessions = []
        for i in range(5):
            status, _, session = await upgrade(address, forwarded_for=f"198.51.100.7, 203.0.113.{i}")
            assert status == 101
            sessions.append(session)
        # one client through it: its third socket is over the per-address limit (429: known only from the head)
        status, _, second = await upgrade(address, forwarded_for="203.0.113.0")
        assert status == 101
        status, _, third = await upgrade(address, forwarded_for="203.0.113.0")
        assert status == 429
        assert b"more than 2 connections from one address" in await read_to_close(third[0])
        sessions.append(second)
        # a peer that is not a trusted proxy is counted as itself, whatever it claims
        status, _, other = await upgrade(address, OTHER, forwarded_for="203.0.113.99")
        assert status == 101
        drop(*sessions, other)


def test_uvicorns_forwarded_allow_ips_are_trusted_proxies():
    """uvicorn trusts 127.0.0.1's X-Forwarded-For unless told otherwise; the gateway tells it TRUSTED_PROXIES."""
    for setting, proxy_headers, allowed in [((), False, []), (("10.0.0.0/8",), True, ["10.0.0.0/8"])]:
        gateway = Gateway(GatewaySettings(trusted_proxies=setting), MemoryBus(), CODEC,
                          endpointer_factory(SegmentationSettings()))
        config = uvicorn_config(create_app(gateway), gateway, "127.0.0.1", 0)
        assert (config.proxy_headers, config.forwarded_allow_ips) == (proxy_headers, allowed)


# -- the upgrade request itself ----------------------------------------------------------------------------------

@pytest.mark.parametrize("options, reason", [
    ({"version": b"HTTP/1.0"}, b"must be HTTP/1.1"),
    ({"host": False}, b"missing Host"),
])
async def test_an_upgrade_in_http_1_0_or_without_host_is_refused_400(options, reason):
    async with running_gateway(MemoryBus(), CODEC) as (gateway, address):
        status, headers, body = await refusal(address, upgrade_head(address, **options))
        assert status == 400 and headers["content-type"].startswith("text/plain") and reason in body
        assert gateway.slots.in_use == 0


async def test_a_frame_sent_in_the_same_packet_as_the_upgrade_request_reaches_the_websocket():
    """A client may pipeline its first frames behind its request; uvicorn's own upgrade dropped them."""
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        reader, writer = await connect(address)
        writer.write(upgrade_head(address) + client_frame(PING, b"first"))
        assert (await response_head(reader))[0] == 101
        # the pong may come before `connected`, which waits for admission: either way the ping was not dropped
        frames = [await next_frame(reader), await next_frame(reader)]
        assert (PONG, b"first") in frames and {opcode for opcode, _ in frames} == {PONG, TEXT}
        drop((reader, writer))


async def test_audio_sent_with_the_upgrade_request_is_counted_and_acknowledged():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        reader, writer = await connect(address)
        audio = b"\x01\x00" * 640
        pipelined = (client_frame(TEXT, b'{"event":"start","wait_for_results":false}') + client_frame(BINARY, audio)
                     + client_frame(TEXT, b'{"event":"done"}'))
        writer.write(upgrade_head(address) + pipelined)
        assert (await response_head(reader))[0] == 101
        messages = []
        while (frame := await next_frame(reader))[0] != CLOSE:
            messages.append(json.loads(frame[1]))
        [ack] = [message for message in messages if message.get("type") == "ack"]
        assert ack["received_bytes"] == len(audio), messages
        assert struct.unpack("!H", frame[1][:2])[0] == 1000
        drop((reader, writer))



@pytest.mark.parametrize("size", [40_000, 200_000])
async def test_a_client_still_sending_its_oversized_head_reads_the_431_not_a_reset(size):
    """The server stops parsing at the limit, but reads on (and discards, up to a bound) while it says why: closing
    with unread bytes would send a reset, and the client would lose the 431."""
    async with running_gateway(MemoryBus(), CODEC, max_header_bytes=4096) as (_, address):
        for _ in range(5):
            reader, writer = await connect(address)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
            answer = await read_to_close(reader, 5.0)
            assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
            writer.close()
