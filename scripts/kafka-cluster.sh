#!/usr/bin/env bash
# A replicated Apache Kafka cluster on one machine: three KRaft nodes, each a broker and a
# controller (a quorum of three voters), on their own ports and data dirs, 127.0.0.1 only.
# Topics are replicated three times with min.insync.replicas=2: with the platform's acks=all
# producer, an acknowledged event survives the loss of any one broker (docs/kafka.md).
# Each node is started and stopped by scripts/kafka.sh; this script gives it its place.
#
#   scripts/kafka-cluster.sh start [--fresh]   start every node, wait until the cluster is healthy
#                                               (--fresh: wipe the cluster's data, new cluster id)
#   scripts/kafka-cluster.sh start N           (re)start node N, wait until it is back in every ISR
#   scripts/kafka-cluster.sh stop [N]          stop every node, or node N (SIGTERM, then SIGKILL)
#   scripts/kafka-cluster.sh kill N            SIGKILL node N, as a crash would
#   scripts/kafka-cluster.sh pause [N]         SIGSTOP every node (or N): unreachable, connections hang
#   scripts/kafka-cluster.sh resume [N]        SIGCONT
#   scripts/kafka-cluster.sh check [SECONDS]   wait until every node is registered, a produce with
#                                               acks=all succeeds and every partition is fully in sync
#   scripts/kafka-cluster.sh status            each node's state
#   scripts/kafka-cluster.sh bootstrap         print the bootstrap list (for KAFKA_BOOTSTRAP_SERVERS)
#   scripts/kafka-cluster.sh log N [LINES]     tail of node N's server.log
#
# Environment (all optional):
#   KAFKA_CLUSTER_PORT=9192   node i listens on PORT+2(i-1), its controller on PORT+2(i-1)+1
#                             (9192/9193, 9194/9195, 9196/9197)
#   KAFKA_CLUSTER_NODES=3
#   KAFKA_CLUSTER_DIR=<cache>/kafka/cluster-<port>   node-<i>/ per node, cluster.id
#   KAFKA_REPLICATION_FACTOR=3  KAFKA_MIN_INSYNC_REPLICAS=2
#   KAFKA_BROKER_SESSION_TIMEOUT_MS=4000  (a killed broker is fenced, its leaderships moved, after this)
#   KAFKA_HEAP_OPTS="-Xmx320m -Xms128m"  (per node)
#   KAFKA_START_TIMEOUT=120, and whatever else scripts/kafka.sh reads (BABELSTREAM_CACHE, KAFKA_VERSION ...)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_SCRIPT="$REPO_ROOT/scripts/kafka.sh"

CACHE_ROOT="${BABELSTREAM_CACHE:-$HOME/.cache/babelstream}"
BASE_PORT="${KAFKA_CLUSTER_PORT:-9192}"
NODES="${KAFKA_CLUSTER_NODES:-3}"
CLUSTER_DIR="$(realpath -m "${KAFKA_CLUSTER_DIR:-$CACHE_ROOT/kafka/cluster-$BASE_PORT}")"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
export KAFKA_REPLICATION_FACTOR="${KAFKA_REPLICATION_FACTOR:-3}"
export KAFKA_MIN_INSYNC_REPLICAS="${KAFKA_MIN_INSYNC_REPLICAS:-2}"
export KAFKA_BROKER_SESSION_TIMEOUT_MS="${KAFKA_BROKER_SESSION_TIMEOUT_MS:-4000}"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx320m -Xms128m}"
if [[ -n "${KAFKA_PYTHON:-}" ]]; then PYTHON="$KAFKA_PYTHON"
elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"
else PYTHON=python3; fi

SERVICE_NAME=kafka-cluster
# shellcheck source=lib/service.sh
source "$REPO_ROOT/scripts/lib/service.sh"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

client_port() { echo $(( BASE_PORT + 2 * ($1 - 1) )); }
controller_port() { echo $(( BASE_PORT + 2 * ($1 - 1) + 1 )); }
all_nodes() { seq 1 "$NODES"; }

bootstrap() {
    local i list=()
    for i in $(all_nodes); do list+=("127.0.0.1:$(client_port "$i")"); done
    (IFS=,; echo "${list[*]}")
}

