import os
import subprocess
from pathlib import Path

import pytest

KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")

# Admission from measured load (gateway/pipeline_load.py) refuses a new speaker while the pipeline is behind. Tests
# run sessions back to back on a loaded machine, batch ones included, and each test checks its own session: off
# here (and in the processes tests start, which inherit this environment), on in tests/integration/test_admission.py,
# which sets its thresholds itself.
os.environ.setdefault("ADMISSION_MAX_ASR_BACKLOG", "0")
os.environ.setdefault("ADMISSION_MAX_P95_MS", "0")
# The same backlog watch decides whether sessions speculate: off here too, so no test's gateway asks the broker for
# the ASR group's offsets every second (a broker-down test aborted in librdkafka with it on: the note of 2026-11-30).
# tests/integration/test_admission.py turns it on.
os.environ.setdefault("SPECULATE_MAX_ASR_BACKLOG", "0")


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


@pytest.fixture(scope="session")
def schema_registry():
    """The real schema registry `make test` started (scripts/run-tests.sh: Apicurio Registry through
    scripts/schema-registry.sh, Basic auth on). Without one: skip with the reason, or fail under make test in CI
    (BABELSTREAM_REQUIRE_SCHEMA_REGISTRY=1)."""
    import httpx

    from tests.support.schema_registry import RunningRegistry

    url = os.environ.get("BABELSTREAM_TEST_SCHEMA_REGISTRY_URL", "")
    user_info = os.environ.get("BABELSTREAM_TEST_SCHEMA_REGISTRY_USER_INFO", "")
    problem = os.environ.get("BABELSTREAM_TEST_SCHEMA_REGISTRY_PROBLEM", "")
    if url and user_info:
        user, _, password = user_info.partition(":")
        try:
            httpx.get(f"{url}/subjects", auth=(user, password), timeout=5).raise_for_status()
            return RunningRegistry(url, user, password)
        except httpx.HTTPError as error:
            problem = f"it does not answer at {url}: {error}"
    message = (
        f"no schema registry for this run ({problem or 'BABELSTREAM_TEST_SCHEMA_REGISTRY_URL is not set'}); "
        "make test starts one (scripts/schema-registry.sh)"
    )
    if os.environ.get("BABELSTREAM_REQUIRE_SCHEMA_REGISTRY") == "1":
        pytest.fail(message)
    pytest.skip(message)
