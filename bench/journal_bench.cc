// journal_bench: the service beside the baseline a user without it writes,
// in one run, on one PostgreSQL (DESIGN.md section 7).
//
// Baseline ("direct"): one prepared, autocommitted INSERT ... ON CONFLICT DO
// NOTHING per action, on its own connection per writer, over TCP loopback
// (what pgbench runs; scripts/bench.sh checks the rate against pgbench's).
// Service: the actionjournal server (in this process, on the PostgreSQL
// store) called over gRPC on 127.0.0.1 by one shared client, which
// coalesces concurrent appends into AppendActions.
//
// Workloads (sides alternate, each --reps times; medians printed):
//   sync1, sync8, sync32  N threads, each waiting for its append's answer
//   pipelined             one thread keeping 256 appends in flight (async);
//                         the baseline is the direct side at 32 connections
//   replay5               BeginRecord of a record with 5 completed actions,
//                         8 threads; the baseline is 5 primary-key SELECTs
// and, for reference, the RPC layer's ceiling: sync32 on the memory store.
// Then compress; list (ListWorkload: the read API's first and a deep page
// on --list-records records, SQLite and PostgreSQL); index_cost (sync32 with
// and without the read APIs' index). On request: churn, and dedup
// (DedupWorkload: the tables' size with and without large-payload dedup, in
// databases made for it).
//
// Per workload: throughput, p50/p99 latency, mean group-commit batch, this
// process's CPU per operation and PostgreSQL's (summed over its processes),
// then one line: RESULT workload=... service_per_s=... direct_per_s=...
// ratio=...
//
// usage: journal_bench --dsn postgresql://... [--seconds 3] [--reps 3]
//                      [--payload 256] [--workloads sync1,sync8,...]
//                      [--churn-seconds 300] [--dedup-records 4000]
//                      [--service-dsn URL --transaction-pooling true]
//                      [--pg-write-transactions N]
//                      [--client-calls-in-flight N] [--profile NAME]
// --profile names the link to PostgreSQL in the RESULT lines (loopback, or
// rtt0.5 when scripts/bench.sh puts fault_proxy in front of it).
// --service-dsn puts a pooler (pgbouncer) between the service and
// PostgreSQL; the direct side keeps --dsn.
#include <dirent.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/journal_client.h"
#include "server/server.h"
#include "storage/compression.h"
#include "storage/memory/memory_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/stores.h"

namespace actionjournal {
namespace {

struct Result {
  double ops_per_sec = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double cpu_us_per_op = 0;     // this process (user + system)
  double pg_cpu_us_per_op = 0;  // every PostgreSQL process
  double batch = 0;             // mean writes per group commit
};

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// CPU seconds of each process named postgres (the server and its backends),
// by pid.
std::map<std::string, double> PostgresCpu() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::map<std::string, double> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(absl::StrCat("/proc/", e->d_name, "/stat"));
    std::string stat;
    std::getline(in, stat);
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (stat.substr(open + 1, close - open - 1) != "postgres") continue;
    std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
    double utime = 0, stime = 0;
    if (f.size() > 13 && absl::SimpleAtod(f[11], &utime) &&
        absl::SimpleAtod(f[12], &stime)) {
      out[e->d_name] = (utime + stime) / ticks;
    }
  }
  closedir(proc);
  return out;
}

// PostgreSQL's CPU between two readings: each process's growth, a process
// born in between counted whole. (Connections close outside the measured
// span, so no backend exits inside it with its share.)
double PostgresCpuBetween(const std::map<std::string, double>& before,
                          const std::map<std::string, double>& after) {
  double total = 0;
  for (const auto& [pid, cpu] : after) {
    auto it = before.find(pid);
    total += it == before.end() ? cpu : std::max(0.0, cpu - it->second);
  }
  return total;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Counts group-commit batches.
class BatchCounter final : public JournalObserver {
 public:
  void OnBatch(int size, absl::Duration, const absl::Status&) override {
    batches_ += 1;
    writes_ += size;
  }
  double TakeMean() {
    const double b = batches_.exchange(0), w = writes_.exchange(0);
    return b > 0 ? w / b : 0;
  }

 private:
  std::atomic<int64_t> batches_{0}, writes_{0};
};

// A side of a workload: Prepare opens what it needs (connections) before
// the clock starts; Run performs operations until `end`, recording each
// operation's latency; Close releases what Prepare opened.
struct Side {
  std::function<void(int threads)> prepare = [](int) {};
  // (thread, end, latencies) -> false on a failure.
  std::function<bool(int, absl::Time, std::vector<double>&)> run;
  std::function<void()> close = [] {};
};

Result Drive(int threads, absl::Duration seconds, Side& side,
             BatchCounter* batches) {
  side.prepare(threads);
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> workers;
  std::atomic<bool> failed{false};
  if (batches != nullptr) batches->TakeMean();
  const double cpu_start = ProcessCpuSeconds();
  const auto pg_start = PostgresCpu();
  const absl::Time start = absl::Now();
  const absl::Time end = start + seconds;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      if (!side.run(t, end, lat[t])) failed = true;
    });
  }
  for (auto& w : workers) w.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const double pg = PostgresCpuBetween(pg_start, PostgresCpu());
  side.close();
  absl::SleepFor(
      absl::Milliseconds(200));  // closed backends exit before the next span
  if (failed) {
    std::cerr << "an operation failed; aborting\n";
    std::exit(1);
  }
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  Result r;
  r.ops_per_sec = all.size() / elapsed;
  r.p50_ms = Percentile(all, 0.50);
  r.p99_ms = Percentile(all, 0.99);
  r.cpu_us_per_op = all.empty() ? 0 : cpu * 1e6 / all.size();
  r.pg_cpu_us_per_op = all.empty() ? 0 : pg * 1e6 / all.size();
  if (batches != nullptr) r.batch = batches->TakeMean();
  return r;
}

