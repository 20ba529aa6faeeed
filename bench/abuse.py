"""Abuse: what abusive clients cost a gateway serving 100 honest live streams (issue #10).

Two runs in one session, each on a fresh gateway process (bench/gateway_under_test.py, the real gateway with its
lag probe, pinned to --server-core; in-memory bus; the limits at their documented defaults except
MAX_CONNECTIONS, raised from 10 to hold 100 honest sessions and the abusers'):

  reference  100 honest live streams (bench/loadgen: 20 ms frames in real time, each stamped with its send time,
             from 10 source addresses in 127.0.0.0/8 so no address is over the per-address limits) alone;
  abuse      the same 100 streams while, from addresses of their own (so the per-address limits apply to the
             abusers as designed, not to the honest streams):
    at +2 s  a ping flood from a client that never reads            expected 1008 `rate`
             audio at 10x real time (200 ms frames, 50 a second)    expected 1008 `audio_too_fast`
             a frame header announcing 1 MiB                        expected 1009 `frame_too_large`
             a 1 MiB request head                                   expected 431, closed
             a slowloris head (a header line every 0.5 s)           expected closed, no answer, at ~5 s
             40 upgrade requests at once from one address           expected 10 (one second's worth) 101, the rest 429
             100 idle sockets from one address                      expected 64 held and closed at ~5 s, 36 closed as they open
             5 clients streaming in real time that never read       expected 1008, counted slow_reader (below)
    at +10 s 10,000 idle TCP sockets from 200 addresses (50 each, under the per-address limit): MAX_SOCKETS (4,096)
             is what bounds them: expected the sockets up to the cap held and closed after
             HANDSHAKE_TIMEOUT_SECONDS (5), the rest closed as they open (docs/security.md); a /healthz probe
             from a fresh address, while the cap is full and after it clears, shows what a newcomer gets.

Clients that never read: MAX_SEND_QUEUE_BYTES (4 MiB) of results must be waiting for one before it is closed
`slow_reader`. No stages run here, so this process answers them as the tts stage would: it publishes a spoken
translation (a real espeak-ng WAV, ~147 KB as JSON) for each of them onto the gateway's Kafka broker every 0.12 s,
as bench/room_fanout.py's speakers do (the gateway and the honest streams therefore run on Kafka, started on
--kafka-port unless one listens there). Each must then be closed 1008 with nothing more sent (what was queued is
dropped and the close goes first) and counted `slow_reader` by the server. With --kafka-port 0 (the in-memory bus)
no results can flow and the case is reported as not reachable.

Per run: the honest streams' receive lag (now - the frame's send stamp, where the session handles it: every
frame of every live session; the abusers that send audio use single mode, which the probe does not see, so the
percentiles are the honest streams' alone), frames lost (sent by the load generator - received_bytes in each
session's ack / 640: per honest session, whatever else the gateway took), sessions that did not end with an ack and
close 1000, the gateway's peak RSS (psutil, every 0.1 s), and the first time each rejection reason appeared in
/metrics (the server's own view of when it closed a session). Criteria (the issue's "Done when"): honest p99 lag
< 50 ms with the abusers, nothing lost, gateway RSS < 512 MB, every abusive client refused or closed as documented.

    .venv/bin/python bench/abuse.py
    .venv/bin/python bench/abuse.py --idle 4000 --seconds 20    # smaller

Loopback only (127.0.0.0/8); every loop is bounded in count and time; both runs stop by themselves (~2 min).
Figures: docs/benchmarks/abuse.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway_capacity import (  # noqa: E402  (the capacity bench's preparation, reused as it is)
    CACHE,
    FRAME_BYTES,
    LOADGEN,
    MB,
    P99_LIMIT_MS,
    build_loadgen,
    ensure_kafka,
    free_port,
    get_json,
    prepare_audio,
    raise_file_limit,
    server_command,
    stop_kafka,
    stop_server,
    wait_for_quiet,
)
from bench.room_fanout import spoken_wav  # noqa: E402
from tests.support.frames import client_frame  # noqa: E402

RSS_LIMIT_MB = 512.0
MAX_SOCKETS = 4096  # the documented default, left as it is: the 10,000 idle sockets meet it
HANDSHAKE_TIMEOUT = 5.0  # HANDSHAKE_TIMEOUT_SECONDS's default
PER_IP = 64  # MAX_CONNECTIONS_PER_IP's default
HANDSHAKES_PER_SECOND = 10  # MAX_HANDSHAKES_PER_SECOND_PER_IP's default
HONEST_SOURCES = [f"127.0.0.{i}" for i in range(2, 12)]  # 10 addresses, 10 streams each
METRICS_SOURCE = "127.0.0.90"
TEXT, BINARY, CLOSE, PING = 0x1, 0x2, 0x8, 0x9
START_LIVE = {"event": "start", "mode": "live", "wait_for_results": False}
START_SINGLE = {"event": "start", "mode": "single", "wait_for_results": False}
WAIT = 10.0  # any single wait of an abuser for the server
DROPPED = -1  # until_close: the connection ended without a close frame (reset, or closed)
# Spoken results published for each client that never reads: ~147 KB each as JSON, 90 of them ~13 MB, well over
# MAX_SEND_QUEUE_BYTES (4 MiB) plus what the kernel's socket buffers take first on loopback (up to tcp_wmem's 4 MB).
SPOKEN_RESULTS_EACH = 90


# -- a client written byte by byte, from a chosen source address ---------------------------------------------


async def open_from(source: str, port: int, rcvbuf: int | None = None):
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # a client that does not read: fills at once
    sock.bind((source, 0))
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), WAIT)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=1 << 21)


def upgrade_request(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16))
    return (b"GET /ws/audio HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (port, key))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await reader.readexactly(length)


async def until_close(reader: asyncio.StreamReader, timeout: float = WAIT) -> tuple[list[dict], int | None]:
    """The server's JSON messages up to its close frame and the code in it (None: no close frame in time)."""
    messages: list[dict] = []

    async def read() -> int | None:
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == TEXT:
                messages.append(json.loads(payload))
            elif opcode == CLOSE:
                return struct.unpack("!H", payload[:2])[0] if payload else None

    try:
        return messages, await asyncio.wait_for(read(), timeout)
    except (asyncio.IncompleteReadError, ConnectionError):
        return messages, DROPPED
    except asyncio.TimeoutError:
        return messages, None


