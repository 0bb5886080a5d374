// The PostgreSQL backend translates a batch into a fixed number of round
// trips, whatever its size: BEGIN (with the batch's statement timeout), one
// statement locking every record of the batch, one reading the entries the
// rules need, one for deletes (only when a reset or a replace needs it), one
// for every other write, COMMIT: five, six with deletes. Reads are one
// statement and no transaction.
#include "storage/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/backend.h"
#include "storage/dedup.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/migrate.h"
#include "storage/postgres/pool.h"
#include "storage/postgres/statements.h"

namespace actionjournal {
namespace {

using postgres::ArrayLiteral;
using postgres::ConnectionPool;
using postgres::Guard;

std::string FromBin(const pqxx::field& f) {
  return pqxx::binarystring(f).str();
}
int64_t I64(uint64_t v) { return static_cast<int64_t>(v); }

RecordId IdAt(const pqxx::row& r) {
  return RecordId{r[0].as<std::string>(), FromBin(r[1]), r[2].as<int64_t>()};
}

Cost CostAt(const pqxx::row& r, int i) {
  return Cost{static_cast<uint64_t>(r[i].as<int64_t>()),
              static_cast<uint64_t>(r[i + 1].as<int64_t>()),
              static_cast<uint64_t>(r[i + 2].as<int64_t>())};
}

RecordRow RowOf(int64_t attempt, std::string fingerprint,
                const pqxx::field& completed) {
  RecordRow row;
  row.attempt = static_cast<uint64_t>(attempt);
  row.input_fingerprint = std::move(fingerprint);
  row.completed = !completed.is_null();
  if (row.completed)
    row.completed_at = absl::FromUnixMicros(completed.as<int64_t>());
  return row;
}

// Adds one row of read_entries / read (statements.cc: kind, then the
// columns of a step, a completion or a record) to `out`. DATA_LOSS when
// an entry's payload is stored once and its blob is missing.
absl::Status AddRow(const pqxx::row& r, Snapshot& out) {
  RecordSnapshot& rec = out[IdAt(r)];
  const int kind = r[3].as<int>();
  if (kind == 2) {
    rec.row = RowOf(r[5].as<int64_t>(), FromBin(r[7]), r[11]);
    return absl::OkStatus();
  }
  if (r[9].is_null()) {
    return absl::DataLossError(absl::StrCat("postgres: an entry of job ",
                                            r[0].as<std::string>(),
                                            " references a missing blob"));
  }
  StoredAction& a = rec.actions[r[4].as<std::string>()];
  if (kind == 1) {
    a.completion = Completion{FromBin(r[9])};
    a.completion_cost = CostAt(r, 11);
    return absl::OkStatus();
  }
  Step s;
  s.index = static_cast<uint32_t>(r[5].as<int64_t>());
  s.function_id = r[6].as<std::string>();
  s.args_digest = FromBin(r[7]);
  s.status = static_cast<StepStatus>(r[8].as<int>());
  s.result = FromBin(r[9]);
  s.error = FromBin(r[10]);
  s.cost = CostAt(r, 11);
  a.steps.push_back(std::move(s));
  return absl::OkStatus();
}

// Steps arrive unordered from the joins; the rules want them by index.
void SortSteps(Snapshot& s) {
  for (auto& [id, rec] : s) {
    for (auto& [key, a] : rec.actions) {
      std::sort(a.steps.begin(), a.steps.end(),
                [](const Step& x, const Step& y) { return x.index < y.index; });
    }
  }
}

// The arrays of a read: (record, action) pairs, and whole records.
struct EntryArgs {
  ArrayLiteral pair_jobs, pair_keys, pair_seqs, pair_actions;
  ArrayLiteral rec_jobs, rec_keys, rec_seqs;

