"""What one client may make the gateway spend, over real sockets: audio faster than real time, pings and empty
fragments in floods, and a client that never reads. Each ends with its documented close code and kind, and
the gateway holds no more than its bound meanwhile (docs/protocol.md, docs/security.md)."""

from __future__ import annotations

import asyncio
import json

import pytest

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.topics import SPEECH_SEGMENT
from babelstream.gateway.websocket.frames import BINARY, CONTINUATION, PING, TEXT
from babelstream.gateway.websocket.uvicorn_adapter import CLOSE_TIMEOUT_SECONDS
from tests.support.frames import client_frame
from tests.support.gateway_cases import CODEC, consume_all
from tests.support.harness import HOLD, frames_of, running_gateway, stream
from tests.support.sessions import Sessions, transcript, until
from tests.support.raw_socket import RawSocket

SILENCE_SECONDS = b"\0" * 32_000  # one second of 16 kHz PCM16
FAST = {"max_messages_per_second": 100_000}  # so only the audio budget can trip


# -- audio faster than real time -------------------------------------------------------------------------


async def test_audio_much_faster_than_real_time_is_refused_and_not_published():
    """Audit finding: 3,891 s of speech in 10 s was taken and sent on to ASR."""
    bus = MemoryBus()
    settings = dict(FAST, max_audio_speed=1.5, max_audio_burst_seconds=2)
    async with running_gateway(bus, CODEC, **settings) as (_, address):
        talk = await stream(address, frames_of(SILENCE_SECONDS * 20), start={"event": "start", "mode": "live"})
    assert talk.close_code == 1008
    [error] = talk.of_type("error")
    assert error["kind"] == "audio_too_fast" and "1.5x real time" in error["reason"]
    assert await consume_all(bus, SPEECH_SEGMENT) == []


async def test_a_burst_within_the_allowance_and_real_time_after_it_pass():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, **FAST, max_audio_speed=1.5, max_audio_burst_seconds=3) as (_, address):
        # 2.5 s at once (a client catching up after a stall), then done.
        talk = await stream(address, frames_of(SILENCE_SECONDS * 2 + SILENCE_SECONDS[:16_000]),
                            start={"event": "start", "wait_for_results": False})
    assert talk.close_code == 1000
    limits = talk.of_type("ready")[0]["limits"]
    assert (limits["max_audio_speed"], limits["max_audio_burst_seconds"]) == (1.5, 3)


async def test_the_budget_is_in_seconds_of_the_declared_rate():
    """48 kHz audio is three times the bytes of 16 kHz for the same seconds: not three times the speed."""
    async with running_gateway(MemoryBus(), CODEC, **FAST, max_audio_burst_seconds=2) as (_, address):
        one_second_48k = b"\0" * 96_000
        talk = await stream(address, frames_of(one_second_48k + one_second_48k[:48_000], sample_rate_hz=48000),
                            start={"event": "start", "sample_rate_hz": 48000, "wait_for_results": False})
    assert talk.close_code == 1000


async def test_batch_sessions_go_faster_in_a_pool_of_their_own():
    settings = dict(FAST, max_batch_sessions=1, max_batch_audio_speed=20, max_audio_burst_seconds=10,
                    max_batch_audio_seconds=600)
    async with running_gateway(MemoryBus(), CODEC, **settings) as (_, address):
        first = asyncio.create_task(stream(address, frames_of(SILENCE_SECONDS * 5) + [HOLD],
                                           start={"event": "start", "mode": "batch"}))
        await asyncio.sleep(0.5)
        second = await stream(address, frames_of(SILENCE_SECONDS), start={"event": "start", "mode": "batch"})
        live = await stream(address, frames_of(SILENCE_SECONDS), start={"event": "start", "wait_for_results": False})
        first.cancel()
    assert second.close_code == 1013 and second.of_type("error")[0]["kind"] == "capacity"
    assert live.close_code == 1000  # the live pool is not the batch pool
    ready = second.of_type("ready")
    assert ready == [] or ready[0]["limits"]["max_audio_speed"] == 20


