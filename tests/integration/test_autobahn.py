"""The Autobahn TestSuite's fuzzing client against an echo handler: cases 1-7 and 9 up to MAX_CHUNK_BYTES
(tests/support/autobahn.py says which and why) must pass. The report stays in .cache/autobahn/report."""

from __future__ import annotations

import asyncio

import pytest

from babelstream.gateway.settings import GatewaySettings
from tests.support.autobahn import EXCLUDE_OVER_MAX_CHUNK_BYTES, REPO_ROOT, failure_message, run_fuzzingclient
from tests.support.echo_server import websockets_echo_server

pytestmark = pytest.mark.autobahn

REPORT_DIR = REPO_ROOT / ".cache" / "autobahn" / "report"

# The stand-in's one documented deviation (websockets' compliance/README.rst): it answers a Close that
# arrives in the middle of a fragmented message (7.1.5) with 1002 where the suite wants 1000. Expected here
# so the run also shows the harness reports a failure. Empty it when the fixture below is replaced.
KNOWN_FAILURES = {"7.1.5"}


@pytest.fixture
async def echo_server_url():
    # TO BE REPLACED: a stand-in on the `websockets` library until the gateway's own echo handler, on the
    # server stack that serves /ws/audio, exists; this fixture should then yield that handler's ws:// URL.
    async with websockets_echo_server() as url:
        yield url


def test_exclusions_follow_the_gateway_frame_limit():
    # EXCLUDE_OVER_MAX_CHUNK_BYTES drops the 9.x cases whose message is over 65,536 bytes; a new limit
    # needs a new list.
    assert GatewaySettings().max_chunk_bytes == 65_536
    assert "9.1.1" not in EXCLUDE_OVER_MAX_CHUNK_BYTES and "9.1.2" in EXCLUDE_OVER_MAX_CHUNK_BYTES


async def test_echo_handler_passes_autobahn(echo_server_url):
    # In a thread: the server under test runs in this event loop, which must keep serving meanwhile.
    results = await asyncio.to_thread(run_fuzzingclient, echo_server_url, report_dir=REPORT_DIR)

    failed = {case for case, result in results.items() if not result.passed}
    assert failed == KNOWN_FAILURES, failure_message(results)
