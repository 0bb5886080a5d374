#!/usr/bin/env bash
# Every flag check of actionjournal-server (server/main.cc): a bad value
# ends the server at once with exit code 2 and a line naming the flag; a
# server that starts anyway (a check gone) is caught by the timeout. Then a
# good set of the same flags starts and answers health, so the cases fail
# for their flag, not for the rest of the line.
# usage: server_flags_test.sh BUILD_DIR
set -uo pipefail
bin=$1/server/actionjournal-server
cli=$1/client/actionjournal-cli
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-flags.XXXXXX")
trap 'rm -rf "$work"' EXIT
base=(--store=memory: --listen=127.0.0.1:0 --metrics-listen=)
failures=0

# expect_refused EXPECTED FLAG...: exit 2, and EXPECTED in what it printed.
expect_refused() {
  local expected=$1 rc
  shift
  timeout 10 "$bin" "${base[@]}" "$@" >"$work/out" 2>&1
  rc=$?
  if ((rc != 2)) || ! grep -qF -- "$expected" "$work/out"; then
    echo "FAIL: $* exited $rc (expected 2, naming '$expected'): $(tail -3 "$work/out")"
    failures=$((failures + 1))
  fi
}

expect_refused "unknown argument 'serve'" serve
expect_refused "--log-level must be" --log-level=loud
expect_refused "--log-format must be" --log-format=xml
expect_refused "--dedup-min-bytes must be >= 0" --dedup-min-bytes=-1
expect_refused "--compression-level 1-19" --compression-level=20
expect_refused "--compression-min-bytes must be >= 0" --compression-min-bytes=-5
expect_refused "--sweep-batch >= 1" --sweep-batch=0
expect_refused "--prune-retention, --record-ttl and --sweep-interval must be >= 0" --record-ttl=-1s
expect_refused "pool_size: must be >= 1, got 0" --pg-pool-size=0
expect_refused "max_write_transactions: must be 1 to pool_size (8), got 9" --pg-write-transactions=9
expect_refused "link_timeout: must be >= 2s, got 1s" --pg-link-timeout=1s
expect_refused "--workers, --queue_capacity" --workers=0
expect_refused "--workers, --queue_capacity" --queue-capacity=0
expect_refused "(--max-answer-bytes >= 4096)" --max-answer-bytes=100
expect_refused "--max_* limits must be >= 1" --max-batch-items=0
expect_refused "--health-timeout must be > 0" --health-timeout=0s
expect_refused "--reload-interval must be >= 1s" --reload-interval=0s
expect_refused "--tls" --tls-cert-file="$work/missing.pem" --tls-key-file="$work/missing.key"
expect_refused "--metrics-tls" --metrics-tls-cert-file="$work/missing.pem"
expect_refused "missing.tokens" --auth-tokens-file="$work/missing.tokens"
expect_refused "refusing to serve unauthenticated on 0.0.0.0:0" --listen=0.0.0.0:0
expect_refused "refusing to serve the unauthenticated HTTP gateway on 0.0.0.0:0" --http-listen=0.0.0.0:0
# An environment variable is a flag too.
ACTIONJOURNAL_WORKERS=0 expect_refused "--workers, --queue_capacity"

# The control: the same kind of line, good values, starts and serves.
"$bin" "${base[@]}" --log-level=info --pg-pool-size=4 --pg-write-transactions=4 \
  --pg-link-timeout=2s --compression-level=19 --sweep-batch=1 --workers=1 \
  --max-answer-bytes=4096 --reload-interval=1s >"$work/good.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
  port=$(sed -n 's/.*grpc=127.0.0.1:\([0-9]*\).*/\1/p' "$work/good.out" | head -1)
  [[ -n $port ]] && break
  sleep 0.1
done
if [[ -z ${port:-} ]] || ! "$cli" --target "127.0.0.1:$port" --deadline 5s health >/dev/null 2>&1; then
  echo "FAIL: the server with good flags did not serve: $(tail -3 "$work/good.out")"
  failures=$((failures + 1))
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
((rc == 0)) || { echo "FAIL: SIGTERM ended the server with $rc"; failures=$((failures + 1)); }

((failures == 0)) || { echo "$failures case(s) failed"; exit 1; }
echo "server_flags_test: 23 refusals and one good start"
