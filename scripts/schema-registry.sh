#!/usr/bin/env bash
# Dev/test schema registry for babelstream: Apicurio Registry, serving the Confluent Schema
# Registry API under /apis/ccompat/v7, on 127.0.0.1 only, schemas kept in memory (H2, its
# default storage: every start begins empty). The server comes from Maven Central through
# deploy/schema-registry/pom.xml as Apicurio's own Quarkus distribution (no Docker).
#
#   scripts/schema-registry.sh fetch            resolve and unpack the distribution (idempotent)
#   scripts/schema-registry.sh start [--fresh]  start it and wait until the Confluent API answers
#                                               (--fresh: stop a running one first)
#   scripts/schema-registry.sh stop             SIGTERM, wait, SIGKILL if needed (idempotent)
#   scripts/schema-registry.sh status           running? answering?
#   scripts/schema-registry.sh check [SECONDS]  only the health check
#   scripts/schema-registry.sh url              the Confluent-compatible base URL (no credentials)
#   scripts/schema-registry.sh log [N]          last N lines (default 50) of the server log
#
# Environment (all optional):
#   SCHEMA_REGISTRY_PORT=8081  SCHEMA_REGISTRY_MANAGEMENT_PORT=8091 (health: /health/ready)
#   SCHEMA_REGISTRY_BASIC_AUTH=user:password   require HTTP Basic auth with this one user (written to
#                                               a 0600 file in the data dir, never on a command line)
#   BABELSTREAM_CACHE=$HOME/.cache/babelstream  (server: <cache>/schema-registry/<version>/app)
#   SCHEMA_REGISTRY_DATA_DIR=<cache>/schema-registry/data-<port>  (properties, log, pid)
#   SCHEMA_REGISTRY_VERSION=3.3.3  SCHEMA_REGISTRY_START_TIMEOUT=90  SCHEMA_REGISTRY_STOP_TIMEOUT=20
#   SCHEMA_REGISTRY_HEAP_OPTS="-Xmx384m -Xms64m"  SCHEMA_REGISTRY_JVM_OPTS=<extra JVM flags>
#   SCHEMA_REGISTRY_JAVA=<java 21+>  (default: JAVA_HOME's, `java`'s, else the newest in /usr/lib/jvm)
#   MVN
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$REPO_ROOT/deploy/schema-registry/pom.xml"

VERSION="${SCHEMA_REGISTRY_VERSION:-3.3.3}"
CACHE_ROOT="${BABELSTREAM_CACHE:-$HOME/.cache/babelstream}"
REGISTRY_CACHE="$CACHE_ROOT/schema-registry"
APP_DIR="$REGISTRY_CACHE/$VERSION/app"
APP_STAMP="$REGISTRY_CACHE/$VERSION/app.stamp"

PORT="${SCHEMA_REGISTRY_PORT:-8081}"
MANAGEMENT_PORT="${SCHEMA_REGISTRY_MANAGEMENT_PORT:-8091}"
DATA_DIR="$(realpath -m "${SCHEMA_REGISTRY_DATA_DIR:-$REGISTRY_CACHE/data-$PORT}")"
START_TIMEOUT="${SCHEMA_REGISTRY_START_TIMEOUT:-90}"
STOP_TIMEOUT="${SCHEMA_REGISTRY_STOP_TIMEOUT:-20}"
HEAP_OPTS="${SCHEMA_REGISTRY_HEAP_OPTS:--Xmx384m -Xms64m}"
# Start-up on a small box, as for the broker (docs/kafka.md): SerialGC and a C1-only JIT.
JVM_PERF_OPTS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"
EXTRA_JVM_OPTS="${SCHEMA_REGISTRY_JVM_OPTS:-}"

PROPS="$DATA_DIR/registry.properties"
PID_FILE="$DATA_DIR/registry.pid"
LOG="$DATA_DIR/registry.log"
BASE_PATH="/apis/ccompat/v7"
MVN="${MVN:-mvn}"

SERVICE_NAME=schema-registry
# shellcheck source=lib/service.sh
source "$REPO_ROOT/scripts/lib/service.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- java 21+
java_major() {  # major version of the java binary $1, or nothing
    "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1
}

find_java() {
    local candidate major best="" best_major=0
    if [[ -n "${SCHEMA_REGISTRY_JAVA:-}" ]]; then echo "$SCHEMA_REGISTRY_JAVA"; return; fi
    for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
        [[ -n "$candidate" && -x "$candidate" ]] || continue
        major="$(java_major "$candidate")"
        [[ "$major" =~ ^[0-9]+$ ]] || continue
        if (( major >= 21 )); then echo "$candidate"; return; fi
        if (( major > best_major )); then best="$candidate"; best_major="$major"; fi
    done
    die "Apicurio Registry $VERSION needs Java 21 or newer (its classes are built for 21); the newest found is ${best:-none} (${best_major}). Set SCHEMA_REGISTRY_JAVA or install a JDK 21+"
}

# ---------------------------------------------------------------- fetch
pom_stamp() { printf '%s %s\n' "$VERSION" "$(sha256sum "$POM" | cut -d' ' -f1)"; }

