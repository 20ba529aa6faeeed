"""When each audio frame leaves: in real time, as a microphone delivers it, or as fast as the server allows.

As fast as allowed means within what the session's `ready` message says it may send (`limits`): a number of
messages a second, and at most `max_audio_speed` seconds of audio a second after a burst of
`max_audio_burst_seconds`. A client that keeps to them is never closed for speed.

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
# As fast as allowed: the gateway refuses a message over MAX_CHUNK_BYTES (65,536 by default), so 2 s frames;
# without the server's limits (a server older than `ready.limits`), 150 messages a second, under its default
# MAX_MESSAGES_PER_SECOND (200, a token bucket holding one second's worth).
FAST_FRAME_BYTES = 64_000
FAST_MESSAGES_PER_SECOND = 150
# Keep this far inside the server's limits: its clock and ours do not tick together, and a stall on the way
# arrives as a burst.
LIMIT_MARGIN = 0.8

@dataclass(frozen=True)
class Pacing:
    """How the audio is cut into WebSocket frames and when each frame leaves, relative to the first."""

    frame_bytes: int
    interval_seconds: float
    # Real time: frame i holds audio [i, i+1) x frame and leaves when a microphone would have delivered it.
    after_capture: bool
    # At most this many seconds of audio a second, after `audio_lead_seconds` sent at once (None: no such limit).
    audio_speed: float | None = None
    audio_lead_seconds: float = 0.0

    def frames(self, pcm: bytes) -> list[bytes]:
        return [pcm[i : i + self.frame_bytes] for i in range(0, len(pcm), self.frame_bytes)]

    def send_at(self, index: int) -> float:
        """Seconds after t0 at which frame `index` is sent: an absolute schedule, so lateness never adds up."""
        at = (index + 1 if self.after_capture else index) * self.interval_seconds
        if self.audio_speed:
            audio_through = (index + 1) * self.frame_bytes / (PIPELINE_SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES)
            at = max(at, (audio_through - self.audio_lead_seconds) / self.audio_speed)
        return at

    @property
    def messages_per_second(self) -> float:
        return 1.0 / self.interval_seconds


def real_time(frame_ms: int = REALTIME_FRAME_MS) -> Pacing:
    frame_bytes = PIPELINE_SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES * frame_ms // 1000
    return Pacing(frame_bytes, frame_ms / 1000, after_capture=True)


def as_fast_as_allowed(limits: dict | None = None) -> Pacing:
    """Within the session's `ready.limits` (16 kHz audio), or the server defaults' rate when it sent none."""
    limits = limits or {}
    messages = limits.get("max_messages_per_second")
    per_second = min(FAST_MESSAGES_PER_SECOND, messages * LIMIT_MARGIN) if messages else FAST_MESSAGES_PER_SECOND
    speed = limits.get("max_audio_speed")
    return Pacing(
        FAST_FRAME_BYTES,
        1.0 / per_second,
        after_capture=False,
        audio_speed=speed * LIMIT_MARGIN if speed else None,
        audio_lead_seconds=limits.get("max_audio_burst_seconds", 0.0) * LIMIT_MARGIN,
    )


def pacing_for(fast: bool, limits: dict | None = None) -> Pacing:
    return as_fast_as_allowed(limits) if fast else real_time()


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