v1::AppendActionRequest AppendOf(const std::string& run, int t, int64_t i,
                                 const std::string& payload) {
  v1::AppendActionRequest req;
  req.mutable_record()->set_job_id("bench");
  req.mutable_record()->set_record_key(absl::StrCat(run, "-t", t));
  req.mutable_record()->set_seq_num(i / 10);
  req.set_action_key(absl::StrCat("action-", i % 10));
  req.mutable_completion()->set_state(payload);
  return req;
}

// Synchronous appends through one shared client.
Side ServiceSync(JournalClient& client, const std::string& run,
                 const std::string& payload) {
  Side s;
  s.run = [&client, run, payload](int t, absl::Time end,
                                  std::vector<double>& lat) {
    for (int64_t i = 0; absl::Now() < end; ++i) {
      const absl::Time t0 = absl::Now();
      auto r = client.AppendAction(AppendOf(run, t, i, payload));
      if (!r.ok() || r->outcome() != v1::APPEND_OUTCOME_APPENDED) {
        std::cerr << (r.ok() ? "unexpected outcome" : r.status().ToString())
                  << "\n";
        return false;
      }
      lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    }
    return true;
  };
  return s;
}

// One thread keeping `depth` asynchronous appends in flight.
Side ServicePipelined(JournalClient& client, const std::string& run,
                      const std::string& payload, int depth) {
  // Shared with the callbacks, which may still be unlocking when the last
  // one lets the thread go.
  struct State {
    absl::Mutex mu;
    int in_flight ABSL_GUARDED_BY(mu) = 0;
    int depth = 0;
    bool ok ABSL_GUARDED_BY(mu) = true;
    std::vector<double> done ABSL_GUARDED_BY(mu);
    bool Room() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return in_flight < depth;
    }
    bool Drained() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return in_flight == 0;
    }
  };
  Side s;
  s.run = [&client, run, payload, depth](int t, absl::Time end,
                                         std::vector<double>& lat) {
    auto st = std::make_shared<State>();
    st->depth = depth;
    for (int64_t i = 0; absl::Now() < end; ++i) {
      {
        absl::MutexLock lock(&st->mu);
        st->mu.Await(absl::Condition(st.get(), &State::Room));
        ++st->in_flight;
      }
      const absl::Time t0 = absl::Now();
      client.AppendActionAsync(
          AppendOf(run, t, i, payload),
          [st, t0](absl::StatusOr<v1::AppendActionResponse> r) {
            absl::MutexLock lock(&st->mu);
            if (!r.ok()) st->ok = false;
            st->done.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
            --st->in_flight;
          });
    }
    absl::MutexLock lock(&st->mu);
    st->mu.Await(absl::Condition(st.get(), &State::Drained));
    lat = st->done;
    return st->ok;
  };
  return s;
}

using Connections = std::vector<std::unique_ptr<pqxx::connection>>;

// One connection per thread, each with `sql` prepared as `name`; opened
// before the clock starts.
void OpenConnections(const std::string& dsn, int threads, const char* name,
                     const char* sql, Connections& out) {
  for (int t = 0; t < threads; ++t) {
    auto c = std::make_unique<pqxx::connection>(dsn);
    c->prepare(name, sql);
    out.push_back(std::move(c));
  }
}