voters() {
    local i list=()
    for i in $(all_nodes); do list+=("$i@127.0.0.1:$(controller_port "$i")"); done
    (IFS=,; echo "${list[*]}")
}

check_node() {
    [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= NODES )) || die "no node '$1' (nodes are 1..$NODES)"
}

# scripts/kafka.sh for node $1, with that node's place in the cluster
node() {
    local i="$1"; shift
    KAFKA_NODE_ID="$i" \
    KAFKA_PORT="$(client_port "$i")" \
    KAFKA_CONTROLLER_PORT="$(controller_port "$i")" \
    KAFKA_DATA_DIR="$CLUSTER_DIR/node-$i" \
    KAFKA_QUORUM_VOTERS="$(voters)" \
    KAFKA_CLUSTER_ID="$(cat "$CLUSTER_DIR/cluster.id" 2>/dev/null || true)" \
        "$NODE_SCRIPT" "$@" 2>&1 | sed "s/^\[kafka\]/[kafka-$i]/"
    return "${PIPESTATUS[0]}"
}

ensure_cluster_id() {
    mkdir -p "$CLUSTER_DIR"
    if [[ ! -s "$CLUSTER_DIR/cluster.id" ]]; then
        "$PYTHON" -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"):
        print(s); break
' > "$CLUSTER_DIR/cluster.id"
    fi
}

# Every node registered, a produce with acks=all confirmed, every partition's ISR complete.
# Exit codes: 0 healthy, 1 not within the timeout, 3 confluent-kafka missing.
# With a node number: that node itself must answer (not a stale view of it) and be in every ISR.
health_check() {
    local timeout="$1" one="${2:-}"
    "$PYTHON" - "$(bootstrap)" "$NODES" "$timeout" "$one" "${one:+127.0.0.1:$(client_port "$one")}" <<'PY'
import logging, sys, time
bootstrap, nodes, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
one, one_address = (int(sys.argv[4]), sys.argv[5]) if sys.argv[4] else (None, None)
try:
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient
except ImportError as e:
    print(f"[kafka-cluster] ERROR: cannot import confluent_kafka with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)
quiet = logging.getLogger("kafka-cluster-healthcheck")
quiet.addHandler(logging.NullHandler())
quiet.propagate = False
deadline = time.monotonic() + timeout
admin = AdminClient({"bootstrap.servers": bootstrap, "logger": quiet})
state = "no metadata yet"

def fail():
    print(f"[kafka-cluster] ERROR: not healthy within {timeout:.0f} s: {state}", file=sys.stderr)
    sys.exit(1)

# 0) the node itself answers
if one is not None:
    own = AdminClient({"bootstrap.servers": one_address, "logger": quiet})
    while True:
        try:
            own.list_topics(timeout=2)
            break
        except KafkaException as error:
            state = f"node {one} does not answer ({error})"
        if time.monotonic() > deadline:
            fail()
        time.sleep(0.3)
# 1) every node registered as a broker
while True:
    try:
        metadata = admin.list_topics(timeout=5)
        if len(metadata.brokers) == nodes:
            break
        state = f"{len(metadata.brokers)} of {nodes} brokers registered"
    except KafkaException as error:
        state = str(error)
    if time.monotonic() > deadline:
        fail()
    time.sleep(0.3)
# 2) a write acknowledged by min.insync.replicas of them
while True:
    result = {}
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 10000,
                         "logger": quiet, "topic.metadata.refresh.interval.ms": 500})
    producer.produce("_babelstream_healthcheck", key=b"healthcheck", value=str(time.time()).encode(),
                     on_delivery=lambda err, msg: result.update(err=err))
    producer.flush(11)
    if result.get("err", "none") is None:
        break
    state = f"produce with acks=all failed: {result.get('err', 'no delivery report')}"
    if time.monotonic() > deadline:
        fail()
    time.sleep(0.3)
