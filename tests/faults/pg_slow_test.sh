#!/usr/bin/env bash
# PostgreSQL slow: every byte between the servers and PostgreSQL delayed by
# a user-space proxy on the servers' host (fault_proxy), 100 ms each way
# (200 ms added per round trip) for 8 s, then 1 s each way (2 s per round
# trip) for 8 s, then undelayed, under the soak load. Hosts: pg, srv (the
# server, and beside it a second one with --queue_capacity=4, both reaching
# PostgreSQL only through the proxy), cli (the clients). A write batch is
# two round trips (storage/postgres/postgres_store.cc), so a write costs
# 400 ms more, then 4 s. Outcome checked:
#   - latency rises by the added delay, no more: under 200 ms per round
#     trip the server's mean commit (actionjournal_commit_duration_seconds)
#     is 0.4 s (+/- 0.1 s) above the baseline's, and a client without
#     retries (1 writer, so its mean latency is the phase's length over its
#     calls) 0.4 to 1.2 s above (its write may wait for a batch under way);
#   - the queue bound holds: the small-queue server, fed by 3 loads of 4
#     writers, answers RESOURCE_EXHAUSTED under 2 s per round trip (more
#     writes waiting than it queues), each marked for a retry: a unary
#     AppendAction's answer carries the trailer actionjournal-retry-after-ms,
#     and the loads, whose client retries RESOURCE_EXHAUSTED only when
#     marked (AppendActions: per item), give up on nothing;
#   - a client without retries (1 s deadline) is answered OK,
#     RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED only, never later than its
#     deadline + 0.5 s; the loads (5 s deadline, 30 s budget) give up on
#     nothing, no call longer than its budget + 1 s;
#   - memory stays bounded: each server's peak RSS (/proc/PID/status) under
#     the fault is within its baseline + 64 MiB;
#   - after the delay ends, acknowledgements again within 10 s;
#   - nothing acknowledged lost, no identity with two results (soak_tool
#     check).
# Readiness per phase (health SERVING samples) is recorded and printed, not
# checked: a ping is one round trip, and under 2 s per round trip it is
# answered just about within --health-timeout (2 s).
# usage: pg_slow_test.sh BUILD_DIR
source "$(dirname "$0")/harness.sh"
faults_setup "$1" srv cli

on srv "$build/tests/fault_proxy" --target "$(ip_of pg):5432" --listen 127.0.0.1:0 \
  --control 127.0.0.1:0 >"$work/proxy.out" 2>&1 &
proxy_port= proxy_control=
for _ in $(seq 100); do
  read -r _ proxy_port _ proxy_control <"$work/proxy.out" || true
  [[ -n $proxy_control ]] && break
  sleep 0.05
