#!/usr/bin/env bash
# Dev/test Apache Kafka broker for babelstream: a single KRaft node (broker + controller
# in one JVM) listening on 127.0.0.1 only. The jars come from Maven Central through
# deploy/kafka/pom.xml (no tarball download, no Docker). scripts/kafka-cluster.sh runs three
# of these nodes as one replicated cluster (it sets the KAFKA_NODE_ID ... variables below).
#
#   scripts/kafka.sh fetch            resolve the broker jars into the cache (idempotent)
#   scripts/kafka.sh start [--fresh] [--no-wait]
#                                     start it (format storage on first use; --fresh wipes
#                                     the data dir first) and wait until produce works
#                                     (--no-wait: return once the JVM is launched)
#   scripts/kafka.sh stop             SIGTERM, wait, SIGKILL if needed (idempotent)
#   scripts/kafka.sh kill             SIGKILL at once, as a crash would (data kept)
#   scripts/kafka.sh pause | resume   SIGSTOP / SIGCONT: the broker hangs, as if unreachable
#   scripts/kafka.sh status           running? listening?
#   scripts/kafka.sh check            only the produce health check
#   scripts/kafka.sh log [N]          last N lines (default 50) of the broker log
#
# Environment (all optional):
#   KAFKA_PORT=9092  KAFKA_CONTROLLER_PORT=9093  KAFKA_TOPIC_PARTITIONS=6
#   KAFKA_NODE_ID=1  KAFKA_QUORUM_VOTERS=<id>@127.0.0.1:<controller port>  (KRaft voters)
#   KAFKA_CLUSTER_ID=<random at format>  (every node of one cluster is formatted with the same)
#   KAFKA_REPLICATION_FACTOR=1  KAFKA_MIN_INSYNC_REPLICAS=1  (defaults of the topics it creates)
#   KAFKA_BROKER_SESSION_TIMEOUT_MS=9000  (a silent broker is fenced and loses its leaderships after this)
#   BABELSTREAM_CACHE=$HOME/.cache/babelstream   (jars: <cache>/kafka/<version>/libs)
#   KAFKA_DATA_DIR=<cache>/kafka/data-<port>     (server.properties, data, server.log, pid)
#   KAFKA_VERSION=4.1.1  KAFKA_START_TIMEOUT=90  KAFKA_STOP_TIMEOUT=20
#   KAFKA_HEAP_OPTS="-Xmx512m -Xms256m"  KAFKA_JVM_OPTS=<extra JVM flags>
#   KAFKA_PYTHON=<python with confluent-kafka> (default: <repo>/.venv/bin/python)
#   JAVA_HOME / JAVA, MVN
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$REPO_ROOT/deploy/kafka/pom.xml"
LOG4J_CONF="$REPO_ROOT/deploy/kafka/log4j2.properties"

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
CACHE_ROOT="${BABELSTREAM_CACHE:-$HOME/.cache/babelstream}"
KAFKA_CACHE="$CACHE_ROOT/kafka"
LIBS_DIR="$KAFKA_CACHE/$KAFKA_VERSION/libs"
LIBS_STAMP="$KAFKA_CACHE/$KAFKA_VERSION/libs.stamp"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_TOPIC_PARTITIONS="${KAFKA_TOPIC_PARTITIONS:-6}"
KAFKA_NODE_ID="${KAFKA_NODE_ID:-1}"
KAFKA_QUORUM_VOTERS="${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT}"
KAFKA_CLUSTER_ID="${KAFKA_CLUSTER_ID:-}"
KAFKA_REPLICATION_FACTOR="${KAFKA_REPLICATION_FACTOR:-1}"
KAFKA_MIN_INSYNC_REPLICAS="${KAFKA_MIN_INSYNC_REPLICAS:-1}"
KAFKA_BROKER_SESSION_TIMEOUT_MS="${KAFKA_BROKER_SESSION_TIMEOUT_MS:-9000}"
DATA_DIR="$(realpath -m "${KAFKA_DATA_DIR:-$KAFKA_CACHE/data-$KAFKA_PORT}")"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-20}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
# Start-up on a small box: SerialGC and C1-only JIT cut JVM warm-up (measured in docs/kafka.md).
JVM_PERF_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
EXTRA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
# Class-data sharing: the first broker run dumps the classes it loaded into an archive
# when it stops (SIGTERM); later starts map it, ~1 s faster. KAFKA_CDS=0 turns it off.
KAFKA_CDS="${KAFKA_CDS:-1}"