async def ws_session(source: str, port: int, start: dict, rcvbuf: int | None = None):
    reader, writer = await open_from(source, port, rcvbuf)
    writer.write(upgrade_request(port))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise RuntimeError(f"upgrade refused: {head.splitlines()[0]!r}")
    _, connected = await asyncio.wait_for(read_frame(reader), WAIT)
    writer.write(client_frame(TEXT, json.dumps(start).encode()))
    return reader, writer, json.loads(connected)


def drop(writer: asyncio.StreamWriter) -> None:
    try:
        writer.transport.abort()
    except Exception:
        pass


def outcome(messages: list[dict], code: int | None) -> str:
    if code == DROPPED:
        return "connection dropped"
    kinds = [m.get("kind") for m in messages if m.get("type") == "error"]
    return f"{code} {kinds[-1] if kinds else '(no error message)'}" if code else "no close frame"


# -- the abusers ------------------------------------------------------------------------------------------------


async def ping_flood(port: int) -> dict:
    reader, writer, _ = await ws_session("127.0.0.20", port, START_SINGLE, rcvbuf=4096)
    began = time.monotonic()
    pings = client_frame(PING, b"x" * 125) * 100
    sent = 0
    while sent < 5_000 and time.monotonic() - began < 3.0:  # never reads meanwhile
        writer.write(pings)
        sent += 100
        try:
            await asyncio.wait_for(writer.drain(), 0.5)
        except (asyncio.TimeoutError, ConnectionError):
            break
    flood_s = time.monotonic() - began
    messages, code = await until_close(reader)  # only now does it read: the pongs it let in, then the close
    drop(writer)
    return {"name": "ping flood, never reading", "expected": "1008 rate", "got": outcome(messages, code),
            "took_s": None, "reason": "rate",
            "note": f"{sent} pings in {flood_s:.1f} s without reading; read only afterwards"}


async def fast_audio(port: int) -> dict:
    reader, writer, _ = await ws_session("127.0.0.21", port, START_SINGLE)
    closed = asyncio.ensure_future(until_close(reader, 15.0))
    frame = client_frame(BINARY, b"\1\0" * 3200)  # 200 ms of audio every 20 ms: 10x real time, 50 messages a second
    began = time.monotonic()
    frames = 0
    while not closed.done() and frames < 500:  # 10 s at most
        writer.write(frame)
        frames += 1
        await asyncio.sleep(max(0.0, began + frames * 0.02 - time.monotonic()))
    messages, code = await closed
    took = time.monotonic() - began
    drop(writer)
    return {"name": "audio at 10x real time", "expected": "1008 audio_too_fast", "got": outcome(messages, code),
            "took_s": took, "reason": "audio_too_fast",
            "note": f"{frames} frames of 200 ms ({frames * 0.2:.0f} s of audio); the budget: 10 s burst, then 1.5x"}


