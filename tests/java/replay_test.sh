#!/usr/bin/env bash
# The JVM side against a real server: the adapter's checks (AdapterChecks),
# then the replay scenario: an agent program is killed with SIGKILL after the
# second action of record 2; a new JVM replays every record. Each completed
# action and durable call must have run exactly once, the replayed states
# must equal the first run's byte for byte, and the third action of record 2
# must run once.
# usage: replay_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../testing/server.sh"
source "$(dirname "$0")/../../scripts/free-port.sh"
build=$(realpath "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-java.XXXXXX")
server_pid=
trap '[[ -z $server_pid ]] || kill -9 $server_pid 2>/dev/null; rm -rf "$work"' EXIT

start_server "$build/server/actionjournal-server" "$work"
target=127.0.0.1:$port
# A port nothing listens on, for the dead-server check.
dead=127.0.0.1:$(free_port)

java_run() {
  java -Dactionjournal.jni="$build/java/libactionjournal_jni.so" \
    -cp "$build/java/actionjournal-tests.jar:$build/java/actionjournal.jar:/usr/share/java/protobuf.jar" "$@"
}

java_run io.actionjournal.test.AdapterChecks "$target" "$dead"

records=4
set +e
java_run io.actionjournal.test.ReplayAgent "$target" "$work" $records 1 2:enrich
code=$?
set -e
[[ $code == 137 ]] || { echo "first run: exit $code, expected 137 (SIGKILL)"; exit 1; }
java_run io.actionjournal.test.ReplayAgent "$target" "$work" $records 2 none

fail() { echo "FAILED: $*"; echo "--- effects"; cat "$work/effects.txt"; exit 1; }
# Every real execution, exactly once.
for r in $(seq 0 $((records - 1))); do
  for line in "action classify $r" "call lookup.a $r" "call lookup.b $r" "action respond $r"; do
    n=$(grep -cx "$line" "$work/effects.txt" || true)
    [[ $n == 1 ]] || fail "'$line' ran $n times"
  done
done
[[ $(wc -l <"$work/effects.txt") == $((records * 4)) ]] || fail "unexpected side effects"
# What the first JVM journaled before it died, the second hands back unchanged.
first=$work/outputs-attempt-1.txt second=$work/outputs-attempt-2.txt
[[ $(wc -l <"$first") == 8 ]] || fail "the first run wrote $(wc -l <"$first") states, expected 8 (records 0 and 1, two actions of 2)"
head -n 8 "$second" | cmp -s - "$first" || fail "replayed states differ from the first run's"
[[ $(wc -l <"$second") == $((records * 3)) ]] || fail "the second run did not finish"
echo "replay: $records records, 1 SIGKILL; every action and durable call ran once; replayed states byte-identical"