app_ready() {
    [[ -f "$APP_STAMP" && -f "$APP_DIR/quarkus-run.jar" ]] && [[ "$(cat "$APP_STAMP")" == "$(pom_stamp)" ]]
}

fetch() {
    if app_ready; then return 0; fi
    command -v "$MVN" >/dev/null 2>&1 || die "maven not found: apt-get install maven"
    local download="$REGISTRY_CACHE/$VERSION/download" t0
    t0=$(date +%s)
    say "fetching Apicurio Registry $VERSION (io.apicurio:apicurio-registry-app:all tar.gz) from Maven Central ..."
    rm -rf "$download" "$APP_DIR.tmp"
    mkdir -p "$download" "$APP_DIR.tmp"
    if ! "$MVN" -q -B -f "$POM" dependency:copy-dependencies -Dapicurio.version="$VERSION" \
        -DoutputDirectory="$download" >"$REGISTRY_CACHE/$VERSION/fetch.log" 2>&1; then
        tail -n 20 "$REGISTRY_CACHE/$VERSION/fetch.log" >&2
        die "could not resolve the distribution (full log: $REGISTRY_CACHE/$VERSION/fetch.log)"
    fi
    tar -xzf "$download/apicurio-registry-app-$VERSION-all.tar.gz" -C "$APP_DIR.tmp"
    [[ -f "$APP_DIR.tmp/quarkus-run.jar" ]] || die "the distribution has no quarkus-run.jar"
    rm -rf "$APP_DIR" "$download"  # Maven's local repository keeps the tarball
    mv "$APP_DIR.tmp" "$APP_DIR"
    pom_stamp > "$APP_STAMP"
    say "unpacked to $APP_DIR in $(( $(date +%s) - t0 )) s"
}

# ---------------------------------------------------------------- helpers
registry_pid() {  # pid of our registry if alive (a quarkus-run.jar JVM started with our properties)
    [[ -f "$PID_FILE" ]] || return 0
    local pid
    pid="$(tr -dc '0-9' < "$PID_FILE")"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$PROPS.*quarkus-run\.jar"; then
        echo "$pid"
    fi
}


write_properties() {
    local user="" password=""
    if [[ -n "${SCHEMA_REGISTRY_BASIC_AUTH:-}" ]]; then
        [[ "$SCHEMA_REGISTRY_BASIC_AUTH" == *:* ]] || die "SCHEMA_REGISTRY_BASIC_AUTH must be user:password"
        user="${SCHEMA_REGISTRY_BASIC_AUTH%%:*}"
        password="${SCHEMA_REGISTRY_BASIC_AUTH#*:}"
        [[ "$user" =~ ^[A-Za-z0-9._-]+$ ]] || die "SCHEMA_REGISTRY_BASIC_AUTH: the user name may hold only letters, digits, '.', '_' and '-'"
        # '$' would start a config expression and '\' an escape in the properties file Quarkus reads
        [[ -n "$password" && "$password" != *'$'* && "$password" != *\\* ]] \
            || die "SCHEMA_REGISTRY_BASIC_AUTH: the password must be non-empty, without '\$' or a backslash"
    fi
    ( umask 077; {
        echo "# written by scripts/schema-registry.sh; read through -Dsmallrye.config.locations"
        echo "quarkus.http.host=127.0.0.1"
        echo "quarkus.http.port=$PORT"
        echo "quarkus.management.host=127.0.0.1"
        echo "quarkus.management.port=$MANAGEMENT_PORT"
        # one line per request at INFO is noise in a test run; errors still log
        echo "quarkus.http.access-log.enabled=false"
        if [[ -n "$user" ]]; then
            # Quarkus' HTTP Basic auth against one embedded user; Apicurio then refuses anonymous calls (401)
            echo "quarkus.http.auth.basic=true"
            echo "apicurio.authn.mechanism.priority=basic"
            echo "quarkus.security.users.embedded.plain-text=true"
            printf 'quarkus.security.users.embedded.users.%s=%s\n' "$user" "$password"
            printf 'quarkus.security.users.embedded.roles.%s=sr-admin\n' "$user"
        fi
    } > "$PROPS" )
}

