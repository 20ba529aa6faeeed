"""Access control on the real gateway, over real sockets: with credentials configured, nothing without a valid one
reaches a session, the API or /metrics; with none configured, a page from another site still cannot open a
session on a person's local gateway."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect

from babelstream.bus.memory import MemoryBus
from babelstream.gateway.access.api_keys import add_key
from babelstream.gateway.access.tokens import mint_token
from tests.support.gateway_cases import CODEC
from tests.support.harness import running_gateway

TIMEOUT = 5.0
SECRET = "a-test-secret-that-is-long-enough-for-hs256"


async def first_messages(url: str, **connect_options) -> tuple[list[dict], int | None]:
    """Everything the server says to a client that only listens, and the close code."""
    messages = []
    async with connect(url, open_timeout=TIMEOUT, **connect_options) as ws:
        try:
            while True:
                messages.append(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))
                if messages[-1].get("status") == "connected":
                    break
        except Exception:  # noqa: BLE001 - closed by the server: the close code says why
            pass
        return messages, ws.close_code


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys"
    return path, add_key(path, "alice")


async def test_without_a_credential_no_session_starts_and_the_error_says_why(key_file):
    path, _ = key_file
    async with running_gateway(MemoryBus(), CODEC, api_keys_file=str(path)) as (gateway, address):
        messages, code = await first_messages(f"ws://{address}/ws/audio")
        assert gateway.slots.in_use == 0
    assert code == 1008
    assert [m.get("kind") for m in messages] == ["unauthenticated"]
    assert not any(m.get("status") == "connected" for m in messages)


@pytest.mark.parametrize("where", ["query", "header"])
async def test_a_valid_key_in_the_query_or_the_header_opens_a_session(key_file, where):
    path, secret = key_file
    async with running_gateway(MemoryBus(), CODEC, api_keys_file=str(path)) as (_, address):
        if where == "query":
            messages, _ = await first_messages(f"ws://{address}/ws/audio?token={secret}")
        else:
            messages, _ = await first_messages(
                f"ws://{address}/ws/audio", additional_headers={"Authorization": f"Bearer {secret}"}
            )
    assert messages[-1]["status"] == "connected"


async def test_a_wrong_key_and_an_expired_token_are_refused_and_never_echoed(key_file):
    path, secret = key_file
    expired = mint_token(secret=SECRET, audience="babelstream", ttl_seconds=1, now=0)
    async with running_gateway(MemoryBus(), CODEC, api_keys_file=str(path), jwt_secret=SECRET) as (_, address):
        wrong, wrong_code = await first_messages(f"ws://{address}/ws/audio?token=bsk_{'x' * 43}")
        old, old_code = await first_messages(f"ws://{address}/ws/audio?token={expired}")
        fresh = mint_token(secret=SECRET, audience="babelstream", ttl_seconds=60)
        good, _ = await first_messages(f"ws://{address}/ws/audio?token={fresh}")
    assert (wrong_code, old_code) == (1008, 1008)
    assert wrong[0]["kind"] == old[0]["kind"] == "unauthenticated"
    assert "x" * 43 not in wrong[0]["reason"] and expired not in old[0]["reason"]
    assert good[-1]["status"] == "connected"


async def test_the_api_and_metrics_need_the_credential_and_health_does_not(key_file):
    path, secret = key_file
    async with running_gateway(MemoryBus(), CODEC, api_keys_file=str(path)) as (_, address):
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=TIMEOUT) as client:
            anonymous = [(await client.get(p)).status_code for p in ("/api/languages", "/metrics")]
            bearer = {"Authorization": f"Bearer {secret}"}
            allowed = [(await client.get(p, headers=bearer)).status_code for p in ("/api/languages", "/metrics")]
            open_ = [(await client.get(p)).status_code for p in ("/healthz", "/readyz", "/")]
            refusal = await client.get("/metrics")
    assert anonymous == [401, 401] and allowed == [200, 200] and open_ == [200, 200, 200]
    assert refusal.json()["kind"] == "unauthenticated" and refusal.headers["www-authenticate"].startswith("Bearer")


async def test_without_an_allowlist_only_the_gateways_own_page_may_open_a_session():
    async with running_gateway(MemoryBus(), CODEC) as (_, address):
        foreign, foreign_code = await first_messages(f"ws://{address}/ws/audio", origin="http://evil.example")
        own, _ = await first_messages(f"ws://{address}/ws/audio", origin=f"http://{address}")
        device, _ = await first_messages(f"ws://{address}/ws/audio")  # no Origin: not a browser
    assert foreign_code == 1008 and foreign[0]["kind"] == "origin"
    assert own[-1]["status"] == "connected" and device[-1]["status"] == "connected"
