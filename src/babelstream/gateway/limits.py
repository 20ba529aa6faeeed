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
    """Messages per one-second window. A fixed window costs two comparisons per frame; at 20 ms frames a
    well-behaved client sends 50 a second, so the 200 default leaves room for jitter bursts."""

    def __init__(self, per_second: int):
        self.per_second = per_second
        self._window = -1
        self._count = 0

    def allow(self, now: float) -> bool:
        window = int(now)
        if window != self._window:
            self._window = window
            self._count = 0
        self._count += 1
        return self._count <= self.per_second
