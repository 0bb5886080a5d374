#!/usr/bin/env bash
# Builds and runs the benchmark against a throwaway PostgreSQL 15.
# Extra args go to journal_bench (--seconds, --reps, --writers, --payload).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh journal_bench
./scripts/with-postgres.sh bash -c \
  './build/bench/journal_bench --dsn "$ACTIONJOURNAL_TEST_POSTGRES_DSN" "$@"' bench "$@"
