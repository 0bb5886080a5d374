#!/usr/bin/env bash
# pgbench's rate for the baseline statement (one prepared, autocommitted
# INSERT ... ON CONFLICT DO NOTHING per action) at CLIENTS connections, for
# comparison with journal_bench's direct side.
# usage: pgbench_check.sh DSN CLIENTS SECONDS PAYLOAD_BYTES
set -euo pipefail
source "$(dirname "$0")/../scripts/debian-versions.sh"
dsn=$1 clients=$2 seconds=$3 payload=$4
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<SQL
\set k random(1, 2000000000)
INSERT INTO bench_direct (job_id, record_key, seq_num, action_key, state) VALUES ('pgbench', :k, 0, 'a', decode(repeat('78', $payload), 'hex')) ON CONFLICT DO NOTHING;
SQL
"$PGBIN/pgbench" -n -M prepared -c "$clients" -j 2 -T "$seconds" \
  -f "$script" "$dsn" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