async def test_a_client_pacing_by_the_ready_limits_sends_a_minute_in_a_few_seconds_without_a_close():
    """What `babelstream stream --fast` does: a batch session, paced by what `ready.limits` says."""
    from babelstream.client.connection import AudioConnection
    from babelstream.client.messages import Start, Summary
    from babelstream.client.pacing import as_fast_as_allowed

    settings = dict(max_batch_audio_speed=20, max_audio_burst_seconds=10, max_batch_audio_seconds=600)
    async with running_gateway(MemoryBus(), CODEC, **settings) as (_, address):
        connection = await AudioConnection.open(f"ws://{address}/ws/audio")
        reader = asyncio.create_task(_collect(connection))
        await connection.send_start(Start(mode="batch", wait_for_results=False))
        ready = await asyncio.wait_for(connection.ready, 5)
        assert (ready.limits["max_audio_speed"], ready.limits["max_session_seconds"]) == (20, 600)
        pacing = as_fast_as_allowed(ready.limits)
        started = asyncio.get_running_loop().time()
        await connection.send_paced(pacing.frames(SILENCE_SECONDS * 60), pacing)
        await connection.send_done()
        messages = await asyncio.wait_for(reader, 30)
        elapsed = asyncio.get_running_loop().time() - started
    assert connection.close_code == 1000 and any(isinstance(m, Summary) for m in messages)
    assert elapsed < 10  # a minute of audio, far faster than real time


async def _collect(connection) -> list:
    return [message async for message in connection.messages()]


# -- floods of frames that carry no message --------------------------------------------------------------


async def test_a_ping_flood_counts_toward_the_message_rate():
    """Audit finding: pings counted toward no limit, and their pongs piled up for a client that never read."""
    sessions = Sessions()
    async with running_gateway(MemoryBus(), CODEC, observer=sessions, max_messages_per_second=50) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(PING, b"x" * 125) * 2_000)  # and never read the pongs
        await until(lambda: sessions.ended.get(hello["correlation_id"], "") == "rate")
        await until(lambda: gateway.slots.in_use == 0)
        socket.drop()


async def test_empty_fragments_count_toward_the_message_rate_and_hold_nothing():
    """Audit finding: three million empty continuation frames grew a list by 23 MB and refreshed the idle clock."""
    sessions = Sessions()
    async with running_gateway(MemoryBus(), CODEC, observer=sessions, max_messages_per_second=100) as (_, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(BINARY, b"\0\0", fin=False) + client_frame(CONTINUATION, b"", fin=False) * 5_000)
        messages, code = await socket.until_close()
        socket.drop()
    assert code == 1008 and messages[-1]["kind"] == "rate"
    assert sessions.ended[hello["correlation_id"]] == "rate"


# -- a client that never reads ---------------------------------------------------------------------------


async def test_a_client_that_never_reads_is_closed_and_dropped_with_its_queue_bounded():
    """Audit finding: results for clients that did not read queued without bound, and their sockets stayed open
    50 s after their sessions ended."""
    sessions = Sessions()
    limit = 256 * 1024
    async with running_gateway(MemoryBus(), CODEC, observer=sessions, max_send_queue_bytes=limit,
                               idle_timeout_seconds=60) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        socket.send(client_frame(TEXT, json.dumps({"event": "start", "targets": []}).encode()))
        await until(lambda: sessions.started)
        session = sessions.started[0]
        big = "word " * 20_000  # 100 KB a message: the kernel's buffers fill, then the outbox
        for index in range(200):  # 20 MB if nothing bounded it
            session.on_result(transcript(index, big))
            await asyncio.sleep(0)
        await until(lambda: sessions.ended.get(hello["correlation_id"], "") == "slow_reader")
        await until(lambda: gateway.slots.in_use == 0)
        assert session.outbox.overflowed
        # The close went out past the queue; the socket is dropped once the close timeout passes.
        await asyncio.sleep(CLOSE_TIMEOUT_SECONDS + 0.5)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError, AssertionError)):
            while True:  # what the kernel held, then the end: the server is gone
                data = await asyncio.wait_for(socket.reader.read(1 << 20), 2)
                assert data, "connection closed"
        socket.drop()


async def test_pongs_stop_while_the_client_does_not_read_so_a_ping_flood_holds_no_memory():
    """Audit finding: 314 MB of pings from a client that never read took the gateway from 186 to 651 MB."""
    import gc

    import psutil

    process = psutil.Process()
    sessions = Sessions()
    # A rate far above the flood's, so only the pong rule can bound what the gateway holds.
    async with running_gateway(MemoryBus(), CODEC, observer=sessions, max_messages_per_second=10_000_000,
                               idle_timeout_seconds=30) as (gateway, address):
        socket, hello = await RawSocket.connected(address)
        gc.collect()
        before = process.memory_info().rss
        ping = client_frame(PING, b"x" * 125)
        for _ in range(40):  # 40 x 4,000 pings: 21 MB of pongs if every one were answered, and never read
            socket.send(ping * 4_000)
            await socket.writer.drain()
            await asyncio.sleep(0)
        await asyncio.sleep(0.5)
        grown_mb = (process.memory_info().rss - before) / 2**20
        assert gateway.slots.in_use == 1  # still a session: nothing but the pong rule was at work
        socket.drop()
    assert grown_mb < 8, f"the gateway grew by {grown_mb:.1f} MB"
