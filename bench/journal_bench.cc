// journal_bench: durable append throughput and latency of actionjournal
// against the baseline a user without it would write, in one run, on one
// PostgreSQL.
//
//   (a) service:  N writers call AppendAction over gRPC (127.0.0.1) on an
//                 actionjournal server backed by the PostgreSQL store;
//   (b) direct:   N writers, one connection each, one transaction per action
//                 (INSERT ... ON CONFLICT DO NOTHING; COMMIT).
//
// Both are durable when acknowledged (fsync on, synchronous_commit on). Each
// (N, side) pair runs --reps times, alternating sides; medians are printed.
//
// usage: journal_bench --dsn postgresql://... [--seconds 3] [--reps 3]
//                      [--writers 1,8,32] [--payload 256] [--pool 8]
//                      [--write-transactions 2]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/journal_client.h"
#include "server/server.h"
#include "storage/postgres/postgres_store.h"

namespace actionjournal {
namespace {

struct Result {
  double ops_per_sec = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double cpu_us_per_op = 0;  // this process's CPU (user + system) per op
};

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Runs `writers` threads calling op(writer, i) until `seconds` pass.
template <typename Op>
Result Drive(int writers, absl::Duration seconds, Op& op) {
  std::vector<std::vector<double>> lat(writers);
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  const double cpu_start = ProcessCpuSeconds();
  const absl::Time start = absl::Now();
  const absl::Time end = start + seconds;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto state = op.Open(w);
      for (int64_t i = 0; absl::Now() < end && i < 10'000'000; ++i) {
        const absl::Time t0 = absl::Now();
        if (!op.Append(*state, w, i)) {
          failed = true;
          return;
        }
        lat[w].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  if (failed) {
    std::cerr << "a writer failed; aborting\n";
    std::exit(1);
  }
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  Result r;
  r.ops_per_sec = all.size() / elapsed;
  r.p50_ms = Percentile(all, 0.50);
  r.p99_ms = Percentile(all, 0.99);
  r.cpu_us_per_op = all.empty() ? 0 : cpu * 1e6 / all.size();
  return r;
}

// Counts group-commit batches, to report how many writes each carried.
class BatchCounter final : public JournalObserver {
 public:
  void OnBatch(int size, absl::Duration, const absl::Status&) override {
    batches_ += 1;
    writes_ += size;
  }
  // Mean writes per batch since the last call.
  double TakeMean() {
    const double b = batches_.exchange(0), w = writes_.exchange(0);
    return b > 0 ? w / b : 0;
  }

 private:
  std::atomic<int64_t> batches_{0}, writes_{0};
};

struct ServiceSide {
  std::string target, run, payload;
  std::unique_ptr<JournalClient> shared;
  std::unique_ptr<JournalClient>* Open(int) { return &shared; }
  bool Append(std::unique_ptr<JournalClient>& c, int w, int64_t i) {
    v1::AppendActionRequest req;
    req.mutable_record()->set_job_id("bench");
    req.mutable_record()->set_record_key(absl::StrCat(run, "-w", w));
    req.mutable_record()->set_seq_num(i / 10);
    req.set_action_key(absl::StrCat("action-", i % 10));
    req.mutable_completion()->set_state(payload);
    auto r = c->AppendAction(req);
    if (!r.ok()) std::cerr << r.status().ToString() << "\n";
    return r.ok() && r->outcome() == v1::APPEND_OUTCOME_APPENDED;
  }
};

struct DirectSide {
  std::string dsn, run, payload;
  std::unique_ptr<pqxx::connection> Open(int) {
    auto c = std::make_unique<pqxx::connection>(dsn);
    c->prepare("put",
               "INSERT INTO bench_direct (job_id, record_key, seq_num, action_key, "
               "state) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING");
    return c;
  }
  bool Append(pqxx::connection& c, int w, int64_t i) {
    pqxx::work tx(c);
    tx.exec_prepared("put", "bench", absl::StrCat(run, "-w", w), i / 10,
                     absl::StrCat("action-", i % 10),
                     pqxx::binarystring(payload.data(), payload.size()));
    tx.commit();
    return true;
  }
};

int Main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as the server
  std::string dsn;
  double seconds = 3;
  int reps = 3, payload_bytes = 256, pool = 8, write_transactions = 2;
  std::vector<int> writer_counts = {1, 8, 32};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    bool ok = true;
    if (k == "--dsn") {
      dsn = v;
    } else if (k == "--seconds") {
      ok = absl::SimpleAtod(v, &seconds);
    } else if (k == "--reps") {
      ok = absl::SimpleAtoi(v, &reps);
    } else if (k == "--pool") {
      ok = absl::SimpleAtoi(v, &pool);
    } else if (k == "--write-transactions") {
      ok = absl::SimpleAtoi(v, &write_transactions);
    } else if (k == "--payload") {
      ok = absl::SimpleAtoi(v, &payload_bytes);
    } else if (k == "--writers") {
      writer_counts.clear();
      for (absl::string_view s : absl::StrSplit(v, ',')) {
        int n = 0;
        ok = ok && absl::SimpleAtoi(s, &n);
        writer_counts.push_back(n);
      }
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "bad argument " << k << " " << v << "\n";
      return 2;
    }
  }
  if (dsn.empty()) {
    std::cerr << "usage: journal_bench --dsn postgresql://... [--seconds 3] "
                 "[--reps 3] [--writers 1,8,32] [--payload 256]\n";
    return 2;
  }
  {
    pqxx::connection c(dsn);
    pqxx::work w(c);
    w.exec("CREATE TABLE IF NOT EXISTS bench_direct (job_id text, record_key "
           "text, seq_num bigint, action_key text, state bytea, PRIMARY KEY "
           "(job_id, record_key, seq_num, action_key))");
    w.exec("TRUNCATE bench_direct");
    w.commit();
  }
  PostgresStoreOptions po;
  po.dsn = dsn;
  po.pool_size = pool;
  po.max_write_transactions = write_transactions;
  BatchCounter batches;
  auto store = NewPostgresJournalStore(po, {}, &batches);
  if (!store.ok()) {
    std::cerr << store.status().ToString() << "\n";
    return 1;
  }
  ServerOptions so;
  so.listen = "127.0.0.1:0";
  auto server = JournalServer::Start(so, **store);
  if (!server.ok()) {
    std::cerr << server.status().ToString() << "\n";
    return 1;
  }
  const std::string payload(payload_bytes, 'x');
  ClientOptions co;
  co.target = absl::StrCat("127.0.0.1:", (*server)->port());

