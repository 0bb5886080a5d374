#!/usr/bin/env bash
# The client's link to the server partitioned with appends in flight, in two
# shapes, under the soak load (the C++ client; the pure-Java client's test
# is java/client's PartitionTest). Hosts: pg, srv, cli. Outcome checked:
#   - a 5 s partition (every packet silently dropped), then healed: the
#     client's retries (1 s deadline each, 40 s budget) carry every call
#     across it, acknowledgements again within 5 s of the heal;
#   - a half-open connection: the client's connections to the server die
#     silently for good (their packets dropped, as when a NAT or a load
#     balancer forgets them) while new ones work: the client notices by its
#     keepalive pings (ClientOptions::keepalive_time 10 s + timeout 5 s),
#     reconnects, and is acknowledged again within 20 s; without keepalives
#     every retry went to the dead connection until the budget ran out;
#   - no call given up; each retry answered DUPLICATE or the stored entry:
#     nothing acknowledged lost, no identity with two results (soak_tool
#     check, through a fresh connection).
# usage: client_partition_test.sh BUILD_DIR
source "$(dirname "$0")/harness.sh"
faults_setup "$1" srv cli
server_on srv
srv=$(ip_of srv):7450
load_on cli "$srv" main --deadline_ms=1000 --retry_budget_seconds=40
acks_past main 100 20 || fail "no acknowledgement before the partition"

# 1. A partition, healed.
partition cli srv
sleep 5
lines=$(acks main)
heal cli srv
healed_at=$(now)
acks_past main "$lines" 5 || fail "no acknowledgement 5 s after the partition healed"
after_heal=$(since "$healed_at")
sleep 2

# 2. The connections open now die silently; new ones are let through.
ports=$(on cli ss -Htn state established "( dport = :7450 )" | awk '{ sub(/.*:/, "", $3); print $3 }')
[[ -n $ports ]] || fail "the client has no connection to the server"
for p in $ports; do
  on srv iptables -A INPUT -s "$(ip_of cli)" -p tcp --sport "$p" -j DROP
  on cli iptables -A INPUT -s "$(ip_of srv)" -p tcp --dport "$p" -j DROP
done
dead_at=$(now)
sleep 1
lines=$(acks main)
acks_past main "$lines" 20 || fail "no acknowledgement 20 s after its connection went half-open"
reconnected=$(since "$dead_at")
sleep 2

load_stop main
main=$(summary main)
grep -q ' errors=0 ' <<<"$main" || fail "the client gave up on calls: $main"
max_call=$(sed -n 's/.*max_call_ms=\([0-9]*\).*/\1/p' <<<"$main")
((max_call <= 41000)) || fail "a call took $max_call ms, past its 40 s budget"
check=$(check_on cli "$srv" faults "$work/main.acks")
echo "$check"
echo "fault: client-server partition: acknowledged again ${after_heal} s after a 5 s partition healed; after its connections went half-open, acknowledged again by ${reconnected} s (keepalive 10 s + 5 s); longest call ${max_call} ms, none given up ($main); $check"
faults_ok=1
