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


def wait_for_no_lag(bootstrap: str, group: str, topic: str, timeout: float = 180.0) -> None:
    """Blocks until `group` has committed everything on `topic` (a stage caught up with an old backlog)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
            lag = 0
            for position in committed:
                low, high = consumer.get_watermark_offsets(position, timeout=10)
                lag += high - max(position.offset, low)
            if lag <= 0:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{group} still behind on {topic} after {timeout:.0f} s")
    finally:
        consumer.close()
