#!/usr/bin/env bash
# soak_tool check can fail: against a real server, a genuine ack log checks
# clean, and the same log with two forged acknowledgements (another value
# for an acknowledged identity, and an identity the store never saw) is
# reported as lost=2 two_results=1 with exit code 1.
# usage: check_fails_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../testing/server.sh"
build=$(realpath "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-soakcheck.XXXXXX")
server_pid=
trap '[[ -z $server_pid ]] || kill -9 $server_pid 2>/dev/null; rm -rf "$work"' EXIT
start_server "$build/server/actionjournal-server" "$work"
tool=$build/tests/soak_tool
target=(--target="127.0.0.1:$port" --job=checkfails)
"$tool" load "${target[@]}" --ack_log="$work/acks.log" --writers=3 --seconds=1 >/dev/null
"$tool" check "${target[@]}" "$work/acks.log" | tee "$work/ok.out"
grep -q ' lost=0 two_results=0 ' "$work/ok.out"
if grep -q 'acknowledged=0 ' "$work/ok.out"; then echo "FAIL: nothing acknowledged" >&2; exit 1; fi

"$tool" forge "$work/acks.log" "$work/forged.log"
rc=0
"$tool" check "${target[@]}" "$work/forged.log" >"$work/forged.out" 2>&1 || rc=$?
cat "$work/forged.out"
[[ $rc == 1 ]] || { echo "FAIL: check exited $rc on a forged log, want 1" >&2; exit 1; }
grep -q ' lost=2 two_results=1 ' "$work/forged.out" ||
  { echo "FAIL: the forged acknowledgements were not both reported" >&2; exit 1; }
echo "check_fails_test: ok"
