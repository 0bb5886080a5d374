#!/usr/bin/env bash
# PostgreSQL's disk full: its WAL on a small filesystem of the test's own (a
# 160 MB tmpfs), filled up under the soak load, then space given back.
# Hosts: pg, srv, cli. Outcome checked:
#   - while PostgreSQL cannot write its WAL (it stops with a PANIC and cannot
#     come back up until there is room), clients are answered UNAVAILABLE or
#     DEADLINE_EXCEEDED only (a probe without retries, 1 s deadline), never
#     another code, and readiness is NOT_SERVING;
#   - the space returns and PostgreSQL is started again (as an operator
#     would): the same server process serves again within 10 s, by itself;
#   - nothing acknowledged lost, no identity with two results, no partial
#     batch (soak_tool check: every acknowledged entry whole, or the call
#     was not acknowledged).
# usage: pg_disk_full_test.sh BUILD_DIR
faults_prepare() {
  mkdir "$work/walfs"
  mount -t tmpfs -o size=160m,mode=0755 tmpfs "$work/walfs"
  chown postgres "$work/walfs"
  pg_initdb_args=(--waldir="$work/walfs/wal")
}
pg_conf="max_wal_size = 64MB
min_wal_size = 32MB
checkpoint_timeout = 30s
restart_after_crash = on"
source "$(dirname "$0")/harness.sh"
faults_setup "$1" srv cli
server_on srv
srv=$(ip_of srv):7450
load_on cli "$srv" main --deadline_ms=2000 --retry_budget_seconds=90
load_on cli "$srv" probe --writers=1 --deadline_ms=1000 --max_attempts=1
acks_past main 200 20 || fail "no acknowledgement before the disk filled"

# Leave 1 MB: less than one WAL segment (16 MB).
free=$(df --output=avail -B1 "$work/walfs" | tail -1)
fallocate -l $((free - 1024 * 1024)) "$work/walfs/filler"
full_at=$(now)
unready=
for _ in $(seq 300); do
  if ! serving srv "$srv"; then unready=$(since "$full_at"); break; fi
  sleep 0.1
done
[[ -n $unready ]] || fail "still SERVING 30 s after the WAL's disk filled"
grep -q "No space left on device" "$work/postgres.log" || fail "PostgreSQL never ran out of space"
sleep 5
lines=$(acks main)
rm "$work/walfs/filler"
freed_at=$(now)
# PostgreSQL restarts by itself after a PANIC while it has room; once it
# could not, it is down and the operator starts it.
if ! on pg "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/pg" status >/dev/null; then
  pg_start || fail "PostgreSQL did not start with space back: $(tail -5 "$work/postgres.log")"
fi
ready=$(await_serving srv "$srv" "$freed_at" 10) || fail "not SERVING 10 s after the space returned"
acks_past main "$lines" 10 || fail "no acknowledgement 10 s after the space returned"
acked=$(since "$freed_at")
sleep 2

load_stop main
load_stop probe
main=$(summary main)
probe=$(summary probe)
grep -q ' errors=0 ' <<<"$main" || fail "the load gave up on calls: $main"
codes=$(sed -n 's/.*errors=[0-9]* (\(.*\) ).*/\1/p' <<<"$probe")
[[ -n $codes ]] || fail "the client without retries saw no failure: the full disk did nothing"
for c in $codes; do
  [[ ${c%%=*} == UNAVAILABLE || ${c%%=*} == DEADLINE_EXCEEDED ]] ||
    fail "a client was answered ${c%%=*} while the disk was full"
done
check=$(check_on cli "$srv" faults "$work/main.acks" "$work/probe.acks")
echo "$check"
echo "fault: PostgreSQL's WAL disk full: NOT_SERVING ${unready} s after it filled, a client without retries answered ${codes}; space back: SERVING after ${ready} s, acknowledging after ${acked} s; the load gave up on nothing; $check"
faults_ok=1
