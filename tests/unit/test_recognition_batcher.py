"""RecognitionBatcher with a fake recognizer: concurrent requests gathered into batches of at most batch_size, the
wait for a batch bounded, results to the right caller, and one request's failure kept to itself."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from babelstream.engines.asr.base import Recognition
from babelstream.stages.recognition_batcher import RecognitionBatcher


def recognition(text: str) -> Recognition:
    return Recognition(text, "en", 1.0, 1.0, 0.0, 1000)


class FakeRecognizer:
    """Answers each request with its audio as text; a request whose audio is b"bad" fails alone."""

    def __init__(self, seconds_per_batch: float = 0.05):
        self.batches: list[list[bytes]] = []
        self.seconds_per_batch = seconds_per_batch
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def transcribe_many(self, requests):
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.seconds_per_batch)
        with self._lock:
            self.running -= 1
        self.batches.append([request.pcm for request in requests])
        return [ValueError("bad audio") if r.pcm == b"bad" else recognition(r.pcm.decode()) for r in requests]


async def test_requests_that_arrive_while_a_batch_runs_go_together_in_the_next_one():
    fake = FakeRecognizer()
    batcher = RecognitionBatcher(fake, batch_size=4, max_wait_ms=0)
    first = asyncio.create_task(batcher.transcribe(b"a", 16_000, "en"))
    await asyncio.sleep(0.01)  # the first batch (of one) is running
    rest = [asyncio.create_task(batcher.transcribe(text, 16_000, "en")) for text in (b"b", b"c", b"d", b"e", b"f")]
    results = await asyncio.gather(first, *rest)
    assert [r.text for r in results] == ["a", "b", "c", "d", "e", "f"]
    assert fake.batches == [[b"a"], [b"b", b"c", b"d", b"e"], [b"f"]]
    await batcher.close()


async def test_a_lone_request_waits_at_most_max_wait_for_company():
    fake = FakeRecognizer(seconds_per_batch=0.0)
    batcher = RecognitionBatcher(fake, batch_size=8, max_wait_ms=50)
    started = time.perf_counter()
    result = await batcher.transcribe(b"alone", 16_000, "en")
    waited = time.perf_counter() - started
    assert result.text == "alone" and fake.batches == [[b"alone"]]
    assert 0.04 <= waited < 0.5
    # Company that comes within the wait joins the batch.
    first = asyncio.create_task(batcher.transcribe(b"x", 16_000, "en"))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(batcher.transcribe(b"y", 16_000, "en"))
    await asyncio.gather(first, second)
    assert fake.batches[-1] == [b"x", b"y"]
    await batcher.close()


async def test_a_failing_request_raises_for_its_caller_only():
    fake = FakeRecognizer()
    batcher = RecognitionBatcher(fake, batch_size=4, max_wait_ms=20)
    good = asyncio.create_task(batcher.transcribe(b"good", 16_000, "en"))
    bad = asyncio.create_task(batcher.transcribe(b"bad", 16_000, "en"))
    also_good = asyncio.create_task(batcher.transcribe(b"also", 16_000, "en"))
    assert (await good).text == "good" and (await also_good).text == "also"
    with pytest.raises(ValueError, match="bad audio"):
        await bad
    assert fake.batches == [[b"good", b"bad", b"also"]]
    await batcher.close()


async def test_at_most_workers_batches_run_at_once():
    fake = FakeRecognizer(seconds_per_batch=0.05)
    batcher = RecognitionBatcher(fake, batch_size=1, max_wait_ms=0, workers=2)
    results = await asyncio.gather(*(batcher.transcribe(bytes([65 + i]), 16_000, "en") for i in range(6)))
    assert [r.text for r in results] == ["A", "B", "C", "D", "E", "F"]
    assert fake.most_at_once == 2
    await batcher.close()
