#!/usr/bin/env bash
# soak_tool check reports a loss and two results, and exits 1: a real server,
# a log naming an entry it does not hold, then one naming two values.
# usage: check_fails_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../testing/server.sh"
build=$(realpath "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-soakcheck.XXXXXX")
server_pid=
trap '[[ -z $server_pid ]] || kill -9 $server_pid 2>/dev/null; rm -rf "$work"' EXIT
start_server "$build/server/actionjournal-server" "$work"
tool=$build/tests/soak_tool
target=127.0.0.1:$port
# A short genuine load: its log checks clean.
"$tool" load --target "$target" --log "$work/acks.log" --writers 2 --identities 20 \
  --seconds 1 >/dev/null
"$tool" check --target "$target" --log "$work/acks.log" | tee "$work/ok.out"
grep -q "lost=0 two_results=0" "$work/ok.out"
# An acknowledgement of an identity the store never saw: lost.
echo "c999 42 10" >"$work/forged.log"
if "$tool" check --target "$target" --log "$work/forged.log" >"$work/lost.out" 2>&1; then
  echo "FAIL: a forged acknowledgement was not reported" >&2; exit 1
fi
grep -q "lost=1" "$work/lost.out"
# Two values acknowledged for one identity.
first=$(head -1 "$work/acks.log")
set -- $first
echo "$1 $2 $(($3 + 1))" >"$work/two.log"
cat "$work/acks.log" >>"$work/two.log"
if "$tool" check --target "$target" --log "$work/two.log" >"$work/two.out" 2>&1; then
  echo "FAIL: two results were not reported" >&2; exit 1
fi
grep -q "two_results=[1-9]" "$work/two.out"
echo "check_fails_test: ok"