async def oversize_frame(port: int) -> dict:
    reader, writer, _ = await ws_session("127.0.0.22", port, START_SINGLE)
    head = bytes((0x80 | BINARY, 0x80 | 127)) + struct.pack("!Q", 1 << 20) + b"\0\0\0\0"
    began = time.monotonic()
    writer.write(head + b"\0" * 65536)  # the announced 1 MiB is never sent in full
    messages, code = await until_close(reader)
    took = time.monotonic() - began
    drop(writer)
    return {"name": "a frame of 1 MiB (header)", "expected": "1009 frame_too_large", "got": outcome(messages, code),
            "took_s": took, "reason": "frame_too_large", "note": "64 KiB of its payload sent behind the header"}


def send_huge_head(port: int, total: int = 1 << 20) -> tuple[int, bytes, float]:
    """A blocking socket, from a thread: after a failed write asyncio drops its transport without reading what the
    server sent, and the 431 with it; the kernel still holds it for a plain recv."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(WAIT)
        sock.bind(("127.0.0.23", 0))
        sock.connect(("127.0.0.1", port))
        began = time.monotonic()
        line = b"X-Pad: " + b"a" * 1017 + b"\r\n"  # 1 KiB a header
        sent = 0
        try:
            sock.sendall(upgrade_request(port)[:-2])
            while sent < total:
                sock.sendall(line * 64)
                sent += 64 * len(line)
        except OSError:
            pass  # reset once the server has closed: what it answered is still there to read
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
        return sent, answer, time.monotonic() - began


async def huge_head(port: int) -> dict:
    sent, answer, took = await asyncio.to_thread(send_huge_head, port)
    status = answer.split(b"\r\n", 1)[0].decode("latin-1") or "(nothing)"
    return {"name": "1 MiB request head", "expected": "431", "got": status, "took_s": took,
            "ok": status.startswith("HTTP/1.1 431"), "note": f"{sent / 1024:.0f} KiB written before the answer"}


async def slowloris(port: int) -> dict:
    reader, writer = await open_from("127.0.0.24", port)
    began = time.monotonic()
    answer = asyncio.ensure_future(reader.read(4096))
    lines = 0
    try:
        writer.write(upgrade_request(port).split(b"\r\n", 1)[0] + b"\r\n")
        while not answer.done() and time.monotonic() - began < 15.0:
            await asyncio.wait([answer], timeout=0.5)
            writer.write(b"X-Slow-%d: 1\r\n" % lines)
            lines += 1
    except ConnectionError:
        pass
    try:
        got = await asyncio.wait_for(answer, WAIT)
    except (asyncio.TimeoutError, ConnectionError):
        got = b"" if answer.done() else None
    took = time.monotonic() - began
    drop(writer)
    closed = got == b""
    text = "closed, no answer" if closed else ("still open" if got is None else got.split(b"\r\n", 1)[0].decode())
    return {"name": "slowloris head (a line / 0.5 s)", "expected": f"closed, no answer, at {HANDSHAKE_TIMEOUT:g} s",
            "got": text, "took_s": took, "ok": closed and HANDSHAKE_TIMEOUT - 0.5 < took < HANDSHAKE_TIMEOUT + 1.5,
            "note": f"{lines} header lines sent"}


async def handshake_flood(port: int, count: int = 40) -> dict:
    async def one() -> str:
        try:
            reader, writer = await open_from("127.0.0.25", port)
        except (OSError, asyncio.TimeoutError) as failure:
            return f"connect: {type(failure).__name__}"
        try:
            writer.write(upgrade_request(port))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
            status = head.split(b" ", 2)[1].decode()
            if status == "429" and b"retry-after: 1" not in head.lower():
                status = "429 without Retry-After"
            return status
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return "closed"
        finally:
            drop(writer)

    began = time.monotonic()
    statuses = await asyncio.gather(*(one() for _ in range(count)))
    took = time.monotonic() - began
    tally = {status: statuses.count(status) for status in sorted(set(statuses))}
    ok = tally.get("101", 0) <= HANDSHAKES_PER_SECOND + 1 and tally.get("101", 0) + tally.get("429", 0) == count
    return {"name": f"{count} upgrades at once, one address", "expected": f"<= {HANDSHAKES_PER_SECOND} x 101, the rest 429",
            "got": ", ".join(f"{n} x {s}" for s, n in tally.items()), "took_s": took, "ok": ok, "note": ""}


async def hold_idle(sources: list[str], port: int, per_source: int, deadline_s: float, concurrency: int = 256):
    """Opens per_source idle sockets from each source; returns, for each, (opened, closed) in monotonic seconds
    (closed None: still open at the deadline, or never opened). Sends nothing, reads until the server closes."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    end = time.monotonic() + deadline_s
    times: list[tuple[float | None, float | None]] = []

    async def one(source: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        opened = closed = None
        try:
            sock.bind((source, 0))
            sock.setblocking(False)
            async with gate:
                await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), max(0.1, end - time.monotonic()))
            opened = time.monotonic()
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 1024), max(0.1, end - time.monotonic()))
                closed = time.monotonic() if not data else None  # bytes would be an answer: none is expected
            except ConnectionError:
                closed = time.monotonic()
            except asyncio.TimeoutError:
                pass
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            sock.close()
            times.append((opened, closed))

    await asyncio.gather(*(one(source) for source in sources for _ in range(per_source)))
    return times