PROPS="$DATA_DIR/server.properties"
LOG_DIRS="$DATA_DIR/kraft-logs"
PID_FILE="$DATA_DIR/kafka.pid"
BROKER_LOG="$DATA_DIR/server.log"     # log4j2 output
CONSOLE_LOG="$DATA_DIR/kafka.out"     # JVM stdout/stderr (crashes, early errors)
CDS_PENDING="$DATA_DIR/cds.pending"  # "<tmp archive> <final archive>" while a dump is armed
HEALTH_TOPIC="_babelstream_healthcheck"

if [[ -n "${JAVA:-}" ]]; then :; elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi
MVN="${MVN:-mvn}"
if [[ -n "${KAFKA_PYTHON:-}" ]]; then PYTHON="$KAFKA_PYTHON"
elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"
else PYTHON=python3; fi

SERVICE_NAME=kafka
# shellcheck source=lib/service.sh
source "$REPO_ROOT/scripts/lib/service.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- helpers
pom_stamp() { printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum "$POM" | cut -d' ' -f1)"; }

libs_ready() {
    [[ -f "$LIBS_STAMP" && -f "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]] \
        && [[ "$(cat "$LIBS_STAMP")" == "$(pom_stamp)" ]]
}

# pid of our broker if it is alive (and really is a kafka.Kafka JVM), else nothing
broker_pid() {
    [[ -f "$PID_FILE" ]] || return 0
    local pid
    pid="$(tr -dc '0-9' < "$PID_FILE")"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
        echo "$pid"
    fi
}


# archive name bound to this java binary and these jars (a stale one would only be ignored
# by the JVM, never rebuilt)
cds_archive() {
    local java_bin key
    java_bin="$(readlink -f "$(command -v "$JAVA")")"
    key="$(printf '%s %s %s %s' "$java_bin" "$(stat -c %Y "$java_bin")" "$(cat "$LIBS_STAMP")" \
        "$(stat -c %Y "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar")" | sha256sum | cut -c1-12)"
    echo "$KAFKA_CACHE/$KAFKA_VERSION/broker-$key.jsa"
}

# after the broker exited: keep the archive it dumped (only if it exited by itself)
finish_cds_dump() {
    local clean="$1" tmp final
    [[ -f "$CDS_PENDING" ]] || return 0
    read -r tmp final < "$CDS_PENDING" || true
    if [[ "$clean" == 1 && -n "${tmp:-}" && -s "$tmp" && -n "${final:-}" ]]; then
        mv -f "$tmp" "$final"
        say "saved class-data archive $final (faster next starts)"
    elif [[ -n "${tmp:-}" ]]; then
        rm -f "$tmp"
    fi
    rm -f "$CDS_PENDING"
}

# ---------------------------------------------------------------- fetch
do_fetch() {
    if libs_ready; then
        say "jars for Kafka $KAFKA_VERSION already in $LIBS_DIR"
        return 0
    fi
    command -v "$MVN" >/dev/null 2>&1 || die "Maven ('$MVN') not found: install it (apt-get install maven) or set MVN"
    [[ -f "$POM" ]] || die "missing $POM"
    local tmp="$LIBS_DIR.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    say "resolving Kafka $KAFKA_VERSION jars from Maven Central into $LIBS_DIR ..."
    local mvn_log="$KAFKA_CACHE/$KAFKA_VERSION/mvn.log"
    local args=(-B -q -f "$POM" dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$tmp")
    # offline first (fast when ~/.m2 already has everything), then online
    if ! "$MVN" -o "${args[@]}" >"$mvn_log" 2>&1; then
        if ! "$MVN" "${args[@]}" >"$mvn_log" 2>&1; then
            rm -rf "$tmp"
            tail -n 30 "$mvn_log" >&2 || true
            die "Maven could not resolve the Kafka jars (full log: $mvn_log)"
        fi
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after Maven run"; }
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
    pom_stamp > "$LIBS_STAMP"
    say "got $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS_DIR" | cut -f1))"
}

fetch() { with_lock "$KAFKA_CACHE/.fetch.lock" do_fetch; }

# ---------------------------------------------------------------- config
write_properties() {
    mkdir -p "$DATA_DIR" "$LOG_DIRS"
    cat > "$PROPS.tmp" <<EOF
# Written by scripts/kafka.sh on each start; edits are overwritten.
# KRaft, broker and controller in one process, 127.0.0.1 only: a single node, or one node of
# the cluster scripts/kafka-cluster.sh runs (then the voters are every node's controller).
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
# The controller fences a broker whose heartbeats stop for this long, and only then moves its
# partitions' leadership: it bounds how long a killed broker's partitions take no writes.
broker.session.timeout.ms=$KAFKA_BROKER_SESSION_TIMEOUT_MS
broker.heartbeat.interval.ms=$(( KAFKA_BROKER_SESSION_TIMEOUT_MS < 6000 ? 1000 : 2000 ))
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOG_DIRS

# topics
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=$KAFKA_TOPIC_PARTITIONS
# acks=all is confirmed once min.insync.replicas copies have the write: with 3 and 2, an
# acknowledged event survives the loss of any one broker, and writes go on while one is down.
default.replication.factor=$KAFKA_REPLICATION_FACTOR
min.insync.replicas=$KAFKA_MIN_INSYNC_REPLICAS
offsets.topic.replication.factor=$KAFKA_REPLICATION_FACTOR
offsets.topic.num.partitions=$KAFKA_TOPIC_PARTITIONS
transaction.state.log.replication.factor=$KAFKA_REPLICATION_FACTOR
transaction.state.log.min.isr=$KAFKA_MIN_INSYNC_REPLICAS
transaction.state.log.num.partitions=$KAFKA_TOPIC_PARTITIONS
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION_FACTOR
share.coordinator.state.topic.min.isr=$KAFKA_MIN_INSYNC_REPLICAS
group.initial.rebalance.delay.ms=0

# message size: 2 MiB, matched by the platform's producer
message.max.bytes=2097152
replica.fetch.max.bytes=2097152

# small footprint for a dev box
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.segment.bytes=16777216
log.index.size.max.bytes=1048576
log.retention.hours=24
log.retention.bytes=134217728
log.retention.check.interval.ms=60000
EOF
    mv "$PROPS.tmp" "$PROPS"
}

is_formatted() { [[ -f "$LOG_DIRS/meta.properties" ]]; }

new_cluster_id() {
    "$PYTHON" -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"):
        print(s); break
'
}

format_storage() {
    local cluster_id="$KAFKA_CLUSTER_ID"
    [[ -n "$cluster_id" ]] || cluster_id="$(new_cluster_id)"
    say "formatting storage in $LOG_DIRS (cluster id $cluster_id)"
    local cds_opts=() archive
    if [[ "$KAFKA_CDS" != 0 ]]; then
        archive="$(cds_archive)"
        [[ -s "$archive" ]] && cds_opts=(-XX:SharedArchiveFile="$archive" -Xlog:cds=off)
    fi
    if ! "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData "${cds_opts[@]}" \
            -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$DATA_DIR" \
            -cp "$LIBS_DIR/*" kafka.tools.StorageTool format \
            -t "$cluster_id" -c "$PROPS" >"$DATA_DIR/format.log" 2>&1; then
        cat "$DATA_DIR/format.log" >&2
        die "storage format failed"
    fi
}

# ---------------------------------------------------------------- health check
# Produce one message to $HEALTH_TOPIC and wait for its delivery report.
# Exit codes: 0 ok, 1 timeout, 2 broker process died, 3 confluent-kafka missing.
health_check() {
    local timeout="$1" pid="${2:-}"
    "$PYTHON" - "$KAFKA_PORT" "$timeout" "$HEALTH_TOPIC" "$pid" <<'PY'
import logging, os, socket, sys, time
port, timeout, topic, pid = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
try:
    from confluent_kafka import Producer
except ImportError as e:
    print(f"[kafka] ERROR: cannot import confluent_kafka with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)
deadline = time.monotonic() + timeout
def alive():
    if not pid:
        return True
    try:
        os.kill(int(pid), 0)
        return True
    except OSError:
        return False
# 1) wait for the listener (cheap), so librdkafka does not spin on refused connections
while True:
    if not alive():
        sys.exit(2)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            print(f"[kafka] ERROR: nothing listens on 127.0.0.1:{port} after {timeout:.0f} s", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.1)
# 2) produce until a delivery report says the message is stored
quiet = logging.getLogger("kafka-healthcheck")
quiet.addHandler(logging.NullHandler())
quiet.propagate = False
last_err = None
while True:
    if not alive():
        sys.exit(2)
    left = deadline - time.monotonic()
    if left <= 0:
        print(f"[kafka] ERROR: produce to {topic} did not succeed within {timeout:.0f} s (last error: {last_err})", file=sys.stderr)
        sys.exit(1)
    result = {}
    p = Producer({
        "bootstrap.servers": f"127.0.0.1:{port}",
        "message.timeout.ms": int(max(1000, min(left, 15) * 1000)),
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
        "retry.backoff.ms": 50, "retry.backoff.max.ms": 250,
        "topic.metadata.refresh.interval.ms": 500,
        "acks": "all", "logger": quiet,
    })
    p.produce(topic, key=b"healthcheck", value=str(time.time()).encode(),
              on_delivery=lambda err, msg: result.update(err=err, msg=msg))
    p.flush(max(1.0, min(left, 16)))
    if "err" in result and result["err"] is None:
        m = result["msg"]
        print(f"[kafka] produce ok: {m.topic()}[{m.partition()}]@{m.offset()}")
        sys.exit(0)
    last_err = result.get("err", "no delivery report yet")
    time.sleep(0.2)
PY
}

# ---------------------------------------------------------------- start / stop
do_start() {
    local fresh="$1" wait="${2:-1}" t0 pid
    t0=$(date +%s%N)
    fetch
    command -v "$JAVA" >/dev/null 2>&1 || die "java not found (Kafka 4 needs Java 17+): apt-get install openjdk-17-jre-headless"

    pid="$(broker_pid)"
    if [[ -n "$pid" && "$fresh" == 1 ]]; then
        say "--fresh: stopping the running broker (pid $pid) first"
        do_stop
        pid=""
    fi
    if [[ -n "$pid" ]]; then
        if [[ "$wait" == 0 ]]; then say "already running (pid $pid)"; return 0; fi
        say "already running (pid $pid), checking that it accepts produce requests ..."
        if health_check "$START_TIMEOUT" "$pid"; then
            return 0
        fi
        show_log_tail 40 "$BROKER_LOG" "$CONSOLE_LOG"
        die "broker pid $pid is running but not healthy"
    fi
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port 127.0.0.1:$p is already in use by another process (not the broker of $DATA_DIR); set KAFKA_PORT / KAFKA_CONTROLLER_PORT or stop it"
        fi
    done

    if [[ "$fresh" == 1 && -d "$DATA_DIR" ]]; then
        # never wipe a directory that is not (or not yet) a broker data dir, e.g. a mistyped KAFKA_DATA_DIR=$HOME
        if [[ -n "$(ls -A "$DATA_DIR")" && ! -e "$PROPS" && ! -d "$LOG_DIRS" ]]; then
            die "--fresh: $DATA_DIR is not empty and holds no server.properties or kraft-logs: refusing to wipe it"
        fi
        say "--fresh: wiping $DATA_DIR"
        rm -rf "$DATA_DIR"
    fi
    write_properties
    if ! is_formatted; then
        format_storage
    fi

    finish_cds_dump 0   # leftovers of a broker that died without a clean stop
    local cds_opts=() archive
    if [[ "$KAFKA_CDS" != 0 ]]; then
        archive="$(cds_archive)"
        if [[ -s "$archive" ]]; then
            cds_opts=(-XX:SharedArchiveFile="$archive")
        else
            cds_opts=(-XX:ArchiveClassesAtExit="$archive.tmp.$$")
            echo "$archive.tmp.$$ $archive" > "$CDS_PENDING"
        fi
    fi

    say "starting Kafka $KAFKA_VERSION: 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT), data $DATA_DIR"
    # shellcheck disable=SC2086  # the *_OPTS are word lists on purpose
    nohup "$JAVA" $HEAP_OPTS $JVM_PERF_OPTS "${cds_opts[@]}" $EXTRA_JVM_OPTS \
        -Dlog4j2.configurationFile="$LOG4J_CONF" \
        -Dkafka.logs.dir="$DATA_DIR" \
        -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS" \
        >"$CONSOLE_LOG" 2>&1 </dev/null {LOCK_FD}>&- &
    pid=$!
    echo "$pid" > "$PID_FILE"
    if [[ "$wait" == 0 ]]; then
        say "launched (pid $pid); not waiting for it"
        return 0
    fi

    local rc=0
    health_check "$START_TIMEOUT" "$pid" || rc=$?
    if [[ $rc -eq 0 ]]; then
        local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        say "ready in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s (pid $pid, log $BROKER_LOG)"
        return 0
    fi
    case $rc in
        2) err "the broker process (pid $pid) exited during start-up" ;;
        3) err "health check needs confluent-kafka: set KAFKA_PYTHON or create $REPO_ROOT/.venv" ;;
        *) err "broker did not accept a produce request within ${START_TIMEOUT} s" ;;
    esac
    show_log_tail 40 "$BROKER_LOG" "$CONSOLE_LOG"
    if kill -0 "$pid" 2>/dev/null; then
        err "stopping the unhealthy broker (pid $pid)"
        do_stop >/dev/null || true
    fi
    rm -f "$PID_FILE"
    exit 1
}

