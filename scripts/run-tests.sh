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

stop_broker() { scripts/kafka.sh stop || true; }
trap stop_broker EXIT
scripts/kafka.sh start --fresh

export BABELSTREAM_REQUIRE_KAFKA=1
mkdir -p test-output
.venv/bin/python -m pytest "$@"