def classify(times, began: float) -> dict:
    at_open = [c - o for o, c in times if o is not None and c is not None and c - o < 1.0]
    later = sorted(c - o for o, c in times if o is not None and c is not None and c - o >= 1.0)
    open_at_end = sum(1 for o, c in times if o is not None and c is None)
    never = sum(1 for o, _ in times if o is None)
    last_close = max((c - began for _, c in times if c is not None), default=0.0)
    return {"closed_at_open": len(at_open), "held": len(later), "open_at_end": open_at_end, "connect_failed": never,
            "held_min_s": later[0] if later else None, "held_max_s": later[-1] if later else None,
            "all_closed_s": last_close}


async def per_address_cap(port: int, count: int = 100) -> dict:
    began = time.monotonic()
    times = await hold_idle(["127.0.0.26"], port, count, 12.0)
    c = classify(times, began)
    ok = (c["held"] == PER_IP and c["closed_at_open"] == count - PER_IP and not c["open_at_end"]
          and HANDSHAKE_TIMEOUT - 0.5 < c["held_min_s"] and c["held_max_s"] < HANDSHAKE_TIMEOUT + 1.5)
    return {"name": f"{count} idle sockets, one address", "expected": f"{PER_IP} held until {HANDSHAKE_TIMEOUT:g} s, "
            f"{count - PER_IP} closed as they open", "got": f"{c['held']} held ({c['held_min_s'] or 0:.1f}-"
            f"{c['held_max_s'] or 0:.1f} s), {c['closed_at_open']} closed as they open, {c['open_at_end']} still open",
            "took_s": c["all_closed_s"], "ok": ok, "note": ""}


