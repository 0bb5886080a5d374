#!/usr/bin/env bash
# Crash and replay through the Flink Agents adapter, once through the
# pure-Java client against a sidecar-like server and once through JNI:
# AgentReplay is SIGKILLed while record 1's action "plan" has one durable call
# finished and the next journaled PENDING; a new JVM restores from the marker
# (a higher attempt) and replays every record. Each call and action body must
# have run exactly once (side effects counted outside the JVM) and the states
# the second JVM reads back must equal the first run's byte for byte.
# usage: agent_replay_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../testing/server.sh"
build=$(realpath "$1")
j=$build/java
cp=$j/actionjournal-tests.jar:$j/actionjournal.jar:$j/actionjournal-flink-agents.jar
cp+=:$j/flink-agents-stub.jar:$(cat "$j/runtime-classpath.txt")
records=3
server_pid=
trap '[[ -z $server_pid ]] || kill -9 $server_pid 2>/dev/null; rm -rf "$root"' EXIT
root=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-agent-replay.XXXXXX")

for transport in grpc jni; do
  work=$root/$transport
  mkdir -p "$work"
  start_server "$build/server/actionjournal-server" "$work"
  export ACTIONJOURNAL_TARGET=127.0.0.1:$port ACTIONJOURNAL_JOB_ID=replay-$transport
  export ACTIONJOURNAL_TRANSPORT=$transport ACTIONJOURNAL_ATTEMPT=1
  agent() {
    java -Dactionjournal.jni="$j/libactionjournal_jni.so" -cp "$cp" \
      io.actionjournal.test.AgentReplay "$work" $records "$@"
  }
  fail() { echo "FAILED ($transport): $*"; echo "--- effects"; cat "$work/effects.txt"; exit 1; }
  set +e
  agent 1 1:1 >"$work/run1.log" 2>&1
  code=$?
  set -e
  [[ $code == 137 ]] || { cat "$work/run1.log"; fail "first run: exit $code, expected 137 (SIGKILL)"; }
  grep -q "run 1: attempt 1" "$work/run1.log" || fail "first run's attempt"
  agent 2 none >"$work/run2.log" 2>&1 || { cat "$work/run2.log"; fail "second run"; }
  grep -q "run 2: attempt 2" "$work/run2.log" || { cat "$work/run2.log"; fail "the restore did not raise the attempt"; }
  # Record 1 when killed: call llm.plan done, tool.search PENDING (never ran).
  for r in $(seq 0 $((records - 1))); do
    for line in "call llm.plan $r" "call tool.search $r" "action plan $r" "action respond $r"; do
      n=$(grep -cx "$line" "$work/effects.txt" || true)
      [[ $n == 1 ]] || fail "'$line' ran $n times"
    done
  done
  [[ $(wc -l <"$work/effects.txt") == $((records * 4)) ]] || fail "unexpected side effects"
  first=$work/outputs-1.txt second=$work/outputs-2.txt
  [[ $(wc -l <"$first") == 2 ]] || fail "the first run completed $(wc -l <"$first") actions, expected 2 (record 0)"
  head -n 2 "$second" | cmp -s - "$first" || fail "replayed states differ from the first run's"
  [[ $(wc -l <"$second") == $((records * 2)) ]] || fail "the second run did not finish"
  kill $server_pid; wait $server_pid 2>/dev/null || true; server_pid=
  echo "agent replay ($transport): SIGKILL with one call finished and one PENDING; every call and action ran once; replayed states byte-identical; restore at attempt 2"
done
