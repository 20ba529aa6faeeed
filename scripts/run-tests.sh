#!/usr/bin/env bash
# make test: a fresh Kafka broker and a schema registry for this run, every test, then both stopped whatever
# happened.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# Ports of their own, so a broker or a registry a developer runs on 9092 / 8081 is left alone.
export KAFKA_PORT="${TEST_KAFKA_PORT:-19092}"
export KAFKA_CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-19093}"
export KAFKA_DATA_DIR="${TEST_KAFKA_DATA_DIR:-$REPO_ROOT/.cache/kafka-test}"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
export SCHEMA_REGISTRY_PORT="${TEST_SCHEMA_REGISTRY_PORT:-19081}"
export SCHEMA_REGISTRY_MANAGEMENT_PORT="${TEST_SCHEMA_REGISTRY_MANAGEMENT_PORT:-19082}"
export SCHEMA_REGISTRY_DATA_DIR="${TEST_SCHEMA_REGISTRY_DATA_DIR:-$REPO_ROOT/.cache/schema-registry-test}"

stop_services() {
    scripts/schema-registry.sh stop || true
    scripts/kafka.sh stop || true
}
trap stop_services EXIT
scripts/kafka.sh start --fresh

# The registry (Apicurio, scripts/schema-registry.sh) with Basic auth on, so the tests show credentials reach it
# and are checked. A password of this run only, handed to pytest in the environment, never on a command line.
registry_user="babelstream-test"
registry_password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
if SCHEMA_REGISTRY_BASIC_AUTH="$registry_user:$registry_password" scripts/schema-registry.sh start --fresh; then
    export BABELSTREAM_TEST_SCHEMA_REGISTRY_URL
    BABELSTREAM_TEST_SCHEMA_REGISTRY_URL="$(scripts/schema-registry.sh url)"
    export BABELSTREAM_TEST_SCHEMA_REGISTRY_USER_INFO="$registry_user:$registry_password"
else
    # Its tests then skip with this reason, or fail where a registry is required (CI).
    export BABELSTREAM_TEST_SCHEMA_REGISTRY_PROBLEM="scripts/schema-registry.sh start failed: see its output above"
fi
unset registry_password

export BABELSTREAM_REQUIRE_KAFKA=1
if [[ "${CI:-}" == "true" ]]; then export BABELSTREAM_REQUIRE_SCHEMA_REGISTRY=1; fi
mkdir -p test-output
.venv/bin/python -m pytest "$@"