  void Add(const ReadSet::Item& item) {
    if (item.all_actions) {
      rec_jobs.Text(item.record.job_id);
      rec_keys.Bytes(item.record.record_key);
      rec_seqs.Int(item.record.seq_num);
      return;
    }
    for (const std::string& key : item.action_keys) {
      pair_jobs.Text(item.record.job_id);
      pair_keys.Bytes(item.record.record_key);
      pair_seqs.Int(item.record.seq_num);
      pair_actions.Text(key);
    }
  }
  bool empty() const { return pair_jobs.empty() && rec_jobs.empty(); }
};

// The write statement's arrays ("write" in statements.cc): the rows, the
// digests of step inserts, upgrades and completions, and the blobs.
struct WriteArgs {
  ArrayLiteral ir[7], ur[7], si[13], su[11], ci[8], digests[3], blobs[4];
};

// The blobs a write references, by (job, digest): the payload and how many
// of the write's rows reference it.
using BlobRefs =
    std::map<std::pair<std::string, std::string>, std::pair<std::string, int>>;

// The payload param of an entry row, and its digest in `digests` (NULL when
// stored inline), counting a reference in `blobs`.
std::string StoredPayload(const std::string& job_id, const std::string& payload,
                          const DedupOptions& dedup, ArrayLiteral& digests,
                          BlobRefs& blobs) {
  std::optional<std::string> digest = DedupDigest(payload, dedup);
  if (!digest.has_value()) {
    digests.Null();
    return payload;
  }
  digests.Bytes(*digest);
  auto& [bytes, refs] = blobs[{job_id, *std::move(digest)}];
  if (refs++ == 0) bytes = payload;
  return std::string();
}

void AddRecord(ArrayLiteral* a, const RecordId& id, const RecordRow& row) {
  a[0].Text(id.job_id);
  a[1].Bytes(id.record_key);
  a[2].Int(id.seq_num);
  a[3].Int(I64(row.attempt));
  a[4].Bytes(row.input_fingerprint);
  if (row.completed) {
    a[5].Int(absl::ToUnixMicros(row.completed_at));
  } else {
    a[5].Null();
  }
  a[6].Int(absl::ToUnixMicros(row.written_at));
}

void AddCost(ArrayLiteral* a, const Cost& c) {
  a[0].Int(I64(c.input_tokens));
  a[1].Int(I64(c.output_tokens));
  a[2].Int(I64(c.micro_usd));
}

absl::Status Expect(int64_t got, int64_t expected, absl::string_view what) {
  if (got == expected) return absl::OkStatus();
  return absl::AbortedError(
      absl::StrCat("postgres: ", what, " changed ", got, " rows, expected ",
                   expected, " (another writer won a race); retry"));
}

// Applies `w` inside the open transaction `n` of one of `pool`'s connections.
absl::Status Apply(const ConnectionPool& pool, pqxx::transaction_base& n,
                   const WriteSet& w, const DedupOptions& dedup) {
  if (!w.entry_deletes.empty() || !w.step_deletes.empty()) {
    ArrayLiteral rj, rk, rs, fj, fk, fs, fa, fi;
    int64_t entries = 0, steps = 0;
    for (const auto& d : w.entry_deletes) {
      rj.Text(d.record.job_id);
      rk.Bytes(d.record.record_key);
      rs.Int(d.record.seq_num);
      entries += d.expected;
    }
    for (const auto& d : w.step_deletes) {
      fj.Text(d.record.job_id);
      fk.Bytes(d.record.record_key);
      fs.Int(d.record.seq_num);
      fa.Text(d.action_key);
      fi.Int(d.from_index);
      steps += d.expected;
    }
    pqxx::result r =
        pool.Exec(n, "delete_entries", rj.Done(), rk.Done(), rs.Done(),
                  fj.Done(), fk.Done(), fs.Done(), fa.Done(), fi.Done());
    RETURN_IF_ERROR(Expect(r[0][0].as<int64_t>(), entries, "reset"));
    RETURN_IF_ERROR(Expect(r[0][1].as<int64_t>(), steps, "replace"));
  }
  if (w.records.empty() && w.steps.empty() && w.completions.empty()) {
    return absl::OkStatus();
  }
  WriteArgs a;
  BlobRefs blobs;
  int64_t inserts = 0, updates = 0, step_inserts = 0, upgrades = 0;
  for (const auto& r : w.records) {
    AddRecord(r.insert ? a.ir : a.ur, r.record, r.row);
    ++(r.insert ? inserts : updates);
  }
  for (const auto& s : w.steps) {
    ArrayLiteral* x = s.upgrade ? a.su : a.si;
    x[0].Text(s.record.job_id);
    x[1].Bytes(s.record.record_key);
    x[2].Int(s.record.seq_num);
    x[3].Text(s.action_key);
    x[4].Int(s.step.index);
    int i = 5;
    if (!s.upgrade) {
      x[i++].Text(s.step.function_id);
      x[i++].Bytes(s.step.args_digest);
    }
    x[i++].Int(static_cast<int>(s.step.status));
    x[i++].Bytes(StoredPayload(s.record.job_id, s.step.result, dedup,
                               a.digests[s.upgrade ? 1 : 0], blobs));
    x[i++].Bytes(s.step.error);
    AddCost(x + i, s.step.cost);
    ++(s.upgrade ? upgrades : step_inserts);
  }
  for (const auto& c : w.completions) {
    a.ci[0].Text(c.record.job_id);
    a.ci[1].Bytes(c.record.record_key);
    a.ci[2].Int(c.record.seq_num);
    a.ci[3].Text(c.action_key);
    a.ci[4].Bytes(StoredPayload(c.record.job_id, c.completion.state, dedup,
                                a.digests[2], blobs));
    AddCost(a.ci + 5, c.cost);
  }
  for (const auto& [key, blob] : blobs) {
    a.blobs[0].Text(key.first);
    a.blobs[1].Bytes(key.second);
    a.blobs[2].Bytes(blob.first);
    a.blobs[3].Int(blob.second);
  }
  std::vector<std::string> params;
  for (const auto& [arrays, n_arrays] :
       std::vector<std::pair<ArrayLiteral*, int>>{{a.ir, 7},
                                                  {a.ur, 7},
                                                  {a.si, 13},
                                                  {a.su, 11},
                                                  {a.ci, 8},
                                                  {a.digests, 3},
                                                  {a.blobs, 4}}) {
    for (int i = 0; i < n_arrays; ++i) params.push_back(arrays[i].Done());
  }
  pqxx::result r =
      pool.Exec(n, "write", pqxx::prepare::make_dynamic_params(params));
  RETURN_IF_ERROR(Expect(r[0][0].as<int64_t>(), inserts, "insert records"));
  RETURN_IF_ERROR(Expect(r[0][1].as<int64_t>(), updates, "update records"));
  RETURN_IF_ERROR(Expect(r[0][2].as<int64_t>(), step_inserts, "insert steps"));
  RETURN_IF_ERROR(Expect(r[0][3].as<int64_t>(), upgrades, "upgrade steps"));
  return Expect(r[0][4].as<int64_t>(),
                static_cast<int64_t>(w.completions.size()),
                "insert completions");
}

// Thread-safe.
class PostgresBackend final : public Backend {
 public:
  PostgresBackend(const PostgresStoreOptions& options, DedupOptions dedup,
                  JournalObserver* observer)
      : options_(options),
        dedup_(dedup),
        pool_(postgres::PoolOptions{options.dsn, options.pool_size,
                                    options.connect_timeout,
                                    options.statement_timeout,
                                    options.acquire_timeout,
                                    options.transaction_pooling},
              observer) {}

