#!/usr/bin/env bash
# How fast the replayer checks recorded records (ReplayBench in the Java
# tests): RECORDS records journaled by a real agent on a real server, then
# replayed with the same agent and with one whose prompt changed, from the
# live journal and from an export. Needs the Java side built
# (scripts/test-java.sh or mvn -f java/pom.xml install) and the server
# (scripts/build.sh).
# usage: bench/replay_bench.sh [RECORDS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
cp=$(mktemp)
trap 'rm -f "$cp"' EXIT
mvn -B -ntp -q -f java/pom.xml -pl replayer test-compile dependency:build-classpath \
  -Dmdep.outputFile="$cp" -Dmdep.includeScope=test >/dev/null
java -Xmx2g -Dactionjournal.build="$PWD/build" \
  -cp "java/replayer/target/test-classes:java/replayer/target/classes:$(cat "$cp")" \
  io.actionjournal.flink.agents.replay.ReplayBench "${1:-10000}" "${2:-3}"
