#!/usr/bin/env bash
# A server's host vanishes mid-batch: between a write batch's two round
# trips (its record locks taken, its writes not yet sent) the host's link
# is deleted, leaving its PostgreSQL session half-open. Hosts: pg, srv (the
# server that vanishes), srv2 (a second server), cli. Outcome checked:
#   - PostgreSQL ends the vanished server's sessions, releasing its locks,
#     within --pg-link-timeout (10 s: PostgreSQL's keepalives and
#     tcp_user_timeout, and idle_in_transaction_session_timeout, set by the
#     server on its sessions) + 3 s;
#   - the second server takes over a record the vanished one held locked
#     (BeginRecord by a higher attempt) within the same bound;
#   - everything acknowledged before is there, once (soak_tool check
#     through the second server).
# The moment is caught, not hoped for: the link is first cut silently and
# PostgreSQL asked whether a session of the server's waits for it inside a
# transaction while a record is locked;
# if not, the cut is healed and tried again (at most 40 times).
# usage: host_vanish_test.sh BUILD_DIR
source "$(dirname "$0")/harness.sh"
faults_setup "$1" srv srv2 cli
server_on srv2
srv2=$(ip_of srv2):7450
server_on srv
srv=$(ip_of srv):7450
load_on cli "$srv" main --writers=8 --identity_window=4 --deadline_ms=2000 --retry_budget_seconds=4
acks_past main 200 30 || fail "no acknowledgement before the fault"

from_srv="client_addr = '$(ip_of srv)'"
# A record row the vanished server holds locked: one no other transaction
# can lock now.
locked_record() {
  "${psql_pg[@]}" -F ' ' -c "SELECT encode(record_key, 'hex'), seq_num FROM records
    WHERE job_id = 'faults' AND (record_key, seq_num) NOT IN (
      SELECT record_key, seq_num FROM records WHERE job_id = 'faults'
      FOR UPDATE SKIP LOCKED) LIMIT 1"
}
caught= tries=0
for tries in $(seq 40); do
  partition srv pg
  cut_at=$(now)
  sleep 0.2
  # Waiting for the server inside a transaction: "active" (a pipeline
  # without its Sync yet) or "idle in transaction".
  idle=$("${psql_pg[@]}" -c "SELECT count(*) FROM pg_stat_activity
    WHERE $from_srv AND state <> 'idle' AND wait_event = 'ClientRead'")
  if ((idle > 0)); then
    read -r key seq < <(locked_record) || true
    [[ -n ${key:-} ]] && { caught=1; break; }
  fi
  heal srv pg
  sleep 0.$((RANDOM % 9 + 1))
done
[[ -n $caught ]] || fail "no batch caught between its round trips in $tries tries"
unplug srv
echo "caught a batch between its round trips on try $tries; the host is gone"

# The second server takes the record over, as the next owner would.
begin=$(on cli "$build/tests/soak_tool" begin --target="$srv2" --job=faults \
  --key_hex="$key" --seq="$seq" --attempt=1000 --deadline_seconds=60) ||
  fail "the second server could not take the record over: $begin"
taken=$(since "$cut_at")
released=
for _ in $(seq 100); do
  if [[ $("${psql_pg[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE $from_srv") == 0 ]]; then
    released=$(since "$cut_at")
    break
  fi
  sleep 0.1
done
[[ -n $released ]] || fail "PostgreSQL still holds the vanished server's sessions"
awk -v t="$taken" 'BEGIN { exit !(t <= 13) }' || fail "the takeover took $taken s (bound 13 s)"
grep -h "terminating connection due to idle-in-transaction timeout\|could not receive data\|connection timed out" \
  "$work/postgres.log" | head -3 || true

load_stop main
check=$(check_on cli "$srv2" faults "$work/main.acks")
echo "$check"
echo "fault: server host vanished mid-batch: the record it held locked taken over by a second server ${taken} s after the cut ($begin), its sessions gone from PostgreSQL by ${released} s (bound: --pg-link-timeout 10 s); $check"
faults_ok=1
