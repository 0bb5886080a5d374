#!/usr/bin/env bash
# Installs the build into a fresh prefix, builds examples/client against it
# with find_package(actionjournal), and runs it against a real server.
# usage: example_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../testing/server.sh"
src=$1 build=$2
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-example.XXXXXX")
server_pid=
trap '[[ -z $server_pid ]] || kill -9 $server_pid 2>/dev/null; rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples/client" -B "$work/example" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
ninja -C "$work/example" >/dev/null

start_server "$work/prefix/bin/actionjournal-server" "$work"
out=$("$work/example/journal_example" "127.0.0.1:$port")
echo "$out"
[[ $out == $'run 1: ran greet\nrun 2: replayed hello' ]]