// The baseline: one autocommitted prepared statement per action, a
// connection per thread.
Side DirectInsert(const std::string& dsn, const std::string& run,
                  const std::string& payload) {
  Side s;
  auto conns = std::make_shared<Connections>();
  s.prepare = [conns, dsn](int threads) {
    OpenConnections(
        dsn, threads, "put",
        "INSERT INTO bench_direct (job_id, record_key, seq_num, action_key, "
        "state) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        *conns);
  };
  s.run = [conns, run, payload](int t, absl::Time end,
                                std::vector<double>& lat) {
    pqxx::connection& c = *(*conns)[t];
    const pqxx::binarystring bytes(payload.data(), payload.size());
    for (int64_t i = 0; absl::Now() < end; ++i) {
      const absl::Time t0 = absl::Now();
      pqxx::nontransaction n(c);  // autocommit: one round trip, one commit
      n.exec_prepared("put", "bench", absl::StrCat(run, "-t", t), i / 10,
                      absl::StrCat("action-", i % 10), bytes);
      lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    }
    return true;
  };
  s.close = [conns] { conns->clear(); };
  return s;
}

// Records with 5 completed actions each, for the replay workload.
constexpr int kReplayRecords = 2000;

void SeedReplay(JournalClient& client, const std::string& dsn,
                const std::string& payload) {
  std::vector<std::future<absl::StatusOr<v1::AppendActionResponse>>> appended;
  for (int r = 0; r < kReplayRecords; ++r) {
    for (int a = 0; a < 5; ++a) {
      v1::AppendActionRequest req;
      req.mutable_record()->set_job_id("replay");
      req.mutable_record()->set_record_key(absl::StrCat("r", r));
      req.mutable_record()->set_seq_num(0);
      req.set_action_key(absl::StrCat("action-", a));
      req.mutable_completion()->set_state(payload);
      appended.push_back(client.AppendActionAsync(req));
    }
  }
  for (auto& f : appended) {
    if (!f.get().ok()) std::cerr << "replay seed failed\n";
  }
  // The direct side's rows: the same 5 per record, in its own table.
  pqxx::connection c(dsn);
  pqxx::work w(c);
  w.exec_params(
      "INSERT INTO bench_direct SELECT 'replay', 'r' || (i / 5), 0, 'action-' "
      "|| (i % 5), "
      "$1 FROM generate_series(0, $2) i ON CONFLICT DO NOTHING",
      pqxx::binarystring(payload.data(), payload.size()),
      kReplayRecords * 5 - 1);
  w.commit();
}

Side ServiceReplay(JournalClient& client) {
  Side s;
  s.run = [&client](int t, absl::Time end, std::vector<double>& lat) {
    for (int64_t i = 0; absl::Now() < end; ++i) {
      v1::BeginRecordRequest req;
      req.mutable_record()->set_job_id("replay");
      req.mutable_record()->set_record_key(
          absl::StrCat("r", (i * 8 + t) % kReplayRecords));
      const absl::Time t0 = absl::Now();
      auto r = client.BeginRecord(req);
      if (!r.ok() || r->actions_size() != 5) {
        std::cerr << (r.ok() ? "not 5 actions" : r.status().ToString()) << "\n";
        return false;
      }
      lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    }
    return true;
  };
  return s;
}

Side DirectReplay(const std::string& dsn) {
  Side s;
  auto conns = std::make_shared<Connections>();
  s.prepare = [conns, dsn](int threads) {
    OpenConnections(dsn, threads, "get",
                    "SELECT state FROM bench_direct WHERE job_id = $1 AND "
                    "record_key = $2 "
                    "AND seq_num = $3 AND action_key = $4",
                    *conns);
  };
  s.run = [conns](int t, absl::Time end, std::vector<double>& lat) {
    pqxx::connection& c = *(*conns)[t];
    for (int64_t i = 0; absl::Now() < end; ++i) {
      const std::string key = absl::StrCat("r", (i * 8 + t) % kReplayRecords);
      const absl::Time t0 = absl::Now();
      for (int a = 0; a < 5; ++a) {
        pqxx::nontransaction n(c);
        if (n.exec_prepared("get", "replay", key, 0, absl::StrCat("action-", a))
                .size() != 1) {
          return false;
        }
      }
      lat.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    }
    return true;
  };
  s.close = [conns] { conns->clear(); };
  return s;
}

// Payloads as agents produce them: prose (LLM output) from a 400-word
// vocabulary, common words more frequent, and a retrieval tool's JSON
// answer (documents with ids, scores and a passage of prose).
std::string Prose(std::mt19937& rng, size_t bytes) {
  static const std::vector<std::string>* kWords = [] {
    const char* syllables[] = {"ca",  "lo", "ter",  "in",  "sta", "ment", "re",
                               "con", "di", "tion", "pro", "ver", "al",   "ex",
                               "pe",  "ri", "an",   "ous", "de",  "for"};
    auto* w = new std::vector<std::string>{"the", "a",  "of",   "and", "to",
                                           "is",  "in", "that", "for", "it"};
    std::mt19937 g(1);
    while (w->size() < 400) {
      std::string word;
      for (int n = 1 + g() % 3; n > 0; --n) word += syllables[g() % 20];
      w->push_back(word);
    }
    return w;
  }();
  std::uniform_real_distribution<double> u(0, 1);
  std::string out;
  while (out.size() < bytes) {
    const double x = u(rng);
    out += (*kWords)[static_cast<size_t>(x * x * x * kWords->size())];
    out += u(rng) < 0.07 ? ". " : " ";
  }
  out.resize(bytes);
  return out;
}

std::string ToolJson(std::mt19937& rng, size_t bytes) {
  std::string out = R"({"tool":"search","results":[)";
  for (int i = 0; out.size() < bytes; ++i) {
    absl::StrAppend(&out, i ? "," : "", R"({"id":"doc-)", rng() % 100000,
                    R"(","score":0.)", rng() % 1000, R"(,"title":")",
                    Prose(rng, 40), R"(","text":")", Prose(rng, 600), "\"}");
  }
  out.resize(bytes);
  return out;
}

