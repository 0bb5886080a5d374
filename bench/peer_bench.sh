#!/usr/bin/env bash
# Flink Agents' own Kafka store on a real Kafka broker beside the journal on
# PostgreSQL, both through the ActionStateStore calls Flink Agents 0.3.1's
# runtime makes (PeerBench): throughput, latency and store-side CPU at 1, 8 and
# 64 keys in flight, and recovery with 10^4..10^6 states journaled. Builds the
# server and the Java side first. Prints RESULT lines.
# usage: bench/peer_bench.sh [--seconds S] [--reps R] [--inflight 1,8,64]
#                            [--recovery 10000,100000,1000000] [--checkpoint-ms MS]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh actionjournal-server
./scripts/setup-java.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mvn -B -ntp -q -f java/pom.xml -Dactionjournal.build="$PWD/build" -DskipTests install >/dev/null
mvn -B -ntp -q -f java/pom.xml -pl flink-agents -P peer-bench test-compile dependency:build-classpath \
  -Dmdep.outputFile="$work/cp" -Dmdep.includeScope=test >/dev/null
mvn -B -ntp -q -f bench/kafka/pom.xml dependency:build-classpath \
  -Dmdep.outputFile="$work/kafka-cp" >/dev/null
export AJ_BENCH_CP="java/flink-agents/target/test-classes:java/flink-agents/target/classes:$(cat "$work/cp")"
export AJ_BENCH_KAFKA_CP="$work/kafka-cp"
./scripts/with-postgres.sh bash -c '
  exec java -Xmx6g -Dactionjournal.build="$PWD/build" -cp "$AJ_BENCH_CP" \
    io.actionjournal.flink.agents.PeerBench --dsn "$ACTIONJOURNAL_TEST_POSTGRES_DSN" \
    --pg-data "$AJ_PG_DATA" --kafka-classpath "$AJ_BENCH_KAFKA_CP" "$@"' peer "$@"
