"""Which reply partition a session's results go to (bus/reply_route.py): its room's, or its gateway's own.

A gateway reads its own partition and one per room it holds members of (gateway/router.py), so it reads its own
sessions' results, its rooms', and whatever else shares those partitions: with P reply partitions, about 1/P of the
other results per partition it reads. Both are hashes, so every gateway agrees without asking anyone: a room's
partition is the same on every gateway, and a gateway's is fixed by its instance id (or GATEWAY_REPLY_PARTITION,
for an operator who numbers its gateways and wants none to share).
"""

from __future__ import annotations

import hashlib

from babelstream.bus.base import Bus
from babelstream.contracts.topics import REPLY_TOPICS


def partition_of(name: str, partitions: int) -> int:
    """A stable hash (the same in every process, unlike Python's own `hash`). Not CRC-32: it is linear, so names
    that differ only in their last characters (gateway-1, gateway-2, …) fall on partitions in pairs
    (docs/benchmarks/results-routing.md)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big") % partitions


async def reply_partition_count(bus: Bus) -> int:
    """The partitions every reply topic has (the fewest of the four, should one have been created otherwise)."""
    return min([await bus.partition_count(topic) for topic in REPLY_TOPICS])


class ReplyPartitions:
    def __init__(self, instance_id: str, partitions: int, fixed: int = -1):
        """partitions: how many the reply topics have (the broker says); fixed: GATEWAY_REPLY_PARTITION, -1 for
        the instance id's hash."""
        if partitions < 1:
            raise ValueError(f"reply topics need a partition, got {partitions}")
        self.count = partitions
        self.own = fixed % partitions if fixed >= 0 else partition_of(instance_id, partitions)

    def of_room(self, room_id: str) -> int:
        return partition_of(f"room:{room_id}", self.count)

    def for_session(self, room_id: str | None) -> int:
        """A room speaker's results go where every gateway with members in the room reads; any other session's
        where only its gateway does."""
        return self.own if room_id is None else self.of_room(room_id)
