#!/usr/bin/env bash
# Flink Agents' pruneState at 10^6 keys per checkpoint, on the task thread
# (PruneBench): RESULT lines with the median and spread of 5 runs. Needs the
# Java side built (scripts/test-java.sh or mvn -f java/pom.xml install).
# usage: bench/flink_prune_bench.sh [KEYS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
cp=$(mktemp)
trap 'rm -f "$cp"' EXIT
mvn -B -ntp -q -f java/pom.xml -pl flink-agents test-compile dependency:build-classpath \
  -Dmdep.outputFile="$cp" -Dmdep.includeScope=test >/dev/null
java -Xmx2g -cp "java/flink-agents/target/test-classes:java/flink-agents/target/classes:$(cat "$cp")" \
  io.actionjournal.flink.agents.PruneBench "${1:-1000000}" "${2:-5}"
