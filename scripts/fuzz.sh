#!/usr/bin/env bash
# Builds the request fuzzer with clang (libFuzzer, ASan, UBSan) into
# build-fuzz and runs it for SECONDS (default 60) from the seed corpus plus
# what earlier runs found (build-fuzz/corpus). Exits non-zero on a crash, a
# leak, an invariant broken or a timeout; the input that did it is left in
# build-fuzz/.
# usage: fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
./scripts/setup-debian.sh
source scripts/debian-versions.sh
CC=clang-$AJ_CLANG_MAJOR CXX=clang++-$AJ_CLANG_MAJOR cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DACTIONJOURNAL_FUZZ=ON -DACTIONJOURNAL_BUILD_TESTS=OFF -DACTIONJOURNAL_BUILD_JAVA=OFF \
  -DACTIONJOURNAL_SANITIZE=address,undefined >/dev/null
ninja -C build-fuzz -j2 request_fuzzer request_fuzzer_seeds
seeds=build-fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds" build-fuzz/corpus
build-fuzz/tests/fuzz/request_fuzzer_seeds "$seeds"
cd build-fuzz
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  tests/fuzz/request_fuzzer -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus seeds
