"""Logs an operator can use and a person can trust (issue #10): each session ends with one line saying who, how long,
how much and how it ended; LOG_FORMAT=json makes every line of a process one JSON object, uvicorn's included; and
no log line carries audio, a transcript, a translation or a credential."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect

from babelstream.bus.memory import MemoryBus
from babelstream.gateway.access.api_keys import add_key
from tests.support.gateway_cases import CODEC, PCM
from tests.support.harness import free_port, frames_of, running_gateway, stream
from tests.support.pipeline_checks import UTTERANCES, talk_pcm
from tests.support.process import Component

SESSION_LOG = "babelstream.gateway.session_log"
KEY_NAME = "kitchen-display"


@pytest.fixture
def api_key(tmp_path):
    path = tmp_path / "keys"
    return path, add_key(path, KEY_NAME)


def session_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == SESSION_LOG]


async def wait_for_lines(caplog, count: int, timeout: float = 5.0) -> list[logging.LogRecord]:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(session_lines(caplog)) < count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    return session_lines(caplog)


async def test_a_session_that_ends_normally_logs_who_how_long_how_much_and_close_1000(api_key, caplog):
    caplog.set_level(logging.INFO, logger=SESSION_LOG)
    path, secret = api_key
    async with running_gateway(MemoryBus(), CODEC, api_keys_file=str(path)) as (_, address):
        talk = await stream(address, frames_of(PCM), start={"event": "start", "wait_for_results": False}, token=secret)
        [line] = await wait_for_lines(caplog, 1)
    assert talk.close_code == 1000
    fields = {name: getattr(line, name) for name in (
        "correlation_id", "client", "principal", "auth", "received_bytes", "segments", "close_code", "kind", "reason"
    )}
    assert fields == {
        "correlation_id": talk.correlation_id, "client": "127.0.0.1", "principal": KEY_NAME, "auth": "api_key",
        "received_bytes": len(PCM), "segments": talk.of_type("ack")[0]["segments"], "close_code": 1000,
        "kind": "done", "reason": None,
    }
    assert 0 < line.duration_s < 30
    # The text format says the same in words, on one line.
    message = line.getMessage()
    assert f"correlation_id={talk.correlation_id}" in message and f"principal={KEY_NAME}" in message
    assert "close_code=1000" in message and f"received_bytes={len(PCM)}" in message
    assert secret not in caplog.text


async def test_a_session_ended_by_a_limit_logs_its_close_code_kind_and_reason(api_key, caplog):
    caplog.set_level(logging.INFO, logger=SESSION_LOG)
    path, secret = api_key
    async with running_gateway(MemoryBus(), CODEC, api_keys_file=str(path), max_messages_per_second=10) as (_, address):
        talk = await stream(address, [b"\0" * 640] * 30, token=secret)
        [line] = await wait_for_lines(caplog, 1)
    assert talk.close_code == 1008
    assert (line.correlation_id, line.close_code, line.kind) == (talk.correlation_id, 1008, "rate")
    assert "rate exceeded" in line.reason and 'reason="rate exceeded' in line.getMessage()


async def test_a_session_whose_client_left_says_so(api_key, caplog):
    caplog.set_level(logging.INFO, logger=SESSION_LOG)
    path, secret = api_key
    async with running_gateway(MemoryBus(), CODEC, api_keys_file=str(path)) as (_, address):
        async with connect(f"ws://{address}/ws/audio?token={secret}") as ws:
            connected = json.loads(await ws.recv())
            await ws.send(b"\0" * 640)
        [line] = await wait_for_lines(caplog, 1)
    assert (line.correlation_id, line.kind, line.close_code) == (connected["correlation_id"], "client_left", None)
    assert line.received_bytes == 640


async def test_with_log_format_json_every_line_a_serving_process_writes_is_json(api_key):
    """`babelstream serve` as an operator runs it: its own lines, uvicorn's (start-up, access, shut-down) and the
    session's are each one JSON object; the key used in a query string appears in none of them."""
    path, secret = api_key
    port = free_port()
    env = {**os.environ, "LOG_FORMAT": "json", "WARM_UP": "false", "API_KEYS_FILE": str(path), "BUS": "memory"}
    server = Component(f"json-log-{uuid.uuid4().hex[:6]}", ["serve", "--port", str(port)], env)
    server.start()
    try:
        await asyncio.to_thread(server.wait_until_ready, f"http://127.0.0.1:{port}/readyz")
        talk = await stream(f"127.0.0.1:{port}", frames_of(PCM), start={"event": "start", "wait_for_results": False},
                            token=secret)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/healthz?token={secret}")).status_code == 200
        await asyncio.to_thread(server.wait_for_line, '"logger": "babelstream.gateway.session_log"', 10)
    finally:
        await asyncio.to_thread(server.stop)
    output = server.output()
    assert talk.close_code == 1000
    entries = []
    for line in output.splitlines():
        if line.strip():
            entries.append(json.loads(line))  # fails, naming the line, on any that is not JSON
    loggers = {entry["logger"] for entry in entries}
    assert {"uvicorn.error", "uvicorn.access", SESSION_LOG} <= loggers, loggers
    [session] = [entry for entry in entries if entry["logger"] == SESSION_LOG]
    assert (session["correlation_id"], session["principal"], session["close_code"], session["kind"]) == (
        talk.correlation_id, KEY_NAME, 1000, "done"
    )
    assert session["received_bytes"] == len(PCM) and session["client"] == "127.0.0.1"
    assert any("/healthz?token=[redacted]" in entry["message"] for entry in entries if entry["logger"] == "uvicorn.access")
    assert secret not in output


@pytest.mark.models
async def test_speech_and_credentials_never_reach_the_log(api_key):
    """Real speech through the embedded platform (`babelstream -v serve`, real models) with an API key: what was
    said, its translation and the key are in none of the lines the process writes, DEBUG ones included."""
    path, secret = api_key
    port = free_port()
    env = {**os.environ, "API_KEYS_FILE": str(path), "BUS": "memory", "WARM_UP_PAIRS": "en-es"}
    env.pop("LOG_FORMAT", None)
    server = Component(f"speech-log-{uuid.uuid4().hex[:6]}", ["-v", "serve", "--port", str(port)], env)
    server.start()
    try:
        await asyncio.to_thread(server.wait_until_ready, f"http://127.0.0.1:{port}/readyz", 300)
        talk = await stream(f"127.0.0.1:{port}", frames_of(talk_pcm(UTTERANCES[:1])), pace_seconds=0.02, token=secret,
                            start={"event": "start", "language": "en", "targets": ["es"]})
        await asyncio.to_thread(server.wait_for_line, "session ended:", 10)
    finally:
        await asyncio.to_thread(server.stop)
    output = server.output()
    assert talk.close_code == 1000, talk.messages[-3:]
    said = [talk.of_type("transcript")[0]["text"], talk.of_type("translation")[0]["text"]]
    words = {word for text in said for word in re.findall(r"\w{4,}", text.lower())}
    assert words, said
    logged = output.lower()
    assert not {word for word in words if re.search(rf"\b{word}\b", logged)}, said
    assert secret not in output
    [line] = [line for line in output.splitlines() if "session ended:" in line]
    assert f"correlation_id={talk.correlation_id}" in line and f"principal={KEY_NAME}" in line
    assert "segments=1" in line and "kind=done" in line
