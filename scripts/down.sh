#!/usr/bin/env bash
# make down: stops what make up started. First coffer-control (by the pid it
# recorded, checked against /proc so a reused pid is never signalled), then
# every instance's coffer-agent (by its recorded pid, or found by its config
# path in /proc), which stops its MariaDB cleanly before exiting. Agents
# outlive the control by design (as VMs outlive their control plane), so
# stopping only the control would leave every MariaDB running with nobody
# watching it; a person typing `make down` expects nothing left running.
# Data stays: the next `make up` restarts the control, which restarts the
# agents of ACTIVE instances.
#
#   scripts/down.sh [--keep-instances]   only stop coffer-control
# Honours COFFER_UP_DIR like scripts/up.sh.
set -euo pipefail
BASE=${COFFER_UP_DIR:-/var/lib/coffer}
DATA=$BASE/data
keep=0
[[ ${1:-} == --keep-instances ]] && keep=1

# runs PID MARKER: the pid is alive (not a zombie) and MARKER is one of its arguments.
runs() {
  [[ -r /proc/$1/cmdline ]] || return 1
  grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null && return 1
  tr '\0' '\n' <"/proc/$1/cmdline" | grep -qxF "$2"
}

# stop PID MARKER WHAT GRACE_SECONDS: SIGTERM, wait, then SIGKILL its process group.
stop() {
  local pid=$1 marker=$2 what=$3 grace=$4
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((grace * 5))); do runs "$pid" "$marker" || { echo "stopped $what (pid $pid)"; return 0; }; sleep 0.2; done
  echo "$what (pid $pid) did not stop in ${grace}s; killing its process group" >&2
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

pid=$(cat "$BASE/control.pid" 2>/dev/null || true)
if [[ -n "$pid" ]] && runs "$pid" "$DATA"; then
  stop "$pid" "$DATA" coffer-control 30
else
  echo "coffer-control is not running"
fi
rm -f "$BASE/control.pid"

if [[ $keep -eq 1 ]]; then
  echo "instances keep running (--keep-instances); make up re-adopts them"
  exit 0
fi

stopped=0
shopt -s nullglob
for dir in "$DATA"/instances/*/; do
  dir=${dir%/}
  cfg=$dir/agent.json
  pids=()
  p=$(cat "$dir/agent.pid" 2>/dev/null || true)
  if [[ -n "$p" ]] && runs "$p" "$cfg"; then
    pids+=("$p")
  else
    for e in /proc/[0-9]*; do runs "${e#/proc/}" "$cfg" && pids+=("${e#/proc/}"); done
  fi
  for p in "${pids[@]}"; do
    stop "$p" "$cfg" "the agent of instance $(basename "$dir")" 60
    stopped=$((stopped + 1))
  done
  # A datastore whose agent was killed hard: its group, by the pid the agent recorded.
  ds=$(sed -n 's/.*"pid":[[:space:]]*\([0-9]*\).*/\1/p' "$dir/base/agent/datastore.pid" 2>/dev/null || true)
  if [[ -n "$ds" ]] && [[ -r /proc/$ds/cmdline ]] && tr '\0' '\n' <"/proc/$ds/cmdline" | grep -qF "$dir/"; then
    echo "stopping a datastore left running (pid $ds)"
    kill -TERM -- "-$ds" 2>/dev/null || kill -TERM "$ds" 2>/dev/null || true
    for _ in $(seq 1 150); do [[ -d /proc/$ds ]] || break; sleep 0.2; done
    kill -KILL -- "-$ds" 2>/dev/null || true
  fi
done
echo "stopped $stopped instance agent(s); data kept in $BASE (make up starts everything again)"
