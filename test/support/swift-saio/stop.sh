#!/usr/bin/env bash
# Stops the servers start.sh started, by the PIDs it recorded, and only if
# each PID still runs the command we started (never by process name).
#
#   stop.sh                 stop now, whoever holds a lease
#   stop.sh --holder ID     drop lease ID; stop only if no live lease is left
#   stop.sh --wipe          stop, then delete the whole state directory
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

holder="" wipe=0
while (( $# )); do
    case "$1" in
        --holder) holder="${2:?--holder needs an id}"; shift 2 ;;
        --wipe) wipe=1; shift ;;
        *) echo "usage: $0 [--holder PID] [--wipe]" >&2; exit 2 ;;
    esac
done
[[ -d "$STATE" ]] || exit 0
take_lock

if [[ -n "$holder" ]]; then
    rm -f "$HOLDERS/$holder"
    left=()
    for f in "$HOLDERS"/*; do
        [[ -e "$f" ]] || continue
        id="$(basename "$f")"
        # A test process that died without its teardown leaves a stale lease.
        if [[ "$id" =~ ^[0-9]+$ ]] && ! kill -0 "$id" 2>/dev/null; then rm -f "$f"; continue; fi
        left+=("$id")
    done
    if (( ${#left[@]} )); then
        echo "saio: still in use by ${left[*]}; leaving it running" >&2
        exit 0
    fi
fi

for name in proxy object container account memcached; do
    pidfile="$PID_DIR/$name.pid"
    [[ -s "$pidfile" ]] || continue
    pid="$(<"$pidfile")"
    if ours "$name"; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do ours "$name" || break; sleep 0.1; done
        if ours "$name"; then kill -KILL "$pid" 2>/dev/null; echo "saio: killed $name (pid $pid)" >&2
        else echo "saio: stopped $name (pid $pid)" >&2; fi
    fi
    rm -f "$pidfile"
done
rm -f "$HOLDERS"/* 2>/dev/null
if (( wipe )); then rm -rf "$STATE"; fi
exit 0
