import os
import subprocess
from pathlib import Path

import pytest

KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _kafka_reachable(bootstrap: str) -> str | None:
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "no broker"
        return str(error)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The broker `make test` started (scripts/run-tests.sh). Without one: skip, or fail under make test."""
    problem = _kafka_reachable(KAFKA_BOOTSTRAP)
    if problem:
        message = f"no Kafka broker at {KAFKA_BOOTSTRAP} ({problem}); start one with scripts/kafka.sh start"
        if os.environ.get("BABELSTREAM_REQUIRE_KAFKA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return KAFKA_BOOTSTRAP


@pytest.fixture
def kafka_settings(kafka_bootstrap):
    from babelstream.bus.settings import BusSettings

    return BusSettings(bus="kafka", kafka_bootstrap_servers=kafka_bootstrap, kafka_startup_timeout_seconds=30)


@pytest.fixture(scope="module")
def kafka_cluster():
    """scripts/kafka-cluster.sh's three brokers (replication 3, min.insync.replicas 2), started fresh for the module
    that uses them and stopped after it, so the rest of the suite does not carry three idle JVMs. Ports
    TEST_KAFKA_CLUSTER_PORT.. +5 (default 19192), data in TEST_KAFKA_CLUSTER_DIR (default .cache/kafka-cluster-test)."""
    from tests.support.cluster import REPO, KafkaCluster

    port = int(os.environ.get("TEST_KAFKA_CLUSTER_PORT", "19192"))
    directory = Path(os.environ.get("TEST_KAFKA_CLUSTER_DIR", REPO / ".cache" / "kafka-cluster-test"))
    cluster = KafkaCluster(port, directory)
    try:
        cluster.start(fresh=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        cluster.stop()
        message = f"the three-broker cluster did not start ({error}); see scripts/kafka-cluster.sh"
        if os.environ.get("BABELSTREAM_REQUIRE_KAFKA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield cluster
    finally:
        cluster.stop()
