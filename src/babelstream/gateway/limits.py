"""Admission and abuse limits: connection capacity, Origin allowlist, message rate."""

from __future__ import annotations


class ConnectionSlots:
    """At most `capacity` sessions at once. Single-threaded (the event loop), so a plain counter suffices."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.capacity:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use = max(0, self.in_use - 1)


def origin_allowed(origin: str | None, allowlist: tuple[str, ...]) -> bool:
    """An empty allowlist allows any Origin. With a list, a browser's Origin must be on it; clients that send
    no Origin (devices, servers) are not browsers and are let through, as browsers always send one."""
    if not allowlist or origin is None:
        return True
    return origin.rstrip("/") in {allowed.rstrip("/") for allowed in allowlist}


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
