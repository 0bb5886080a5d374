#!/usr/bin/env bash
# deploy/monitoring, checked offline with Debian's promtool and a real server:
# the PrometheusRule's rules parse (promtool check rules) and pass their unit
# tests on synthetic series (promtool test rules, tests/deploy/alerts_test.yaml);
# every dashboard expression parses the same way, and the dashboard and the
# rules name only metrics and labels that a running server exports
# (monitoring_check.js on its /metrics); a dashboard naming a metric the
# server lacks must fail that check.
# usage: monitoring_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
root=$1 build=$2
command -v promtool >/dev/null || { echo "missing promtool (Debian's prometheus)" >&2; exit 1; }
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-monitoring.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The PrometheusRule's spec is a plain rule file.
rule=$root/deploy/monitoring/prometheusrule.yaml
grep -q '^kind: PrometheusRule$' "$rule"
sed -n '/^spec:$/,$p' "$rule" | tail -n +2 | sed 's/^  //' >"$work/rules.yaml"
promtool check rules "$work/rules.yaml"
cp "$root/tests/deploy/alerts_test.yaml" "$work/"
(cd "$work" && promtool test rules alerts_test.yaml)

# A real server, with a little of every kind of traffic, so that the series
# created on first use exist.
source "$root/tests/testing/server.sh"
start_server "$build/server/actionjournal-server" "$work" --metrics-listen=127.0.0.1:0
cli=("$build/client/actionjournal-cli" --target "$grpc")
"${cli[@]}" begin --job mon --key k --seq 1 --attempt 1 >/dev/null
"${cli[@]}" append --job mon --key k --seq 1 --attempt 1 --action a --step 0 \
  --fn llm.chat --digest d --status succeeded --result r --micro-usd 5 >/dev/null
"${cli[@]}" append --job mon --key k --seq 1 --attempt 1 --action a --step 0 \
  --fn llm.chat --digest d --status succeeded --result r --micro-usd 5 >/dev/null
"${cli[@]}" lookup --job mon --key k --seq 1 --action a >/dev/null
"${cli[@]}" append --job mon --key k --seq 1 --attempt 1 --action '' \
  --completion x >/dev/null 2>&1 && { echo "an empty action key was accepted" >&2; exit 1; }
"${cli[@]}" complete --job mon --key k --seq 1 --attempt 1 >/dev/null
"${cli[@]}" prune --job mon --up-to k=1 >/dev/null
curl -fsS "http://$metrics/metrics" >"$work/scrape.txt"

check=(node "$root/tests/deploy/monitoring_check.js")
"${check[@]}" "$root/deploy/monitoring/actionjournal-dashboard.json" \
  "$work/rules.yaml" "$work/scrape.txt" "$work/dashboard-rules.yaml"
promtool check rules "$work/dashboard-rules.yaml"

# The check can fail: a metric the server does not export, a label it lacks.
sed 's/actionjournal_appends_total/actionjournal_appendz_total/' \
  "$root/deploy/monitoring/actionjournal-dashboard.json" >"$work/broken.json"
if "${check[@]}" "$work/broken.json" "$work/rules.yaml" "$work/scrape.txt" \
  "$work/broken-rules.yaml" 2>"$work/broken.err"; then
  echo "a dashboard naming actionjournal_appendz_total passed the check" >&2
  exit 1
fi
grep -q 'exports no actionjournal_appendz_total' "$work/broken.err"
sed 's/code=~"UNAVAILABLE/kode=~"UNAVAILABLE/' "$work/rules.yaml" >"$work/broken-rules-in.yaml"
if "${check[@]}" "$root/deploy/monitoring/actionjournal-dashboard.json" \
  "$work/broken-rules-in.yaml" "$work/scrape.txt" "$work/broken-rules.yaml" 2>"$work/broken.err"; then
  echo "a rule matching on a label the server lacks passed the check" >&2
  exit 1
fi
grep -q 'has no label "kode"' "$work/broken.err"
echo "monitoring_test: rules, their unit tests and the dashboard agree with the server"
