"""The message-rate limit of one session."""

from __future__ import annotations


class RateLimiter:
    """Messages per second as a token bucket: `per_second` tokens a second, holding at most one second's worth.

    A bucket rather than a fixed window because the loop sees frames when it handles them, not when they
    arrived: after a stall, a well-behaved client's queued frames are handled in a burst, and a fixed
    window would close it for abuse. At 20 ms frames a client sends 50 a second, so the 200 default leaves
    a three-second backlog of headroom, while a flood still trips within a fraction of a second."""

    def __init__(self, per_second: int):
        self.per_second = per_second
        self._tokens = float(per_second)
        self._updated = float("-inf")  # the first call refills to a full bucket

    def allow(self, now: float) -> bool:
        # Called for every frame of every stream: kept to a handful of bytecodes.
        tokens = self._tokens + (now - self._updated) * self.per_second
        if tokens > self.per_second:
            tokens = self.per_second
        self._updated = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True
