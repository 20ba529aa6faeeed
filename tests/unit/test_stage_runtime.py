"""StageRunner on the in-memory bus with a small fake stage: dead letters, surviving failures, publish retries
with commit-after-success, and deterministic output ids."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager

from babelstream.bus.base import PublishFailed
from babelstream.bus.memory import MemoryBus
from babelstream.contracts.events import DeadLetterPayload, derived_id
from babelstream.contracts.topics import ASR_TEXT, DEAD_LETTER, TRANSLATION_TEXT
from babelstream.stages.runtime import StageRunner
from tests.support.stages import CODEC, FakeTranslateStage, collect, recognized, send, wait_until

GROUP = "babelstream.fake-translate"


def committed(bus: MemoryBus) -> int:
    return bus._groups[GROUP].committed.get(ASR_TEXT, 0)


@asynccontextmanager
async def running(stage, bus, inner_bus: MemoryBus | None = None):
    inner = inner_bus or bus
    outputs = await inner.subscribe([TRANSLATION_TEXT], "test-outputs")
    letters = await inner.subscribe([DEAD_LETTER], "test-letters")
    runner = StageRunner(stage, bus, CODEC, service="fake-1")
    await runner.start()
    try:
        yield runner, outputs, letters
    finally:
        await runner.stop()


async def test_a_poison_message_is_dead_lettered_whole_committed_and_the_loop_goes_on():
    bus = MemoryBus()
    stage = FakeTranslateStage()
    poison = b"\x00\x01" + os.urandom(64)
    async with running(stage, bus) as (runner, outputs, letters):
        assert stage.warmed
        await bus.publish(ASR_TEXT, b"poison-session", poison)
        good = recognized("hallo welt")
        await send(bus, good)
        [letter] = await collect(letters, 1)
        [output] = await collect(outputs, 1)
        await wait_until(lambda: committed(bus) == 2)
        assert not runner._task.done()
    assert isinstance(letter.payload, DeadLetterPayload)
    assert letter.payload.original_value == poison
    assert letter.payload.original_key == b"poison-session"
    assert (letter.payload.original_topic, letter.payload.original_partition, letter.payload.original_offset) == (ASR_TEXT, 0, 0)
    assert letter.payload.stage == "fake-translate"
    assert letter.payload.error.startswith("MalformedEvent: ") and "0xC3 0x01" in letter.payload.error
    assert letter.correlation_id == "poison-session"
    assert output.payload.text == "HALLO WELT" and output.correlation_id == good.correlation_id
    assert runner.counters.dead_lettered == 1 and runner.counters.handled == 1
    assert stage.seen == [good.event_id]  # the poison never reached the stage


async def test_a_stage_that_raises_dead_letters_the_input_and_keeps_serving():
    bus = MemoryBus()
    async with running(FakeTranslateStage(), bus) as (runner, outputs, letters):
        bad = recognized("boom", correlation_id="session-bad")
        await send(bus, bad)
        await send(bus, recognized("noch da"))
        [letter] = await collect(letters, 1)
        [output] = await collect(outputs, 1)
        await wait_until(lambda: committed(bus) == 2)
        assert not runner._task.done()
    assert letter.payload.error == "RuntimeError: the fake stage exploded"
    assert CODEC.decode(letter.payload.original_value) == bad
    assert letter.correlation_id == "session-bad"
    assert output.payload.text == "NOCH DA"
    assert runner.counters.last_errors == ["RuntimeError: the fake stage exploded"]


class FlakyBus:
    """A MemoryBus whose publish to one topic fails the first `failures` times; notes the input's committed
    offset at every attempt."""

    def __init__(self, inner: MemoryBus, topic: str, failures: int):
        self.inner = inner
        self.topic = topic
        self.failures = failures
        self.attempts: list[tuple[bool, int]] = []  # (succeeded, committed input offset at that moment)

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        if topic == self.topic:
            if self.failures > 0:
                self.failures -= 1
                self.attempts.append((False, committed(self.inner)))
                raise PublishFailed(topic, "broker did not confirm (simulated)")
            self.attempts.append((True, committed(self.inner)))
        await self.inner.publish(topic, key, value)

    async def subscribe(self, topics, group, *, from_latest=False):
        return await self.inner.subscribe(topics, group, from_latest=from_latest)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def is_ready(self) -> bool:
        return True


async def test_an_unconfirmed_publish_is_retried_and_the_input_committed_only_after_success():
    inner = MemoryBus()
    bus = FlakyBus(inner, TRANSLATION_TEXT, failures=2)
    async with running(FakeTranslateStage(), bus, inner_bus=inner) as (runner, outputs, letters):
        await send(inner, recognized("geduld"))
        [output] = await collect(outputs, 1)
        await wait_until(lambda: committed(inner) == 1)
        assert await letters.next(timeout_seconds=0.05) is None
        assert await outputs.next(timeout_seconds=0.05) is None  # published once, not three times
    assert output.payload.text == "GEDULD"
    assert bus.attempts == [(False, 0), (False, 0), (True, 0)]
    assert runner.counters.publish_retries == 2 and runner.counters.published == 1


async def test_reprocessing_the_same_input_yields_the_same_output_ids():
    bus = MemoryBus()
    event = recognized("zweimal", targets=("en", "fr"))
    async with running(FakeTranslateStage(), bus) as (runner, outputs, letters):
        await send(bus, event)
        await send(bus, event)  # e.g. redelivered after a crash before the commit
        found = await collect(outputs, 4)
    assert len(found) == 4
    first, second = found[:2], found[2:]
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert [e.event_id for e in first] == [
        derived_id(event.event_id, "fake-translate", "en"),
        derived_id(event.event_id, "fake-translate", "fr"),
    ]
    assert {e.correlation_id for e in found} == {event.correlation_id}


async def test_uncommitted_input_is_processed_again_by_a_restarted_runner_with_the_same_ids():
    bus = MemoryBus()
    event = recognized("neustart")
    outputs = await bus.subscribe([TRANSLATION_TEXT], "test-outputs")

    class StuckStage(FakeTranslateStage):
        async def handle(self, event):
            await asyncio.Event().wait()  # never finishes: the runner is stopped mid-message

    stuck = StageRunner(StuckStage(), bus, CODEC, service="fake-1")
    await stuck.start()
    await send(bus, event)
    await asyncio.sleep(0.1)
    await stuck.stop()
    assert committed(bus) == 0
    async with running(FakeTranslateStage(), bus) as (runner, _, _):
        [output] = await collect(outputs, 1)
        await wait_until(lambda: committed(bus) == 1)
    assert output.event_id == derived_id(event.event_id, "fake-translate", "en")


class SlowFirstStage(FakeTranslateStage):
    """Handles up to `concurrency` inputs at once; an input's delay is read from its text ("slow:0.2 ...")."""

    concurrency = 4

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.most_at_once = 0

    async def handle(self, event):
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            head = event.payload.text.split()[0]
            if head.startswith("slow:"):
                await asyncio.sleep(float(head[5:]))
            return await super().handle(event)
        finally:
            self.running -= 1


