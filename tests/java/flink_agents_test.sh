#!/usr/bin/env bash
# The Flink Agents adapter (java/flink-agents) against a real server, through
# the pure-Java gRPC client and through JNI: FlinkAgentsChecks drives it the
# way Flink Agents' runtime does (see the class comment).
# usage: flink_agents_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../testing/server.sh"
source "$(dirname "$0")/../../scripts/free-port.sh"
build=$(realpath "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-flink-agents.XXXXXX")
server_pid=
trap '[[ -z $server_pid ]] || kill -9 $server_pid 2>/dev/null; rm -rf "$work"' EXIT

start_server "$build/server/actionjournal-server" "$work"
target=127.0.0.1:$port
dead=127.0.0.1:$(free_port)
j=$build/java
cp=$j/actionjournal-tests.jar:$j/actionjournal.jar:$j/actionjournal-flink-agents.jar
cp+=:$j/flink-agents-stub.jar:$(cat "$j/runtime-classpath.txt")
for transport in grpc jni; do
  java -Dactionjournal.jni="$j/libactionjournal_jni.so" -cp "$cp" \
    io.actionjournal.test.FlinkAgentsChecks $transport "$target" "$dead"
done