// What compression costs and saves on such payloads: the codec alone, then
// the bytes a PostgreSQL store holds for the same appends with it on and
// off, and the appends' rate both ways (one writer, synchronous).
void CompressionWorkload(const std::string& dsn, int reps,
                         std::vector<std::string>* results) {
  std::mt19937 rng(42);
  struct Sample {
    std::string name, payload;
  };
  const std::vector<Sample> samples = {{"prose-2k", Prose(rng, 2048)},
                                       {"prose-16k", Prose(rng, 16384)},
                                       {"json-16k", ToolJson(rng, 16384)},
                                       {"json-256k", ToolJson(rng, 262144)}};
  std::cout << absl::StrFormat("%-10s %-10s %8s %11s %11s\n", "workload",
                               "payload", "ratio", "encode us", "decode us");
  for (const Sample& s : samples) {
    std::string stored;
    std::vector<double> enc, dec;
    const int n =
        static_cast<int>(std::max<size_t>(20, (4 << 20) / s.payload.size()));
    for (int r = 0; r < reps * 3; ++r) {
      absl::Time t0 = absl::Now();
      for (int i = 0; i < n; ++i) stored = EncodePayload(s.payload, {});
      absl::Time t1 = absl::Now();
      for (int i = 0; i < n; ++i) DecodePayload(stored).IgnoreError();
      absl::Time t2 = absl::Now();
      enc.push_back(absl::ToDoubleMicroseconds(t1 - t0) / n);
      dec.push_back(absl::ToDoubleMicroseconds(t2 - t1) / n);
    }
    std::cout << absl::StrFormat(
        "%-10s %-10s %7.2fx %11.1f %11.1f\n", "compress", s.name,
        static_cast<double>(s.payload.size()) / stored.size(),
        Percentile(enc, 50), Percentile(dec, 50));
  }
  // The same 2,000 appends of json-16k into a store with compression on,
  // then off: bytes on disk (pg_column_size: after PostgreSQL's own TOAST
  // compression, pglz, which it applies to values over 2 kB) and appends
  // per second.
  double bytes[2] = {0, 0}, rate[2] = {0, 0};
  for (int on = 1; on >= 0; --on) {
    PostgresStoreOptions po;
    po.dsn = dsn;
    JournalOptions jo;
    jo.compression.min_bytes = on ? 1024 : 0;
    auto store = NewPostgresJournalStore(po, jo);
    if (!store.ok()) {
      std::cerr << store.status() << "\n";
      return;
    }
    const std::string job =
        absl::StrCat("bench-z", on, "-", absl::ToUnixMicros(absl::Now()));
    constexpr int kAppends = 2000;
    const absl::Time t0 = absl::Now();
    for (int i = 0; i < kAppends; ++i) {
      AppendRequest a;
      a.record = RecordId{job, absl::StrCat("k", i % 100), i / 100};
      a.action_key = "retrieve";
      a.entry = Completion{ToolJson(rng, 16384)};
      (*store)->AppendAction(a).IgnoreError();
    }
    rate[on] = kAppends / absl::ToDoubleSeconds(absl::Now() - t0);
    pqxx::connection c(dsn);
    pqxx::nontransaction n(c);
    bytes[on] = n.exec_params(
                     "SELECT sum(pg_column_size(state)) FROM "
                     "completions WHERE job_id = $1",
                     job)[0][0]
                    .as<double>();
    (*store)->Prune({job, {}, std::nullopt, true}).IgnoreError();
  }
  std::cout << absl::StrFormat(
      "compress   stored     2000 x json-16k (%.1f MB sent): %.1f MB on disk "
      "with zstd, %.1f MB with PostgreSQL's pglz alone; appends/s %.0f with "
      "zstd, %.0f without\n",
      2000 * 16384 / 1e6, bytes[1] / 1e6, bytes[0] / 1e6, rate[1], rate[0]);
  results->push_back(absl::StrFormat(
      "RESULT workload=compress stored_ratio=%.2f rate_ratio=%.2f",
      bytes[0] / std::max(1.0, bytes[1]), rate[1] / std::max(1.0, rate[0])));
}

// The delete path under steady churn: 4 writers append records of one
// 256-byte completion each, and a pruner deletes them (retention 0) every
// 200 ms, for `seconds`; every 10 s, the live rows against the tables' size
// on disk and the dead rows autovacuum has yet to reclaim.
void ChurnWorkload(const std::string& dsn, double seconds,
                   std::vector<std::string>* results) {
  PostgresStoreOptions po;
  po.dsn = dsn;
  auto store = NewPostgresJournalStore(po);
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    return;
  }
  const std::string job =
      absl::StrCat("churn-", absl::ToUnixMicros(absl::Now()));
  constexpr int kWriters = 4;
  std::atomic<int64_t> next_seq[kWriters] = {};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> written{0};
  std::vector<std::thread> threads;
  const std::string payload(256, 'x');
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = 0; !stop.load(); ++i) {
        AppendRequest a;
        a.record = RecordId{job, absl::StrCat("k", t), i};
        a.action_key = "act";
        a.entry = Completion{payload};
        if ((*store)->AppendAction(a).ok()) ++written;
        next_seq[t].store(i + 1);
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      absl::SleepFor(absl::Milliseconds(200));
      PruneRequest p;
      p.job_id = job;
      for (int t = 0; t < kWriters; ++t) {
        p.keys.emplace_back(absl::StrCat("k", t), next_seq[t].load() - 1);
      }
      (*store)->Prune(p).IgnoreError();
    }
  });
  pqxx::connection c(dsn);
  std::cout << absl::StrFormat("%-8s %10s %8s %12s %12s %10s\n", "churn s",
                               "written", "live", "on disk kB", "dead rows",
                               "vacuums");
  double bytes = 0, live = 0;
  const absl::Time start = absl::Now();
  for (absl::Time at = start + absl::Seconds(10);
       at <= start + absl::Seconds(seconds); at += absl::Seconds(10)) {
    absl::SleepFor(at - absl::Now());
    pqxx::nontransaction n(c);
    pqxx::row r = n.exec1(
        "SELECT (SELECT count(*) FROM records WHERE job_id = " + n.quote(job) +
        "), pg_total_relation_size('records') + "
        "pg_total_relation_size('completions') + "
        "pg_total_relation_size('steps'), (SELECT sum(n_dead_tup) FROM "
        "pg_stat_user_tables WHERE relname IN ('records', 'completions', "
        "'steps')), (SELECT sum(autovacuum_count) FROM pg_stat_user_tables "
        "WHERE relname IN ('records', 'completions', 'steps'))");
    live = r[0].as<double>();
    bytes = r[1].as<double>();
    std::cout << absl::StrFormat("%-8.0f %10d %8.0f %12.0f %12s %10s\n",
                                 absl::ToDoubleSeconds(absl::Now() - start),
                                 written.load(), live, bytes / 1024,
                                 r[2].c_str(), r[3].c_str());
  }
  stop = true;
  for (auto& t : threads) t.join();
  results->push_back(
      absl::StrFormat("RESULT workload=churn written=%d live=%.0f disk_kb=%.0f",
                      written.load(), live, bytes / 1024));
  (*store)->Prune({job, {}, std::nullopt, true}).IgnoreError();
}