# 3) every replica of every partition in sync (a restarted node has caught up)
while True:
    try:
        metadata = admin.list_topics(timeout=5)
    except KafkaException as error:
        state = str(error)
        if time.monotonic() > deadline:
            fail()
        time.sleep(0.3)
        continue
    lagging = [f"{t.topic}[{p.id}] isr {sorted(p.isrs)} of {sorted(p.replicas)}"
               for t in metadata.topics.values() for p in t.partitions.values() if set(p.isrs) != set(p.replicas)]
    if not lagging:
        partitions = sum(len(t.partitions) for t in metadata.topics.values())
        print(f"[kafka-cluster] healthy: {nodes} brokers (controller {metadata.controller_id}), "
              f"{len(metadata.topics)} topics, all {partitions} partitions fully in sync")
        sys.exit(0)
    state = f"{len(lagging)} partitions not fully in sync, e.g. {lagging[0]}"
    if time.monotonic() > deadline:
        fail()
    time.sleep(0.3)
PY
}

start_all() {
    local fresh="$1" i t0
    t0=$(date +%s%N)
    if [[ "$fresh" == 1 && -d "$CLUSTER_DIR" ]]; then
        [[ -s "$CLUSTER_DIR/cluster.id" ]] && stop_nodes $(all_nodes)
        if [[ -n "$(ls -A "$CLUSTER_DIR")" && ! -e "$CLUSTER_DIR/cluster.id" ]]; then
            die "--fresh: $CLUSTER_DIR is not empty and holds no cluster.id: refusing to wipe it"
        fi
        say "--fresh: wiping $CLUSTER_DIR"
        rm -rf "$CLUSTER_DIR"
    fi
    ensure_cluster_id
    "$NODE_SCRIPT" fetch >/dev/null
    # All at once: a node's broker becomes ready only once a majority of the controllers is up.
    local pids=()
    for i in $(all_nodes); do
        node "$i" start --no-wait & pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || die "a node did not start"; done
    if ! health_check "$START_TIMEOUT"; then
        for i in $(all_nodes); do node "$i" log 20 >&2 || true; done
        die "the cluster is not healthy; stop it with: scripts/kafka-cluster.sh stop"
    fi
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    say "ready in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; KAFKA_BOOTSTRAP_SERVERS=$(bootstrap)"
}

start_one() {
    local i="$1" t0
    t0=$(date +%s%N)
    ensure_cluster_id
    node "$i" start --no-wait
    health_check "$START_TIMEOUT" "$i" || die "node $i did not rejoin within ${START_TIMEOUT} s"
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    say "node $i back in every ISR in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

stop_nodes() {
    local i pids=()
    for i in "$@"; do node "$i" stop & pids+=($!); done
    for i in "${pids[@]}"; do wait "$i" || true; done
}

signal_nodes() {
    local command="$1" i; shift
    for i in "$@"; do node "$i" "$command"; done
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start)
        fresh=0 one=""
        for a in "$@"; do
            case "$a" in
                --fresh) fresh=1 ;;
                *) check_node "$a"; one="$a" ;;
            esac
        done
        if [[ -n "$one" ]]; then start_one "$one"; else start_all "$fresh"; fi ;;
    stop)
        if [[ ! -s "$CLUSTER_DIR/cluster.id" ]]; then say "no cluster in $CLUSTER_DIR"; exit 0; fi
        if [[ $# -gt 0 ]]; then check_node "$1"; stop_nodes "$1"; else stop_nodes $(all_nodes); fi ;;
    kill)
        [[ $# -eq 1 ]] || die "kill needs a node number"
        check_node "$1"; signal_nodes kill "$1" ;;
    pause|resume)
        if [[ $# -gt 0 ]]; then check_node "$1"; signal_nodes "$cmd" "$1"; else signal_nodes "$cmd" $(all_nodes); fi ;;
    check)
        health_check "${1:-$START_TIMEOUT}" ;;
    status)
        rc=0
        for i in $(all_nodes); do
            if [[ -s "$CLUSTER_DIR/cluster.id" ]]; then node "$i" status || rc=3; else rc=3; fi
        done
        [[ -s "$CLUSTER_DIR/cluster.id" ]] || say "no cluster in $CLUSTER_DIR"
        exit "$rc" ;;
    bootstrap)
        bootstrap ;;
    log)
        [[ $# -ge 1 ]] || die "log needs a node number"
        check_node "$1"; node "$1" log "${2:-50}" ;;
    -h|--help|help|"")
        usage ;;
    *)
        printf '[kafka-cluster] ERROR: unknown command: %s\n' "$cmd" >&2; usage >&2; exit 2 ;;
esac
