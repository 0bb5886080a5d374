#!/usr/bin/env bash
# The HTTP/JSON gateway (--http-listen) against a real server: every route,
# its errors (JSON with the gRPC code and the HTTP status), bearer tokens
# with the same permissions as gRPC, HTTPS with the gRPC port's certificate,
# and a refusal to serve it beyond loopback without tokens.
# usage: http_gateway_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-http.XXXXXX")
source "$(dirname "$0")/../testing/server.sh"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
start() {  # start NAME FLAGS...: a server with the gateway, in $work/NAME
  local name=$1
  shift
  mkdir -p "$work/$name"
  start_server "$build/server/actionjournal-server" "$work/$name" \
    --http-listen=127.0.0.1:0 "$@"
  pids+=("$server_pid")
}
failures=0
# check STATUS PATTERN URL [CURL ARGS...]: the HTTP status and the body.
check() {
  local want=$1 pattern=$2 url=$3
  shift 3
  local got body
  got=$(curl -s -o "$work/body" -w '%{http_code}' "$@" "$url") || got="curl failed"
  body=$(cat "$work/body" 2>/dev/null || true)
  if [[ $got != "$want" ]] || ! grep -qE -- "$pattern" <<<"$body"; then
    failures=$((failures + 1))
    printf 'FAILED: %s %s\n  wanted %s and /%s/\n  got %s: %s\n' "$*" "$url" "$want" "$pattern" "$got" "$body"
  fi
}

start open --store="sqlite://$work/open.db"
cli=("$build/client/actionjournal-cli" --target "$grpc")
"${cli[@]}" append --job j --key 'k 1' --seq 2 --action act --step 0 --fn f --status succeeded \
  --result R0 --micro-usd 5 >/dev/null
"${cli[@]}" append --job j --key 'k 1' --seq 2 --action act --completion DONE >/dev/null
base=http://$http
check 200 '"job_id":"j","records":"1","retained_records":"0","entries":"2"' "$base/api/v1/stats"
check 200 '"jobs":\[\]' "$base/api/v1/stats?job=nobody"
check 200 '"record_key":"ayAx","seq_num":"2".*"entries":"2"' "$base/api/v1/records?job=j"
check 200 '"records":\[\]' "$base/api/v1/records?job=j&prefix=x"
check 200 '"records":\[\]' "$base/api/v1/records?job=j&status=completed"
check 200 '"record_key":"ayAx"' "$base/api/v1/records?job=j&status=open&page_size=1"
check 200 '"omitted_bytes":"2"' "$base/api/v1/record?job=j&key=k%201&seq=2"
check 200 '"result":"UjA=".*"state":"RE9ORQ=="' "$base/api/v1/record?job=j&key=k%201&seq=2&payloads=1"
check 200 '"data":"RE9ORQ==","total_bytes":"4"' "$base/api/v1/payload?job=j&key=k%201&seq=2&action=act&completion=1"
check 200 '"data":"UjA="' "$base/api/v1/payload?job=j&key=k%201&seq=2&action=act&step=0"
check 200 '<script src="/console.js"' "$base/"
check 200 'use strict' "$base/console.js"
# Errors: the gRPC code and message as JSON, the HTTP status of the code.
check 400 '"code":"INVALID_ARGUMENT","message":"job_id: must be' "$base/api/v1/records?job=bad%20job"
check 400 '"code":"INVALID_ARGUMENT","message":"page_size: must be 0-500' "$base/api/v1/records?job=j&page_size=501"
check 400 '"message":"page_size: must be an integer"' "$base/api/v1/records?job=j&page_size=many"
check 400 '"message":"status: must be' "$base/api/v1/records?job=j&status=weird"
check 400 '"message":"page_token: ' "$base/api/v1/records?job=j&page_token=%21%21"
check 400 '"message":"seq: is required"' "$base/api/v1/record?job=j&key=k"
check 400 '"message":"record.record_key: ' "$base/api/v1/record?job=j&seq=1"
check 400 '"message":"step: give exactly one' "$base/api/v1/payload?job=j&key=k%201&seq=2&action=act"
check 404 '"code":"NOT_FOUND","message":"record: no such record"' "$base/api/v1/record?job=j&key=nobody&seq=2"
check 404 '"code":"NOT_FOUND"' "$base/api/v1/payload?job=j&key=k%201&seq=2&action=nope&step=0"
check 404 '"code":"NOT_FOUND","message":"no route /api/v1/nothing"' "$base/api/v1/nothing"
check 405 '"message":"only GET routes are served, and POST /api/v1/invalidate"' "$base/api/v1/stats" -X POST
# The one write route: Invalidate, asked for with a header no cross-site form
# can send; its refusals change nothing.
check 403 '"message":"X-Actionjournal-Request: the header is required' \
  "$base/api/v1/invalidate?job=j&key=k%201&seq=2&action=act&force=1" -X POST
check 400 '"message":"seq: is required"' "$base/api/v1/invalidate?job=j&key=k%201" \
  -X POST -H 'X-Actionjournal-Request: 1'
check 404 '"code":"NOT_FOUND","message":"action_key: the record holds no action .nope.' \
  "$base/api/v1/invalidate?job=j&key=k%201&seq=2&action=nope" -X POST -H 'X-Actionjournal-Request: 1'
