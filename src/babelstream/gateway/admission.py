"""Who gets a session: connection capacity and the Origin allowlist."""

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
