#!/usr/bin/env bash
# make test: a fresh Kafka broker for this run, every test, then the broker stopped whatever happened.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# Ports of their own, so a broker a developer runs on 9092 is left alone.
export KAFKA_PORT="${TEST_KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-19093}"
export KAFKA_DATA_DIR="${TEST_KAFKA_DATA_DIR:-$REPO_ROOT/.cache/kafka-test}"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"

# The fault tests (tests/integration/test_cluster_faults.py) start a three-broker cluster of their own with
# scripts/kafka-cluster.sh for their module only (the kafka_cluster fixture), on these ports (+0..+5) and data dir.
export TEST_KAFKA_CLUSTER_PORT="${TEST_KAFKA_CLUSTER_PORT:-19192}"
export TEST_KAFKA_CLUSTER_DIR="${TEST_KAFKA_CLUSTER_DIR:-$REPO_ROOT/.cache/kafka-cluster-test}"

stop_brokers() {
    scripts/kafka.sh stop || true
    # normally stopped by the fixture already; this is for a run that was interrupted
    if [[ -d "$TEST_KAFKA_CLUSTER_DIR" ]]; then
        KAFKA_CLUSTER_PORT="$TEST_KAFKA_CLUSTER_PORT" KAFKA_CLUSTER_DIR="$TEST_KAFKA_CLUSTER_DIR" \
            scripts/kafka-cluster.sh stop >/dev/null || true
    fi
}
trap stop_brokers EXIT
scripts/kafka.sh start --fresh

export BABELSTREAM_REQUIRE_KAFKA=1
mkdir -p test-output
.venv/bin/python -m pytest "$@"
