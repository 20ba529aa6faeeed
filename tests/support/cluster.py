"""The three-broker Kafka cluster of scripts/kafka-cluster.sh, driven from a test: its faults and what it reports."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "kafka-cluster.sh"


class KafkaCluster:
    """One cluster on `port` (node i on port + 2(i-1)) with its data in `directory`."""

    def __init__(self, port: int, directory: Path, nodes: int = 3):
        self.env = {**os.environ, "KAFKA_CLUSTER_PORT": str(port), "KAFKA_CLUSTER_DIR": str(directory),
                    "KAFKA_CLUSTER_NODES": str(nodes)}
        self.bootstrap = ",".join(f"127.0.0.1:{port + 2 * i}" for i in range(nodes))
        self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    def run(self, *args: str, timeout: float = 180, check: bool = True) -> None:
        subprocess.run([str(SCRIPT), *args], check=check, env=self.env, timeout=timeout)

    def start(self, node: int | None = None, fresh: bool = False) -> None:
        """Every node (waits until the cluster is healthy), or node `node` (waits until it is back in every ISR)."""
        self.run("start", *(["--fresh"] if fresh else []), *([str(node)] if node is not None else []))

    def stop(self) -> None:
        """Every node, whatever state it is in (paused ones too); never raises."""
        self.run("stop", check=False)

    def kill(self, node: int) -> None:
        self.run("kill", str(node))

    def pause(self) -> None:
        self.run("pause")

    def resume(self) -> None:
        self.run("resume")

    def partitions(self, topic: str) -> dict[int, tuple[int, set[int]]]:
        """partition -> (its leader, its in-sync replicas), as the cluster's metadata says now."""
        metadata = self._admin.list_topics(topic, timeout=10)
        return {p.id: (p.leader, set(p.isrs)) for p in metadata.topics[topic].partitions.values()}

    def out_of_sync(self, node: int, topics: list[str]) -> list[str]:
        """The partitions of `topics` whose ISR lacks `node`."""
        metadata = self._admin.list_topics(timeout=10)
        return [f"{topic}[{p.id}]" for topic in topics for p in metadata.topics[topic].partitions.values()
                if node not in p.isrs]

    def wait_until(self, condition, timeout: float, what: str) -> float:
        """Polls `condition()` until true; returns the seconds it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{what}: not within {timeout:.0f} s")
            time.sleep(0.2)
        return time.monotonic() - started
