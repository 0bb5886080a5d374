#!/usr/bin/env bash
# The server behind pgbouncer in transaction pooling mode (the one that
# scripts/with-postgres.sh starts in front of its PostgreSQL): with
# --pg-transaction-pooling the soak load (4 writers racing on identities)
# sees no error and every acknowledged append reads back byte for byte
# through pgbouncer. Then, for the record, the same load without the flag,
# which usually fails on the server-side prepared statements that pgbouncer
# moves between its connections (what the flag is for); whether it does
# depends on which server connection pgbouncer hands out, so it is reported,
# not asserted. Exits 77 (skipped) without pgbouncer.
# usage: pgbouncer_test.sh BUILD_DIR
set -euo pipefail
build=$1
source "$(dirname "$0")/../testing/server.sh"
[[ -n ${ACTIONJOURNAL_TEST_PGBOUNCER_DSN:-} ]] || {
  echo "pgbouncer_test: no pgbouncer (scripts/with-postgres.sh starts one where it is installed)"
  exit 77
}
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-pgbouncer.XXXXXX")
server_pid= ok=0
cleanup() {
  [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if ((ok)); then rm -rf "$work"; else echo "pgbouncer_test: logs kept in $work" >&2; fi
}
trap cleanup EXIT

# Runs the load for 4 s against a server started with flag $1; leaves the
# load's summary in $work/$1.load and the ack log in $work/$1.acks.
run() {
  local flag=$1
  mkdir "$work/$flag"
  start_server "$build/server/actionjournal-server" "$work/$flag" \
    --store="$ACTIONJOURNAL_TEST_PGBOUNCER_DSN" --pg-transaction-pooling="$flag"
  job=pgbouncer-$flag-$$
  "$build/tests/soak_tool" load --target="$grpc" --job="$job" \
    --ack_log="$work/$flag.acks" --writers=4 --seconds=4 >"$work/$flag.load" 2>&1
  cat "$work/$flag.load"
}

run true
grep -q ' errors=0 ' "$work/true.load" || { echo "errors through pgbouncer" >&2; exit 1; }
"$build/tests/soak_tool" check --target="$grpc" --job="$job" "$work/true.acks"
kill -TERM "$server_pid" && wait "$server_pid"
server_pid=

run false
kill -TERM "$server_pid" && wait "$server_pid" || true
server_pid=
echo "pgbouncer_test: with the flag no error and every acknowledgement verified; without it: $(grep -o 'errors=[^w]*' "$work/false.load"), $(grep -c 'prepared statement' "$work/false/server.log") log lines on prepared statements"
ok=1