def healthz(source: str, port: int) -> str:
    """One GET /healthz on a fresh socket from `source` (blocking; run in a thread)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3, source_address=(source, 0))
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
        connection.close()
        return str(status)
    except (OSError, http.client.HTTPException) as failure:
        return f"refused ({type(failure).__name__})"


async def idle_flood(port: int, count: int, open_sockets_before: int) -> dict:
    addresses = [f"127.1.{k // 250}.{k % 250 + 1}" for k in range(-(-count // 50))]  # 50 a address: under 64
    began = time.monotonic()
    flood = asyncio.ensure_future(hold_idle(addresses, port, 50, 20.0))
    await asyncio.sleep(1.5)
    during = await asyncio.to_thread(healthz, "127.0.0.27", port)
    await asyncio.sleep(HANDSHAKE_TIMEOUT + 2.0)
    after = await asyncio.to_thread(healthz, "127.0.0.28", port)
    times = (await flood)[: count]
    c = classify(times, began)
    room = MAX_SOCKETS - open_sockets_before
    ok = (not c["open_at_end"] and c["held"] + c["closed_at_open"] + c["connect_failed"] == len(times)
          and c["held"] <= room and (c["held_max_s"] or 0) < HANDSHAKE_TIMEOUT + 1.5 and after == "200")
    return {"name": f"{len(times):,} idle sockets, 200 addresses",
            "expected": f"<= {room} held (MAX_SOCKETS {MAX_SOCKETS} - {open_sockets_before} open) until "
                        f"{HANDSHAKE_TIMEOUT:g} s, the rest closed as they open",
            "got": f"{c['held']} held ({c['held_min_s'] or 0:.1f}-{c['held_max_s'] or 0:.1f} s), {c['closed_at_open']} "
                   f"closed as they open, {c['connect_failed']} not connected, {c['open_at_end']} still open",
            "took_s": c["all_closed_s"], "ok": ok,
            "note": f"/healthz from a new address 1.5 s in: {during}; at {1.5 + HANDSHAKE_TIMEOUT + 2:.1f} s: {after}"}


async def non_readers(port: int, count: int, seconds: float, results: SpokenResults | None) -> dict:
    """Clients that stream audio in real time and never read, while what the stages would answer them arrives: a
    spoken translation (~147 KB as JSON) for each, every 0.12 s, published onto Kafka by this process (`results`).
    Expected: each closed 1008 `slow_reader` once MAX_SEND_QUEUE_BYTES wait for it. On the in-memory bus no results
    can flow from here (`results` None), and the case is not reachable."""
    sessions = [await ws_session("127.0.0.29", port, START_SINGLE, rcvbuf=4096) for _ in range(count)]
    frame = client_frame(BINARY, b"\1\0" * 320)  # 20 ms in real time
    answering = None
    if results is not None:
        answering = asyncio.create_task(results.answer([connected["correlation_id"] for _, _, connected in sessions],
                                                       every=0.12, count=SPOKEN_RESULTS_EACH))
    began = time.monotonic()
    ticks = 0
    while time.monotonic() - began < seconds and ticks < seconds * 50 + 1:
        for _, writer, _ in sessions:
            writer.write(frame)
        ticks += 1
        await asyncio.sleep(max(0.0, began + ticks * 0.02 - time.monotonic()))
    held = time.monotonic() - began
    if answering is not None:
        published = await answering
    outcomes = []
    for reader, writer, _ in sessions:  # only now read what the server sent them, its close included
        messages, code = await until_close(reader, WAIT if results is not None else 0.2)
        outcomes.append(outcome(messages, code))
        drop(writer)
    # What waits for it is dropped and the close goes out first (docs/protocol.md): a code, no error message; and a
    # client that still does not read has its TCP connection dropped 5 s later. Either is the documented end (this
    # client reads only once it stops streaming); the kind is the server's count (`slow_reader` in /metrics, the
    # "server counted it at" column).
    closed = ("1008 (no error message)", "connection dropped")
    expected = " or ".join(closed)
    name = f"{count} clients streaming, never reading"
    if results is None:
        return {"name": name, "expected": "1008 slow_reader past 4 MiB queued",
                "got": f"not reachable on the in-memory bus: held {held:.0f} s, {len(outcomes) - outcomes.count('no close frame')} closed",
                "took_s": None, "ok": None, "note": "run on Kafka (the default) for results to flow"}
    got = ", ".join(f"{outcomes.count(o)} x {o}" for o in sorted(set(outcomes)))
    ending = f"{count} x ({expected})"
    return {"name": f"{name}, {published} spoken results published for them", "expected": ending,
            "got": ending if all(o in closed for o in outcomes) else got, "took_s": None,
            "ok": all(o in closed for o in outcomes), "reason": "slow_reader", "outcomes": got,
            "note": f"held {held:.0f} s"}


GATEWAY_REPLY_PARTITION = 0


class SpokenResults:
    """What the tts stage publishes for a session's utterance (a real espeak-ng WAV, room_fanout.spoken_wav), put
    onto the gateway's bus by this process, as bench/room_fanout.py's speakers do."""

    def __init__(self, wav: bytes):
        self._wav = wav

    async def answer(self, correlation_ids: list[str], *, every: float, count: int) -> int:
        from babelstream.bus.event_publisher import EventPublisher
        from babelstream.bus.settings import BusSettings
        from babelstream.contracts.events import AudioSynthesisPayload, Event
        from babelstream.platform import build_bus, build_codec

        settings = BusSettings()
        bus = build_bus(settings, "bench-abuse-tts")
        await bus.start()
        publisher = EventPublisher(bus, build_codec(settings))
        published = 0
        try:
            for index in range(count):
                await asyncio.gather(*(publisher.publish(Event(
                    AudioSynthesisPayload(audio_bytes=self._wav, sample_rate_hz=22050, duration_ms=2500, voice="es",
                                          engine="espeak-ng", language="es", text="Buenos días a todos.",
                                          segment_index=index),
                    correlation_id=correlation_id, source_service="bench-tts",
                    reply_partition=GATEWAY_REPLY_PARTITION,  # as the tts stage routes a session's results
                )) for correlation_id in correlation_ids))
                published += len(correlation_ids)
                await asyncio.sleep(every)
        finally:
            await bus.stop()
        return published


async def run_abusers(port: int, t0: float, args, open_sockets_before: int, results: SpokenResults | None) -> list[dict]:
    """All the abusers, on the honest streams' clock (t0 = monotonic time the honest streaming starts)."""
    await asyncio.sleep(max(0.0, t0 + 2.0 - time.monotonic()))
    first = [ping_flood(port), fast_audio(port), oversize_frame(port), huge_head(port), slowloris(port),
             handshake_flood(port), per_address_cap(port),
             non_readers(port, args.non_readers, args.seconds - 6.0, results)]

    async def flood_later() -> dict:
        await asyncio.sleep(max(0.0, t0 + 10.0 - time.monotonic()))
        return await idle_flood(port, args.idle, open_sockets_before + args.non_readers)

    results = await asyncio.gather(*first, flood_later(), return_exceptions=True)
    out = []
    for result in results:
        if isinstance(result, BaseException):
            out.append({"name": "(an abuser failed)", "expected": "", "got": repr(result), "took_s": None, "ok": False,
                        "note": ""})
        else:
            out.append(result)
    return out


