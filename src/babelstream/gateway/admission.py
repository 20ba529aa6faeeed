"""How many sessions at once (the Origin and the credential are checked by gateway/access)."""

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
