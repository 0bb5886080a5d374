#!/usr/bin/env bash
# One of two server replicas partitioned from PostgreSQL while the other is
# healthy, under the soak load of a client that balances over both
# (round_robin over "ipv4:a,b", as over a headless Service). Hosts: pg, srv1,
# srv2, cli. Outcome checked:
#   - srv1 goes NOT_SERVING within --health-timeout (2 s) + 1 s, and the
#     client, which watches each replica's health, stops sending it calls;
#     but records srv1 held locked at the cut stay locked until PostgreSQL
#     ends its sessions (--pg-link-timeout, 10 s), and srv2's write batches
#     that touch one wait for them, holding up the other writes batched with
#     them (a known limit, docs/operations.md). So a probe without retries
#     (1 s deadline, a job of its own) is answered OK every time from 14 s
#     after the cut (--pg-link-timeout + 4 s) until the heal at 20 s; its
#     failures between 5 and 14 s are counted and printed;
#   - no call of the load given up (the calls caught on srv1 are retried on
#     srv2), acknowledgements go on while srv1 is cut off;
#   - after the heal srv1 gets calls again within 10 s;
#   - nothing acknowledged lost, no identity with two results.
# usage: replica_partition_test.sh BUILD_DIR
source "$(dirname "$0")/harness.sh"
faults_setup "$1" srv1 srv2 cli
server_on srv1
server_on srv2
s1=$(ip_of srv1):7450
s2=$(ip_of srv2):7450
load_on cli "ipv4:$s1,$s2" main --writers=4 --deadline_ms=1000 --retry_budget_seconds=30
# The probe writes each record once more at most (--identity_window=1), so
# that its own records srv1 held do not keep failing it.
load_on cli "ipv4:$s1,$s2" probe --writers=2 --deadline_ms=1000 --max_attempts=1 \
  --job=probe --identity_window=1 --error_log="$work/probe.errors"
acks_past main 100 20 || fail "no acknowledgement before the fault"
requests() { # calls host $1 has answered, all methods and codes
  on "$1" curl -fsS --max-time 2 "http://$(ip_of "$1"):9450/metrics" |
    awk '/^actionjournal_requests_total\{/ { n += $2 } END { printf "%.0f", n }'
}
(($(requests srv1) > 0 && $(requests srv2) > 0)) || fail "the client does not balance over both replicas"

partition srv1 pg
cut_at=$(now)
unready=
for _ in $(seq 50); do
  if ! serving srv1 "$s1"; then unready=$(since "$cut_at"); break; fi
  sleep 0.1
done
[[ -n $unready ]] || fail "srv1 stayed SERVING without PostgreSQL"
lines=$(acks main)
sleep 18
acks_past main "$lines" 1 || fail "no acknowledgement while srv1 was cut off"

heal srv1 pg
healed_at=$(now)
: >>"$work/probe.errors"
ms() { awk -v t="$1" -v d="$2" 'BEGIN { printf "%.0f", (t + d) * 1000 }'; }
between() {  # probe failures from cut + $1 s to cut + $2 s
  awk -v from="$(ms "$cut_at" "$1")" -v to="$(ms "$cut_at" "$2")" \
    '$1 >= from && $1 <= to { n++ } END { print n + 0 }' "$work/probe.errors"
}
late=$(between 14 "$(awk -v h="$healed_at" -v c="$cut_at" 'BEGIN { print h - c }')")
stalled=$(between 5 14)
last_stalled=$(awk -v cut="$(ms "$cut_at" 0)" -v to="$(ms "$healed_at" 0)" \
  '$1 <= to { last = ($1 - cut) / 1000 } END { printf "%.1f", last }' "$work/probe.errors")
early=$(wc -l <"$work/probe.errors")
((late == 0)) || fail "$late calls without retries failed from 14 s after the cut (the last $last_stalled s after it; srv1 NOT_SERVING after $unready s)"
back=
for _ in $(seq 100); do
  before=$(requests srv1)
  sleep 0.1
  if (($(requests srv1) > before + 1)); then back=$(since "$healed_at"); break; fi
done
[[ -n $back ]] || fail "srv1 got no calls 10 s after the heal"
sleep 1

load_stop main
load_stop probe
main=$(summary main)
grep -q ' errors=0 ' <<<"$main" || fail "the client gave up on calls: $main"
check=$(check_on cli "$s2" faults "$work/main.acks")
check_on cli "$s2" probe "$work/probe.acks" >/dev/null
echo "$check"
echo "fault: replica partitioned from PostgreSQL: srv1 NOT_SERVING after ${unready} s; a probe without retries failed $early calls in all, $stalled of them 5 s or more after the cut (held up by srv1's locks; the last $last_stalled s after it), none from 14 s after the cut to the heal ($(acks probe) answered); srv1 served again ${back} s after the heal; $main; $check"
faults_ok=1