done
[[ -n $proxy_control ]] || fail "fault_proxy did not start: $(cat "$work/proxy.out")"
# One command to the proxy's control port; fails unless answered "ok".
proxy_cmd() {
  local answer
  answer=$(on srv bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && echo "$1" >&3 && read -r -t 5 a <&3 && echo "$a"' \
    "$proxy_control" "$*") || true
  [[ $answer == ok ]] || fail "fault_proxy answered '$answer' to '$*'"
}
dsn="postgresql://postgres@127.0.0.1:$proxy_port/actionjournal"

# The small-queue server beside the main one (its own ports and log).
mkdir -p "$work/small"
server_runner=(ip netns exec "$net_prefix-srv")
start_server "$build/server/actionjournal-server" "$work/small" \
  --listen="$(ip_of srv):7451" --metrics-listen="$(ip_of srv):9451" --store="$dsn" \
  --health-interval=200ms --insecure-allow-unauthenticated --queue_capacity=4 ||
  fail "the small-queue server did not start"
server_runner=()
small_pid=$server_pid
small=$(ip_of srv):7451
server_on srv --store="$dsn"
srv=$(ip_of srv):7450
grep -q "port=$proxy_port " "$work/srv/server.log" || fail "the server does not use the proxy"

metric_at() {
  on srv curl -fsS --max-time 5 "http://$(ip_of srv):$1/metrics" |
    awk -v k="$2" 'index($0, k " ") == 1 { print $2 }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
codes_of() { sed -n 's/.*errors=[0-9]* (\(.*\) ).*/\1/p' <<<"$1"; }
# RESOURCE_EXHAUSTED=N out of a summary (0 when none).
exhausted_of() { sed -n 's/.*RESOURCE_EXHAUSTED=\([0-9]*\).*/\1/p' <<<"$1" | grep . || echo 0; }

# Unary AppendActions (a hand-made request: job faults-mark, record "cq",
# step 0 SUCCEEDED) to the small server over HTTP/2 with curl, which prints
# the answers' trailers: eight at once, more than its queue holds, so that
# the queue is full for some whatever the loads' retries left in it. Is one
# of them RESOURCE_EXHAUSTED (grpc-status 8) with the retry mark?
marked_refusal() {
  local req='\x0a\x13\x0a\x0bfaults-mark\x12\x02cq\x18\x01\x12\x01a\x22\x05\x12\x01f\x20\x02' i
  local curls=()
  for i in 1 2 3 4 5 6 7 8; do
    printf "\x00\x00\x00\x00\x1f$req" |
      on cli curl -sS --http2-prior-knowledge --max-time 2 -H 'content-type: application/grpc' \
        -H 'te: trailers' -H 'grpc-timeout: 1S' --data-binary @- -D - -o /dev/null \
        "http://$small/actionjournal.v1.ActionJournal/AppendAction" >"$work/unary.$i.out" 2>&1 &
    curls+=($!)
  done
  wait "${curls[@]}" 2>/dev/null || true
  cat "$work"/unary.*.out >"$work/unary.out"
  for i in 1 2 3 4 5 6 7 8; do
    grep -q '^grpc-status: 8' "$work/unary.$i.out" &&
      grep -qi '^actionjournal-retry-after-ms: [0-9]' "$work/unary.$i.out" && return 0
  done
  return 1
}

load_on cli "$srv" main --writers=8 --deadline_ms=5000 --retry_budget_seconds=30
for i in 1 2 3; do
  load_on cli "$small" "sq$i" --writers=4 --deadline_ms=5000 --retry_budget_seconds=30
done
acks_past main 0 20 || fail "no acknowledgement before the fault"
sleep 1
base_rss=$(rss_kb "$server_pid") base_small_rss=$(rss_kb "$small_pid")
peak_rss=$base_rss peak_small_rss=$base_small_rss
mark_at=

# phase NAME DELAY_US SECONDS: the proxy's one-way delay set, probes without
# retries on both servers for SECONDS; sets the phase's figures.
declare -A p_summary q_summary p_latency commit_ms ready_of main_acks
phase() {
  local name=$1 delay=$2 seconds=$3
  proxy_cmd delay "$delay"
  local c_sum c_count m0 start samples=0 serving_n=0
  c_sum=$(metric srv actionjournal_commit_duration_seconds_sum)
  c_count=$(metric srv actionjournal_commit_duration_seconds_count)
  m0=$(acks main)
  start=$(now)
  load_on cli "$srv" "p_$name" --writers=1 --deadline_ms=1000 --max_attempts=1
  load_on cli "$small" "q_$name" --writers=1 --deadline_ms=1000 --max_attempts=1
  while within "$start" "$seconds"; do
    samples=$((samples + 1))
    if serving srv "$srv"; then serving_n=$((serving_n + 1)); fi
    local r
    r=$(rss_kb "$server_pid")
    if ((r > peak_rss)); then peak_rss=$r; fi
    r=$(rss_kb "$small_pid")
    if ((r > peak_small_rss)); then peak_small_rss=$r; fi
    if [[ $name == d2000 && -z $mark_at ]] && within "$start" "$((seconds - 2))" &&
      ! within "$start" 2 && marked_refusal; then
      mark_at=$(since "$start")
    fi
    sleep 0.5
  done
  load_stop "p_$name" >/dev/null
  load_stop "q_$name" >/dev/null
  local elapsed
  elapsed=$(since "$start")
  p_summary[$name]=$(summary "p_$name")
  q_summary[$name]=$(summary "q_$name")
  local calls=$(($(field acknowledged "${p_summary[$name]}") + $(field errors "${p_summary[$name]}")))
  p_latency[$name]=$(awk -v e="$elapsed" -v n="$calls" 'BEGIN { printf "%.0f", (n ? 1000 * e / n : 0) }')
  commit_ms[$name]=$(awk -v s0="$c_sum" -v n0="$c_count" \
    -v s1="$(metric srv actionjournal_commit_duration_seconds_sum)" \
    -v n1="$(metric srv actionjournal_commit_duration_seconds_count)" \
    'BEGIN { printf "%.0f", (n1 > n0 ? 1000 * (s1 - s0) / (n1 - n0) : -1) }')
  ready_of[$name]="$serving_n/$samples"
  main_acks[$name]=$(($(acks main) - m0))
}

phase base 0 4
phase d200 100000 8
phase d2000 1000000 8
proxy_cmd delay 0
lines=$(acks main)
undelayed_at=$(now)
acks_past main "$lines" 10 || fail "no acknowledgement 10 s after the delay ended"
resumed=$(since "$undelayed_at")
phase after 0 4

load_stop main >/dev/null
for i in 1 2 3; do load_stop "sq$i" >/dev/null; done
main=$(summary main)

report=
for name in base d200 d2000 after; do
  p=${p_summary[$name]}
  report+=" $name: load acks ${main_acks[$name]}, probe acks $(field acknowledged "$p")"
  report+=" errors $(field errors "$p")$(codes_of "$p" | sed 's/^ */ (/; s/$/)/; s/^ ()$//')"
  report+=" mean ${p_latency[$name]} ms, commit mean ${commit_ms[$name]} ms,"
  report+=" small-queue probe RESOURCE_EXHAUSTED=$(exhausted_of "${q_summary[$name]}"), SERVING ${ready_of[$name]};"
  echo "$name: probe ${p_summary[$name]#load: }; small-queue probe ${q_summary[$name]#load: }"
done
echo "main: ${main#load: }"

# Latency: 2 round trips of 200 ms more per batch.
awk -v b="${commit_ms[base]}" -v d="${commit_ms[d200]}" 'BEGIN { exit !(d - b >= 300 && d - b <= 500) }' ||
  fail "mean commit ${commit_ms[d200]} ms under 200 ms per round trip (baseline ${commit_ms[base]} ms, expected +400 ms)"
awk -v b="${p_latency[base]}" -v d="${p_latency[d200]}" 'BEGIN { exit !(d - b >= 400 && d - b <= 1200) }' ||
  fail "a client's mean latency ${p_latency[d200]} ms under 200 ms per round trip (baseline ${p_latency[base]} ms)"

# Every probe: OK, RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED, within its
# deadline; under 2 s per round trip also UNAVAILABLE, from a client that
# saw the server go NOT_SERVING (its ping took --health-timeout) and failed
# fast.
for name in base d200 d2000 after; do
  for s in "${p_summary[$name]}" "${q_summary[$name]}"; do
    for c in $(codes_of "$s"); do
      [[ ${c%%=*} == RESOURCE_EXHAUSTED || ${c%%=*} == DEADLINE_EXCEEDED ||
        ($name == d2000 && ${c%%=*} == UNAVAILABLE) ]] ||
        fail "a client was answered ${c%%=*} with PostgreSQL slow ($name): $s"
    done
    (($(field max_call_ms "$s") <= 1500)) || fail "a call with a 1 s deadline took $(field max_call_ms "$s") ms ($name)"
  done
done
(($(field acknowledged "${p_summary[after]}") > 0)) || fail "the probe had no acknowledgement after the delay"

# The queue bound: refusals under 2 s per round trip, marked for a retry.
refused=$(exhausted_of "${q_summary[d2000]}")
((refused > 0)) || fail "the small-queue server refused nothing under 2 s per round trip: ${q_summary[d2000]}"
[[ -n $mark_at ]] || fail "no unary RESOURCE_EXHAUSTED with actionjournal-retry-after-ms: $(cat "$work/unary.out")"
# The server counts them: a batch refused item by item by a full write queue
# is busy too (it was counted nowhere).
busy=$(metric_at 9451 'actionjournal_busy_total{method="AppendActions"}')
busy_unary=$(metric_at 9451 'actionjournal_busy_total{method="AppendAction"}')
((${busy:-0} > 0)) || fail "actionjournal_busy_total{method=\"AppendActions\"} is ${busy:-absent} after $refused refusals"
((${busy_unary:-0} > 0)) || fail "actionjournal_busy_total{method=\"AppendAction\"} is ${busy_unary:-absent} after a unary refusal"

# The loads gave up on nothing, no call past its budget.
max_load=0
for name in main sq1 sq2 sq3; do
  s=$(summary "$name")
  grep -q ' errors=0 ' <<<"$s" || fail "the load $name gave up on calls: $s"
  m=$(field max_call_ms "$s")
  ((m <= 31000)) || fail "a call of $name took $m ms, past its 30 s budget"
  if ((m > max_load)); then max_load=$m; fi
done

# Memory.
((peak_rss <= base_rss + 65536)) || fail "the server's RSS grew from $base_rss kB to $peak_rss kB"
((peak_small_rss <= base_small_rss + 65536)) ||
  fail "the small-queue server's RSS grew from $base_small_rss kB to $peak_small_rss kB"

check=$(check_on cli "$srv" faults "$work"/{main,sq1,sq2,sq3,p_*,q_*}.acks)
echo "$check"
echo "fault: PostgreSQL slow:$report acknowledging again ${resumed} s after the delay ended;" \
  "small-queue server: unary RESOURCE_EXHAUSTED with actionjournal-retry-after-ms ${mark_at} s into the 2 s phase," \
  "its actionjournal_busy_total AppendActions ${busy}, AppendAction ${busy_unary}; loads' longest call ${max_load} ms (budget 30 s), none given up;" \
  "RSS peak ${peak_rss} kB (baseline ${base_rss} kB), small-queue ${peak_small_rss} kB (baseline ${base_small_rss} kB); $check"
faults_ok=1
