"""Whether the pipeline behind this gateway can serve one more speaker, from what is measured.

MAX_CONNECTIONS counts sessions; it cannot know that the ASR replicas are already behind. Two signals can: the
ASR stage's backlog on the bus (segments published and not yet recognised, read every second off the loop), and
the recent P95 of this gateway's own end-of-utterance latency (from its cut of an utterance to its transcript,
over the last ADMISSION_WINDOW_SECONDS). Past either threshold a new speaker is refused at once (1013
`overloaded`, with `retry_after_ms`), so the speakers already admitted keep their latency instead of every
speaker degrading together. Listeners are not speakers: they add no ASR work and are never refused for it.

The same backlog also says when to stop speculating (gateway/speculation.py): a tentative utterance is decoded
whether or not the speaker goes on, so past SPECULATE_MAX_ASR_BACKLOG utterances are cut at the full pause only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque

from babelstream.bus.base import Bus
from babelstream.contracts.topics import SPEECH_SEGMENT
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

ASR_GROUP = "babelstream.asr"  # the ASR stage's consumer group (stages/runtime.py: babelstream.<stage>)
_POLL_SECONDS = 1.0
# What a refused speaker is told to wait: about the time a backlog of a few utterances takes to clear.
RETRY_AFTER_MS = 5000
# Latencies kept for the P95, at most (a busy gateway's window holds thousands; the newest are what matter).
_SAMPLES_KEPT = 4096


class PipelineLoad:
    def __init__(self, settings: GatewaySettings, bus: Bus):
        self._max_backlog = settings.admission_max_asr_backlog
        self._max_speculation_backlog = settings.speculate_max_asr_backlog
        self._max_p95_ms = settings.admission_max_p95_ms
        self._window = settings.admission_window_seconds
        self._bus = bus
        self._latencies: deque[tuple[float, float]] = deque(maxlen=_SAMPLES_KEPT)  # (when, ms)
        self.asr_backlog: int | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self._max_backlog > 0 or self._max_speculation_backlog > 0:
            self._task = asyncio.create_task(self._watch_backlog())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def observe(self, latency_ms: float) -> None:
        """One utterance's end-of-utterance latency: from the gateway's cut to its transcript."""
        self._latencies.append((time.monotonic(), latency_ms))

    def p95_ms(self) -> float | None:
        horizon = time.monotonic() - self._window
        latencies = self._latencies
        while latencies and latencies[0][0] < horizon:
            latencies.popleft()
        if len(latencies) < 5:
            return None  # too few to call a P95
        ordered = sorted(ms for _, ms in latencies)
        return ordered[math.ceil(len(ordered) * 0.95) - 1]  # nearest rank

    def speculation_welcome(self) -> bool:
        """Whether the ASR stage has room for a speculative utterance: one it may decode for nothing (the speaker
        goes on) must not delay utterances that count. Unknown backlog: welcome."""
        limit = self._max_speculation_backlog
        return limit <= 0 or self.asr_backlog is None or self.asr_backlog <= limit

    def refusal(self) -> SessionEnded | None:
        """Why a new speaker cannot be served now, or None. Reads only what is already measured: no wait."""
        if self._max_backlog > 0 and self.asr_backlog is not None and self.asr_backlog > self._max_backlog:
            why = f"{self.asr_backlog} utterances are waiting for speech recognition (over {self._max_backlog})"
        elif self._max_p95_ms > 0 and (p95 := self.p95_ms()) is not None and p95 > self._max_p95_ms:
            why = f"results take {p95 / 1000:.1f} s (P95) to come back (over {self._max_p95_ms / 1000:g} s)"
        else:
            return None
        return SessionEnded(
            CloseCode.TRY_AGAIN_LATER,
            f"the pipeline is behind: {why}; try again in {RETRY_AFTER_MS // 1000} s",
            kind=Kind.OVERLOADED,
            details={"retry_after_ms": RETRY_AFTER_MS},
        )

    async def _watch_backlog(self) -> None:
        while True:
            try:
                self.asr_backlog = await self._bus.backlog(ASR_GROUP, SPEECH_SEGMENT)
            except Exception as error:  # a measurement that failed must not end the gateway's admission
                log.debug("asr backlog unknown: %s", error)
                self.asr_backlog = None
            await asyncio.sleep(_POLL_SECONDS)
