#!/usr/bin/env bash
# Builds the whole project (tests included, Java off) with clang and a
# sanitizer into build-asan or build-tsan, and runs every test there (the
# PostgreSQL ones against a throwaway PostgreSQL, as scripts/test.sh does).
# usage: sanitize.sh asan|tsan [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: sanitize.sh asan|tsan}
shift
case $kind in
  asan) flags=address,undefined ;;
  tsan) flags=thread ;;
  *) echo "sanitize.sh: asan or tsan, not $kind" >&2; exit 64 ;;
esac
./scripts/setup-debian.sh
source scripts/debian-versions.sh
dir=build-$kind
CC=clang-$AJ_CLANG_MAJOR CXX=clang++-$AJ_CLANG_MAJOR cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DACTIONJOURNAL_BUILD_JAVA=OFF -DACTIONJOURNAL_SANITIZE=$flags >/dev/null
ninja -C "$dir" -j2
export TEST_TMPDIR
TEST_TMPDIR=$(mktemp -d /tmp/actionjournal-$kind.XXXXXX)
trap 'rm -rf "$TEST_TMPDIR"' EXIT
# Debian's gRPC, protobuf and abseil are not instrumented: TSan's reports
# from inside them alone are suppressed (tests/tsan.supp says which).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
./scripts/with-postgres.sh ctest --test-dir "$dir" -j2 --output-on-failure --timeout 900 "$@"
