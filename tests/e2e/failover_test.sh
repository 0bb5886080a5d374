#!/usr/bin/env bash
# PostgreSQL failover under a running server (docs/operations.md, "High availability:
# failover"). Starts a primary and a synchronous streaming standby (Debian's
# PostgreSQL 15, pg_basebackup) on private directories and ports of
# 127.0.0.1, runs the server with a two-host store URL
# (target_session_attrs=read-write) under the soak load (tests/soak), stops
# the primary with `-m immediate`, promotes the standby, and checks:
#   - without a primary the server is unready (health NOT_SERVING) and its
#     store calls fail UNAVAILABLE (retryable), never another code; calls
#     answer OK or UNAVAILABLE only, and the load's retries outlast the
#     failover (errors=0);
#   - the same server process serves again by itself, within 10 s of the
#     promotion (health SERVING and the load acknowledged again);
#   - every acknowledged append is on the new primary byte for byte
#     (soak_tool check, through the server, which can reach only it).
# Prints the time to recover. Everything started is stopped afterwards.
# usage: failover_test.sh BUILD_DIR
set -euo pipefail
build=$1
source "$(dirname "$0")/../../scripts/debian-versions.sh"
source "$(dirname "$0")/../../scripts/free-port.sh"
source "$(dirname "$0")/../testing/server.sh"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then as_pg=(runuser -u postgres --); fi

