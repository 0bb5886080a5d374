# Sourced by the fault tests: test hosts on one machine, each a network
# namespace of its own with one address on a private /24, all plugged into a
# bridge in a switch namespace (so nothing of the machine's own network is
# touched). Needs root, iproute2 and iptables.
#
#   net_up NAME...        a host per NAME (10.A.B.1, .2, ... in that order)
#   ip_of NAME            its address
#   on NAME CMD...        runs CMD inside the host
#   partition A B / heal A B   silent drop of every packet between A and B (in
#                         both firewalls, as they arrive), and its undoing
#   lossy A B PCT         drops PCT% of the packets between A and B, at
#                         random, both directions (0 undoes it)
#   unplug NAME           deletes the host's link: it vanishes from the
#                         network with its connections half-open
#   net_down              kills what runs in the hosts, deletes them
# Names are per process, so tests may run beside each other.
net_prefix=aj$$
net_hosts=()
net_a=$((100 + $$ % 100))
net_b=$(($$ / 100 % 250))

net_up() {
  ip netns add "$net_prefix-sw"
  ip -n "$net_prefix-sw" link add br0 type bridge
  ip -n "$net_prefix-sw" link set br0 up
  ip -n "$net_prefix-sw" link set lo up
  local name
  for name in "$@"; do
    net_hosts+=("$name")
    local i=${#net_hosts[@]} ns=$net_prefix-$name
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "v$$h$i" netns "$ns" type veth peer name "v$$s$i" netns "$net_prefix-sw"
    ip -n "$ns" link set "v$$h$i" name eth0
    ip -n "$ns" addr add "10.$net_a.$net_b.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$net_prefix-sw" link set "v$$s$i" master br0 up
  done
}

ip_of() {
  local i
  for i in "${!net_hosts[@]}"; do
    [[ ${net_hosts[$i]} == "$1" ]] && { echo "10.$net_a.$net_b.$((i + 1))"; return; }
  done
  echo "netns: no host $1" >&2
  return 1
}

on() {
  local name=$1
  shift
  ip netns exec "$net_prefix-$name" "$@"
}

# On each side's INPUT: a drop on OUTPUT would tell the sender (EPERM).
_fw() {
  local verb=$1 a=$2 b=$3
  shift 3
  on "$a" iptables "$verb" INPUT -s "$(ip_of "$b")" "$@" -j DROP
  on "$b" iptables "$verb" INPUT -s "$(ip_of "$a")" "$@" -j DROP
}
partition() { _fw -A "$1" "$2"; }
heal() { _fw -D "$1" "$2"; }
lossy() {
  local a=$1 b=$2 pct=$3
  on "$a" iptables -F
  on "$b" iptables -F
  ((pct == 0)) && return
  _fw -A "$a" "$b" -m statistic --mode random --probability "$(awk -v p="$pct" 'BEGIN { print p / 100 }')"
}

unplug() { on "$1" ip link del eth0; }

net_down() {
  local name pid
  for name in "${net_hosts[@]}"; do
    for pid in $(ip netns pids "$net_prefix-$name" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null || true
    done
  done
  for name in "${net_hosts[@]}" sw; do
    ip netns del "$net_prefix-$name" 2>/dev/null || true
  done
  net_hosts=()
}