// Large-payload dedup: many records storing the same tool result (8 JSON
// documents of 8 to 32 KB, as a retrieval tool answers popular queries),
// each record one step holding a document and a 256-byte completion, from
// 8 writers. Each configuration (compression on or off, dedup on or off)
// runs `reps` times, each in a database of its own made for it: the tables'
// size on disk (heap, TOAST and indexes of records, steps, completions and
// blobs) and the appends' rate (median, and the spread).
void DedupWorkload(const std::string& dsn, int reps, int records,
                   std::vector<std::string>* results) {
  std::mt19937 rng(7);
  std::vector<std::string> docs;
  for (int i = 0; i < 8; ++i) docs.push_back(ToolJson(rng, 8192 + i * 3511));
  const std::string small = Prose(rng, 256);
  double sent = 0;
  for (int i = 0; i < records; ++i) sent += docs[i % 8].size() + small.size();
  struct Config {
    const char* name;
    int compression_min, dedup_min;
    std::vector<double> bytes, rates;
  };
  Config configs[] = {{"zstd+dedup", 1024, 2048, {}, {}},
                      {"zstd", 1024, 0, {}, {}},
                      {"dedup", 0, 2048, {}, {}},
                      {"neither", 0, 0, {}, {}}};
  // Another database on the same server: the URI's path replaced.
  const std::string db = "aj_bench_dedup";
  const std::string db_dsn = dsn.substr(0, dsn.rfind('/') + 1) + db;
  constexpr int kWriters = 8;
  for (int r = 0; r < reps; ++r) {
    for (Config& config : configs) {
      {
        pqxx::connection admin(dsn);
        pqxx::nontransaction n(admin);
        n.exec("DROP DATABASE IF EXISTS " + db);
        n.exec("CREATE DATABASE " + db);
      }
      PostgresStoreOptions po;
      po.dsn = db_dsn;
      JournalOptions jo;
      jo.compression.min_bytes = config.compression_min;
      jo.dedup.min_bytes = config.dedup_min;
      auto store = NewPostgresJournalStore(po, jo);
      if (!store.ok()) {
        std::cerr << "dedup: " << store.status() << "\n";
        return;
      }
      std::atomic<int> failed{0};
      const absl::Time t0 = absl::Now();
      std::vector<std::thread> threads;
      for (int t = 0; t < kWriters; ++t) {
        threads.emplace_back([&, t] {
          for (int i = t; i < records; i += kWriters) {
            AppendRequest a;
            a.record =
                RecordId{"bench-dedup", absl::StrCat("k", i % 100), i / 100};
            a.action_key = "retrieve";
            Step step;
            step.function_id = "search";
            step.status = StepStatus::kSucceeded;
            step.result = docs[i % 8];
            a.entry = step;
            if (!(*store)->AppendAction(a).ok()) ++failed;
            a.entry = Completion{small};
            if (!(*store)->AppendAction(a).ok()) ++failed;
          }
        });
      }
      for (auto& t : threads) t.join();
      config.rates.push_back(2 * records /
                             absl::ToDoubleSeconds(absl::Now() - t0));
      store->reset();  // its connections closed before the DROP
      if (failed > 0) std::cerr << "dedup: " << failed << " appends failed\n";
      pqxx::connection c(db_dsn);
      pqxx::nontransaction n(c);
      config.bytes.push_back(
          n.exec1("SELECT pg_total_relation_size('records') + "
                  "pg_total_relation_size('steps') + "
                  "pg_total_relation_size('completions') + "
                  "pg_total_relation_size('blobs')")[0]
              .as<double>());
    }
  }
  {
    pqxx::connection admin(dsn);
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + db);
  }
  std::cout << absl::StrFormat(
      "dedup      %d records x (one of 8 tool results of 8-32 KB + 256 B), "
      "%.1f MB sent, %d writers; medians of %d runs [min-max]\n",
      records, sent / 1e6, kWriters, reps);
  std::cout << absl::StrFormat("%-10s %-11s %14s %26s\n", "workload", "store",
                               "on disk MB", "appends/s");
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (const Config& config : configs) {
    std::cout << absl::StrFormat(
        "%-10s %-11s %14.2f %10.0f [%5.0f-%5.0f]\n", "dedup", config.name,
        median(config.bytes) / 1e6, median(config.rates),
        *std::min_element(config.rates.begin(), config.rates.end()),
        *std::max_element(config.rates.begin(), config.rates.end()));
  }
  results->push_back(absl::StrFormat(
      "RESULT workload=dedup zstd_dedup_mb=%.2f zstd_mb=%.2f dedup_mb=%.2f "
      "neither_mb=%.2f rate_ratio_zstd=%.2f",
      median(configs[0].bytes) / 1e6, median(configs[1].bytes) / 1e6,
      median(configs[2].bytes) / 1e6, median(configs[3].bytes) / 1e6,
      median(configs[0].rates) / median(configs[1].rates)));
}

