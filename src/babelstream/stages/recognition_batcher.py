"""Concurrent transcriptions gathered into batches for one recognizer.

Callers on the event loop ask for one utterance each; the batcher hands the recognizer up to `batch_size` of them
at once (`transcribe_many`: one encoder call and one greedy decode for those with the same window), which costs
less per utterance than decoding them one by one (docs/benchmarks/asr-throughput.md). An utterance waits for
others at most `max_wait_ms` once a batch could start: a lone speaker pays that much, a busy stage's utterances
gather while the previous batch runs and go at once. At most `workers` batches run at a time (the recognizer's
CTranslate2 replicas); the rest wait their turn, oldest first. A request that fails gets its own exception; the
others in its batch get their results.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol, Sequence

from babelstream.engines.asr.base import Recognition
from babelstream.engines.asr.whisper import TranscriptionRequest
from babelstream.stages.model_thread import run_on_model_thread


class BatchRecognizer(Protocol):
    def transcribe_many(self, requests: Sequence[TranscriptionRequest]) -> list[Recognition | None | Exception]: ...


class RecognitionBatcher:
    def __init__(self, recognizer: BatchRecognizer, *, batch_size: int, max_wait_ms: int, workers: int = 1):
        self._recognizer = recognizer
        self._batch_size = max(1, batch_size)
        self._max_wait_seconds = max(0, max_wait_ms) / 1000
        self._workers = max(1, workers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(self._workers)
        self._pending: deque[tuple[TranscriptionRequest, asyncio.Future]] = deque()
        self._arrived = asyncio.Event()
        self._dispatcher: asyncio.Task | None = None
        self.batches = 0  # batches run
        self.decoded = 0  # utterances in them

    async def transcribe(
        self, pcm: bytes, sample_rate_hz: int, language: str | None, *, timestamps: bool = False
    ) -> Recognition | None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a stage object outlives an event loop in tests: start afresh on the new one
            self._loop = loop
            self._slots = asyncio.Semaphore(self._workers)
            self._pending.clear()
            self._arrived = asyncio.Event()
            self._dispatcher = None
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="asr-batcher")
        result = loop.create_future()
        self._pending.append((TranscriptionRequest(pcm, sample_rate_hz, language, timestamps), result))
        self._arrived.set()
        return await result

    async def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            try:
                await self._dispatcher
            except asyncio.CancelledError:
                pass
        while self._pending:
            _, result = self._pending.popleft()
            result.cancel()

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            await self._slots.acquire()
            # A replica is free: wait for more only while the batch is not full and nobody has waited max_wait.
            deadline = loop.time() + self._max_wait_seconds
            while len(self._pending) < self._batch_size and (remaining := deadline - loop.time()) > 0:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
            batch = [self._pending.popleft() for _ in range(min(self._batch_size, len(self._pending)))]
            batch = [(request, result) for request, result in batch if not result.cancelled()]
            if not batch:
                self._slots.release()
                continue
            asyncio.create_task(self._run(batch), name="asr-batch")

    async def _run(self, batch: list[tuple[TranscriptionRequest, asyncio.Future]]) -> None:
        try:
            requests = [request for request, _ in batch]
            if self._workers == 1:  # always the same thread: CTranslate2 keeps memory per calling thread (model_thread.py)
                outcomes = await run_on_model_thread(self._recognizer, self._recognizer.transcribe_many, requests)
            else:
                outcomes = await asyncio.to_thread(self._recognizer.transcribe_many, requests)
        except Exception as error:  # noqa: BLE001 - transcribe_many answers per request; this is a bug, said to all
            outcomes = [error] * len(batch)
        finally:
            self._slots.release()
        self.batches += 1
        self.decoded += len(batch)
        for (_, result), outcome in zip(batch, outcomes):
            if result.done():
                continue
            if isinstance(outcome, Exception):
                result.set_exception(outcome)
            else:
                result.set_result(outcome)
