# Sourced by the fault tests (tests/faults/*_test.sh): PostgreSQL on a test
# host of its own ("pg"), servers and clients on others (netns.sh), the soak
# load and check (tests/soak), and clean-up of all of it on exit.
#
#   faults_setup BUILD_DIR HOST...   work dir, hosts pg and HOST..., and a
#                                    PostgreSQL on pg (port 5432 of its own
#                                    address; initdb gets pg_initdb_args,
#                                    postgresql.conf pg_conf, if set);
#                                    sets pg_dsn, work; pg_start restarts it;
#                                    a function faults_prepare, if defined,
#                                    runs in $work first
#   server_on HOST [FLAGS...]        the server on HOST (its port 7450) on
#                                    PostgreSQL; sets server_pid, grpc,
#                                    metrics, as start_server does
#   load_on HOST TARGET NAME [ARGS]  soak load from HOST to TARGET in the
#                                    background, acks in $work/NAME.acks
#   load_stop NAME                   ends it, prints its summary (and
#                                    summary NAME prints it again)
#   check_on HOST TARGET JOB ACKS... soak_tool check (fails the test)
#   acks NAME                        acknowledgements so far
#   metric HOST NAME                 one sample of the server's /metrics
#   serving HOST TARGET              health SERVING within 1 s?
#   fail MESSAGE                     fails the test, keeping the logs
# Every test states the fault, what a client sees and the bound it proves,
# and prints one "fault:" line with the measured figures.
set -euo pipefail
faults_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$faults_dir/../../scripts/debian-versions.sh"
source "$faults_dir/../testing/server.sh"
source "$faults_dir/netns.sh"

if [[ $(id -u) -ne 0 ]]; then
  echo "faults: SKIPPED: needs root (network namespaces, iptables)" >&2
  exit 77
fi
as_pg=(runuser -u postgres --)
faults_ok=0
pg_initdb_args=()
declare -A load_pids=()

faults_cleanup() {
  local pid
  for pid in "${load_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  net_down
  [[ -z ${work:-} || ! -d $work/pg ]] ||
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  [[ -z ${work:-} ]] || ! mountpoint -q "$work/walfs" || umount "$work/walfs"
  if ((faults_ok)); then rm -rf "$work"; else echo "faults: logs kept in ${work:-?}" >&2; fi
}
trap faults_cleanup EXIT

fail() {
  echo "faults: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# Less than $2 seconds since time $1?
within() { awk -v e="$(since "$1")" -v s="$2" 'BEGIN { exit !(e < s) }'; }

faults_setup() {
  build=$1
  shift
  # Under /tmp itself: the user postgres must enter it.
  work=$(mktemp -d /tmp/aj-faults.XXXXXX)
  chmod 755 "$work"
  chown postgres "$work"
  # A test's own preparation of the work dir, before initdb.
  if declare -F faults_prepare >/dev/null; then faults_prepare; fi
  net_up pg "$@"
  "${as_pg[@]}" "$PGBIN/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 \
    "${pg_initdb_args[@]}" >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; exit 1; }
  cat >>"$work/pg/postgresql.conf" <<CONF
listen_addresses = '$(ip_of pg)'
port = 5432
unix_socket_directories = '$work'
fsync = off
${pg_conf:-}
CONF
  echo "host all all 10.0.0.0/8 trust" >>"$work/pg/pg_hba.conf"
  pg_start || { cat "$work/postgres.log"; exit 1; }
  on pg "${as_pg[@]}" "$PGBIN/createdb" -h "$(ip_of pg)" -U postgres actionjournal
  pg_dsn="postgresql://postgres@$(ip_of pg):5432/actionjournal"
  psql_pg=(on pg "$PGBIN/psql" -At -h "$(ip_of pg)" -U postgres -d actionjournal)
}

pg_start() {
  on pg "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/postgres.log" -w -t 60 start >/dev/null
}

server_on() {
  local host=$1
  shift
  mkdir -p "$work/$host"
  server_runner=(ip netns exec "$net_prefix-$host")  # $! is the server's
  start_server "$build/server/actionjournal-server" "$work/$host" \
    --listen="$(ip_of "$host"):7450" --metrics-listen="$(ip_of "$host"):9450" \
    --store="$pg_dsn" --health-interval=200ms --insecure-allow-unauthenticated "$@" ||
    fail "the server on $host did not start"
  server_runner=()
}

load_on() {
  local host=$1 target=$2 name=$3
  shift 3
  : >"$work/$name.acks"
  ip netns exec "$net_prefix-$host" "$build/tests/soak_tool" load --target="$target" --job=faults \
    --ack_log="$work/$name.acks" --writers=4 --seconds=600 "$@" >"$work/$name.load" 2>&1 &
  load_pids[$name]=$!
}

load_stop() {
  local name=$1
  kill -TERM "${load_pids[$name]}"
  wait "${load_pids[$name]}" || fail "the load $name failed: $(cat "$work/$name.load")"
  unset "load_pids[$name]"
  echo "$name: $(summary "$name")"
}

# The load's summary line: counts, error codes, longest call.
summary() { tail -1 "$work/$1.load"; }

acks() { wc -l <"$work/$1.acks"; }

# Waits up to $3 s for more than $2 acknowledgements in load $1.
acks_past() {
  local name=$1 lines=$2 limit=$3
  for _ in $(seq "$((limit * 20))"); do
    (($(acks "$name") > lines)) && return 0
    sleep 0.05
  done
  return 1
}

check_on() {
  local host=$1 target=$2 job=$3
  shift 3
  on "$host" "$build/tests/soak_tool" check --target="$target" --job="$job" "$@" \
    >"$work/check.out" 2>&1 || fail "soak_tool check: $(cat "$work/check.out")"
  tail -1 "$work/check.out"
}

metric() {
  on "$1" curl -fsS --max-time 2 "http://$(ip_of "$1"):9450/metrics" |
    awk -v k="$2" 'index($0, k " ") == 1 { print $2 }'
}

serving() {
  on "$1" "$build/client/actionjournal-cli" --target "$2" --deadline 1s health >/dev/null 2>&1
}

# await_serving HOST ADDR T0 SECONDS: prints the seconds from T0 until the
# server at ADDR (reached from HOST) answers SERVING, polled every 0.1 s;
# fails after SECONDS polls' worth.
await_serving() {
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    if serving "$1" "$2"; then
      since "$3"
      return 0
    fi
    sleep 0.1
  done
  return 1
}