# -- the gateway, the honest load, the watch -----------------------------------------------------------------------


def start_gateway(args, log_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        **({"BUS": "kafka", "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{args.kafka_port}"} if args.kafka_port
           else {"BUS": "memory"}),
        # No stages run: nothing to measure a backlog or a latency of (admission), nor to decode windows (partials);
        # as bench/gateway_capacity.py, the gateway's frame path.
        "PARTIALS": "false",
        "ADMISSION_MAX_ASR_BACKLOG": "0",
        "ADMISSION_MAX_P95_MS": "0",
        # 100 honest sessions, the abusers' (at most ~20) and room to spare; every other limit at its default.
        "MAX_CONNECTIONS": str(args.n + 100),
        "BENCH_LAG_EVERY": "1",
        "BENCH_FRAME_BYTES": str(FRAME_BYTES),
        "GRPC_PORT": "0",  # the WebSocket door is what this bench abuses
        # Its sessions' results come back on this reply partition, where SpokenResults publishes them.
        "GATEWAY_REPLY_PARTITION": str(GATEWAY_REPLY_PARTITION),
    }
    for name in ("MAX_SOCKETS", "MAX_CONNECTIONS_PER_IP", "HANDSHAKE_TIMEOUT_SECONDS", "MAX_HEADER_BYTES",
                 "MAX_HANDSHAKES_PER_SECOND_PER_IP", "MAX_MESSAGES_PER_SECOND", "MAX_AUDIO_SPEED",
                 "MAX_AUDIO_BURST_SECONDS", "MAX_CHUNK_BYTES", "MAX_SEND_QUEUE_BYTES", "MAX_SESSION_SECONDS",
                 "IDLE_TIMEOUT_SECONDS", "TRUSTED_PROXIES"):
        env.pop(name, None)  # the documented defaults, whatever this shell has
    log = log_path.open("w")
    server = subprocess.Popen(server_command("gateway", port, args.server_core), stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 120
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"gateway exited with {server.returncode}; see {log_path}")
        try:
            if get_json(f"http://127.0.0.1:{port}/readyz", timeout=2).get("ready"):
                return server, port
        except OSError:
            pass
        if time.time() > deadline:
            stop_server(server)
            raise RuntimeError(f"gateway not ready within 120 s; see {log_path}")
        time.sleep(0.2)


class Watch(threading.Thread):
    """The gateway's RSS every 0.1 s, and /metrics every 0.25 s on one kept-alive connection from an address of its
    own: when each rejection reason first appears (seconds after t0)."""

    def __init__(self, pid: int, port: int, t0: float):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.port, self.t0 = port, t0
        self.rss_peak = 0
        self.rss_peak_at = 0.0
        self.first_seen: dict[str, float] = {}
        self.scrape_failures = 0
        self.stopping = threading.Event()
        self._connection: http.client.HTTPConnection | None = None

    def run(self) -> None:
        next_scrape = 0.0
        while not self.stopping.wait(0.1):
            rss = self.process.memory_info().rss
            if rss > self.rss_peak:
                self.rss_peak, self.rss_peak_at = rss, time.monotonic() - self.t0
            if time.monotonic() >= next_scrape:
                next_scrape = time.monotonic() + 0.25
                self._scrape()

    def _scrape(self) -> None:
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2,
                                                              source_address=(METRICS_SOURCE, 0))
            self._connection.request("GET", "/metrics")
            text = self._connection.getresponse().read().decode()
        except (OSError, http.client.HTTPException):
            self.scrape_failures += 1
            if self._connection is not None:
                self._connection.close()
            self._connection = None
            return
        for reason, value in re.findall(r'babelstream_gateway_rejections_total\{reason="([a-z_]+)",transport="[a-z]+"\} ([0-9.e+]+)', text):
            if float(value) > 0 and reason not in self.first_seen:
                self.first_seen[reason] = time.monotonic() - self.t0