  absl::StatusOr<Snapshot> Read(const ReadSet& reads) override {
    return pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<Snapshot> {
      EntryArgs e;
      ArrayLiteral jobs, keys, seqs;
      Snapshot out;
      for (const ReadSet::Item& item : reads.items()) {
        out[item.record];  // present in the snapshot, even if absent in the
                           // store
        e.Add(item);
        jobs.Text(item.record.job_id);
        keys.Bytes(item.record.record_key);
        seqs.Int(item.record.seq_num);
      }
      pqxx::nontransaction n(c);
      for (const pqxx::row& r :
           pool_.Exec(n, "read", e.pair_jobs.Done(), e.pair_keys.Done(),
                      e.pair_seqs.Done(), e.pair_actions.Done(),
                      e.rec_jobs.Done(), e.rec_keys.Done(), e.rec_seqs.Done(),
                      jobs.Done(), keys.Done(), seqs.Done())) {
        RETURN_IF_ERROR(AddRow(r, out));
      }
      // Entries of a record that vanished between the branches' reads (one
      // statement, one snapshot: cannot happen) would have no row.
      SortSteps(out);
      return out;
    });
  }

  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    return pool_.Run([&](pqxx::connection& c) -> absl::Status {
      int64_t timeout_ms =
          absl::ToInt64Milliseconds(options_.statement_timeout);
      if (deadline != absl::InfiniteFuture()) {
        const absl::Duration left = deadline - absl::Now();
        if (left <= absl::ZeroDuration()) {
          return absl::DeadlineExceededError(
              "deadline passed before the transaction");
        }
        timeout_ms = std::max<int64_t>(
            1, std::min(timeout_ms, absl::ToInt64Milliseconds(left)));
      }
      // The transaction by hand, so that BEGIN and its timeout are one round
      // trip; a failure below rolls it back (ROLLBACK, or the connection is
      // dropped by the pool).
      pqxx::nontransaction w(c);
      w.exec(absl::StrCat("BEGIN; SET LOCAL statement_timeout = ", timeout_ms));
      struct Rollback {
        pqxx::nontransaction& w;
        bool done = false;
        ~Rollback() {
          if (done) return;
          try {
            w.exec("ROLLBACK");
          } catch (const std::exception&) {
            // The connection is broken; the pool drops it.
          }
        }
      } rollback{w};
      Snapshot snapshot;
      ArrayLiteral jobs, keys, seqs;
      for (const ReadSet::Item& item : reads.items()) {
        snapshot[item.record];
        jobs.Text(item.record.job_id);
        keys.Bytes(item.record.record_key);
        seqs.Int(item.record.seq_num);
      }
      for (const pqxx::row& r : pool_.Exec(w, "lock_records", jobs.Done(),
                                           keys.Done(), seqs.Done())) {
        RecordRow& row = snapshot[IdAt(r)].row.emplace(
            RowOf(r[3].as<int64_t>(), FromBin(r[4]), r[5]));
        row.written_at = absl::FromUnixMicros(r[6].as<int64_t>());
      }
      // Entries only of records that exist: an absent record has none.
      EntryArgs e;
      for (const ReadSet::Item& item : reads.items()) {
        if (snapshot[item.record].row.has_value()) e.Add(item);
      }
      if (!e.empty()) {
        for (const pqxx::row& r : pool_.Exec(
                 w, "read_entries", e.pair_jobs.Done(), e.pair_keys.Done(),
                 e.pair_seqs.Done(), e.pair_actions.Done(), e.rec_jobs.Done(),
                 e.rec_keys.Done(), e.rec_seqs.Done())) {
          RETURN_IF_ERROR(AddRow(r, snapshot));
        }
        SortSteps(snapshot);
      }
      const WriteSet writes = decide(snapshot);
      RETURN_IF_ERROR(Apply(pool_, w, writes, dedup_));
      w.exec("COMMIT");
      rollback.done = true;
      return absl::OkStatus();
    });
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req,
                                    absl::Time now) override {
    return pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<PruneResult> {
      ArrayLiteral keys, bounds;
      for (const auto& [key, up_to] : req.keys) {
        keys.Bytes(key);
        bounds.Int(up_to);
      }
      std::optional<int64_t> before;
      if (req.completed_before.has_value())
        before = absl::ToUnixMicros(*req.completed_before);
      pqxx::work w(c);
      PruneResult out;
      if (req.retention > absl::ZeroDuration()) {
        pqxx::result r = pool_.Exec(
            w, "prune_retained", req.job_id, req.whole_job, before, keys.Done(),
            bounds.Done(), absl::ToUnixMicros(now + req.retention));
        out.records_retained = r.affected_rows();
      } else {
        pqxx::result r = pool_.Exec(w, "prune", req.job_id, req.whole_job,
                                    before, keys.Done(), bounds.Done());
        out.records_deleted = r[0][0].as<int64_t>();
        out.entries_deleted = r[0][1].as<int64_t>();
      }
      w.commit();
      return out;
    });
  }

  absl::StatusOr<SweepResult> Sweep(absl::Time now, absl::Time written_before,
                                    int limit) override {
    return pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<SweepResult> {
      pqxx::nontransaction n(c);  // one statement, its own transaction
      pqxx::result r = pool_.Exec(n, "sweep", absl::ToUnixMicros(now),
                                  absl::ToUnixMicros(written_before), limit);
      SweepResult out;
      out.ttl_records = r[0][2].as<int64_t>();
      out.retention_records = r[0][0].as<int64_t>() - out.ttl_records;
      out.entries = r[0][1].as<int64_t>();
      return out;
    });
  }

  absl::StatusOr<std::vector<JobStats>> Stats(
      const std::string& job_id) override {
    return pool_.Run(
        [&](pqxx::connection& c) -> absl::StatusOr<std::vector<JobStats>> {
          pqxx::nontransaction n(c);
          pqxx::result r = job_id.empty() ? pool_.Exec(n, "stats_all")
                                          : pool_.Exec(n, "stats_job", job_id);
          std::vector<JobStats> out;
          for (const pqxx::row& row : r) {
            JobStats j;
            j.job_id = row[0].as<std::string>();
            j.records = row[1].as<int64_t>();
            j.retained_records = row[2].as<int64_t>();
            j.entries = row[3].as<int64_t>();
            j.payload_bytes = row[4].as<int64_t>();
            j.cost = CostAt(row, 5);
            j.blobs = row[8].as<int64_t>();
            j.blob_bytes = row[9].as<int64_t>();
            j.deduplicated_bytes = row[10].as<int64_t>();
            out.push_back(std::move(j));
          }
          return out;
        });
  }

  absl::StatusOr<StoreSize> Size() override {
    return pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<StoreSize> {
      pqxx::nontransaction n(c);
      pqxx::result r = pool_.Exec(n, "size");
      StoreSize out;
      out.records = r[0][0].as<int64_t>();
      out.bytes = r[0][1].as<int64_t>();
      if (!r[0][2].is_null()) {
        out.oldest_unpruned_written =
            absl::FromUnixMicros(r[0][2].as<int64_t>());
      }
      return out;
    });
  }

  absl::Status Ping() override {
    return pool_.Run([](pqxx::connection& c) {
      pqxx::nontransaction n(c);
      n.exec("SELECT 1");
      return absl::OkStatus();
    });
  }

  void Cancel() override { pool_.Cancel(); }

  int MaxConcurrentWriters() const override {
    return std::min(options_.pool_size, options_.max_write_transactions);
  }

  absl::Status Migrate() {
    return pool_.Run([](pqxx::connection& c) { return postgres::Migrate(c); });
  }

 private:
  const PostgresStoreOptions options_;
  const DedupOptions dedup_;
  ConnectionPool pool_;
};

