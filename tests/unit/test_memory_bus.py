"""The in-memory bus: consumer-group semantics, at-least-once redelivery, timeouts and bounded memory."""

from __future__ import annotations

import asyncio
import time

from babelstream.bus.memory import MemoryBus

TOPIC = "t"


async def fill(bus: MemoryBus, count: int, start: int = 0, topic: str = TOPIC, size: int = 0) -> list[bytes]:
    values = [f"m{i}".encode().ljust(size, b".") for i in range(start, start + count)]
    for value in values:
        await bus.publish(topic, b"k", value)
    return values


async def take(subscription, count: int, timeout: float = 0.05) -> list[bytes]:
    values = []
    for _ in range(count):
        message = await subscription.next(timeout_seconds=timeout)
        if message is None:
            break
        values.append(message.value)
    return values


async def take_all(subscription, timeout: float = 0.05) -> list:
    messages = []
    while (message := await subscription.next(timeout_seconds=timeout)) is not None:
        messages.append(message)
    return messages


async def test_a_group_sees_every_message_published_after_it_subscribed_in_order():
    bus = MemoryBus()
    subscription = await bus.subscribe([TOPIC], "g")
    sent = await fill(bus, 20)
    messages = await take_all(subscription)
    assert [m.value for m in messages] == sent
    assert [m.offset for m in messages] == list(range(20))
    assert all(m.topic == TOPIC and m.key == b"k" and m.partition == 0 for m in messages)


async def test_a_new_group_starts_from_the_earliest_retained_message():
    bus = MemoryBus()
    early = await fill(bus, 3)
    subscription = await bus.subscribe([TOPIC], "late")
    later = await fill(bus, 2, start=3)
    assert await take(subscription, 10) == early + later


async def test_from_latest_skips_older_messages():
    bus = MemoryBus()
    await fill(bus, 5)
    subscription = await bus.subscribe([TOPIC], "tail", from_latest=True)
    assert await subscription.next(timeout_seconds=0.05) is None
    newer = await fill(bus, 2, start=5)
    assert await take(subscription, 10) == newer


async def test_from_latest_does_not_skip_what_the_group_has_not_committed():
    bus = MemoryBus()
    first = await bus.subscribe([TOPIC], "g", from_latest=True)
    sent = await fill(bus, 3)
    await first.close()
    # the group exists now: from_latest no longer applies
    again = await bus.subscribe([TOPIC], "g", from_latest=True)
    assert await take(again, 10) == sent


async def test_two_groups_each_see_all_messages():
    bus = MemoryBus()
    a = await bus.subscribe([TOPIC], "a")
    b = await bus.subscribe([TOPIC], "b")
    sent = await fill(bus, 10)
    assert await take(a, 20) == sent
    assert await take(b, 20) == sent


async def test_members_of_one_group_share_the_messages():
    bus = MemoryBus()
    first = await bus.subscribe([TOPIC], "workers")
    second = await bus.subscribe([TOPIC], "workers")
    sent = await fill(bus, 10)
    got_first, got_second = [], []
    for _ in range(5):
        got_first += await take(first, 1)
        got_second += await take(second, 1)
    assert await first.next(timeout_seconds=0.05) is None
    assert await second.next(timeout_seconds=0.05) is None
    assert len(got_first) == len(got_second) == 5
    assert not set(got_first) & set(got_second)
    assert sorted(got_first + got_second) == sorted(sent)


async def test_a_subscription_reads_several_topics():
    bus = MemoryBus()
    subscription = await bus.subscribe(["x", "y"], "g")
    xs = await fill(bus, 3, topic="x")
    ys = await fill(bus, 3, start=3, topic="y")
    messages = await take_all(subscription)
    assert sorted(m.value for m in messages) == sorted(xs + ys)
    assert [m.value for m in messages if m.topic == "x"] == xs  # order kept within a topic


async def test_uncommitted_messages_go_to_the_next_member_after_close():
    bus = MemoryBus()
    first = await bus.subscribe([TOPIC], "workers")
    sent = await fill(bus, 4)
    assert await take(first, 3) == sent[:3]
    await first.close()  # "crashed" before committing anything
    second = await bus.subscribe([TOPIC], "workers")
    assert await take(second, 10) == sent  # at-least-once: everything comes again


async def test_only_the_uncommitted_part_is_redelivered():
    bus = MemoryBus()
    first = await bus.subscribe([TOPIC], "workers")
    sent = await fill(bus, 5)
    m0 = await first.next(timeout_seconds=0.05)
    m1 = await first.next(timeout_seconds=0.05)
    m2 = await first.next(timeout_seconds=0.05)
    await first.commit(m1)  # commits m0 and m1, as Kafka's offset commit does
    assert [m0.value, m1.value, m2.value] == sent[:3]
    other = await bus.subscribe([TOPIC], "workers")
    await first.close()  # m2 was handed out but never committed
    assert await take(other, 10) == sent[2:]


