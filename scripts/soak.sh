#!/usr/bin/env bash
# Soak and fault run: a load of appends (writers racing on shared identities
# with different values) against a real server, which is killed with SIGKILL
# KILLS times and restarted on the same store; on PostgreSQL, PostgreSQL
# itself is restarted PG_RESTARTS times too (a throwaway PostgreSQL 15 of its
# own). Then every acknowledged append is looked up: it must be there byte
# for byte, and no identity may hold two results. Prints the counts; exits 1
# if anything acknowledged was lost or doubled.
#
# usage: soak.sh [--kills N] [--pg-restarts M] [--backend sqlite|postgres|both]
#                [--pause SECONDS]   (mean time between faults, default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
kills=5 pg_restarts=2 backend=both pause=1
while (($#)); do
  case $1 in
    --kills) kills=$2; shift 2 ;;
    --pg-restarts) pg_restarts=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --pause) pause=$2; shift 2 ;;
    --inner) inner=$2; shift 2 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done
server=$root/build/server/actionjournal-server
tool=$root/build/tests/soak_tool
[[ -x $server && -x $tool ]] || ./scripts/build.sh actionjournal-server soak_tool >/dev/null
source scripts/free-port.sh

# A random pause around $pause seconds.
nap() { sleep "$(awk -v p="$pause" -v r="$RANDOM" 'BEGIN { printf "%.2f", p * (0.5 + r / 32767) }')"; }

# run_soak STORE_URL WORK_DIR PG_RESTARTS: the load, the faults, the check.
run_soak() {
  local store=$1 work=$2 restarts=$3 port server_pid load_pid
  port=$(free_port)
  start() {
    "$server" --listen="127.0.0.1:$port" --metrics-listen= --store="$store" \
      --shutdown-grace=1s 2>>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 400); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
      sleep 0.05
    done
    echo "soak: the server did not come up" >&2
    tail "$work/server.log" >&2
    return 1
  }
  start
  "$tool" load --target "127.0.0.1:$port" --log "$work/acks.log" --writers 8 \
    --identities 200 --seconds 3600 >"$work/load.out" 2>&1 &
  load_pid=$!
  local k r
  for ((k = 0; k < kills; ++k)); do
    nap
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    start
  done
  for ((r = 0; r < restarts; ++r)); do
    nap
    eval "$AJ_PG_STOP" >/dev/null
    sleep 0.5
    eval "$AJ_PG_START" >/dev/null
  done
  nap
  kill "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
  local acks
  acks=$(wc -l <"$work/acks.log")
  echo "soak: $kills SIGKILLs, $restarts PostgreSQL restarts; the load's acknowledgements: $acks"
  local rc=0
  "$tool" check --target "127.0.0.1:$port" --log "$work/acks.log" || rc=1
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  if ((acks == 0)); then
    echo "soak: nothing was acknowledged; the run proves nothing" >&2
    rc=1
  fi
  return $rc
}

if [[ ${inner:-} == postgres ]]; then
  work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-soak-pg.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "soak: PostgreSQL"
  run_soak "$ACTIONJOURNAL_TEST_POSTGRES_DSN" "$work" "$pg_restarts"
  exit
fi

rc=0
if [[ $backend == sqlite || $backend == both ]]; then
  work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-soak-sqlite.XXXXXX")
  echo "soak: SQLite"
  run_soak "sqlite://$work/journal.db" "$work" 0 || rc=1
  rm -rf "$work"
fi
if [[ $backend == postgres || $backend == both ]]; then
  ./scripts/with-postgres.sh "$0" --inner postgres --kills "$kills" \
    --pg-restarts "$pg_restarts" --pause "$pause" || rc=1
fi
exit $rc