// Secrets are what libpq itself marks with '*' (password, sslpassword).
bool IsSecret(const PQconninfoOption& o) {
  return o.dispchar != nullptr &&
         std::string(o.dispchar).find('*') != std::string::npos;
}

}  // namespace

std::vector<std::string> PostgresSecrets(const std::string& dsn) {
  std::vector<std::string> out;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && o->val[0] != '\0' && IsSecret(*o))
      out.emplace_back(o->val);
  }
  PQconninfoFree(options);
  return out;
}

std::string RedactPostgresDsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr)
    return "postgresql (a connection string libpq cannot parse)";
  std::string out = "postgresql:";
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    absl::StrAppend(&out, " ", o->keyword, "=", IsSecret(*o) ? "***" : o->val);
  }
  PQconninfoFree(options);
  return out;
}

absl::StatusOr<std::string> ExplainPostgresReadsForTest(
    const std::string& dsn, const RecordId& record,
    const std::string& action_key) {
  return Guard([&]() -> absl::StatusOr<std::string> {
    pqxx::connection c(dsn);
    pqxx::nontransaction n(c);
    n.exec("SET plan_cache_mode = force_generic_plan");
    const std::string sql = postgres::Statements().at("read");
    n.exec("PREPARE aj_read AS " + sql);
    std::string out;
    for (bool whole : {false, true}) {
      ArrayLiteral pj, pk, ps, pa, rj, rk, rs, j, k, s;
      (whole ? rj : pj).Text(record.job_id);
      (whole ? rk : pk).Bytes(record.record_key);
      (whole ? rs : ps).Int(record.seq_num);
      if (!whole) pa.Text(action_key);
      j.Text(record.job_id);
      k.Bytes(record.record_key);
      s.Int(record.seq_num);
      std::string args;
      for (const ArrayLiteral* a :
           {&pj, &pk, &ps, &pa, &rj, &rk, &rs, &j, &k, &s}) {
        absl::StrAppend(&args, args.empty() ? "" : ", ", n.quote(a->Done()));
      }
      absl::StrAppend(&out, whole ? "-- whole record\n" : "-- one action\n");
      for (const pqxx::row& r :
           n.exec("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE aj_read(" +
                  args + ")")) {
        absl::StrAppend(&out, r[0].as<std::string>(), "\n");
      }
    }
    return out;
  });
}

absl::StatusOr<std::unique_ptr<JournalStore>> NewPostgresJournalStore(
    const PostgresStoreOptions& options, JournalOptions journal_options,
    JournalObserver* observer) {
  if (options.pool_size < 1)
    return absl::InvalidArgumentError("pool_size: must be >= 1");
  if (options.max_write_transactions < 1) {
    return absl::InvalidArgumentError("max_write_transactions: must be >= 1");
  }
  auto backend = std::make_unique<PostgresBackend>(
      options, journal_options.dedup, observer);
  if (options.migrate) {
    RETURN_IF_ERROR(backend->Migrate());
  } else {
    RETURN_IF_ERROR(backend->Ping());
  }
  return NewJournal(std::move(backend), std::move(journal_options), observer);
}

}  // namespace actionjournal