async def test_a_resubscribing_member_gets_uncommitted_messages_again():
    bus = MemoryBus()
    subscription = await bus.subscribe([TOPIC], "solo")
    sent = await fill(bus, 3)
    first = await subscription.next(timeout_seconds=0.05)
    await subscription.commit(first)
    await take(subscription, 2)
    await subscription.close()
    again = await bus.subscribe([TOPIC], "solo")
    assert await take(again, 10) == sent[1:]


async def test_next_returns_none_after_its_timeout():
    bus = MemoryBus()
    subscription = await bus.subscribe([TOPIC], "g")
    started = time.monotonic()
    assert await subscription.next(timeout_seconds=0.2) is None
    waited = time.monotonic() - started
    assert 0.15 <= waited < 2.0
    assert await subscription.next(timeout_seconds=0) is None


async def test_next_wakes_up_when_a_message_arrives():
    bus = MemoryBus()
    subscription = await bus.subscribe([TOPIC], "g")

    async def later():
        await asyncio.sleep(0.05)
        await bus.publish(TOPIC, b"k", b"hello")

    publisher = asyncio.create_task(later())
    started = time.monotonic()
    message = await subscription.next(timeout_seconds=5.0)
    assert message is not None and message.value == b"hello"
    assert time.monotonic() - started < 2.0
    await publisher


async def test_close_ends_a_waiting_next():
    bus = MemoryBus()
    subscription = await bus.subscribe([TOPIC], "g")
    waiting = asyncio.create_task(subscription.next(timeout_seconds=None))
    await asyncio.sleep(0.02)
    await subscription.close()
    assert await asyncio.wait_for(waiting, 1.0) is None
    await subscription.close()  # idempotent


async def rounds_read_and_committed(bus: MemoryBus, rounds: int):
    """Rounds of 20 messages of 1,000 bytes, each read and committed by one group; the topic after each."""
    subscription = await bus.subscribe([TOPIC], "g")
    for round_ in range(rounds):
        await fill(bus, 20, start=round_ * 20, size=1000)
        for message in await take_all(subscription, timeout=0.001):
            await subscription.commit(message)
        yield round_, bus._topics[TOPIC]


async def test_committed_messages_are_trimmed_so_memory_stays_bounded():
    bus = MemoryBus(keep_committed_bytes=0)
    async for _, log in rounds_read_and_committed(bus, 50):
        assert len(log.log) == 0 and log.bytes == 0
    assert bus._topics[TOPIC].base_offset == bus._topics[TOPIC].end_offset == 1000


async def test_committed_messages_stay_readable_up_to_the_kept_bytes_like_a_brokers_retention():
    # A session resumed after its old one ended reads its results back from what the topics still hold.
    bus = MemoryBus(keep_committed_bytes=5_000)
    async for round_, log in rounds_read_and_committed(bus, 10):
        assert log.bytes == 5_000 and [m.offset for m in log.log] == list(range(round_ * 20 + 15, round_ * 20 + 20))
    late = await bus.subscribe([TOPIC], "resume", since_seconds=60, ephemeral=True)
    assert [m.offset for m in await take_all(late)] == list(range(195, 200))
    await late.close()
    # Uncommitted messages are never trimmed for the budget, however many: the kept ones go first.
    await fill(bus, 30, start=200, size=1000)
    assert [m.offset for m in bus._topics[TOPIC].log] == list(range(200, 230))


async def test_the_log_is_trimmed_below_the_lowest_committed_offset_of_all_groups():
    bus = MemoryBus(keep_committed_bytes=0)
    fast = await bus.subscribe([TOPIC], "fast")
    slow = await bus.subscribe([TOPIC], "slow")
    await fill(bus, 10)
    for message in await take_all(fast):
        await fast.commit(message)
    log = bus._topics[TOPIC]
    assert len(log.log) == 10  # "slow" has committed nothing yet
    assert len(await take(slow, 4)) == 4
    fifth = await slow.next(timeout_seconds=0.05)
    await slow.commit(fifth)  # offset 4: covers 0..4
    assert len(log.log) == 5 and log.base_offset == 5
    # trimmed messages are not handed out again, the rest still are
    assert [m.offset for m in await take_all(slow)] == [5, 6, 7, 8, 9]


async def test_an_unconsumed_topic_stays_under_its_retain_bytes_budget():
    bus = MemoryBus(retain_bytes=1_000)
    await fill(bus, 50, size=100)
    log = bus._topics[TOPIC]
    assert log.bytes <= 1_000
    assert len(log.log) == 10 and log.base_offset == 40 and log.end_offset == 50
    assert log.bytes == sum(len(m.value) for m in log.log)
    late = await bus.subscribe([TOPIC], "late")
    assert [m.offset for m in await take_all(late)] == list(range(40, 50))


async def test_a_single_message_over_the_budget_is_not_kept_by_an_unconsumed_topic():
    bus = MemoryBus(retain_bytes=100)
    await bus.publish(TOPIC, b"k", b"x" * 101)
    assert len(bus._topics[TOPIC].log) == 0 and bus._topics[TOPIC].bytes == 0
    assert bus._topics[TOPIC].end_offset == 1


async def test_the_bus_is_always_ready():
    bus = MemoryBus()
    await bus.start()
    assert bus.is_ready()
    await bus.stop()