# ---------------------------------------------------------------- health check
# Ready when the management endpoint says UP and the Confluent API answers (200, or 401 when
# Basic auth is on: the resource exists and asks for credentials). Exit: 0 ok, 1 timeout, 2 died.
health_check() {
    local timeout="$1" pid="${2:-}"
    python3 - "$PORT" "$MANAGEMENT_PORT" "$BASE_PATH" "$timeout" "$pid" <<'PY'
import os, sys, time, urllib.error, urllib.request
port, management, base, timeout, pid = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
deadline = time.monotonic() + timeout
def alive():
    if not pid:
        return True
    try:
        os.kill(int(pid), 0)
        return True
    except OSError:
        return False
def status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None
last = None
while True:
    if not alive():
        sys.exit(2)
    ready = status(f"http://127.0.0.1:{management}/health/ready")
    api = status(f"http://127.0.0.1:{port}{base}/subjects") if ready == 200 else None
    if api in (200, 401):
        print(f"[schema-registry] ready: http://127.0.0.1:{port}{base} answers {api}")
        sys.exit(0)
    last = f"health/ready {ready}, {base}/subjects {api}"
    if time.monotonic() > deadline:
        print(f"[schema-registry] ERROR: not ready after {timeout:.0f} s ({last})", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
PY
}

# ---------------------------------------------------------------- start / stop
do_start() {
    local fresh="$1" t0 pid java
    t0=$(date +%s%N)
    fetch
    java="$(find_java)"
    pid="$(registry_pid)"
    if [[ -n "$pid" && "$fresh" == 1 ]]; then
        say "--fresh: stopping the running registry (pid $pid) first"
        do_stop
        pid=""
    fi
    if [[ -n "$pid" ]]; then
        say "already running (pid $pid), checking that it answers ..."
        if health_check "$START_TIMEOUT" "$pid"; then return 0; fi
        show_log_tail 40 "$LOG"
        die "registry pid $pid is running but not healthy"
    fi
    for p in "$PORT" "$MANAGEMENT_PORT"; do
        if port_open "$p"; then
            die "port 127.0.0.1:$p is already in use by another process; set SCHEMA_REGISTRY_PORT / SCHEMA_REGISTRY_MANAGEMENT_PORT or stop it"
        fi
    done
    write_properties
    # Class-data sharing (JDK 19+): the first run writes an archive of the classes it loaded, later
    # starts map it. Bound to this java and this distribution by its name; a stale one is rebuilt.
    local archive
    archive="$REGISTRY_CACHE/$VERSION/cds-$("$java" -version 2>&1 | head -1 | sha256sum | cut -c1-8).jsa"

    say "starting Apicurio Registry $VERSION with $java: http://127.0.0.1:$PORT$BASE_PATH (health 127.0.0.1:$MANAGEMENT_PORT), log $LOG"
    # shellcheck disable=SC2086  # the *_OPTS are word lists on purpose
    (cd "$DATA_DIR" && exec nohup "$java" $HEAP_OPTS $JVM_PERF_OPTS \
        -XX:+AutoCreateSharedArchive -XX:SharedArchiveFile="$archive" $EXTRA_JVM_OPTS \
        -Dsmallrye.config.locations="$PROPS" -jar "$APP_DIR/quarkus-run.jar" \
        >"$LOG" 2>&1 </dev/null {LOCK_FD}>&-) &
    pid=$!
    echo "$pid" > "$PID_FILE"

    local rc=0
    health_check "$START_TIMEOUT" "$pid" || rc=$?
    if [[ $rc -eq 0 ]]; then
        local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        say "ready in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s (pid $pid)"
        return 0
    fi
    case $rc in
        2) err "the registry process (pid $pid) exited during start-up" ;;
        *) err "the registry did not answer within ${START_TIMEOUT} s" ;;
    esac
    show_log_tail 40 "$LOG"
    if kill -0 "$pid" 2>/dev/null; then
        err "stopping the unhealthy registry (pid $pid)"
        do_stop >/dev/null || true
    fi
    rm -f "$PID_FILE"
    exit 1
}

do_stop() {
    local pid
    pid="$(registry_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        say "not running (data dir $DATA_DIR)"
        return 0
    fi
    say "stopping registry pid $pid (SIGTERM, up to ${STOP_TIMEOUT} s) ..."
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if (( waited >= STOP_TIMEOUT * 10 )); then
            err "still alive after ${STOP_TIMEOUT} s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$PID_FILE"
    say "stopped"
}

status() {
    local pid
    pid="$(registry_pid)"
    if [[ -n "$pid" ]]; then
        if port_open "$PORT"; then
            say "running: pid $pid, http://127.0.0.1:$PORT$BASE_PATH (data $DATA_DIR)"
        else
            say "running: pid $pid, but NOT listening on 127.0.0.1:$PORT yet (data $DATA_DIR)"
        fi
        return 0
    fi
    say "not running (data dir $DATA_DIR)"
    return 3
}

# ---------------------------------------------------------------- main
cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    fetch)
        with_lock "$REGISTRY_CACHE/$VERSION.lock" fetch ;;
    start)
        fresh=0
        for a in "$@"; do
            case "$a" in
                --fresh) fresh=1 ;;
                *) die "unknown option for start: $a" ;;
            esac
        done
        mkdir -p "$DATA_DIR"
        with_lock "$DATA_DIR.lock" do_start "$fresh" ;;
    stop)
        mkdir -p "$(dirname "$DATA_DIR")"
        with_lock "$DATA_DIR.lock" do_stop ;;
    status)
        status ;;
    check)
        health_check "${1:-$START_TIMEOUT}" "$(registry_pid)" ;;
    url)
        echo "http://127.0.0.1:$PORT$BASE_PATH" ;;
    log)
        tail -n "${1:-50}" "$LOG" ;;
    -h|--help|help|"")
        usage ;;
    *)
        err "unknown command: $cmd"; usage >&2; exit 2 ;;
esac
