#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL (Debian's, scripts/debian-versions.sh):
# initdb into a temporary directory, listen on 127.0.0.1 on a free port,
# fsync on; the command sees ACTIONJOURNAL_TEST_POSTGRES_DSN, AJ_PG_DATA (the
# data directory), and AJ_PG_STOP / AJ_PG_START (shell commands) for fault
# tests. Where Debian's pgbouncer is installed, it runs in front in
# transaction pooling mode and the command
# also sees ACTIONJOURNAL_TEST_PGBOUNCER_DSN. Both are stopped and removed
# afterwards, whatever happens.
# AJ_PG_EXTRA_CONF, if set, is appended to postgresql.conf (for profiling:
# shared_preload_libraries = 'pg_stat_statements').
# usage: with-postgres.sh COMMAND [ARGS...]
set -euo pipefail
source "$(dirname "$0")/debian-versions.sh"
[[ -x $PGBIN/postgres ]] || { echo "missing $PGBIN/postgres (postgresql-$AJ_PG_MAJOR)" >&2; exit 1; }

as_pg=()
if [[ $(id -u) -eq 0 ]]; then as_pg=(runuser -u postgres --); fi

base=$(mktemp -d /tmp/aj-postgres.XXXXXX)
chmod 755 "$base"
[[ ${#as_pg[@]} -eq 0 ]] || chown postgres "$base"
data=$base/data

source "$(dirname "${BASH_SOURCE[0]}")/free-port.sh"
port=$(free_port)

cleanup() {
  if [[ -s $base/pgbouncer.pid ]]; then
    kill "$(cat "$base/pgbouncer.pid")" 2>/dev/null || true
  fi
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$base"
}
trap cleanup EXIT

"${as_pg[@]}" "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
  >"$base/initdb.log" 2>&1 || { cat "$base/initdb.log"; exit 1; }
cat >>"$data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
fsync = on
synchronous_commit = on
max_connections = 200
${AJ_PG_EXTRA_CONF:-}
CONF
pg_ctl=("${as_pg[@]}" "$PGBIN/pg_ctl" -D "$data" -l "$base/postgres.log" -w -t 60)
"${pg_ctl[@]}" start >/dev/null || { cat "$base/postgres.log"; exit 1; }
"${as_pg[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres actionjournal_test

export ACTIONJOURNAL_TEST_POSTGRES_DSN="postgresql://postgres@127.0.0.1:$port/actionjournal_test"
if [[ -x /usr/sbin/pgbouncer ]]; then
  # Transaction pooling: each transaction (or statement outside one) may run
  # on another server connection, as in production behind pgbouncer.
  bouncer_port=$(free_port)
  while [[ $bouncer_port == "$port" ]]; do bouncer_port=$(free_port); done
  cat >"$base/pgbouncer.ini" <<INI
[databases]
actionjournal_test = host=127.0.0.1 port=$port dbname=actionjournal_test user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 20
max_client_conn = 500
logfile = $base/pgbouncer.log
pidfile = $base/pgbouncer.pid
INI
  "${as_pg[@]}" /usr/sbin/pgbouncer -d "$base/pgbouncer.ini" >/dev/null 2>&1 ||
    { cat "$base/pgbouncer.log" >&2; exit 1; }
  for _ in $(seq 100); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$bouncer_port" -d actionjournal_test && break
    sleep 0.05
  done
  export ACTIONJOURNAL_TEST_PGBOUNCER_DSN="postgresql://postgres@127.0.0.1:$bouncer_port/actionjournal_test"
  echo "with-postgres: pgbouncer (transaction pooling) on 127.0.0.1:$bouncer_port" >&2
fi
# Fault tests stop and start this server with these (AJ_PG_CTL: pg_ctl with
# its arguments, for a chosen stop mode).
export AJ_PG_DATA="$data"
export AJ_PG_CTL="${pg_ctl[*]}"
export AJ_PG_STOP="${pg_ctl[*]} -m fast stop"
export AJ_PG_START="${pg_ctl[*]} start"
echo "with-postgres: PostgreSQL 15 on 127.0.0.1:$port ($data)" >&2
set +e
"$@"
rc=$?
exit $rc
