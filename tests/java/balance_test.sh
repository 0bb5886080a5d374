#!/usr/bin/env bash
# The pure-Java client balances over every address its target resolves to:
# two real servers behind one target (BalanceChecks), 40 calls, and each
# server must have answered at least 10 (round_robin gives 20 each; gRPC's
# default, pick_first, would give one of them all 40).
# usage: balance_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../testing/server.sh"
build=$(realpath "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-java-balance.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

targets=() scrapes=()
for s in a b; do
  mkdir "$work/$s"
  start_server "$build/server/actionjournal-server" "$work/$s" --metrics-listen=127.0.0.1:0
  pids+=("$server_pid")
  targets+=("$grpc")
  scrapes+=("$metrics")
done
java -cp "$build/java/actionjournal-tests.jar:$build/java/actionjournal.jar:$(cat "$build/java/runtime-classpath.txt")" \
  io.actionjournal.test.BalanceChecks "${targets[0]},${targets[1]}" 40
for i in 0 1; do
  n=$(curl -fsS "http://${scrapes[$i]}/metrics" |
    awk '/^actionjournal_requests_total\{/ { s += $2 } END { print s + 0 }')
  echo "server $i answered $n calls"
  ((n >= 10)) || { echo "server $i answered $n of 40 calls: the client does not balance" >&2; exit 1; }
done
