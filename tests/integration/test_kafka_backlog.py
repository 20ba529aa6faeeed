"""The backlog admission and speculation read (bus.backlog), on a real broker: what a group has left on a topic, and
nothing (None) where that cannot be told."""

from __future__ import annotations

import uuid

import pytest

from babelstream.bus.kafka import KafkaBus

pytestmark = pytest.mark.kafka

TOPIC = "speech.audio.speech_segment"


async def test_the_backlog_is_what_the_group_has_not_committed(kafka_settings):
    bus = KafkaBus(kafka_settings, client_id="test-backlog")
    await bus.start()
    group = f"test-backlog-{uuid.uuid4().hex[:8]}"
    key = uuid.uuid4().hex.encode()  # one key: one partition
    try:
        assert await bus.backlog(group, TOPIC) is None  # the group never committed: unknown, not zero
        reader = await bus.subscribe([TOPIC], group, from_latest=True)
        try:
            for n in range(5):
                await bus.publish(TOPIC, key, f"not an event {n}".encode())
            taken = []
            while len(taken) < 2:
                message = await reader.next(timeout_seconds=10)
                assert message is not None
                if message.key == key:
                    taken.append(message)
            await reader.commit(taken[-1])
            assert await bus.backlog(group, TOPIC) == 3
            # Asked again on the same reader: the answer follows the commits.
            while len(taken) < 5:
                message = await reader.next(timeout_seconds=10)
                if message is not None and message.key == key:
                    taken.append(message)
            await reader.commit(taken[-1])
            assert await bus.backlog(group, TOPIC) == 0
        finally:
            await reader.close()
    finally:
        await bus.stop()
    assert await bus.backlog(group, TOPIC) is None  # a stopped bus asks nothing
