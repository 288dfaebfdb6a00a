#!/usr/bin/env bash
# Starts a loopback OpenStack Swift all-in-one for tests: memcached plus one
# account, container, object and proxy server (tempauth for the Swift API,
# s3api for the S3 API), all on 127.0.0.1, no systemd, no root-owned paths
# except /etc/swift/swift.conf (the one path Swift hard-codes; Debian ships it).
#
#   start.sh [--holder ID] [--clean]
#
# Idempotent: servers already running from this state dir are kept.
# --holder ID  records a lease (ID = PID of the caller); stop.sh --holder ID
#              stops the servers only when no live lease is left, so test
#              files running in parallel can share one SAIO. Without it the
#              lease is "manual" and only a plain stop.sh ends it.
# --clean      stops and wipes stored objects first (rings are kept).
# On success prints KEY=VALUE lines (endpoints) on stdout; progress on stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

holder=manual clean=0
while (( $# )); do
    case "$1" in
        --holder) holder="${2:?--holder needs an id}"; shift 2 ;;
        --clean) clean=1; shift ;;
        *) echo "usage: $0 [--holder PID] [--clean]" >&2; exit 2 ;;
    esac
done
[[ "$holder" == manual || "$holder" =~ ^[0-9]+$ ]] || { echo "saio: --holder must be a PID" >&2; exit 2; }

for tool in swift-ring-builder swift-proxy-server swift-account-server \
            swift-container-server swift-object-server memcached curl flock setsid; do
    command -v "$tool" >/dev/null || {
        echo "saio: '$tool' not found; install the packages in $SAIO_HOME/packages.txt" >&2; exit 1; }
done

if (( clean )); then "$SAIO_HOME/stop.sh" >&2 || true; fi
take_lock
if (( clean )); then rm -rf "$DEVICES" "$LOG_DIR"; fi
mkdir -p "$CONF_DIR" "$PID_DIR" "$LOG_DIR" "$DEVICES/$DEVICE" "$HOLDERS"

if ! grep -qs '^swift_hash_path_suffix' /etc/swift/swift.conf; then
    mkdir -p /etc/swift
    printf '%s\n' '[swift-hash]' 'swift_hash_path_suffix = coffer-test' \
        'swift_hash_path_prefix = coffer-test' '' '[storage-policy:0]' \
        'name = Policy-0' 'default = yes' >/etc/swift/swift.conf
fi

# ---- configuration, rewritten on every start (cheap, keeps ports in sync) --
server_conf() {  # <kind> <port>
    cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
user = $(id -un)
swift_dir = $CONF_DIR
devices = $DEVICES
mount_check = false
disable_fallocate = true
recon_cache_path = $STATE/cache
log_custom_handlers = coffer_saio_nosyslog.drop_syslog

[pipeline:main]
pipeline = healthcheck $1-server

[app:$1-server]
use = egg:swift#$1

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
}
mkdir -p "$STATE/cache"
server_conf account "$ACCOUNT_PORT" >"$CONF_DIR/account-server.conf"
server_conf container "$CONTAINER_PORT" >"$CONF_DIR/container-server.conf"
server_conf object "$OBJECT_PORT" >"$CONF_DIR/object-server.conf"

# s3api sits before tempauth (it turns S3 signatures into tempauth identities);
# slo after both, so S3 multipart uploads and Swift SLOs share one mechanism.
cat >"$CONF_DIR/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
workers = 0
user = $(id -un)
swift_dir = $CONF_DIR
log_custom_handlers = coffer_saio_nosyslog.drop_syslog

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
s3_acl = false

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHE_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF

# ---- rings: one replica on one device; rebuilt only when ports change ------
ring_id="account=$ACCOUNT_PORT container=$CONTAINER_PORT object=$OBJECT_PORT device=$DEVICE"
if [[ "$(cat "$CONF_DIR/rings.id" 2>/dev/null)" != "$ring_id" ]]; then
    echo "saio: building rings in $CONF_DIR" >&2
    make_ring() {  # <ring> <port>; part power 8 keeps it quick to build
        rm -f "$CONF_DIR/$1.builder" "$CONF_DIR/$1.ring.gz"
        swift-ring-builder "$CONF_DIR/$1.builder" create 8 1 1 >/dev/null
        swift-ring-builder "$CONF_DIR/$1.builder" add "r1z1-127.0.0.1:$2/$DEVICE" 1 >/dev/null
        # exit 1 is "warning" (e.g. nothing to move); 2 is a real failure
        local rc=0; swift-ring-builder "$CONF_DIR/$1.builder" rebalance >/dev/null || rc=$?
        (( rc <= 1 ))
    }
    make_ring account "$ACCOUNT_PORT" & a=$!
    make_ring container "$CONTAINER_PORT" & c=$!
    make_ring object "$OBJECT_PORT" & o=$!
    wait "$a" && wait "$c" && wait "$o" || { echo "saio: ring build failed" >&2; exit 1; }
    echo "$ring_id" >"$CONF_DIR/rings.id"
