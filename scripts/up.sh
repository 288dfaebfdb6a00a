#!/usr/bin/env bash
# make up: the whole system on one machine with embedded defaults.
#   1. coffer-control on 127.0.0.1 (SQLite, the local compute driver, local
#      backup storage) under $COFFER_UP_DIR, started once and found again;
#   2. an API token, saved 0600;
#   3. a MariaDB instance created through the control API with the coffer
#      CLI (progress shown), with database and user "coffer" whose generated
#      password lives only in a 0600 mariadb option file;
#   4. how to connect, how to use the CLI and how to call the API (both
#      public listeners serve TLS, verified with the API CA the control
#      writes to $COFFER_UP_DIR/data/api-ca.crt; docs/tls.md).
# Idempotent: a second run finds the running control and the instance.
#
# Overrides (tests use them to run beside a real `make up`):
#   COFFER_UP_DIR        state directory            (default /var/lib/coffer)
#   COFFER_UP_GRPC       control gRPC API address   (default 127.0.0.1:8780)
#   COFFER_UP_CONDUCTOR  where agents report        (default 127.0.0.1:8781)
#   COFFER_UP_REST       REST bridge address        (default 127.0.0.1:8779)
#   COFFER_UP_METRICS    Prometheus /metrics        (default 127.0.0.1:9180)
#   COFFER_UP_INSTANCE   instance name              (default coffer)
#   COFFER_UP_PROJECT    project of the token       (default default)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

BASE=${COFFER_UP_DIR:-/var/lib/coffer}
GRPC=${COFFER_UP_GRPC:-127.0.0.1:8780}
CONDUCTOR=${COFFER_UP_CONDUCTOR:-127.0.0.1:8781}
REST=${COFFER_UP_REST:-127.0.0.1:8779}
METRICS=${COFFER_UP_METRICS:-127.0.0.1:9180}
NAME=${COFFER_UP_INSTANCE:-coffer}
PROJECT=${COFFER_UP_PROJECT:-default}
DATA=$BASE/data
COFFER=$REPO/bin/coffer
BUF=$REPO/node_modules/.bin/buf
CNF=$BASE/client.cnf
# The CA clients verify the REST bridge and the gRPC API with (docs/tls.md).
CA=$DATA/api-ca.crt

# The CLI reads these; the token never appears on a command line.
export COFFER_ENDPOINT=$GRPC COFFER_CA_FILE=$CA COFFER_TOKEN_FILE=$BASE/token
# Tools run as a user's shell would run them, without a test runner's loaders.
unset NODE_OPTIONS

[[ -f dist/cli/main.js && -f dist/control/main.js ]] || { echo "make up: dist/ is missing: run make build first" >&2; exit 1; }
mkdir -p "$BASE"
err=$(mktemp)
trap 'rm -f "$err"' EXIT
# The datastore runs as its own OS user and must traverse to its instance dir.
chmod 711 "$BASE"

# json FIELD: one top-level field of the JSON document on stdin.
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"; }

# The recorded control pid, if that process still is the control of $DATA.
control_pid() {
  local pid
  pid=$(cat "$BASE/control.pid" 2>/dev/null) || return 1
  [[ -r /proc/$pid/cmdline ]] && tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "$DATA" && echo "$pid"
}

if pid=$(control_pid); then
  echo "coffer-control is already running (pid $pid, $GRPC)"
else
  echo "starting coffer-control on $GRPC (data: $DATA, log: $BASE/control.log)"
  offset=$(stat -c %s "$BASE/control.log" 2>/dev/null || echo 0)
  # Its own session: a Ctrl-C in this terminal later must not stop it.
  setsid bin/coffer-control serve --data-dir "$DATA" --grpc "$GRPC" --conductor "$CONDUCTOR" --rest "$REST" --metrics "$METRICS" \
    </dev/null >>"$BASE/control.log" 2>&1 &
  echo $! >"$BASE/control.pid"
  for _ in $(seq 1 150); do
    tail -c +"$((offset + 1))" "$BASE/control.log" | grep -q '"msg":"listening"' && break
    if ! control_pid >/dev/null; then
      echo "make up: coffer-control exited while starting; the end of $BASE/control.log:" >&2
      tail -n 20 "$BASE/control.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  tail -c +"$((offset + 1))" "$BASE/control.log" | grep -q '"msg":"listening"' || { echo "make up: coffer-control did not start listening in 30 s; see $BASE/control.log" >&2; exit 1; }
fi

new_token() {
  (umask 077 && bin/coffer-control token create --data-dir "$DATA" --project "$PROJECT" >"$BASE/token.tmp" && mv "$BASE/token.tmp" "$BASE/token")
  echo "created an API token for project $PROJECT in $BASE/token (mode 0600)"
}
[[ -s "$BASE/token" ]] || new_token
# A token from an earlier data dir is refused (exit 4): make a new one.
rc=0
"$COFFER" datastore list >/dev/null 2>"$err" || rc=$?
if [[ $rc -eq 4 ]]; then new_token; rc=0; "$COFFER" datastore list >/dev/null 2>"$err" || rc=$?; fi
[[ $rc -eq 0 ]] || { cat "$err" >&2; exit 1; }
# For buf curl: headers from a file, so the token stays off argv there too.
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$BASE/token")" >"$BASE/auth-header")

