#!/usr/bin/env bash
# Stops what make up started: SIGTERM to the agent (by the pid it recorded),
# which stops MariaDB cleanly before exiting.
set -euo pipefail
BASE=${COFFER_UP_DIR:-/var/lib/coffer-up}
if [[ -f "$BASE/agent.pid" ]] && kill -0 "$(cat "$BASE/agent.pid")" 2>/dev/null; then
  pid=$(cat "$BASE/agent.pid")
  kill -TERM "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  echo "coffer-agent stopped"
else
  echo "coffer-agent is not running"
fi
rm -f "$BASE/agent.pid"
