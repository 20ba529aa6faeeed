"""A set that remembers only its newest members: event ids already delivered, without growing for ever."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class RecentSet:
    def __init__(self, capacity: int):
        self._capacity = capacity
        self._members: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, member: Hashable) -> bool:
        """True the first time `member` is added (among the last `capacity`)."""
        if member in self._members:
            return False
        self._members[member] = None
        if len(self._members) > self._capacity:
            self._members.popitem(last=False)
        return True

    def __contains__(self, member: Hashable) -> bool:
        return member in self._members

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self):
        """Oldest first."""
        return iter(self._members)
