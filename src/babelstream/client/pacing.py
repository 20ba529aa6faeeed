"""When each audio frame leaves: in real time, as a microphone delivers it, or as fast as the server allows.

Both run on an absolute schedule (frame i leaves at t0 + send_at(i)), so a slow send or a stall is caught up
afterwards instead of pushing every later frame back: sleeps never accumulate drift.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES

REALTIME_FRAME_MS = 20
# As fast as allowed: the gateway refuses a message over MAX_CHUNK_BYTES (65,536 by default) and more
# messages than MAX_MESSAGES_PER_SECOND (200 by default), counted by a token bucket holding one second's worth.
# The client does not know the server's setting, so it stays under the default rate rather than spending the
# bucket: 2 s frames at 150 messages a second, which still sends about 300 s of audio per second.
FAST_FRAME_BYTES = 64_000
FAST_MESSAGES_PER_SECOND = 150


@dataclass(frozen=True)
class Pacing:
    """How the audio is cut into WebSocket frames and when each frame leaves, relative to the first."""

    frame_bytes: int
    interval_seconds: float
    # Real time: frame i holds audio [i, i+1) x frame and leaves when a microphone would have delivered it.
    after_capture: bool

    def frames(self, pcm: bytes) -> list[bytes]:
        return [pcm[i : i + self.frame_bytes] for i in range(0, len(pcm), self.frame_bytes)]

    def send_at(self, index: int) -> float:
        """Seconds after t0 at which frame `index` is sent: an absolute schedule, so lateness never adds up."""
        return (index + 1 if self.after_capture else index) * self.interval_seconds

    @property
    def messages_per_second(self) -> float:
        return 1.0 / self.interval_seconds


def real_time(frame_ms: int = REALTIME_FRAME_MS) -> Pacing:
    frame_bytes = PIPELINE_SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES * frame_ms // 1000
    return Pacing(frame_bytes, frame_ms / 1000, after_capture=True)


def as_fast_as_allowed() -> Pacing:
    return Pacing(FAST_FRAME_BYTES, 1.0 / FAST_MESSAGES_PER_SECOND, after_capture=False)


def pacing_for(fast: bool) -> Pacing:
    return as_fast_as_allowed() if fast else real_time()


async def send_paced(
    send: Callable[[bytes], Awaitable[object]],
    frames: list,
    pacing: Pacing,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> int:
    """Sends the frames on the pacing's absolute schedule; returns how many were sent (fewer if stopped)."""
    t0 = clock()
    for index, frame in enumerate(frames):
        if stop is not None and stop.is_set():
            return index
        delay = t0 + pacing.send_at(index) - clock()
        if delay > 0:
            await sleep(delay)
        await send(frame)
    return len(frames)