do_stop() {
    local pid
    pid="$(broker_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        finish_cds_dump 0
        say "not running (data dir $DATA_DIR)"
        return 0
    fi
    say "stopping broker pid $pid (SIGTERM, up to ${STOP_TIMEOUT} s) ..."
    kill -CONT "$pid" 2>/dev/null || true   # a paused broker would never handle the SIGTERM
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0 clean=1
    while kill -0 "$pid" 2>/dev/null; do
        if (( waited >= STOP_TIMEOUT * 10 )); then
            err "still alive after ${STOP_TIMEOUT} s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            clean=0
            sleep 0.5
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$PID_FILE"
    finish_cds_dump "$clean"
    say "stopped"
}

# fault injection for the cluster tests: a crash (SIGKILL), or a broker that hangs (SIGSTOP/SIGCONT)
signal_broker() {
    local signal="$1" pid
    pid="$(broker_pid)"
    [[ -n "$pid" ]] || die "not running (data dir $DATA_DIR)"
    kill "-$signal" "$pid"
    if [[ "$signal" == KILL ]]; then
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
        rm -f "$PID_FILE"
        finish_cds_dump 0
    fi
    say "sent SIG$signal to broker pid $pid"
}

status() {
    local pid
    pid="$(broker_pid)"
    if [[ -n "$pid" ]]; then
        if port_open "$KAFKA_PORT"; then
            say "running: pid $pid, listening on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT), data $DATA_DIR"
        else
            say "running: pid $pid, but NOT listening on 127.0.0.1:$KAFKA_PORT yet (data $DATA_DIR)"
        fi
        return 0
    fi
    if port_open "$KAFKA_PORT"; then
        say "not running from $DATA_DIR, but something else listens on 127.0.0.1:$KAFKA_PORT"
    else
        say "not running (data dir $DATA_DIR)"
    fi
    return 3
}

# ---------------------------------------------------------------- main
cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    fetch)
        fetch ;;
    start)
        fresh=0 wait=1
        for a in "$@"; do
            case "$a" in
                --fresh) fresh=1 ;;
                --no-wait) wait=0 ;;
                *) die "unknown option for start: $a" ;;
            esac
        done
        mkdir -p "$DATA_DIR"
        with_lock "$DATA_DIR.lock" do_start "$fresh" "$wait" ;;
    stop)
        mkdir -p "$(dirname "$DATA_DIR")"
        with_lock "$DATA_DIR.lock" do_stop ;;
    kill)
        signal_broker KILL ;;
    pause)
        signal_broker STOP ;;
    resume)
        signal_broker CONT ;;
    status)
        status ;;
    check)
        health_check "${1:-$START_TIMEOUT}" "$(broker_pid)" ;;
    log)
        tail -n "${1:-50}" "$BROKER_LOG" ;;
    -h|--help|help|"")
        usage ;;
    *)
        err "unknown command: $cmd"; usage >&2; exit 2 ;;
esac