double Median(std::vector<Result> v, double Result::*f) {
  std::vector<double> x;
  for (auto& r : v) x.push_back(r.*f);
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

void Print(const std::string& name, const std::string& side,
           const std::vector<Result>& r) {
  std::cout << absl::StrFormat(
      "%-10s %-8s %10.0f %8.2f %8.2f %7.1f %9.0f %9.0f\n", name, side,
      Median(r, &Result::ops_per_sec), Median(r, &Result::p50_ms),
      Median(r, &Result::p99_ms), Median(r, &Result::batch),
      Median(r, &Result::cpu_us_per_op), Median(r, &Result::pg_cpu_us_per_op));
}

// The read API on a large journal (issue 22): ListRecords' first page and a
// deep one (after half the job's records), 50 records each, on SQLite and
// on PostgreSQL, with `records` records of one job (each with one 64-byte
// completion) loaded by SQL. p50 and p99 over `calls` calls each.
void ListWorkload(const std::string& dsn, int64_t records, int calls,
                  std::vector<std::string>* results) {
  auto measure = [&](const char* store_name, JournalStore& store) {
    ListRecordsQuery q;
    q.job_id = "bench-list";
    q.limit = 50;
    // The deep page's position: the record half way down, newest first.
    ListRecordsQuery::After middle{
        absl::FromUnixMicros(1'700'000'000'000'000 + records / 2),
        absl::StrCat("key-", records / 2), 0};
    for (const char* page : {"first", "deep"}) {
      if (std::string(page) == "deep") q.after = middle;
      std::vector<double> ms;
      size_t rows = 0;
      for (int i = 0; i < calls; ++i) {
        const absl::Time t0 = absl::Now();
        auto r = store.ListRecords(q);
        ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        if (!r.ok()) {
          std::cerr << "list: " << r.status() << "\n";
          return;
        }
        rows = r->size();
      }
      std::sort(ms.begin(), ms.end());
      const double p50 = ms[ms.size() / 2];
      const double p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
      std::cout << absl::StrFormat(
          "list       %-10s %-5s page of %zu of %d records: p50 %.2f ms, p99 "
          "%.2f ms (%d calls)\n",
          store_name, page, rows, records, p50, p99, calls);
      results->push_back(absl::StrFormat(
          "RESULT workload=list_%d store=%s page=%s p50_ms=%.2f p99_ms=%.2f "
          "rows=%zu",
          records, store_name, page, p50, p99, rows));
    }
  };
  // SQLite: a file of its own, the schema made by the store, then the rows.
  {
    const std::string path =
        absl::StrCat("/tmp/aj-bench-list-", getpid(), ".db");
    {
      SqliteStoreOptions so;
      so.path = path;
      auto store = NewSqliteJournalStore(so);  // the schema
      if (!store.ok()) {
        std::cerr << "list: " << store.status() << "\n";
        return;
      }
    }
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    const std::string load = absl::StrCat(
        "BEGIN; WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM "
        "n WHERE i < ",
        records - 1,
        ") INSERT INTO records (job_id, "
        "record_key, seq_num, attempt, input_fingerprint, completed_at_us, "
        "written_at_us, created_at_us) SELECT 'bench-list', CAST('key-' || i "
        "AS BLOB), 0, 1, X'', NULL, 1700000000000000 + i, 1700000000000000 + "
        "i FROM n; INSERT INTO completions (job_id, record_key, seq_num, "
        "action_key, state, input_tokens, output_tokens, micro_usd, "
        "written_at_us) SELECT job_id, record_key, 0, 'act', randomblob(64), "
        "1, 2, 3, created_at_us FROM records WHERE job_id = 'bench-list'; "
        "COMMIT; ANALYZE;");
    char* err = nullptr;
    const absl::Time t0 = absl::Now();
    if (sqlite3_exec(db, load.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::cerr << "list: sqlite load: " << (err ? err : "?") << "\n";
      sqlite3_free(err);
    }
    sqlite3_close(db);
    std::cout << absl::StrFormat(
        "list       sqlite loaded %d records in %.1f s\n", records,
        absl::ToDoubleSeconds(absl::Now() - t0));
    SqliteStoreOptions so;
    so.path = path;
    auto store = NewSqliteJournalStore(so);
    if (store.ok()) measure("sqlite", **store);
    store = absl::UnknownError("closed");
    for (const char* suffix : {"", "-wal", "-shm"})
      std::remove((path + suffix).c_str());
  }
  // PostgreSQL: a database of its own on the same server.
  const std::string db = "aj_bench_list";
  const std::string db_dsn = dsn.substr(0, dsn.rfind('/') + 1) + db;
  {
    pqxx::connection admin(dsn);
    pqxx::nontransaction n(admin);
    n.exec("DROP DATABASE IF EXISTS " + db);
    n.exec("CREATE DATABASE " + db);
  }
  {
    PostgresStoreOptions po;
    po.dsn = db_dsn;
    auto store = NewPostgresJournalStore(po, {});  // the schema
    if (!store.ok()) {
      std::cerr << "list: " << store.status() << "\n";
      return;
    }
    const absl::Time t0 = absl::Now();
    {
      pqxx::connection c(db_dsn);
      pqxx::work w(c);
      w.exec(absl::StrCat(
          "INSERT INTO records (job_id, record_key, seq_num, attempt, "
          "input_fingerprint, written_at_us, created_at_us) SELECT "
          "'bench-list', convert_to('key-' || i, 'UTF8'), 0, 1, '', "
          "1700000000000000 + i, 1700000000000000 + i FROM generate_series(0, ",
          records - 1, ") i"));
      w.exec(
          "INSERT INTO completions (job_id, record_key, seq_num, action_key, "
          "state, input_tokens, output_tokens, micro_usd, written_at_us) "
          "SELECT job_id, record_key, 0, 'act', decode(md5(record_key::text) "
          "|| md5(record_key::text || 'x'), 'hex'), 1, 2, 3, created_at_us "
          "FROM records WHERE job_id = 'bench-list'");
      w.commit();
      pqxx::nontransaction(c).exec("VACUUM ANALYZE records, completions");
    }
    std::cout << absl::StrFormat(
        "list       postgres loaded %d records in %.1f s\n", records,
        absl::ToDoubleSeconds(absl::Now() - t0));
    measure("postgres", **store);
  }
  pqxx::connection admin(dsn);
  pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + db);
}

// What the read APIs' index (records_created, migration 0008) costs the
// writers: sync32 with it and without it, alternating, `reps` times each.
void IndexCostWorkload(JournalClient& client, const std::string& dsn,
                       double seconds, int reps, const std::string& payload,
                       const std::string& profile,
                       std::vector<std::string>* results) {
  std::vector<Result> with, without;
  auto exec = [&dsn](const char* sql) {
    pqxx::connection c(dsn);
    pqxx::nontransaction(c).exec(sql);
  };
  for (int r = 0; r < reps; ++r) {
    for (bool indexed : {true, false}) {
      exec(indexed ? "CREATE INDEX IF NOT EXISTS records_created ON records "
                     "(job_id, created_at_us)"
                   : "DROP INDEX IF EXISTS records_created");
      Side s = ServiceSync(client,
                           absl::StrCat("ix", indexed, "-", r, "-",
                                        absl::ToUnixMicros(absl::Now())),
                           payload);
      (indexed ? with : without)
          .push_back(Drive(32, absl::Seconds(seconds), s, nullptr));
    }
  }
  exec(
      "CREATE INDEX IF NOT EXISTS records_created ON records (job_id, "
      "created_at_us)");
  Print("index_cost", "with", with);
  Print("index_cost", "without", without);
  std::vector<double> ratios;
  for (int r = 0; r < reps; ++r)
    ratios.push_back(with[r].ops_per_sec / without[r].ops_per_sec);
  std::sort(ratios.begin(), ratios.end());
  results->push_back(absl::StrFormat(
      "RESULT workload=index_cost profile=%s with_per_s=%.0f "
      "without_per_s=%.0f "
      "ratio=%.3f min=%.3f max=%.3f",
      profile, Median(with, &Result::ops_per_sec),
      Median(without, &Result::ops_per_sec), ratios[ratios.size() / 2],
      ratios.front(), ratios.back()));
}

int Main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(
      absl::OnDeadlockCycle::kIgnore);  // as the server
  std::string dsn;
  // The service's own way to PostgreSQL (a pooler), when not `dsn`; the
  // direct side always uses `dsn`.
  std::string service_dsn;
  std::string profile = "loopback";
  bool transaction_pooling = false;
  double seconds = 3;
  int reps = 3, payload_bytes = 256;
  double churn_seconds = 300;
  int dedup_records = 4000;
  int list_records = 1000000;
  // The service's defaults unless given (to measure other settings).
  PostgresStoreOptions po;
  ClientOptions co;
  std::vector<std::string> workloads = {"sync1",     "sync8",   "sync32",
                                        "pipelined", "replay5", "ceiling",
                                        "compress",  "list",    "index_cost"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    bool ok = true;
    if (k == "--dsn") {
      dsn = v;
    } else if (k == "--service-dsn") {
      service_dsn = v;
    } else if (k == "--transaction-pooling") {
      ok = absl::SimpleAtob(v, &transaction_pooling);
    } else if (k == "--seconds") {
      ok = absl::SimpleAtod(v, &seconds);
    } else if (k == "--reps") {
      ok = absl::SimpleAtoi(v, &reps);
    } else if (k == "--payload") {
      ok = absl::SimpleAtoi(v, &payload_bytes);
    } else if (k == "--churn-seconds") {
      ok = absl::SimpleAtod(v, &churn_seconds);
    } else if (k == "--dedup-records") {
      ok = absl::SimpleAtoi(v, &dedup_records);
    } else if (k == "--list-records") {
      ok = absl::SimpleAtoi(v, &list_records);
    } else if (k == "--pg-write-transactions") {
      ok = absl::SimpleAtoi(v, &po.max_write_transactions);
    } else if (k == "--client-calls-in-flight") {
      ok = absl::SimpleAtoi(v, &co.max_appends_calls_in_flight);
    } else if (k == "--workloads") {
      workloads = absl::StrSplit(v, ',');
    } else if (k == "--profile") {
      profile = v;
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
                 "[--reps 3] "
                 "[--payload 256] [--workloads "
                 "sync1,sync8,sync32,pipelined,replay5,ceiling] "
                 "[--service-dsn postgresql://pooler...] "
                 "[--transaction-pooling true] [--pg-write-transactions 2] "
                 "[--client-calls-in-flight 2] [--profile loopback]\n";
    return 2;
  }
  {
    pqxx::connection c(dsn);
    pqxx::work w(c);
    w.exec(
        "CREATE TABLE IF NOT EXISTS bench_direct (job_id text, record_key "
        "text, seq_num "
        "bigint, action_key text, state bytea, PRIMARY KEY (job_id, "
        "record_key, seq_num, "
        "action_key))");
    w.exec("TRUNCATE bench_direct");
    w.commit();
  }
  po.dsn = service_dsn.empty() ? dsn : service_dsn;
  po.transaction_pooling = transaction_pooling;
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
  co.target = absl::StrCat("127.0.0.1:", (*server)->port());
  auto client = std::move(JournalClient::Create(co)).value();

  std::cout << absl::StrFormat("%-10s %-8s %10s %8s %8s %7s %9s %9s\n",
                               "workload", "side", "ops/s", "p50 ms", "p99 ms",
                               "batch", "cpu us/op", "pg us/op");
  std::vector<std::string> results;
  int run = 0;
  for (const std::string& w : workloads) {
    std::vector<Result> svc, direct;
    if (w == "churn") {  // on request only: it takes --churn-seconds
      ChurnWorkload(dsn, churn_seconds, &results);
      continue;
    }
    if (w == "compress") {
      CompressionWorkload(dsn, reps, &results);
      continue;
    }
    if (w == "dedup") {  // on request only: it makes databases of its own
      DedupWorkload(dsn, reps, dedup_records, &results);
      continue;
    }
    if (w == "list") {  // it loads --list-records records of its own
      ListWorkload(dsn, list_records, 200, &results);
      continue;
    }
    if (w == "index_cost") {
      IndexCostWorkload(*client, dsn, seconds, reps, payload, profile,
                        &results);
      continue;
    }
    if (w == "replay5") SeedReplay(*client, dsn, payload);
    if (w == "ceiling") {
      // The RPC layer alone: the memory store, 1 and 32 threads. At 1
      // thread its latency bounds what any store behind the RPC can reach
      // against one autocommitted INSERT.
      auto memory = NewMemoryJournalStore();
      ServerOptions mo;
      mo.listen = "127.0.0.1:0";
      auto mserver = JournalServer::Start(mo, *memory);
      ClientOptions mc;
      mc.target = absl::StrCat("127.0.0.1:", (*mserver)->port());
      auto mclient = std::move(JournalClient::Create(mc)).value();
      for (int threads : {1, 32}) {
        svc.clear();
        for (int r = 0; r < reps; ++r) {
          Side s = ServiceSync(*mclient, absl::StrCat("m", run++), payload);
          svc.push_back(Drive(threads, absl::Seconds(seconds), s, nullptr));
        }
        Print(absl::StrCat("ceiling", threads), "memory", svc);
      }
      (*mserver)->Shutdown();
      continue;
    }
    const int threads = w == "sync1"     ? 1
                        : w == "sync8"   ? 8
                        : w == "replay5" ? 8
                                         : 32;
    for (int r = 0; r < reps; ++r) {
      const std::string tag =
          absl::StrCat(absl::ToUnixMicros(absl::Now()), "-", run++);
      Side s = w == "pipelined" ? ServicePipelined(*client, tag, payload, 256)
               : w == "replay5" ? ServiceReplay(*client)
                                : ServiceSync(*client, tag, payload);
      svc.push_back(Drive(w == "pipelined" ? 1 : threads,
                          absl::Seconds(seconds), s, &batches));
      Side d =
          w == "replay5" ? DirectReplay(dsn) : DirectInsert(dsn, tag, payload);
      direct.push_back(Drive(threads, absl::Seconds(seconds), d, nullptr));
    }
    Print(w, "service", svc);
    Print(w, "direct", direct);
    std::vector<double> ratios;
    for (int r = 0; r < reps; ++r)
      ratios.push_back(svc[r].ops_per_sec / direct[r].ops_per_sec);
    std::sort(ratios.begin(), ratios.end());
    results.push_back(absl::StrFormat(
        "RESULT workload=%s profile=%s service_per_s=%.0f direct_per_s=%.0f "
        "ratio=%.2f",
        w, profile, Median(svc, &Result::ops_per_sec),
        Median(direct, &Result::ops_per_sec), ratios[ratios.size() / 2]));
    std::cout << absl::StrFormat(
        "%-10s ratios   %s\n", w,
        absl::StrJoin(ratios, " ", [](std::string* o, double x) {
          absl::StrAppend(o, absl::StrFormat("%.2f", x));
        }));
  }
  std::cout
      << "medians of " << reps << " runs of " << seconds
      << " s each, sides alternating; batch = mean writes per group-commit "
         "transaction; cpu us/op = this process's CPU (service: client, server "
         "and "
         "journal; direct: libpq client); pg us/op = PostgreSQL's processes' "
         "CPU; "
         "ratio = median of per-run service/direct throughput\n";
  for (const std::string& r : results) std::cout << r << "\n";
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace actionjournal

int main(int argc, char** argv) { return actionjournal::Main(argc, argv); }