check 200 '"entries":"2"' "$base/api/v1/records?job=j"
# Hostile input in a reflected message stays JSON text.
check 400 '"message":"job_id: must be' "$base/api/v1/records?job=%3Cscript%3E%22%0A"
# Not HTTP, and a head over 16 KiB: refused, the server serving on.
exec 3<>"/dev/tcp/127.0.0.1/${http##*:}"
printf 'hello\r\n\r\n' >&3
reply=$(head -c 200 <&3 || true)
exec 3>&-
[[ $reply == "HTTP/1.1 400 Bad Request"* ]] ||
  { failures=$((failures + 1)); echo "FAILED: not HTTP answered: $reply"; }
check 431 'over 16 KiB' "$base/api/v1/stats" -H "X-Big: $(head -c 17000 /dev/zero | tr '\0' x)"
# Nothing read wrote anything: the record is as it was.
check 200 '"attempt":"0".*"replays":"0"' "$base/api/v1/records?job=j"

# Tokens: the same file, the same permissions as gRPC, the token as a
# bearer header.
token=gateway-token admin=gateway-admin
printf 'reader sha256:%s read j\nops sha256:%s admin *\n' \
  "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" \
  "$(printf %s "$admin" | sha256sum | cut -d' ' -f1)" >"$work/tokens"
start guarded --store="sqlite://$work/open.db" --auth-tokens-file="$work/tokens"
base=http://$http
check 401 '"code":"UNAUTHENTICATED"' "$base/api/v1/records?job=j"
check 401 '"code":"UNAUTHENTICATED","message":"authorization: the bearer token is not known' \
  "$base/api/v1/records?job=j" -H "Authorization: Bearer wrong"
check 200 '"record_key":"ayAx"' "$base/api/v1/records?job=j" -H "Authorization: Bearer $token"
check 403 '"code":"PERMISSION_DENIED","message":"principal .reader. may not read job .other.' \
  "$base/api/v1/records?job=other" -H "Authorization: Bearer $token"
check 403 '"code":"PERMISSION_DENIED"' "$base/api/v1/stats" -H "Authorization: Bearer $token"
check 200 '"job_id":"j"' "$base/api/v1/stats" -H "Authorization: Bearer $admin"
# Invalidate needs the prune permission: a reader is refused, an admin drops
# the action (its step and its completion).
check 403 '"code":"PERMISSION_DENIED"' "$base/api/v1/invalidate?job=j&key=k%201&seq=2&action=act&force=1" \
  -X POST -H 'X-Actionjournal-Request: 1' -H "Authorization: Bearer $token"
check 200 '"entries_deleted":"2","reopened":false' \
  "$base/api/v1/invalidate?job=j&key=k%201&seq=2&action=act" \
  -X POST -H 'X-Actionjournal-Request: 1' -H "Authorization: Bearer $admin"
check 200 '"entries":"0"' "$base/api/v1/records?job=j" -H "Authorization: Bearer $admin"
grep -q 'method=Invalidate' "$work/guarded/server.log" ||
  { failures=$((failures + 1)); echo "FAILED: the gateway's Invalidate was not audited"; }
if grep -q "$token" "$work/guarded/server.log"; then
  failures=$((failures + 1))
  echo "FAILED: the server logged a token"
fi

# With the gRPC port's TLS the gateway speaks HTTPS, with that certificate:
# the console and the routes over it, tokens as over HTTP; plain HTTP is
# not answered on that port.
"$(dirname "$0")/../testing/make_certs.sh" "$work/certs"
start tls --store="sqlite://$work/open.db" --auth-tokens-file="$work/tokens" \
  --tls-cert-file="$work/certs/server.pem" --tls-key-file="$work/certs/server.key"
grep -q 'http_tls=on' "$work/tls/server.log" ||
  { failures=$((failures + 1)); echo "FAILED: http_tls=on not logged"; }
base=https://localhost:${http##*:}
ca=(--cacert "$work/certs/ca.pem")
check 200 '"job_id":"j"' "$base/api/v1/stats" "${ca[@]}" -H "Authorization: Bearer $admin"
check 401 '"code":"UNAUTHENTICATED"' "$base/api/v1/records?job=j" "${ca[@]}"
check 200 '<script src="/console.js"' "$base/" "${ca[@]}"
check 200 '"entries_deleted":"0"' "$base/api/v1/invalidate?job=j&key=k%201&seq=2" \
  -X POST -H 'X-Actionjournal-Request: 1' -H "Authorization: Bearer $admin" "${ca[@]}"
# Another CA's client does not trust it; plain HTTP gets no answer.
if curl -s -o /dev/null --cacert "$work/certs/wrong-ca.pem" "$base/"; then
  failures=$((failures + 1))
  echo "FAILED: a client trusting another CA accepted the gateway's certificate"
fi
if curl -s -m 5 -o /dev/null "http://$http/"; then
  failures=$((failures + 1))
  echo "FAILED: the TLS gateway answered plain HTTP"
fi

# Beyond loopback without tokens: refused at start.
code=0
"$build/server/actionjournal-server" --listen=127.0.0.1:0 --metrics-listen= \
  --http-listen=0.0.0.0:0 --store=memory: 2>"$work/refused.log" || code=$?
if [[ $code != 2 ]] || ! grep -q "refusing to serve the unauthenticated HTTP gateway" "$work/refused.log"; then
  failures=$((failures + 1))
  echo "FAILED: --http-listen=0.0.0.0:0 without tokens exited $code"
  cat "$work/refused.log"
fi

echo "$failures failure(s)"
[[ $failures == 0 ]]
