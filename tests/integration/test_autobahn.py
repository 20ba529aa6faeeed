"""The Autobahn TestSuite's fuzzing client against the gateway's echo handler, on the very stack that serves
/ws/audio (uvicorn_adapter.py + WebSocketConnection): cases 1-7 and 9 up to MAX_CHUNK_BYTES
(tests/support/autobahn.py says which and why) must pass. The report stays in .cache/autobahn/report."""

from __future__ import annotations

import asyncio

import pytest

from babelstream.bus.memory import MemoryBus
from babelstream.contracts.codec import SingleObjectCodec
from babelstream.gateway.settings import GatewaySettings
from babelstream.gateway.websocket.echo_handler import ECHO_PATH, EchoHandler
from tests.support.harness import running_gateway
from tests.support.autobahn import EXCLUDE_OVER_MAX_CHUNK_BYTES, REPO_ROOT, failure_message, run_fuzzingclient

pytestmark = pytest.mark.autobahn

REPORT_DIR = REPO_ROOT / ".cache" / "autobahn" / "report"


@pytest.fixture
async def echo_server_url():
    routes = {ECHO_PATH: lambda request, start_task: EchoHandler()}
    async with running_gateway(MemoryBus(), SingleObjectCodec(), routes=routes) as (_, address):
        yield f"ws://{address}{ECHO_PATH}"


def test_exclusions_follow_the_gateway_frame_limit():
    # EXCLUDE_OVER_MAX_CHUNK_BYTES drops the 9.x cases whose message is over 65,536 bytes; a new limit
    # needs a new list.
    assert GatewaySettings().max_chunk_bytes == 65_536
    assert "9.1.1" not in EXCLUDE_OVER_MAX_CHUNK_BYTES and "9.1.2" in EXCLUDE_OVER_MAX_CHUNK_BYTES


async def test_echo_handler_passes_autobahn(echo_server_url):
    # In a thread: the server under test runs in this event loop, which must keep serving meanwhile.
    results = await asyncio.to_thread(run_fuzzingclient, echo_server_url, report_dir=REPORT_DIR)

    failed = {case for case, result in results.items() if not result.passed}
    assert not failed, failure_message(results)
