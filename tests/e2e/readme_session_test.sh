#!/usr/bin/env bash
# Runs the README's example CLI session against a real server and checks
# every answer, line by line, against what the README shows.
# usage: readme_session_test.sh README.md BUILD_DIR
set -euo pipefail
readme=$1 build=$2
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-readme.XXXXXX")
. "$(dirname "$0")/../testing/server.sh"
server_pid=
trap 'kill -9 $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
# The README's reader runs the server with its default retention (24h),
# which the session shows at work; start_server would set 0s.
start_server "$build/server/actionjournal-server" "$work" \
  --metrics-listen=127.0.0.1:0 --prune-retention=24h
export ACTIONJOURNAL_TARGET=$grpc
export PATH="$build/client:$build/server:$PATH"

# The session is the fenced block after the <!-- session --> marker.
awk '/<!-- session -->/{f=1;next} f&&/^```/{if(++n==2)exit;next} f&&n==1' \
  "$readme" >"$work/session"
[[ -s $work/session ]] || { echo "no session in $readme"; exit 1; }

normalize() {
  sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\+00:00/<time>/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z/<time>/g'
}
commands=0 failures=0
run_pending() {
  [[ -n ${cmd:-} ]] || return 0
  commands=$((commands + 1))
  actual=$(bash -c "$cmd" 2>&1 | normalize || true)
  want=$(printf '%s' "$expected" | normalize)
  if [[ $actual != "$want" ]]; then
    failures=$((failures + 1))
    printf 'MISMATCH for: %s\n--- README shows:\n%s\n--- server answered:\n%s\n' \
      "$cmd" "$want" "$actual"
  fi
}
cmd="" expected=""
while IFS= read -r line; do
  if [[ $line == '$ '* ]]; then
    run_pending
    cmd=${line#'$ '} expected=""
  else
    expected+="${expected:+$'\n'}$line"
  fi
done <"$work/session"
run_pending
echo "$commands commands, $failures mismatches"
[[ $commands -ge 8 && $failures -eq 0 ]]