# create_user: a new password for user coffer, handed to the CLI on stdin and
# kept only in the option file.
new_password() { node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("base64url"))'; }
write_cnf() { # write_cnf PASSWORD
  (umask 077 && printf '[client]\nuser = coffer\npassword = %s\nhost = 127.0.0.1\nport = %s\ndatabase = coffer\n' "$1" "$2" >"$CNF.tmp" && mv "$CNF.tmp" "$CNF")
}

rc=0
shown=$("$COFFER" instance show "$NAME" --json 2>"$err") || rc=$?
if [[ $rc -eq 5 ]]; then
  echo "creating MariaDB instance \"$NAME\" through coffer-control (database coffer, user coffer)"
  password=$(new_password)
  printf '%s\n' "$password" | "$COFFER" instance create "$NAME" --datastore mariadb --database coffer --user coffer --password-file - >/dev/null
  shown=$("$COFFER" instance show "$NAME" --json)
  write_cnf "$password" "$(json port <<<"$shown")"
elif [[ $rc -ne 0 ]]; then
  cat "$err" >&2
  exit 1
else
  status=$(json status <<<"$shown")
  case "$status" in
    ACTIVE) echo "instance \"$NAME\" is already ACTIVE" ;;
    ERROR)
      echo "make up: instance \"$NAME\" is in ERROR: $(json fault <<<"$shown")" >&2
      echo "  delete it with: COFFER_TOKEN_FILE=$BASE/token COFFER_CA_FILE=$CA $COFFER --endpoint $GRPC instance delete $NAME   then run make up again" >&2
      exit 1 ;;
    *)
      echo "instance \"$NAME\" is $status; following it"
      "$COFFER" instance watch "$NAME" >/dev/null
      shown=$("$COFFER" instance show "$NAME" --json) ;;
  esac
  if [[ ! -s "$CNF" ]]; then
    # The password is not stored anywhere else: give user coffer a new one.
    echo "$CNF is missing: recreating user coffer with a new password"
    "$COFFER" user delete "$NAME" coffer >/dev/null 2>&1 || true
    password=$(new_password)
    printf '%s\n' "$password" | "$COFFER" user create "$NAME" coffer --database coffer --password-file - >/dev/null
    write_cnf "$password" "$(json port <<<"$shown")"
  fi
fi
unset password

port=$(json port <<<"$shown")
id=$(json id <<<"$shown")
# After a restart the control re-adopts the agent at once, but MariaDB takes
# a few seconds to come back: promise a connection only once it works.
answered=0
for i in $(seq 1 300); do
  if mariadb --defaults-extra-file="$CNF" --batch --skip-column-names -e 'SELECT 1' >/dev/null 2>&1; then answered=1; break; fi
  [[ $i -eq 5 ]] && echo "waiting for MariaDB on 127.0.0.1:$port to accept connections"
  sleep 0.2
done
if [[ $answered -ne 1 ]]; then
  echo "make up: MariaDB on 127.0.0.1:$port does not accept connections after 60 s; see $DATA/instances/$id/agent.log" >&2
  exit 1
fi

cat <<MSG

MariaDB "$NAME" is ACTIVE on 127.0.0.1:$port, created through coffer-control.

  Connect:      mariadb --defaults-extra-file=$CNF
                (user coffer, database coffer; the password is only in that file, mode 0600)

  TLS:          the gRPC API (https://$GRPC) and the REST bridge (https://$REST/v1.0)
                are verified with the CA file $CA

  coffer CLI:   export COFFER_ENDPOINT=$GRPC
                export COFFER_CA_FILE=$CA
                export COFFER_TOKEN="\$(cat $BASE/token)"
                $COFFER instance list
                $COFFER database create $NAME app
                $COFFER backup create $NAME
                $COFFER console $NAME --user coffer   (mariadb on this terminal; asks the password in $CNF)
                $COFFER --help

  gRPC API (reflection; the token header comes from a 0600 file, not argv):
                $BUF curl --protocol grpc --cacert $CA --list-methods https://$GRPC
                echo '{}' | $BUF curl --protocol grpc --cacert $CA -H @$BASE/auth-header -d @- \\
                    https://$GRPC/coffer.control.v1.InstanceService/ListInstances

  Metrics:      curl http://$METRICS/metrics   (Prometheus text; docs/metrics.md)
  Logs:         $BASE/control.log, $DATA/instances/$id/agent.log
  Stop:         make down   (stops coffer-control and every instance's agent and MariaDB;
                             data stays in $BASE, and the next make up starts them again)
MSG

# The dashboard and the OpenStack CLI (docs/dashboard.md): both speak to the
# REST bridge with the same token, typed into the page or read from the
# environment, never put on a command line.
cat <<UI

  Dashboard:    https://$REST/ui/
                (the browser must trust the CA file $CA: import it as an authority)
                sign in with the API token in $BASE/token (cat it and paste it into the form;
                it stays in that browser tab only)

  OpenStack CLI (apt-get install python3-openstackclient python3-troveclient):
                export OS_AUTH_TYPE=admin_token
                export OS_ENDPOINT=https://$REST/v1.0/$PROJECT
                export OS_CACERT=$CA
                export OS_TOKEN="\$(cat $BASE/token)"
                openstack database instance list
UI