def run(args, audio: Path, abusers: bool) -> dict:
    label = "abuse" if abusers else "reference"
    waited = wait_for_quiet(args)
    log_path = CACHE / f"abuse-server-{label}.log"
    server, port = start_gateway(args, log_path)
    loadgen = None
    try:
        time.sleep(1.0)
        ramp = 2.0
        start_at = time.time() + ramp + 2.0
        t0 = time.monotonic() + (start_at - time.time())
        command = [
            "taskset", "-c", str(args.client_core), str(LOADGEN),
            "-url", f"ws://127.0.0.1:{port}/ws/audio", "-n", str(args.n), "-audio", str(audio),
            "-start", json.dumps(START_LIVE, separators=(",", ":")), "-start-at", str(int(start_at * 1e9)),
            "-ramp", f"{ramp:.3f}", "-seconds", f"{args.seconds:.3f}", "-stamp", "sent",
            "-source", ",".join(HONEST_SOURCES),
        ]
        loadgen = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watch = Watch(server.pid, port, t0)
        watch.start()
        outcomes: list[dict] = []
        if abusers:
            time.sleep(max(0.0, t0 + 1.0 - time.monotonic()))
            # the clients' sockets on the gateway's port (its own connections to Kafka are not under MAX_SOCKETS)
            before = sum(1 for c in psutil.Process(server.pid).net_connections(kind="tcp")
                         if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED)
            results = SpokenResults(spoken_wav(2.5)) if args.kafka_port else None
            outcomes = asyncio.run(run_abusers(port, t0, args, before, results))
        out, err = loadgen.communicate(timeout=args.seconds + 120)
        if loadgen.returncode != 0:
            raise RuntimeError(f"load generator failed ({loadgen.returncode}): {err.strip()[-2000:]}")
        clients = json.loads(out)
        watch.stopping.set()
        watch.join()
        stats = get_json(f"http://127.0.0.1:{port}/bench/stats", timeout=30)
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.kill()
            loadgen.wait()
        stop_server(server)
    for result in outcomes:
        reason = result.get("reason")
        if reason:
            # the client saw the documented close, and the server counted it under its kind
            result["ok"] = result["got"] == result["expected"] and reason in watch.first_seen
            if reason in watch.first_seen:
                result["server_s"] = watch.first_seen[reason] - 2.0  # the session abusers started at +2 s
    return {
        "run": label,
        "waited_for_quiet_s": round(waited, 1),
        "lag_p50_ms": stats["p50_ms"], "lag_p99_ms": stats["p99_ms"],
        # One sample per session is the probe reading the empty tail fed to the endpointer at done (stamp 0): the
        # max and the "late" slots are taken without those 100 (they are the histogram's last 0.1%, so p99 is clean).
        "late_slots": [(round(slot / 10 - start_at, 1), count) for slot, count in stats.get("late_slots", [])
                       if slot / 10 > start_at - 60],
        "frames_sent": clients["frames_sent"], "frames_expected": clients["frames_expected"],
        "frames_lost": clients["frames_sent"] - clients["acked_bytes"] // FRAME_BYTES,
        "sessions_ok": clients["sessions_ok"], "close_codes": clients["close_codes"],
        "sample_errors": clients["sample_errors"],
        "rss_peak_mb": watch.rss_peak / MB, "rss_peak_at_s": round(watch.rss_peak_at, 1),
        "rejections_first_seen_s": {k: round(v, 2) for k, v in watch.first_seen.items()},
        "metrics_scrapes_failed": watch.scrape_failures,
        "abusers": outcomes,
    }


# -- report ------------------------------------------------------------------------------------------------------


def honest_line(r: dict) -> str:
    return (f"{r['run']:>9}: lag p50 {r['lag_p50_ms']:.1f} ms, p99 {r['lag_p99_ms']:.1f} ms; frames sent {r['frames_sent']} of "
            f"{r['frames_expected']}, lost {r['frames_lost']}; sessions ok {r['sessions_ok']} (closes "
            f"{r['close_codes']}); gateway RSS peak {r['rss_peak_mb']:.0f} MB at {r['rss_peak_at_s']} s")


def abuser_table(outcomes: list[dict]) -> str:
    lines = ["| abuser | expected | got | took (client) | server counted it at | ok |", "|---|---|---|---:|---:|---|"]
    for o in outcomes:
        took = f"{o['took_s']:.2f} s" if o.get("took_s") is not None else "-"
        server = f"{o['server_s']:.2f} s" if o.get("server_s") is not None else "-"
        ok = {True: "PASS", False: "FAIL", None: "SKIP"}[o.get("ok")]
        lines.append(f"| {o['name']} | {o['expected']} | {o['got']} | {took} | {server} | {ok} |")
    notes = [f"- {o['name']}: {o['note']}" for o in outcomes if o.get("note")]
    return "\n".join(lines + [""] + notes)


