#!/usr/bin/env bash
# Sets up, builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
# The house style (.clang-format: Google), checked so that it stops drifting.
./scripts/check-format.sh
export TEST_TMPDIR
TEST_TMPDIR=$(mktemp -d /tmp/actionjournal-test.XXXXXX)
trap 'rm -rf "$TEST_TMPDIR"' EXIT
./scripts/with-postgres.sh \
  ctest --test-dir build -j2 --output-on-failure --timeout 600
# The Java side (java/, Maven): unit tests, the adapter against the real
# server and inside Flink's MiniCluster, and the packaged jars' checks.
./scripts/test-java.sh
# The request fuzzer, briefly (docs/testing.md, "Fuzzing and sanitizers").
./scripts/fuzz.sh "${AJ_FUZZ_SECONDS:-30}"
# The image, built and run with podman: about 12 minutes from nothing on two
# busy cores, so only on request (AJ_CONTAINER_TEST=1); docs/testing.md, "The container test".
if [[ ${AJ_CONTAINER_TEST:-0} == 1 ]]; then
  ./scripts/container-test.sh
fi
