#!/usr/bin/env bash
# Builds and runs the benchmark against a throwaway PostgreSQL, for each
# network profile between PostgreSQL and its clients (the service and the
# direct baseline alike, pgbench included):
#   loopback  127.0.0.1
#   rtt0.5    through fault_proxy with 0.25 ms each way (0.5 ms round trip)
# and, to read the rtt0.5 figures, what the proxy itself costs (proxy0: the
# proxy with no delay, beside loopback). After each profile, pgbench runs the
# baseline statement at 8 and 32 connections on the same link.
# Extra args go to journal_bench (--seconds, --reps, --payload, --workloads).
# Each profile ends with the share of CPU the hypervisor stole meanwhile.
# AJ_BENCH_PROFILES picks profiles (default "loopback rtt0.5 proxy0").
# AJ_BENCH_PGBOUNCER=1 puts the service behind pgbouncer in transaction
# pooling mode (the direct baseline stays direct; loopback only).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh journal_bench fault_proxy
export AJ_BENCH_PROFILES=${AJ_BENCH_PROFILES:-loopback rtt0.5 proxy0}
./scripts/with-postgres.sh bash -c '
  set -euo pipefail
  dsn=$ACTIONJOURNAL_TEST_POSTGRES_DSN
  port=${dsn##*:}; port=${port%%/*}
  work=$(mktemp -d)
  proxy_pid=
  trap '\''[[ -z $proxy_pid ]] || kill $proxy_pid; rm -rf "$work"'\'' EXIT
  # Starts fault_proxy in front of PostgreSQL; sets via_proxy to its DSN.
  start_proxy() {
    ./build/tests/fault_proxy --target "127.0.0.1:$port" --one-way-delay-us "$1" >"$work/proxy" &
    proxy_pid=$!
    for _ in $(seq 100); do [[ -s $work/proxy ]] && break; sleep 0.05; done
    via_proxy=${dsn/:$port\//:$(sed -n "s/^listening //p" "$work/proxy")/}
  }
  stop_proxy() { kill $proxy_pid; wait $proxy_pid 2>/dev/null || true; proxy_pid=; }
  # CPU time in all and stolen by the hypervisor, machine-wide (/proc/stat).
  cpu_times() { awk '\''/^cpu / { for (i = 2; i <= NF; i++) all += $i; print all, $9 }'\'' /proc/stat; }
  for profile in $AJ_BENCH_PROFILES; do
    link=$dsn
    extra=()
    case $profile in
      loopback)
        if [[ ${AJ_BENCH_PGBOUNCER:-0} == 1 ]]; then
          extra=(--service-dsn "${ACTIONJOURNAL_TEST_PGBOUNCER_DSN:?no pgbouncer}" --transaction-pooling true)
        fi ;;
      rtt0.5) start_proxy 250; link=$via_proxy; extra=(--workloads sync1,sync8,sync32,pipelined,replay5) ;;
      proxy0) start_proxy 0; link=$via_proxy; extra=(--workloads sync1,sync32) ;;
      *) echo "unknown profile $profile" >&2; exit 2 ;;
    esac
    echo "== profile $profile"
    read -r all0 steal0 < <(cpu_times)
    ./build/bench/journal_bench --dsn "$link" --profile "$profile" "${extra[@]}" "$@" | tee "$work/$profile"
    read -r all1 steal1 < <(cpu_times)
    # A run with much steal measured a slower machine than it had.
    awk -v p="$profile" -v a=$((all1 - all0)) -v s=$((steal1 - steal0)) \
      '\''BEGIN { printf "RESULT workload=steal profile=%s steal_pct=%.0f\n", p, a ? 100 * s / a : 0 }'\''
    for clients in 8 32; do
      tps=$(bench/pgbench_check.sh "$link" "$clients" 5 256)
      direct=$(sed -n "s/.*workload=sync$clients profile=$profile .*direct_per_s=\([0-9]*\).*/\1/p" "$work/$profile")
      echo "RESULT workload=pgbench$clients profile=$profile pgbench_per_s=${tps%.*} direct_per_s=${direct:-0}"
    done
    [[ -z $proxy_pid ]] || stop_proxy
  done
  # Targets read off the loopback table (workload side ops/s p50 p99 batch
  # cpu-us pg-us): one writer against the unavoidable hop (the RPC layer
  # alone, ceiling1, plus one direct statement), CPU per append at 32
  # writers, p99 at 8.
  if [[ -s $work/loopback ]]; then
    awk '\''
      $2 == "service" || $2 == "direct" || $2 == "memory" { p50[$1 "/" $2] = $4; p99[$1 "/" $2] = $5; cpu[$1 "/" $2] = $7; pg[$1 "/" $2] = $8 }
      END {
        if (("sync1/service" in p50) && ("ceiling1/memory" in p50))
          printf "RESULT workload=sync1_latency profile=loopback service_p50_ms=%.2f floor_p50_ms=%.2f ratio=%.2f\n",
            p50["sync1/service"], p50["ceiling1/memory"] + p50["sync1/direct"],
            p50["sync1/service"] / (p50["ceiling1/memory"] + p50["sync1/direct"])
        if ("sync32/service" in cpu)
          printf "RESULT workload=sync32_cpu profile=loopback service_cpu_us=%d service_pg_us=%d direct_pg_us=%d pg_ratio=%.2f\n",
            cpu["sync32/service"], pg["sync32/service"], pg["sync32/direct"], pg["sync32/service"] / pg["sync32/direct"]
        if ("sync8/service" in p99)
          printf "RESULT workload=sync8_p99 profile=loopback service_p99_ms=%.2f direct_p99_ms=%.2f\n", p99["sync8/service"], p99["sync8/direct"]
      }'\'' "$work/loopback"
  fi
  # The proxy'\''s own cost: direct statements through it with no delay.
  if [[ -s $work/loopback && -s $work/proxy0 ]]; then
    for w in sync1 sync32; do
      a=$(sed -n "s/.*workload=$w profile=loopback .*direct_per_s=\([0-9]*\).*/\1/p" "$work/loopback")
      b=$(sed -n "s/.*workload=$w profile=proxy0 .*direct_per_s=\([0-9]*\).*/\1/p" "$work/proxy0")
      awk -v w="$w" -v a="$a" -v b="$b" -v n="${w#sync}" '\''BEGIN {
        printf "RESULT workload=proxy_cost_%s loopback_per_s=%d proxy0_per_s=%d ratio=%.2f added_us_per_statement=%.0f\n",
          w, a, b, b / a, (n / b - n / a) * 1e6 }'\''
    done
  fi' bench "$@"
