#!/usr/bin/env bash
# Builds the Java side with Maven (dependencies from Maven Central) and runs
# its tests against the server CMake built into ./build: `mvn install`, so
# that examples/flink-agents builds against the installed artifacts.
# Flink Agents 0.3.1 comes from Maven Central or is built from its source
# (scripts/setup-java.sh); where neither is possible, only the client module
# is built and tested, and this says loudly what did not run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$PWD/build
mvn_=(mvn -B -ntp -f java/pom.xml "-Dactionjournal.build=$build")
status=0
./scripts/setup-java.sh || status=$?
case $status in
  0)
    "${mvn_[@]}" install
    # The test matrix's second Flink: the adapter's tests, the MiniCluster
    # scenarios among them, again on Flink 1.20 (java/flink-agents/pom.xml).
    "${mvn_[@]}" -pl flink-agents -Pflink-1.20 test
    # The example project, built against what was just installed, and run.
    ./examples/flink-agents/run_test.sh "$build"
    ;;
  3)
    echo "test-java: NOT RUN: the Flink Agents adapter's tests (Flink Agents 0.3.1 is" \
      "unobtainable here, see above); running the client's only" >&2
    "${mvn_[@]}" -pl client install
    ;;
  *) exit "$status" ;;
esac