  std::cout << absl::StrFormat(
      "%7s | %10s %7s %7s %6s %7s | %10s %7s %7s %7s | %s\n", "writers",
      "service/s", "p50 ms", "p99 ms", "batch", "cpu us", "direct/s", "p50 ms",
      "p99 ms", "cpu us", "service/direct");
  int run = 0;
  for (int n : writer_counts) {
    std::vector<Result> svc, direct;
    batches.TakeMean();
    double batch_mean = 0;
    for (int r = 0; r < reps; ++r) {
      const std::string tag = absl::StrCat(absl::ToUnixMicros(absl::Now()), "-", run++);
      ServiceSide s{co.target, tag, payload, std::move(JournalClient::Create(co)).value()};
      svc.push_back(Drive(n, absl::Seconds(seconds), s));
      batch_mean += batches.TakeMean() / reps;
      DirectSide d{dsn, tag, payload};
      direct.push_back(Drive(n, absl::Seconds(seconds), d));
    }
    auto median = [](std::vector<Result> v, double Result::*f) {
      std::vector<double> x;
      for (auto& r : v) x.push_back(r.*f);
      std::sort(x.begin(), x.end());
      return x[x.size() / 2];
    };
    std::vector<double> ratios;
    for (int r = 0; r < reps; ++r) ratios.push_back(svc[r].ops_per_sec / direct[r].ops_per_sec);
    std::sort(ratios.begin(), ratios.end());
    std::cout << absl::StrFormat(
        "%7d | %10.0f %7.2f %7.2f %6.1f %7.0f | %10.0f %7.2f %7.2f %7.0f | %.2fx\n",
        n, median(svc, &Result::ops_per_sec), median(svc, &Result::p50_ms),
        median(svc, &Result::p99_ms), batch_mean, median(svc, &Result::cpu_us_per_op),
        median(direct, &Result::ops_per_sec), median(direct, &Result::p50_ms),
        median(direct, &Result::p99_ms), median(direct, &Result::cpu_us_per_op),
        ratios[ratios.size() / 2]);
  }
  std::cout << "medians of " << reps << " runs of " << seconds
            << " s each; batch = mean writes per group-commit transaction; "
               "cpu us = this process's CPU per append (service: gRPC client, "
               "server and journal; direct: libpq client); ratio = median of "
               "per-run service/direct throughput\n";
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace actionjournal

int main(int argc, char** argv) { return actionjournal::Main(argc, argv); }