# Under /tmp itself, as with-postgres.sh: the user postgres must enter it (a
# test runner's TEST_TMPDIR is private).
work=$(mktemp -d /tmp/aj-failover.XXXXXX)
chmod 755 "$work"
[[ ${#as_pg[@]} -eq 0 ]] || chown postgres "$work"
server_pid= load_pid= ok=0
pg_ctl() { "${as_pg[@]}" "$PGBIN/pg_ctl" "$@"; }
cleanup() {
  [[ -n $load_pid ]] && kill -9 "$load_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  for d in primary standby; do
    [[ -d $work/$d ]] && pg_ctl -D "$work/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  if ((ok)); then rm -rf "$work"; else echo "failover: logs kept in $work" >&2; fi
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
fail() { echo "failover: $*" >&2; exit 1; }

p1=$(free_port)
p2=$(free_port)
while [[ $p2 == "$p1" ]]; do p2=$(free_port); done

# The primary: replication on; once the standby streams, every commit waits
# for its flush.
"${as_pg[@]}" "$PGBIN/initdb" -D "$work/primary" -U postgres --auth=trust -E UTF8 \
  >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; exit 1; }
cat >>"$work/primary/postgresql.conf" <<CONF
port = $p1
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
fsync = on
wal_level = replica
max_wal_senders = 4
synchronous_commit = on
CONF
pg_ctl -D "$work/primary" -l "$work/primary.log" -w -t 60 start >/dev/null ||
  { cat "$work/primary.log"; exit 1; }
"${as_pg[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$p1" -U postgres actionjournal

# The standby: a base backup streaming from the primary (-R writes
# standby.signal and primary_conninfo). Promoted, it has no standby of its
# own, so it must not wait for one.
"${as_pg[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres \
  -D "$work/standby" -R -X stream --checkpoint=fast >"$work/basebackup.log" 2>&1 ||
  { cat "$work/basebackup.log"; exit 1; }
cat >>"$work/standby/postgresql.conf" <<CONF
port = $p2
synchronous_standby_names = ''
CONF
pg_ctl -D "$work/standby" -l "$work/standby.log" -w -t 60 start >/dev/null ||
  { cat "$work/standby.log"; exit 1; }
psql1=("$PGBIN/psql" -At -h 127.0.0.1 -p "$p1" -U postgres -d actionjournal)
"${psql1[@]}" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" >/dev/null
"${psql1[@]}" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 100); do
  [[ $("${psql1[@]}" -c "SELECT sync_state FROM pg_stat_replication") == sync ]] && break
  sleep 0.1
done
[[ $("${psql1[@]}" -c "SELECT sync_state FROM pg_stat_replication") == sync ]] ||
  fail "the standby is not synchronous"

# The server, with both hosts; it must find the writable one itself.
store="postgresql://postgres@127.0.0.1:$p1,127.0.0.1:$p2/actionjournal?target_session_attrs=read-write&connect_timeout=2"
start_server "$build/server/actionjournal-server" "$work" --store="$store" \
  --metrics-listen=127.0.0.1:0 --health-interval=100ms || fail "the server did not start"
cli=("$build/client/actionjournal-cli" --target "$grpc")

acks=$work/acks.log
: >"$acks"
"$build/tests/soak_tool" load --target="$grpc" --job=failover --ack_log="$acks" \
  --writers=4 >"$work/load.out" 2>&1 &
load_pid=$!
# Acknowledgements after time $1 (a line count taken then).
wait_for_acks_past() {
  local lines=$1 limit=$2
  for _ in $(seq "$((limit * 20))"); do
    (($(wc -l <"$acks") > lines)) && return 0
    sleep 0.05
  done
  return 1
}
wait_for_acks_past 0 20 || fail "no acknowledgement before the failover"
sleep 2
before=$(wc -l <"$acks")

# The failover: the primary dies; 2 s later (a failover manager such as
# Patroni takes about that to decide) the standby is promoted. Meanwhile the
# server must say it is not ready, and its writes fail as UNAVAILABLE.
stopped=$(now)
pg_ctl -D "$work/primary" -m immediate stop >/dev/null
lines_at_stop=$(wc -l <"$acks")
unready=
for _ in $(seq 40); do
  if ! "${cli[@]}" --deadline 1s health >/dev/null 2>&1; then
    unready=$(since "$stopped")
    break
  fi
  sleep 0.05
done
[[ -n $unready ]] || fail "the server stayed SERVING without a primary"
sleep "$(awk -v s="$(since "$stopped")" 'BEGIN { d = 2 - s; print (d > 0 ? d : 0) }')"
promote_at=$(now)
pg_ctl -D "$work/standby" -w -t 60 promote >/dev/null
promoted=$(since "$promote_at")
serving=
for _ in $(seq 200); do
  if "${cli[@]}" --deadline 1s health >/dev/null 2>&1; then
    serving=$(since "$promote_at")
    break
  fi
  sleep 0.05
done
[[ -n $serving ]] || fail "the server is not SERVING 10 s after the promotion"
wait_for_acks_past "$lines_at_stop" 20 || fail "no acknowledgement 20 s after the failover"
acked_again=$(since "$promote_at")
sleep 2
kill -TERM "$load_pid"
wait "$load_pid" || fail "the load failed: $(cat "$work/load.out")"
load_pid=
cat "$work/load.out"
grep -q ' errors=0 ' "$work/load.out" || fail "the load gave up on calls: $(cat "$work/load.out")"
after=$(wc -l <"$acks")
((after > before)) || fail "nothing acknowledged after the failover"

# What the store answered meanwhile: UNAVAILABLE (the batch's appends are
# answered so, each item of an AppendActions on its own, and retried by the
# client), nothing else; no call answered anything but OK or UNAVAILABLE.
curl -fsS "http://$metrics/metrics" >"$work/metrics.txt"
value() { awk -v k="$1" 'index($0, k " ") == 1 { print $2 }' "$work/metrics.txt"; }
unavailable=$(value 'actionjournal_store_errors_total{code="UNAVAILABLE"}')
awk -v u="$unavailable" 'BEGIN { exit !(u > 0) }' ||
  fail "no store call failed as UNAVAILABLE during the failover"
for code in ABORTED DEADLINE_EXCEEDED INTERNAL UNKNOWN; do
  [[ $(value "actionjournal_store_errors_total{code=\"$code\"}") == 0 ]] ||
    fail "the store failed with $code during the failover"
done
others=$(grep '^actionjournal_requests_total{' "$work/metrics.txt" |
  grep -v 'code="OK"' | grep -v 'code="UNAVAILABLE"' || true)
[[ -z $others ]] || fail "calls answered other codes than OK and UNAVAILABLE: $others"

# Every acknowledged append, on the new primary (the only server left).
"$build/tests/soak_tool" check --target="$grpc" --job=failover "$acks" |
  tee "$work/check.out"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not exit 0 on SIGTERM"
server_pid=

awk -v s="$serving" 'BEGIN { exit !(s <= 10) }' || fail "recovery took $serving s"
echo "failover: primary stopped; server unready after ${unready} s; standby promoted 2 s after the stop (pg_ctl promote took ${promoted} s); from the promotion, server SERVING after ${serving} s, load acknowledged again after ${acked_again} s; ${unavailable} store calls failed UNAVAILABLE meanwhile, none otherwise; $after acknowledgements verified on the new primary"
ok=1
