#!/usr/bin/env bash
# The CLI's read commands (records, show, export) against a real server,
# after a real crash and replay: the server is SIGKILLed between a call's
# intent and its result, restarted, and a higher attempt replays the record.
# usage: cli_read_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-cli-read.XXXXXX")
source "$(dirname "$0")/../testing/server.sh"
trap 'kill -9 ${server_pid:-} 2>/dev/null; rm -rf "$work"' EXIT
start() {
  start_server "$build/server/actionjournal-server" "$work"
  export ACTIONJOURNAL_TARGET=$grpc
}
cli() { "$build/client/actionjournal-cli" "$@"; }
failures=0
expect() {  # expect WHAT COMMAND...: the command's stdout must match WHAT (grep -E)
  local what=$1
  shift
  local out
  out=$("$@" 2>&1) || true
  if ! grep -qE -- "$what" <<<"$out"; then
    failures=$((failures + 1))
    printf 'FAILED: %s\n  wanted: %s\n  got:\n%s\n' "$*" "$what" "$out"
  fi
}
expect_exit() {  # expect_exit CODE COMMAND...
  local want=$1
  shift
  local got=0
  "$@" >"$work/out" 2>&1 || got=$?
  if [[ $got != "$want" ]]; then
    failures=$((failures + 1))
    printf 'FAILED: %s exited %s, wanted %s\n' "$*" "$got" "$want"
    cat "$work/out"
  fi
}

start
r=(--job cli --key user-1 --seq 1)
cli begin "${r[@]}" --attempt 1 >/dev/null
cli append "${r[@]}" --attempt 1 --action act --step 0 --fn llm.chat --status succeeded \
  --result R0 --micro-usd 700 >/dev/null
cli append "${r[@]}" --attempt 1 --action act --step 1 --fn tool --status pending >/dev/null
kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
start
sleep 0.01
cli begin "${r[@]}" --attempt 2 >/dev/null
cli append "${r[@]}" --attempt 2 --action act --step 1 --fn tool --status succeeded \
  --result R1 >/dev/null
cli append "${r[@]}" --attempt 2 --action act --completion STATE >/dev/null
for i in 1 2 3 4 5 6 7; do
  cli append --job cli --key "k$i" --seq 0 --action a --completion s >/dev/null
done

# show: what the replay was handed and what it ran again.
expect '1 replay\(s\), the last at ' cli show "${r[@]}"
expect 'step 0 llm.chat .* SUCCEEDED, 2 bytes, written .*, reused by the replay' cli show "${r[@]}"
expect 'step 1 tool .* SUCCEEDED, 2 bytes, written .*, ran in the replay' cli show "${r[@]}"
expect 'completion, 5 bytes, written .*, ran in the replay' cli show "${r[@]}"
expect '"R1"' cli show "${r[@]}" --payloads
[[ $(cli show "${r[@]}" | grep -c '"R1"') == 0 ]] || {
  failures=$((failures + 1))
  echo "FAILED: show without --payloads printed a payload"
}
expect '"replays":"1"' cli --output json show "${r[@]}"

# records: the table, the filters, the pages.
expect '^"user-1" +1 open +2 .* +1 +3 +9 +0.000700 +1$' cli records --job cli
[[ $(cli records --job cli --replayed | grep -c '^"') == 1 ]] || {
  failures=$((failures + 1))
  echo "FAILED: records --replayed"
}
expect '^"k7" ' cli records --job cli --prefix k --page-size 1
first=$(cli records --job cli --page-size 3)
token=$(sed -n 's/^more: --page-token //p' <<<"$first")
[[ -n $token ]] || { failures=$((failures + 1)); echo "FAILED: no page token in: $first"; }
second=$(cli records --job cli --page-size 3 --page-token "$token")
if grep -qF "$(sed -n 2p <<<"$first")" <<<"$second"; then
  failures=$((failures + 1))
  echo "FAILED: the second page repeats the first's rows"