async def test_a_concurrent_stage_works_on_several_inputs_and_publishes_and_commits_them_in_order():
    bus = MemoryBus()
    stage = SlowFirstStage()
    commits: list[int] = []
    async with running(stage, bus) as (runner, outputs, letters):
        subscription_commit = runner._subscription.commit

        async def noted_commit(message):
            commits.append(message.offset)
            await subscription_commit(message)

        runner._subscription.commit = noted_commit
        texts = ["slow:0.3 eins", "zwei", "slow:0.1 drei", "boom", "fuenf", "sechs"]
        for text in texts:
            await send(bus, recognized(text))
        received = await collect(outputs, 5)
        [letter] = await collect(letters, 1)
        await wait_until(lambda: committed(bus) == 6)
    assert [event.payload.text for event in received] == ["SLOW:0.3 EINS", "ZWEI", "SLOW:0.1 DREI", "FUENF", "SECHS"]
    assert letter.payload.error == "RuntimeError: the fake stage exploded" and letter.payload.original_offset == 3
    assert commits == [0, 1, 2, 3, 4, 5]  # none before the input ahead of it was finished
    assert stage.most_at_once > 1 and stage.most_at_once <= SlowFirstStage.concurrency
    assert runner.counters.handled == 5 and runner.counters.dead_lettered == 1
