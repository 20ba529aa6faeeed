# Sourced by the scripts that run a local JVM service (kafka.sh, kafka-cluster.sh, schema-registry.sh): what they
# share, once. Set SERVICE_NAME before sourcing it; it prefixes every line the script prints.

say() { printf '[%s] %s\n' "$SERVICE_NAME" "$*"; }
err() { printf '[%s] ERROR: %s\n' "$SERVICE_NAME" "$*" >&2; }
die() { err "$*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# show_log_tail N FILE...: the last N lines of each non-empty FILE, on stderr (why a start failed).
show_log_tail() {
    local n="$1" f; shift
    for f in "$@"; do
        if [[ -s "$f" ]]; then
            printf '[%s] ---- last %s lines of %s ----\n' "$SERVICE_NAME" "$n" "$f" >&2
            tail -n "$n" "$f" >&2
        fi
    done
}

# with_lock LOCKFILE COMMAND...: serialise start/stop/fetch between concurrent callers (flock, util-linux).
# One lock at a time: a command run under a lock that asks for another (fetch inside start) keeps the first.
# Whatever runs in the background must not inherit LOCK_FD, or the lock lives as long as that process.
LOCK_FD=""
with_lock() {
    if [[ -n "$LOCK_FD" ]]; then shift; "$@"; return; fi
    local lock="$1"; shift
    mkdir -p "$(dirname "$lock")"
    exec {LOCK_FD}>"$lock"
    if ! flock -w 300 "$LOCK_FD"; then die "could not take lock $lock within 300 s"; fi
    "$@"   # not in a `||` list: that would switch off set -e inside; a failure exits, the fd closes with us
    exec {LOCK_FD}>&-
    LOCK_FD=""
}
