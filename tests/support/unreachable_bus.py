"""The in-memory bus saying it cannot reach its broker until `reachable` is set: a Kafka outage, as the gateway's
admission sees it (Bus.is_ready)."""

from __future__ import annotations

from babelstream.bus.memory import MemoryBus


class UnreachableBus(MemoryBus):
    reachable = False

    def is_ready(self) -> bool:
        return self.reachable
