#!/usr/bin/env bash
# The store over TLS: a PostgreSQL of its own with ssl=on, a certificate
# made by openssl for this run, and pg_hba accepting only TLS connections
# with a password. The server with sslmode=verify-full and the right CA
# serves (and PostgreSQL says the session is encrypted); with another CA it
# refuses to start and says why; without TLS PostgreSQL refuses it. The
# password appears in no log line.
# usage: postgres_tls_test.sh BUILD_DIR
set -euo pipefail
here=$(dirname "$(realpath "$0")")
build=$(realpath "$1")
source "$here/../../scripts/debian-versions.sh"
source "$here/../../scripts/free-port.sh"
source "$here/../testing/server.sh"

as_pg=()
if [[ $(id -u) -eq 0 ]]; then as_pg=(runuser -u postgres --); fi
# Under /tmp itself, as scripts/with-postgres.sh: as root, PostgreSQL runs as
# the user postgres, who cannot enter the test runner's private TEST_TMPDIR.
base=$(mktemp -d /tmp/aj-pg-tls.XXXXXX)
chmod 755 "$base"
cd "$base"
data=$base/data
server_pid=
cleanup() {
  [[ -z $server_pid ]] || kill -9 "$server_pid" 2>/dev/null || true
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$base"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*"
  for f in "$base"/*.log; do echo "--- $f"; cat "$f"; done
  exit 1
}

"$here/../testing/make_certs.sh" "$base/certs"
[[ ${#as_pg[@]} -eq 0 ]] || chown -R postgres "$base"
pg_port=$(free_port)
password=$(openssl rand -hex 16)

"${as_pg[@]}" "$PGBIN/initdb" -D "$data" -U postgres --auth-local=trust \
  --auth-host=reject -E UTF8 >"$base/initdb.log" 2>&1 || fail "initdb"
cat >>"$data/postgresql.conf" <<CONF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
ssl = on
ssl_cert_file = '$base/certs/server.pem'
ssl_key_file = '$base/certs/server.key'
CONF
# TCP: TLS with a password only; a plaintext connection is refused.
cat >"$data/pg_hba.conf" <<HBA
local   all all                 trust
hostssl all all 127.0.0.1/32    scram-sha-256
HBA
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$data" -l "$base/postgres.log" -w -t 60 start \
  >/dev/null || fail "PostgreSQL did not start"
psql=("${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$base" -p "$pg_port" -U postgres)
"${psql[@]}" -c "CREATE ROLE aj LOGIN PASSWORD '$password'" postgres
"${psql[@]}" -c "CREATE DATABASE aj OWNER aj" postgres

url() {  # url SSLMODE CA
  echo "postgresql://aj:$password@127.0.0.1:$pg_port/aj?sslmode=$1&sslrootcert=$2"
}
cli() { "$build/client/actionjournal-cli" --target "$grpc" --deadline 5s "$@"; }

# 1. verify-full with the CA that signed PostgreSQL's certificate: serves.
mkdir -p "$base/ok"
start_server "$build/server/actionjournal-server" "$base/ok" \
  --store="$(url verify-full "$base/certs/ca.pem")" ||
  fail "the server did not start with verify-full and the right CA"
cli append --job tls --key k --seq 1 --action a --completion state >/dev/null ||
  fail "append over a TLS store"
cli lookup --job tls --key k --seq 1 --action a | grep -q '^found' || fail "lookup"
encrypted=$("${psql[@]}" -At -c \
  "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
   WHERE a.usename = 'aj'" postgres)
[[ $encrypted == t ]] || fail "the journal's sessions are not encrypted ($encrypted)"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly"
server_pid=

# 2. Another CA: refused at start, saying so.
set +e
timeout 60 "$build/server/actionjournal-server" --listen=127.0.0.1:0 --metrics-listen= \
  --store="$(url verify-full "$base/certs/wrong-ca.pem")" 2>"$base/server-wrong-ca.log"
code=$?
set -e
[[ $code == 1 ]] || fail "wrong CA: exit $code, expected 1"
grep -q "cannot open store" "$base/server-wrong-ca.log" || fail "wrong CA: no 'cannot open store'"
grep "cannot open store" "$base/server-wrong-ca.log" | sed "s/^/wrong CA: /"
grep -q "certificate verify failed" "$base/server-wrong-ca.log" ||
  fail "wrong CA: the error does not say the certificate failed verification"

# 3. No TLS: PostgreSQL itself refuses.
set +e
timeout 60 "$build/server/actionjournal-server" --listen=127.0.0.1:0 --metrics-listen= \
  --store="$(url disable "$base/certs/ca.pem")" 2>"$base/server-plain.log"
code=$?
set -e
[[ $code == 1 ]] || fail "sslmode=disable: exit $code, expected 1"
grep -q "no encryption" "$base/server-plain.log" || fail "sslmode=disable: not refused for want of TLS"

# The password in no line the server wrote.
if grep -qF "$password" "$base"/server-*.log "$base/ok/server.log"; then
  fail "a server log shows the password"
fi
echo "PostgreSQL over TLS: verify-full serves, a wrong CA and plaintext are refused"
