#!/usr/bin/env bash
# Soak and fault run: a real actionjournal-server under a load of racing
# appends (tests/soak/soak_tool.cc), SIGKILLed N times at random moments and
# restarted on the same store; on PostgreSQL (a throwaway PostgreSQL 15 of its
# own, scripts/with-postgres.sh) PostgreSQL is also restarted M times under
# the load. Then every acknowledged append must be in the store byte for byte
# and no identity may hold two results; the counts are printed. Last, a
# tampered copy of the ack log must make the check fail (proof it can).
#
# usage: soak.sh [--kills N] [--pg-restarts M] [--backend sqlite|postgres|both]
#                [--writers W] [--max-interval SECONDS] [--time-limit SECONDS]
#                [--build-dir DIR] [--no-build] [--keep]
# Exit 0 when nothing was lost; 1 when something was (or a fault run broke).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

kills=20 pg_restarts=3 backend=both writers=6 max_interval=1.5 time_limit=1800
build_dir=$root/build build=1 keep=0
args=("$@")
while (($#)); do
  case $1 in
    --kills) kills=$2; shift ;;
    --pg-restarts) pg_restarts=$2; shift ;;
    --backend) backend=$2; shift ;;
    --writers) writers=$2; shift ;;
    --max-interval) max_interval=$2; shift ;;
    --time-limit) time_limit=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,12p' "$0" | cut -c3-; exit 0 ;;
    *) echo "soak: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $backend in sqlite|postgres|both) ;; *) echo "soak: --backend sqlite|postgres|both" >&2; exit 2 ;; esac
[[ $kills =~ ^[0-9]+$ && $pg_restarts =~ ^[0-9]+$ ]] || { echo "soak: counts are integers" >&2; exit 2; }

server_bin=$build_dir/server/actionjournal-server
tool=$build_dir/tests/soak_tool
if ((build)) && [[ -z ${AJ_SOAK_INSIDE_PG:-} ]]; then
  ./scripts/build.sh actionjournal-server soak_tool >/dev/null
fi
[[ -x $server_bin && -x $tool ]] || { echo "soak: missing $server_bin or $tool (build first)" >&2; exit 2; }

# Both backends: SQLite here, PostgreSQL in a second run of this script
# inside its own throwaway PostgreSQL (never the one the test script shares).
if [[ $backend == both || ($backend == postgres && -z ${AJ_SOAK_INSIDE_PG:-}) ]]; then
  rc=0
  if [[ $backend == both ]]; then
    "$0" "${args[@]}" --backend sqlite --no-build || rc=1
  fi
  AJ_SOAK_INSIDE_PG=1 ./scripts/with-postgres.sh "$0" "${args[@]}" --backend postgres --no-build || rc=1
  exit $rc
fi

source "$root/scripts/free-port.sh"
started=$(date +%s)
log() { echo "soak $backend [$(($(date +%s) - started))s]: $*" >&2; }
# A random duration in [0.2, max_interval] seconds.
random_sleep() {
  local max_ms ms
  max_ms=$(awk -v s="$max_interval" 'BEGIN { printf "%d", s * 1000 }')
  ((max_ms > 200)) || max_ms=201
  ms=$((200 + (RANDOM * 32768 + RANDOM) % (max_ms - 199)))
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
}

work=$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/aj-soak.XXXXXX")
server_pid= load_pid= ok=0
cleanup() {
  [[ -n $load_pid ]] && kill -9 "$load_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if ((ok && !keep)); then rm -rf "$work"; else echo "soak: logs kept in $work" >&2; fi
}
trap cleanup EXIT

if [[ $backend == sqlite ]]; then
  store=sqlite://$work/journal.db
else
  store=${ACTIONJOURNAL_TEST_POSTGRES_DSN:?soak: no PostgreSQL}
  [[ -n ${AJ_PG_CTL:-} ]] || { echo "soak: with-postgres.sh did not export AJ_PG_CTL" >&2; exit 2; }
fi
port=$(free_port)
job=soak-$backend-$$
acks=$work/acks.log
: >"$acks"
starts=0