def verdicts(reference: dict, abuse: dict, n: int) -> list[tuple[str, bool | None]]:
    judged = [o.get("ok") for o in abuse["abusers"]]
    return [
        (f"honest p99 lag with the abusers < {P99_LIMIT_MS:.0f} ms ({abuse['lag_p99_ms']:.1f} ms; "
         f"{reference['lag_p99_ms']:.1f} ms without)", abuse["lag_p99_ms"] < P99_LIMIT_MS),
        (f"honest frames lost 0 and {n} sessions ok, both runs (lost {reference['frames_lost']}/{abuse['frames_lost']}, "
         f"ok {reference['sessions_ok']}/{abuse['sessions_ok']})",
         reference["frames_lost"] == abuse["frames_lost"] == 0 and reference["sessions_ok"] == abuse["sessions_ok"] == n
         and abuse["frames_sent"] == abuse["frames_expected"]),
        (f"gateway RSS peak < {RSS_LIMIT_MB:.0f} MB ({abuse['rss_peak_mb']:.0f} MB; {reference['rss_peak_mb']:.0f} MB "
         f"without)", abuse["rss_peak_mb"] < RSS_LIMIT_MB),
        (f"every abusive client refused or closed as documented ({judged.count(True)} pass, {judged.count(False)} fail, "
         f"{judged.count(None)} not reachable here)", False not in judged),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="honest live streams")
    parser.add_argument("--seconds", type=float, default=24.0, help="how long the honest streams stream")
    parser.add_argument("--idle", type=int, default=10_000, help="idle sockets in the flood")
    parser.add_argument("--non-readers", type=int, default=5)
    parser.add_argument("--kafka-port", type=int, default=19692,
                        help="the gateway's broker (started if nothing listens there); 0: the in-memory bus, where no "
                             "results can flow to the clients that never read")
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--client-core", type=int, default=0)
    parser.add_argument("--quiet-pct", type=float, default=30.0, help="wait for both cores under this %% busy before each run")
    parser.add_argument("--quiet-timeout", type=float, default=180.0)
    parser.add_argument("--json", default=str(CACHE / "abuse.json"))
    args = parser.parse_args()
    if args.seconds < 20:
        parser.error("--seconds must be at least 20: the idle flood starts at +10 s and lasts ~8 s")

    command = (".venv/bin/python bench/abuse.py " + shlex.join(sys.argv[1:])).strip()
    limit = raise_file_limit()
    if limit < args.idle + 1000:
        sys.exit(f"open files hard limit {limit} is under the {args.idle} idle sockets")
    os.sched_setaffinity(0, {args.client_core})  # the abusers share the load generator's core, not the server's
    build_loadgen()
    audio, _ = prepare_audio()
    began = datetime.now(timezone.utc)
    print(f"command: {command}")
    print(f"started {began:%Y-%m-%d %H:%M:%S} UTC, load average {os.getloadavg()}, {os.cpu_count()} cores, open files "
          f"limit {limit}; gateway on core {args.server_core}, load generator and abusers on core {args.client_core}")
    if args.kafka_port:  # this process publishes the spoken results onto the gateway's broker (SpokenResults)
        os.environ.update(BUS="kafka", KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{args.kafka_port}")
    started_kafka = ensure_kafka(args.kafka_port, args.client_core) if args.kafka_port else False
    try:
        reference = run(args, audio, abusers=False)
        print(honest_line(reference), flush=True)
        abuse = run(args, audio, abusers=True)
    finally:
        if started_kafka:
            stop_kafka(args.kafka_port)
    print(honest_line(abuse), flush=True)
    for r in (reference, abuse):
        if r["late_slots"]:
            print(f"    {r['run']}: frames >= 50 ms late (s after start, frames): {r['late_slots'][:12]}")
    print(f"    rejections first seen in /metrics (s after the honest streams started): {abuse['rejections_first_seen_s']}; "
          f"scrapes refused: {abuse['metrics_scrapes_failed']}")
    print()
    print(abuser_table(abuse["abusers"]))
    print()
    results = verdicts(reference, abuse, args.n)
    for text, passed in results:
        print(f"{'PASS' if passed else 'FAIL'}  {text}")
    ended = datetime.now(timezone.utc)
    print(f"load average at the end {os.getloadavg()}; took {(ended - began).total_seconds():.0f} s")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"command": command, "began": began.isoformat(), "ended": ended.isoformat(),
                                           "reference": reference, "abuse": abuse,
                                           "verdicts": results}, indent=2, default=str))
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
