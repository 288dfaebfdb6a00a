#!/usr/bin/env bash
# The main job on embedded defaults: a coffer-agent on 127.0.0.1 that
# prepares a MariaDB under a local directory, then how to use it.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${COFFER_UP_DIR:-/var/lib/coffer-up}
LISTEN=${COFFER_UP_LISTEN:-127.0.0.1:8790}
DB_PORT=${COFFER_UP_DB_PORT:-3307}
BUF=node_modules/.bin/buf
mkdir -p "$BASE"
chmod 755 "$BASE"

call() { # call METHOD [JSON on stdin]: one agent RPC through reflection
  "$BUF" curl --protocol grpc --http2-prior-knowledge -d @- "http://$LISTEN/coffer.agent.v1.$1"
}

if [[ -f "$BASE/agent.pid" ]] && kill -0 "$(cat "$BASE/agent.pid")" 2>/dev/null; then
  echo "coffer-agent is already running (pid $(cat "$BASE/agent.pid"))"
else
  echo "starting coffer-agent on $LISTEN (logs: $BASE/agent.log)"
  nohup bin/coffer-agent --insecure --listen "$LISTEN" --datastore mariadb \
    --base-dir "$BASE/instance" --datastore-port "$DB_PORT" >>"$BASE/agent.log" 2>&1 &
  echo $! >"$BASE/agent.pid"
  for _ in $(seq 1 50); do
    echo '{}' | call LifecycleService/Ping >/dev/null 2>&1 && break
    sleep 0.2
  done
fi

state=$(echo '{}' | call LifecycleService/GetStatus | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).state))')
if [[ "$state" == "DATASTORE_STATE_NEW" || "$state" == "DATASTORE_STATE_FAILED" ]]; then
  umask 077
  password=$(node -e 'console.log(require("crypto").randomBytes(18).toString("base64url"))')
  printf '[client]\nuser = coffer\npassword = %s\nhost = 127.0.0.1\nport = %s\n' "$password" "$DB_PORT" >"$BASE/client.cnf"
  echo "preparing MariaDB (database coffer, user coffer)"
  # The password goes to buf curl on stdin, never on a command line.
  printf '{"databases":[{"name":"coffer"}],"users":[{"name":"coffer","host":"%%","password":"%s","databases":["coffer"]}]}' "$password" \
    | call LifecycleService/Prepare | node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        for (const m of s.split(/\n(?=\{)/)) {
          const e = JSON.parse(m);
          if (e.progress) console.log(`  ${String(e.progress.percent ?? 0).padStart(3)}%  ${e.progress.message}`);
          if (e.result) console.log(`  done: ${e.result.state}, ${e.result.serverVersion}`);
        }
      });'
fi

cat <<MSG

MariaDB is running, supervised by coffer-agent.

  Connect:            mariadb --defaults-extra-file=$BASE/client.cnf coffer
  (credentials are in $BASE/client.cnf, mode 0600)

  Call the agent:     $BUF curl --protocol grpc --http2-prior-knowledge --list-methods http://$LISTEN
                      echo '{}' | $BUF curl --protocol grpc --http2-prior-knowledge -d @- \\
                          http://$LISTEN/coffer.agent.v1.LifecycleService/GetStatus
                      echo '{"databases":[{"name":"app"}]}' | $BUF curl --protocol grpc --http2-prior-knowledge -d @- \\
                          http://$LISTEN/coffer.agent.v1.AccountService/CreateDatabases
  Stop everything:    make down
MSG
