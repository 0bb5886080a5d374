#!/usr/bin/env bash
# Packet loss on the server's link to PostgreSQL: 5% of the packets dropped
# at random (both directions, iptables statistic: the kernel's own TCP
# retransmits them) for 10 s, then 30% for 10 s, then none, under the soak
# load. Hosts: pg, srv (the server), cli (the clients). Outcome checked:
#   - the load's retries (4 writers, 2 s deadline, 60 s budget) outlast the loss: no
#     call given up, none longer than its budget + 1 s;
#   - acknowledgements go on in every phase: some in each, throughput per
#     phase printed as a ratio to the baseline's;
#   - after the loss: SERVING, and acknowledgements at 50% of the baseline
#     rate or more, within 10 s;
#   - nothing acknowledged lost, no identity with two results (soak_tool
#     check).
# Readiness per phase (health SERVING samples), the longest stretch without
# an acknowledgement, the TCP retransmits of both hosts and the server's
# store errors are recorded and printed, not checked.
# usage: pg_loss_test.sh BUILD_DIR
source "$(dirname "$0")/harness.sh"
faults_setup "$1" srv cli
server_on srv
srv=$(ip_of srv):7450
load_on cli "$srv" main --deadline_ms=2000 --retry_budget_seconds=60
acks_past main 0 20 || fail "no acknowledgement before the fault"
sleep 1

# TCP segments the server's and PostgreSQL's hosts retransmitted so far.
retrans() {
  echo $(($(on srv awk '$1 == "Tcp:" && ++n == 2 { print $13 }' /proc/net/snmp) +
    $(on pg awk '$1 == "Tcp:" && ++n == 2 { print $13 }' /proc/net/snmp)))
}
store_errors() {
  local code total=0 n
  for code in UNAVAILABLE DEADLINE_EXCEEDED ABORTED INTERNAL UNKNOWN; do
    n=$(metric srv "actionjournal_store_errors_total{code=\"$code\"}")
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
[[ $(on srv awk '$1 == "Tcp:" && ++n == 1 { print $13 }' /proc/net/snmp) == RetransSegs ]] ||
  fail "no RetransSegs in /proc/net/snmp"

# phase NAME PCT SECONDS: PCT% loss for SECONDS; sets the phase's figures.
declare -A rate ready_of gap_of retrans_of errors_of acked
phase() {
  local name=$1 pct=$2 seconds=$3
  lossy srv pg "$pct"
  local a0 r0 e0 start last seen i=0 samples=0 serving_n=0 gap=0 n
  a0=$(acks main) r0=$(retrans) e0=$(store_errors)
  start=$(now) last=$start seen=$a0
  # Acknowledgements sampled every 0.1 s, readiness every 0.5 s.
  while within "$start" "$seconds"; do
    if ((i++ % 5 == 0)); then
      samples=$((samples + 1))
      if serving srv "$srv"; then serving_n=$((serving_n + 1)); fi
    fi
    n=$(acks main)
    if ((n > seen)); then
      seen=$n last=$(now)
    else
      gap=$(awk -v g="$gap" -v s="$(since "$last")" 'BEGIN { print (s > g ? s : g) }')
    fi
    sleep 0.1
  done
  local elapsed
  elapsed=$(since "$start")
  acked[$name]=$(($(acks main) - a0))
  rate[$name]=$(awk -v n="${acked[$name]}" -v e="$elapsed" 'BEGIN { printf "%.1f", n / e }')
  ready_of[$name]="$serving_n/$samples"
  gap_of[$name]=$gap
  retrans_of[$name]=$(($(retrans) - r0))
  errors_of[$name]=$(($(store_errors) - e0))
}

phase base 0 5
phase loss5 5 10
phase loss30 30 10
lossy srv pg 0
healed_at=$(now)
ready=$(await_serving srv "$srv" "$healed_at" 10) || fail "not SERVING 10 s after the loss ended"
# The rate back: half the baseline's in a second, within 10 s.
recovered=
for _ in $(seq 10); do
  n=$(acks main)
  sleep 1
  if awk -v d="$(($(acks main) - n))" -v b="${rate[base]}" 'BEGIN { exit !(d >= b / 2) }'; then
    recovered=$(since "$healed_at")
    break
  fi
done
[[ -n $recovered ]] || fail "the throughput not back to half the baseline's 10 s after the loss ended"
phase after 0 5

load_stop main
main=$(summary main)
grep -q ' errors=0 ' <<<"$main" || fail "the load gave up on calls: $main"
max_main=$(sed -n 's/.*max_call_ms=\([0-9]*\).*/\1/p' <<<"$main")
((max_main <= 61000)) || fail "a call took $max_main ms, past its 60 s budget"

report=
for name in base loss5 loss30 after; do
  ratio=$(awk -v r="${rate[$name]}" -v b="${rate[base]}" 'BEGIN { printf "%.2f", r / b }')
  report+=" $name: ${acked[$name]} acks (${rate[$name]}/s, ${ratio} of the baseline's), longest without one ${gap_of[$name]} s,"
  report+=" SERVING ${ready_of[$name]}, ${retrans_of[$name]} TCP retransmits, ${errors_of[$name]} store errors;"
  echo "$name: ${acked[$name]} acks, ${rate[$name]}/s (${ratio}), longest gap ${gap_of[$name]} s, SERVING ${ready_of[$name]}, retransmits ${retrans_of[$name]}, store errors ${errors_of[$name]}"
  ((acked[$name] > 0)) || fail "no acknowledgement in phase $name"
done
check=$(check_on cli "$srv" faults "$work/main.acks")
echo "$check"
echo "fault: server-PostgreSQL packet loss:$report SERVING ${ready} s and half the baseline's rate ${recovered} s after the loss ended; load's longest call ${max_main} ms (budget 60 s), none given up; $check"
faults_ok=1
