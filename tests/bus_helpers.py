"""Reading what reached a topic, for assertions: decoded events of the given correlation ids."""

from __future__ import annotations

import time
import uuid

from babelstream.contracts.codec import SingleObjectCodec


async def collect(bus, subscription, correlation_ids: set[str], count: int, timeout: float = 30.0, codec=None):
    """(message, event) pairs for `correlation_ids` until `count` arrived or `timeout` passed."""
    codec = codec or SingleObjectCodec()
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        message = await subscription.next(timeout_seconds=0.5)
        if message is None or (message.key or b"").decode() not in correlation_ids:
            continue
        found.append((message, codec.decode(message.value)))
    return found


async def tail(bus, topics: list[str]):
    """A subscription that sees only what is published from now on."""
    return await bus.subscribe(topics, f"test-{uuid.uuid4().hex[:8]}", from_latest=True)
