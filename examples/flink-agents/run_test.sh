#!/usr/bin/env bash
# Builds this example against the installed adapter and runs it twice against
# a real server: the first run journals three reviews (one durable call
# each), the second replays them (the journal's records are the same ones,
# nothing new stored). usage: run_test.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath "$1")
source "$here/../../tests/testing/server.sh"
work=$(mktemp -d /tmp/aj-example.XXXXXX)
trap 'kill -9 ${server_pid:-} 2>/dev/null; rm -rf "$work"' EXIT
start_server "$build/server/actionjournal-server" "$work" --prune-retention=1h
cd "$here"
mvn -B -ntp -q package dependency:build-classpath -Dmdep.outputFile="$work/cp.txt"
run() {
  ACTIONJOURNAL_TARGET=$grpc ACTIONJOURNAL_JOB_ID=example ACTIONJOURNAL_PRUNE=none \
    java -cp "target/classes:$(cat "$work/cp.txt")" com.example.agents.ReviewJob >"$work/out" 2>&1 ||
    { cat "$work/out"; exit 1; }
  grep -c '^review ' "$work/out" || true
}
stats() { "$build/client/actionjournal-cli" --target "$grpc" stats --job example; }
n=$(run)
[[ $n == 3 ]] || { echo "example: $n reviews printed, not 3"; cat "$work/out"; exit 1; }
grep -q 'review great coffee: positive' "$work/out"
first=$(stats)
echo "first run: $first"
[[ $first == *"3 record(s)"* ]] || { echo "example: not 3 records journaled"; exit 1; }
n=$(run)
[[ $n == 3 ]] || { echo "example: second run printed $n reviews"; exit 1; }
second=$(stats)
# The second run replays every record (counted as replays) and writes no
# entry: the journal holds what it held.
entries() { sed -E 's/, [0-9]+ replayed, [0-9]+ replay\(s\) in all//' <<<"$1"; }
[[ $(entries "$second") == "$(entries "$first")" ]] ||
  { echo "example: the second run changed the journal: $second"; exit 1; }
[[ $second == *"3 replayed, 3 replay(s) in all"* ]] ||
  { echo "example: the second run was not counted as 3 replays: $second"; exit 1; }
echo "example: two runs, 3 reviews each, one journal"
