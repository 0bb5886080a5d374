#!/usr/bin/env bash
# Builds and runs the benchmark against a throwaway PostgreSQL 15, then
# checks the baseline against pgbench (same statement, same database, 8
# connections). Extra args go to journal_bench (--seconds, --reps, --payload,
# --workloads). AJ_BENCH_PGBOUNCER=1 puts the service behind pgbouncer in
# transaction pooling mode (the direct baseline stays direct).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh journal_bench
./scripts/with-postgres.sh bash -c '
  set -euo pipefail
  out=$(mktemp)
  pooler=()
  if [[ ${AJ_BENCH_PGBOUNCER:-0} == 1 ]]; then
    pooler=(--service-dsn "${ACTIONJOURNAL_TEST_PGBOUNCER_DSN:?no pgbouncer}" --transaction-pooling true)
  fi
  ./build/bench/journal_bench --dsn "$ACTIONJOURNAL_TEST_POSTGRES_DSN" "${pooler[@]}" "$@" | tee "$out"
  direct=$(sed -n "s/.*workload=sync8 .*direct_per_s=\([0-9]*\).*/\1/p" "$out")
  if [[ -n $direct ]]; then
    pgb=$(bench/pgbench_check.sh "$ACTIONJOURNAL_TEST_POSTGRES_DSN" 8 5 256)
    awk -v d="$direct" -v p="$pgb" "BEGIN { printf \"baseline check: direct sync8 %.0f/s, pgbench 8 clients %.0f/s: %+.0f%%\n\", d, p, (d / p - 1) * 100 }"
  fi
  rm -f "$out"' bench "$@"
