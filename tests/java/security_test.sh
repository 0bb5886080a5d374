#!/usr/bin/env bash
# Both Java clients (grpc-java and JNI) against a real server with mutual TLS
# and tokens, certificates made by openssl for this run (SecurityChecks), and
# the JNI client over a Unix socket.
# usage: security_test.sh BUILD_DIR
set -euo pipefail
here=$(dirname "$(realpath "$0")")
build=$(realpath "$1")
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-java-sec.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

"$here/../testing/make_certs.sh" "$work/certs"
openssl rand -hex 24 | tr -d '\n' >"$work/token-a"
digest=$(sha256sum <"$work/token-a" | cut -d' ' -f1)
echo "job-a-writer sha256:$digest read,write,prune job-a" >"$work/tokens"

# start LOG ARGS...: the server in the background; sets $listening to its
# "listening" line.
start() {
  local log=$1
  shift
  "$build/server/actionjournal-server" --store=memory: --metrics-listen= \
    --auth-tokens-file="$work/tokens" "$@" 2>"$log" &
  pids+=($!)
  for _ in $(seq 200); do
    listening=$(grep -o 'listening grpc=[^ ]*' "$log" || true)
    [[ -n $listening ]] && return 0
    sleep 0.05
  done
  cat "$log" >&2
  return 1
}
start "$work/tls.log" --listen=127.0.0.1:0 --tls-cert-file="$work/certs/server.pem" \
  --tls-key-file="$work/certs/server.key" --tls-client-ca-file="$work/certs/ca.pem"
target=${listening#listening grpc=}
start "$work/unix.log" --listen="unix:$work/aj.sock"

# grpc-java's TLS needs netty's OpenSSL binding (Debian's netty lacks the
# JDK ALPN classes), which netty loads as libnetty_tcnative.so; Debian ships
# it as libnetty-tcnative.so, and it refuses to run under a link: a copy
# (README "Security", Java clients).
mkdir -p "$work/native"
cp "$(find /usr/lib -name libnetty-tcnative.so | head -1)" "$work/native/libnetty_tcnative.so"
java -Dactionjournal.jni="$build/java/libactionjournal_jni.so" \
  -Djava.library.path="$work/native" \
  -cp "$build/java/actionjournal-tests.jar:$build/java/actionjournal.jar:$(cat "$build/java/runtime-classpath.txt")" \
  io.actionjournal.test.SecurityChecks "$target" "$work/certs" "$work" "unix:$work/aj.sock"

# Neither the server's logs nor anything above carried the token.
if grep -qF "$(cat "$work/token-a")" "$work"/*.log; then
  echo "FAILED: a server log carries the token"
  exit 1
fi
