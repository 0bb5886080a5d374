#!/usr/bin/env bash
# The web console in a real browser: Debian's Chromium, headless, driven by
# playwright-core (npm, pinned by package-lock.json), against real servers.
# Data comes in through the CLI, with a real crash: the server is SIGKILLed
# between a call's intent and its result, restarted, and a higher attempt
# replays the record. Screenshots go to SCREENSHOT_DIR.
# usage: console_test.sh SOURCE_DIR BUILD_DIR WORK_DIR SCREENSHOT_DIR
set -euo pipefail
src=$1 build=$2 work=$3 shots=$4
mkdir -p "$work" "$shots"
# The npm packages, from the lockfile, once per lockfile.
if ! cmp -s "$src/tests/console/package-lock.json" "$work/package-lock.json" 2>/dev/null ||
  [[ ! -d $work/node_modules/playwright-core ]]; then
  cp "$src/tests/console/package.json" "$src/tests/console/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
browser=${AJ_CHROMIUM:-/usr/bin/chromium}
[[ -x $browser ]] || { echo "no Chromium at $browser (scripts/setup-debian.sh installs it)"; exit 1; }
run=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-console.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$run"' EXIT

source "$src/tests/testing/server.sh"
# start NAME FLAGS...: a server with the gateway, in $run/NAME; sets
# pid_NAME, grpc_NAME and http_NAME.
start() {
  local name=$1
  shift
  mkdir -p "$run/$name"
  start_server "$build/server/actionjournal-server" "$run/$name" \
    --http-listen=127.0.0.1:0 "$@"
  pids+=("$server_pid")
  eval "pid_$name=$server_pid grpc_$name=$grpc http_$name=$http"
}
cli() { "$build/client/actionjournal-cli" "$@" >/dev/null; }

start a --store="sqlite://$run/a.db"
export ACTIONJOURNAL_TARGET=$grpc_a
r=(--job agents --key user-1 --seq 1)
cli begin "${r[@]}" --attempt 1
cli append "${r[@]}" --attempt 1 --action summarize --step 0 --fn llm.chat --digest d0 \
  --status succeeded --result "The answer is 42" --input-tokens 120 --output-tokens 30 --micro-usd 450
cli append "${r[@]}" --attempt 1 --action summarize --step 1 --fn mcp:search --digest d1 --status pending
kill -9 "$pid_a"
start a --store="sqlite://$run/a.db"
export ACTIONJOURNAL_TARGET=$grpc_a
sleep 0.01
cli begin "${r[@]}" --attempt 2
cli append "${r[@]}" --attempt 2 --action summarize --step 1 --fn mcp:search --digest d1 \
  --status succeeded --result '{"hits":3}'
cli append "${r[@]}" --attempt 2 --action summarize --completion '{"summary":"42"}'
for i in $(seq -w 1 120); do
  cli append --job agents --key "order-$i" --seq 0 --action route --completion "r$i"
done
# A hostile key and payload: HTML, script and control bytes.
cli append --job hostile --key '<img src=x onerror="window.__xss=1">' --seq 0 \
  --action '<b onmouseover=window.__xss=2>act</b>' \
  --completion $'<script>window.__xss=3</script>\x01\x02</pre><img src=x onerror="window.__xss=4">'

# A server that requires a token: `reader` may read job agents.
token=console-test-token
digest=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
printf 'reader sha256:%s read agents\n' "$digest" >"$run/tokens"
start b --store="sqlite://$run/a.db" --auth-tokens-file="$run/tokens"

NODE_PATH=$work/node_modules node "$src/tests/console/console_test.js" \
  "http://$http_a" "http://$http_b" "$token" "$browser" "$shots"