fi
[[ $(cli --output jsonl records --job cli --page-size 3 --all | wc -l) == 8 ]] || {
  failures=$((failures + 1))
  echo "FAILED: records --all --output jsonl is not 8 lines"
}

# export: one JSON object a line, payloads in base64 on request; resumable.
cli export --job cli --payloads >"$work/export.jsonl" 2>"$work/export.err"
[[ $(wc -l <"$work/export.jsonl") == 8 ]] || {
  failures=$((failures + 1))
  echo "FAILED: export has $(wc -l <"$work/export.jsonl") lines, not 8"
}
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
  const recs = lines.map((l) => JSON.parse(l));
  const u = recs.find((r) => r.record.record.record_key === Buffer.from("user-1").toString("base64"));
  if (!u) throw new Error("user-1 missing");
  const steps = u.actions[0].steps;
  if (Buffer.from(steps[0].result, "base64").toString() !== "R0") throw new Error("payload");
  if (!steps[0].reused || steps[1].reused) throw new Error("reused flags");
' "$work/export.jsonl" || { failures=$((failures + 1)); echo "FAILED: export content"; }
cli export --job cli >"$work/bare.jsonl" 2>/dev/null
if grep -q '"result"' "$work/bare.jsonl"; then
  failures=$((failures + 1))
  echo "FAILED: export without --payloads carried a payload"
fi
cli export --job cli --page-size 3 >"$work/part.jsonl" 2>"$work/part.err"
resume=$(sed -n 's/.*resume with --page-token //p' "$work/part.err" | head -1)
cli export --job cli --page-size 3 --page-token "$resume" >"$work/rest.jsonl" 2>/dev/null
[[ $(wc -l <"$work/rest.jsonl") == 5 ]] || {
  failures=$((failures + 1))
  echo "FAILED: an export resumed after the first page has $(wc -l <"$work/rest.jsonl") lines, not 5"
}
expect '^\{"record":' cli export "${r[@]}"

# invalidate: the next replay runs the action again; a completed record
# only with --force.
cli complete --job cli --key k1 --seq 0 >/dev/null
expect_exit 9 cli invalidate --job cli --key k1 --seq 0 --action a
expect 'FAILED_PRECONDITION: record is completed; invalidating it needs force' \
  cli invalidate --job cli --key k1 --seq 0
expect 'invalidated action "a": 1 entry dropped; the record is open again' \
  cli invalidate --job cli --key k1 --seq 0 --action a --force
expect '^record "k1" seq 0: open, .*' cli show --job cli --key k1 --seq 0
expect '0 action\(s\), 0 entries' cli show --job cli --key k1 --seq 0
expect_exit 5 cli invalidate --job cli --key k1 --seq 0 --action a
expect 'invalidated the record: 3 entries dropped' cli invalidate "${r[@]}"
expect_exit 64 cli invalidate "${r[@]}" --action=
expect_exit 5 cli invalidate --job cli --key nobody --seq 1
# Each one audited, as a Prune is.
[[ $(grep -c 'invalidate method=Invalidate job=cli record_key=k1 seq_num=0 action_key=a force=true .*entries_deleted=1 code=OK' "$work/server.log") == 1 ]] || {
  failures=$((failures + 1))
  echo "FAILED: no audit line for the forced invalidation"
  grep invalidate "$work/server.log"
}

# Bad input: usage errors exit 64, the server's refusals their gRPC code.
expect_exit 64 cli records
expect_exit 64 cli records --job cli --page-token zz
expect_exit 64 cli records --job cli --status weird
expect_exit 64 cli records --job cli --created-from yesterday
expect_exit 3 cli records --job 'bad job'
expect_exit 3 cli records --job cli --page-size 501
expect_exit 5 cli show --job cli --key nobody --seq 1
expect 'page_size' cli records --job cli --page-size 501

echo "$failures failure(s)"
[[ $failures == 0 ]]