fi

# ---- processes ---------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

launch() {  # <name> <port> <argv...>
    local name="$1" port="$2"; shift 2
    if ours "$name"; then echo "saio: $name running (pid $(<"$PID_DIR/$name.pid"))" >&2; return; fi
    if port_in_use "$port"; then
        echo "saio: 127.0.0.1:$port (for $name) is taken by a process this script did not start;" \
             "set SAIO_*_PORT to move" >&2
        exit 1
    fi
    # setsid puts the server in its own session, so it outlives this script
    # and the caller's terminal; in a non-interactive shell it exec()s, so $!
    # is the server's own PID, the only PID stop.sh will ever signal. 9>&-:
    # the server must not inherit (and so hold forever) the start/stop lock.
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$SAIO_HOME/lib${PYTHONPATH:+:$PYTHONPATH}" \
        setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$PID_DIR/$name.pid"
    # Up to 30 s (a loaded machine forks and execs slowly); a server that
    # exited is not waited for.
    local pid; pid="$(<"$PID_DIR/$name.pid")"
    for _ in $(seq 600); do ours "$name" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    # The reason goes last: callers keep only the tail of stderr.
    ours "$name" || { tail -20 "$LOG_DIR/$name.log" >&2; echo "saio: $name did not start (its log's last lines above)" >&2; exit 1; }
    echo "saio: started $name (pid $(<"$PID_DIR/$name.pid"))" >&2
}

launch memcached "$MEMCACHE_PORT" memcached -l 127.0.0.1 -p "$MEMCACHE_PORT" -U 0 -m 64 -u "$(id -un)"
launch account "$ACCOUNT_PORT" swift-account-server "$CONF_DIR/account-server.conf" -v
launch container "$CONTAINER_PORT" swift-container-server "$CONF_DIR/container-server.conf" -v
launch object "$OBJECT_PORT" swift-object-server "$CONF_DIR/object-server.conf" -v
launch proxy "$PROXY_PORT" swift-proxy-server "$CONF_DIR/proxy-server.conf" -v

# ---- ready when every server answers and tempauth hands out a token --------
deadline=$(( SECONDS + READY_TIMEOUT ))
wait_for() {  # <what> <curl args...>
    local what="$1"; shift
    until curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; do
        for s in "${SERVERS[@]}"; do
            ours "$s" || { tail -25 "$LOG_DIR/$s.log" >&2; echo "saio: $s exited while waiting for $what (its log's last lines above)" >&2; exit 1; }
        done
        (( SECONDS < deadline )) || { echo "saio: timed out waiting for $what (logs: $LOG_DIR)" >&2; exit 1; }
        sleep 0.1
    done
}
wait_for account "http://127.0.0.1:$ACCOUNT_PORT/healthcheck"
wait_for container "http://127.0.0.1:$CONTAINER_PORT/healthcheck"
wait_for object "http://127.0.0.1:$OBJECT_PORT/healthcheck"
wait_for proxy "http://127.0.0.1:$PROXY_PORT/healthcheck"
wait_for tempauth -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "http://127.0.0.1:$PROXY_PORT/auth/v1.0"

touch "$HOLDERS/$holder"

cat <<EOF
SAIO_STATE_DIR=$STATE
SAIO_PROXY_URL=http://127.0.0.1:$PROXY_PORT
SAIO_AUTH_URL=http://127.0.0.1:$PROXY_PORT/auth/v1.0
SAIO_USER=test:tester
SAIO_KEY=testing
SAIO_STORAGE_URL=http://127.0.0.1:$PROXY_PORT/v1/AUTH_test
SAIO_S3_ENDPOINT=http://127.0.0.1:$PROXY_PORT
SAIO_S3_REGION=us-east-1
SAIO_S3_ACCESS_KEY=test:tester
SAIO_S3_SECRET_KEY=testing
SAIO_PROXY_CONF=$CONF_DIR/proxy-server.conf
SAIO_PYTHONPATH=$SAIO_HOME/lib
EOF
