#!/usr/bin/env bash
# A Citus cluster on loopback for verifying the journal by hand
# (docs/scale.md): a coordinator and N workers, each a PostgreSQL of its
# own in DIR, fsync on, the database actionjournal with the citus extension.
# Needs Citus installed into Debian's PostgreSQL (built from its source:
# docs/scale.md says how); CI does not run this.
#
# usage: citus-cluster.sh start DIR WORKERS   prints the coordinator's DSN
#        citus-cluster.sh stop DIR
#        citus-cluster.sh restart-worker DIR I [SECONDS_DOWN]
#        citus-cluster.sh workers DIR PG_CTL_ARGS...  pg_ctl on every worker
#                                (soak.sh's AJ_PG_CTL: restarts them all)
#        citus-cluster.sh dsn DIR
set -euo pipefail
source "$(dirname "$0")/debian-versions.sh"
source "$(dirname "$0")/free-port.sh"

as_pg=()
if [[ $(id -u) -eq 0 ]]; then as_pg=(runuser -u postgres --); fi
psql_at() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "${2:-actionjournal}" -At -c "$3"; }
pg_ctl_at() { "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$1/data" -l "$1/postgres.log" -w -t 60 "${@:2}" >/dev/null; }

cmd=${1:?usage: citus-cluster.sh start|stop|restart-worker|dsn DIR ...}
dir=${2:?DIR}
case $cmd in
  start)
    workers=${3:?WORKERS}
    mkdir -p "$dir"
    chmod 755 "$dir"
    for i in $(seq 0 "$workers"); do
      node=$dir/node$i
      port=$(free_port)
      mkdir -p "$node"
      [[ ${#as_pg[@]} -eq 0 ]] || chown postgres "$node"
      "${as_pg[@]}" "$PGBIN/initdb" -D "$node/data" -U postgres --auth=trust -E UTF8 >"$node/initdb.log" 2>&1 ||
        { cat "$node/initdb.log"; exit 1; }
      cat >>"$node/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$node'
shared_preload_libraries = 'citus'
# A write Citus acknowledged whose worker died before its second commit
# phase stays invisible until the coordinator recovers it (docs/scale.md,
# "A worker restart"): every second instead of every minute.
citus.recover_2pc_interval = '1s'
fsync = on
synchronous_commit = on
max_connections = 300
CONF
      echo "$port" >"$node/port"
      pg_ctl_at "$node" start
      psql_at "$port" postgres "CREATE DATABASE actionjournal"
      psql_at "$port" actionjournal "CREATE EXTENSION citus"
    done
    coordinator=$(cat "$dir/node0/port")
    psql_at "$coordinator" actionjournal "SELECT citus_set_coordinator_host('127.0.0.1', $coordinator)" >/dev/null
    for i in $(seq 1 "$workers"); do
      psql_at "$coordinator" actionjournal "SELECT citus_add_node('127.0.0.1', $(cat "$dir/node$i/port"))" >/dev/null
    done
    echo "postgresql://postgres@127.0.0.1:$coordinator/actionjournal"
    ;;
  stop)
    for node in "$dir"/node*; do
      "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$node/data" -m immediate stop >/dev/null 2>&1 || true
    done
    ;;
  restart-worker)
    node=$dir/node${3:?I}
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$node/data" -m immediate stop >/dev/null
    sleep "${4:-0}"
    pg_ctl_at "$node" start
    ;;
  workers)
    for node in "$dir"/node*; do
      [[ $node == "$dir/node0" ]] || pg_ctl_at "$node" "${@:3}"
    done
    ;;
  dsn)
    echo "postgresql://postgres@127.0.0.1:$(cat "$dir/node0/port")/actionjournal"
    ;;
  *)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
