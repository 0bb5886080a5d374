#!/usr/bin/env bash
# The server's link to PostgreSQL partitioned (every packet silently
# dropped, no reset) for 5 s and then 30 s, under the soak load, then healed.
# Hosts: pg, srv (the server), cli (the clients). Outcome checked:
#   - readiness: NOT_SERVING within --health-timeout (2 s) + 1 s of the cut,
#     although no store call has failed yet (TCP has not given up);
#   - a client without retries (1 s deadline) is answered OK, UNAVAILABLE or
#     DEADLINE_EXCEEDED only, never later than its deadline + 0.5 s;
#   - the soak load's retries (60 s budget) outlast both partitions: no call
#     given up, none longer than its budget;
#   - after the heal: SERVING again and acknowledgements again within 5 s;
#   - nothing acknowledged lost, no identity with two results (soak_tool
#     check, after both partitions).
# usage: pg_partition_test.sh BUILD_DIR
source "$(dirname "$0")/harness.sh"
faults_setup "$1" srv cli
server_on srv
srv=$(ip_of srv):7450
load_on cli "$srv" main --deadline_ms=2000 --retry_budget_seconds=60
load_on cli "$srv" probe --writers=1 --deadline_ms=1000 --max_attempts=1
acks_past main 0 20 || fail "no acknowledgement before the partition"

report=
for seconds in 5 30; do
  sleep 2
  partition srv pg
  cut_at=$(now)
  unready=
  while within "$cut_at" "$seconds"; do
    if [[ -z $unready ]] && ! serving srv "$srv"; then unready=$(since "$cut_at"); fi
    sleep 0.2
  done
  [[ -n $unready ]] || fail "SERVING throughout a ${seconds} s partition from PostgreSQL"
  awk -v u="$unready" 'BEGIN { exit !(u <= 3) }' || fail "NOT_SERVING only after $unready s"
  lines=$(acks main)
  heal srv pg
  healed_at=$(now)
  ready=$(await_serving srv "$srv" "$healed_at" 5) ||
    fail "not SERVING 5 s after a ${seconds} s partition healed"
  acks_past main "$lines" 5 || fail "no acknowledgement 5 s after a ${seconds} s partition healed"
  acked=$(since "$healed_at")
  report+=" ${seconds}s: NOT_SERVING after ${unready} s, SERVING ${ready} s and acknowledging ${acked} s after the heal;"
done
sleep 1

load_stop main
load_stop probe
main=$(summary main)
probe=$(summary probe)
grep -q ' errors=0 ' <<<"$main" || fail "the load gave up on calls: $main"
max_main=$(sed -n 's/.*max_call_ms=\([0-9]*\).*/\1/p' <<<"$main")
((max_main <= 62000)) || fail "a call took $max_main ms, past its 60 s budget"
max_probe=$(sed -n 's/.*max_call_ms=\([0-9]*\).*/\1/p' <<<"$probe")
((max_probe <= 1500)) || fail "a call with a 1 s deadline took $max_probe ms"
codes=$(sed -n 's/.*errors=[0-9]* (\(.*\) ).*/\1/p' <<<"$probe")
for c in $codes; do
  [[ ${c%%=*} == UNAVAILABLE || ${c%%=*} == DEADLINE_EXCEEDED ]] ||
    fail "a client was answered ${c%%=*} during a partition"
done
[[ -n $codes ]] || fail "the client without retries saw no failure: the partition did nothing"
check=$(check_on cli "$srv" faults "$work/main.acks" "$work/probe.acks")
echo "$check"
echo "fault: server-PostgreSQL partition:$report probe answered ${codes}, longest call ${max_probe} ms (deadline 1 s); load's longest ${max_main} ms, none given up; $check"
faults_ok=1
