# Shared settings of start.sh and stop.sh (sourced, not run).
#
# Everything lives in one state directory outside the source tree, keyed by
# uid and proxy port, so two checkouts or two port sets never share servers.
# Env overrides (defaults chosen below 32768, outside Linux's ephemeral port
# range, and away from the usual 6000-6012/8080 Swift ports):
#   SAIO_PROXY_PORT (27180)  SAIO_ACCOUNT_PORT (27112)  SAIO_CONTAINER_PORT (27111)
#   SAIO_OBJECT_PORT (27110) SAIO_MEMCACHE_PORT (27211) SAIO_STATE_DIR
#   SAIO_READY_TIMEOUT (60 seconds)

SAIO_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROXY_PORT="${SAIO_PROXY_PORT:-27180}"
ACCOUNT_PORT="${SAIO_ACCOUNT_PORT:-27112}"
CONTAINER_PORT="${SAIO_CONTAINER_PORT:-27111}"
OBJECT_PORT="${SAIO_OBJECT_PORT:-27110}"
MEMCACHE_PORT="${SAIO_MEMCACHE_PORT:-27211}"
READY_TIMEOUT="${SAIO_READY_TIMEOUT:-60}"
STATE="${SAIO_STATE_DIR:-${TMPDIR:-/tmp}/coffer-swift-saio-$(id -u)-$PROXY_PORT}"

CONF_DIR="$STATE/etc"
PID_DIR="$STATE/run"
LOG_DIR="$STATE/log"
DEVICES="$STATE/srv"
HOLDERS="$STATE/holders"
DEVICE=d1
SERVERS=(account container object proxy)

for p in "$PROXY_PORT" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" "$MEMCACHE_PORT"; do
    [[ "$p" =~ ^[0-9]+$ ]] && (( p > 0 && p < 65536 )) || { echo "saio: bad port '$p'" >&2; exit 2; }
done

# What /proc/<pid>/cmdline must contain for a PID file to still be ours:
# guards against PID reuse, so we never signal a stranger.
signature() {
    case "$1" in
        memcached) echo "memcached -l 127.0.0.1 -p $MEMCACHE_PORT" ;;
        *) echo "$CONF_DIR/$1-server.conf" ;;
    esac
}

# ours <name>: true if the recorded PID is alive and is the process we started.
ours() {
    local pidfile="$PID_DIR/$1.pid" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(signature "$1")"
}

# Serialises start and stop: test files run in parallel and may call both.
take_lock() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.lock"
    flock -w 120 9 || { echo "saio: could not lock $STATE/.lock" >&2; exit 1; }
}