# Starts the server on $port and waits until it listens (a port still held
# by the killed process is retried).
start_server() {
  local slog
  for _ in $(seq 20); do
    starts=$((starts + 1))
    slog=$work/server.$starts.log
    "$server_bin" --listen="127.0.0.1:$port" --metrics-listen= --store="$store" \
      2>"$slog" &
    server_pid=$!
    for _ in $(seq 300); do
      grep -q 'listening grpc=' "$slog" 2>/dev/null && return 0
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    sleep 0.2
  done
  log "the server does not start; its last log:"; cat "$slog" >&2
  return 1
}

# Waits until the ack log grows: the load is acknowledging again.
wait_for_progress() {
  local before=$1
  for _ in $(seq 600); do
    (($(stat -c %s "$acks") > before)) && return 0
    kill -0 "$load_pid" 2>/dev/null || { log "the load exited"; return 1; }
    sleep 0.05
  done
  log "no acknowledgement within 30 s after a fault"
  return 1
}

start_server
"$tool" load --target="127.0.0.1:$port" --job="$job" --ack_log="$acks" \
  --writers="$writers" >"$work/load.out" 2>&1 &
load_pid=$!
wait_for_progress 0

# The faults, in random order: kills on every backend, PostgreSQL restarts
# on PostgreSQL.
events=()
for _ in $(seq "$kills"); do events+=(kill); done
if [[ $backend == postgres ]]; then
  for _ in $(seq "$pg_restarts"); do events+=(pg); done
fi
mapfile -t events < <(printf '%s\n' "${events[@]}" | grep . | shuf || true)
done_kills=0 done_pg=0 timed_out=0
for event in "${events[@]}"; do
  if (($(date +%s) - started > time_limit)); then timed_out=1; break; fi
  random_sleep
  size=$(stat -c %s "$acks")
  if [[ $event == kill ]]; then
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    done_kills=$((done_kills + 1))
    start_server
  else
    # Alternately a clean fast stop and a crash-like immediate one; the
    # server stays up and must ride it out.
    mode=fast
    ((done_pg % 2)) && mode=immediate
    $AJ_PG_CTL -m "$mode" stop >/dev/null
    random_sleep
    $AJ_PG_CTL start >/dev/null
    done_pg=$((done_pg + 1))
  fi
  wait_for_progress "$size"
  if (((done_kills + done_pg) % 10 == 0)); then
    log "$done_kills kills, $done_pg PostgreSQL restarts, $(wc -l <"$acks") acknowledgements"
  fi
done

kill -TERM "$load_pid"
wait "$load_pid" || { cat "$work/load.out" >&2; log "the load failed"; exit 1; }
load_pid=
cat "$work/load.out"

target=(--target="127.0.0.1:$port" --job="$job")
check_rc=0
check_out=$("$tool" check "${target[@]}" "$acks") || check_rc=$?
echo "$check_out"
if ((check_rc != 0)); then
  log "the check failed: something acknowledged is missing or differs (above)"
  exit 1
fi

# Negative control: a tampered log (one identity given a second value, one
# acknowledgement the store never saw) must fail the same check.
"$tool" forge "$acks" "$work/tampered.log"
tampered_rc=0
tampered_out=$("$tool" check "${target[@]}" "$work/tampered.log" 2>/dev/null) || tampered_rc=$?
if ((tampered_rc != 1)) || ! grep -q 'lost=2 two_results=1' <<<"$tampered_out"; then
  log "the check did not catch a tampered ack log: $tampered_out (exit $tampered_rc)"
  exit 1
fi

# Last, a graceful stop still exits 0 after all that.
kill -TERM "$server_pid"
stop_rc=0
wait "$server_pid" || stop_rc=$?
server_pid=

counts=$(sed -n 's/^check: //p' <<<"$check_out")
echo "soak $backend: kills=$done_kills pg_restarts=$done_pg $counts" \
  "seconds=$(($(date +%s) - started)) tampered_log_caught=yes sigterm_exit=$stop_rc"
((timed_out)) && { log "time limit ($time_limit s) reached before every fault ran"; exit 1; }
((stop_rc == 0)) || { log "SIGTERM exit code $stop_rc, expected 0"; exit 1; }
ok=1
