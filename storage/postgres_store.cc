#include "storage/postgres_store.h"

#include <map>
#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/migrations.h"

namespace actionjournal {
namespace {

// Any number, the same in every replica: the migration lock's key.
constexpr int64_t kMigrationLock = 0x616a6d6967726174;  // "ajmigrat"

// The one place pqxx exceptions become statuses.
absl::Status FromException(const std::exception& e) {
  const std::string what = absl::StrCat("postgres: ", e.what());
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(what);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    if (state == "40001" || state == "40P01") return absl::AbortedError(what);
    if (state == "57014") return absl::DeadlineExceededError(what);
    if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P") ||
        state == "53300") {
      return absl::UnavailableError(what);
    }
    if (state == "53100") return absl::ResourceExhaustedError(what);  // disk full
  }
  return absl::InternalError(what);
}

// Runs f (returning a Status or StatusOr), turning a pqxx exception into
// its status.
template <typename F>
auto Guard(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return FromException(e);
  }
}

pqxx::binarystring Bin(const std::string& s) {
  return pqxx::binarystring(s.data(), s.size());
}
std::string FromBin(const pqxx::field& f) { return pqxx::binarystring(f).str(); }
int64_t I64(uint64_t v) { return static_cast<int64_t>(v); }

// Prepared statements; $1..$3 are always the record's identity.
const std::map<std::string, std::string>& Statements() {
  static const auto* kAll = new std::map<std::string, std::string>{
      {"lock_record",
       "SELECT attempt, input_fingerprint, completed_at_us FROM records "
       "WHERE job_id = $1 AND record_key = $2 AND seq_num = $3 FOR UPDATE"},
      {"read_record",
       "SELECT attempt, input_fingerprint, completed_at_us FROM records "
       "WHERE job_id = $1 AND record_key = $2 AND seq_num = $3"},
      {"insert_record",
       "INSERT INTO records (job_id, record_key, seq_num, attempt, "
       "input_fingerprint, completed_at_us) VALUES ($1, $2, $3, $4, $5, "
       "CASE WHEN $6 THEN $7::bigint END) ON CONFLICT DO NOTHING"},
      {"update_record",
       "UPDATE records SET attempt = $4, input_fingerprint = $5, "
       "completed_at_us = CASE WHEN $6 THEN $7::bigint END "
       "WHERE job_id = $1 AND record_key = $2 AND seq_num = $3"},
      // Steps (kind 0) and completions (kind 1) in one round trip.
      {"read_actions",
       "SELECT 0 AS kind, action_key, step_index, function_id, args_digest, "
       "status, result, error, input_tokens, output_tokens, micro_usd "
       "FROM steps WHERE job_id = $1 AND record_key = $2 AND seq_num = $3 "
       "AND ($4 OR action_key = $5) "
       "UNION ALL SELECT 1, action_key, 0, '', ''::bytea, 0, state, ''::bytea, "
       "input_tokens, output_tokens, micro_usd FROM completions "
       "WHERE job_id = $1 AND record_key = $2 AND seq_num = $3 "
       "AND ($4 OR action_key = $5) ORDER BY 2, 1, 3"},
      {"insert_step",
       "INSERT INTO steps (job_id, record_key, seq_num, action_key, "
       "step_index, function_id, args_digest, status, result, error, "
       "input_tokens, output_tokens, micro_usd) VALUES ($1, $2, $3, $4, $5, "
       "$6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING"},
      {"upgrade_step",
       "UPDATE steps SET status = $6, result = $7, error = $8, "
       "input_tokens = $9, output_tokens = $10, micro_usd = $11 "
       "WHERE job_id = $1 AND record_key = $2 AND seq_num = $3 AND "
       "action_key = $4 AND step_index = $5 AND status = 1"},
      {"delete_steps_from",
       "DELETE FROM steps WHERE job_id = $1 AND record_key = $2 AND "
       "seq_num = $3 AND action_key = $4 AND step_index >= $5"},
      {"insert_completion",
       "INSERT INTO completions (job_id, record_key, seq_num, action_key, "
       "state, input_tokens, output_tokens, micro_usd) VALUES ($1, $2, $3, "
       "$4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"},
      {"delete_entries",
       "WITH s AS (DELETE FROM steps WHERE job_id = $1 AND record_key = $2 "
       "AND seq_num = $3 RETURNING 1), c AS (DELETE FROM completions WHERE "
       "job_id = $1 AND record_key = $2 AND seq_num = $3 RETURNING 1) "
       "SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM c)"},
      // One set-based statement: select the records, delete their entries
      // and them. $2 whole job, $3 completed-before (micros, or NULL),
      // $4/$5 parallel arrays of hex record keys and bounds.
      {"prune",
       "WITH sel AS (SELECT r.job_id, r.record_key, r.seq_num FROM records r "
       "  WHERE r.job_id = $1 AND ($2 OR r.completed_at_us < $3::bigint OR "
       "  EXISTS (SELECT 1 FROM unnest($4::text[], $5::bigint[]) AS "
       "  k(key_hex, up_to) WHERE decode(k.key_hex, 'hex') = r.record_key "
       "  AND r.seq_num <= k.up_to))), "
       "ds AS (DELETE FROM steps s USING sel WHERE s.job_id = sel.job_id AND "
       "  s.record_key = sel.record_key AND s.seq_num = sel.seq_num RETURNING 1), "
       "dc AS (DELETE FROM completions c USING sel WHERE c.job_id = sel.job_id "
       "  AND c.record_key = sel.record_key AND c.seq_num = sel.seq_num "
       "  RETURNING 1), "
       "dr AS (DELETE FROM records r USING sel WHERE r.job_id = sel.job_id AND "
       "  r.record_key = sel.record_key AND r.seq_num = sel.seq_num RETURNING 1) "
       "SELECT (SELECT count(*) FROM dr), "
       "  (SELECT count(*) FROM ds) + (SELECT count(*) FROM dc)"},
  };
  return *kAll;
}

// A PostgreSQL array literal of hex strings: only [0-9a-f,{}] reach it, and
// it travels as a parameter value, never as SQL.
std::string HexArray(const std::vector<std::pair<std::string, int64_t>>& keys,
                     std::string* bounds) {
  std::string out = "{";
  *bounds = "{";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) {
      out += ",";
      *bounds += ",";
    }
    out += absl::BytesToHexString(keys[i].first);
    *bounds += std::to_string(keys[i].second);
  }
  out += "}";
  *bounds += "}";
  return out;
}

class PostgresTransaction final : public Transaction {
 public:
  PostgresTransaction(pqxx::work& w, bool read_only) : w_(w), read_only_(read_only) {}

  absl::StatusOr<std::optional<RecordRow>> LockRecord(const RecordId& id) override {
    return Guard([&]() -> absl::StatusOr<std::optional<RecordRow>> {
      pqxx::result r = w_.exec_prepared(read_only_ ? "read_record" : "lock_record",
                                        id.job_id, Bin(id.record_key), id.seq_num);
      if (r.empty()) return std::nullopt;
      RecordRow row;
      row.attempt = static_cast<uint64_t>(r[0][0].as<int64_t>());
      row.input_fingerprint = FromBin(r[0][1]);
      row.completed = !r[0][2].is_null();
      if (row.completed) row.completed_at = absl::FromUnixMicros(r[0][2].as<int64_t>());
      return row;
    });
  }

  absl::StatusOr<bool> InsertRecord(const RecordId& id, const RecordRow& row) override {
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("insert_record", id.job_id, Bin(id.record_key),
                              id.seq_num, I64(row.attempt), Bin(row.input_fingerprint),
                              row.completed, absl::ToUnixMicros(row.completed_at))
                 .affected_rows() == 1;
    });
  }

  absl::Status UpdateRecord(const RecordId& id, const RecordRow& row) override {
    return Guard([&]() -> absl::StatusOr<bool> {
             w_.exec_prepared("update_record", id.job_id, Bin(id.record_key),
                              id.seq_num, I64(row.attempt), Bin(row.input_fingerprint),
                              row.completed, absl::ToUnixMicros(row.completed_at));
             return true;
           }).status();
  }

  absl::StatusOr<std::vector<ActionEntries>> ReadActions(
      const RecordId& id, const std::string* action_key) override {
    return Guard([&]() -> absl::StatusOr<std::vector<ActionEntries>> {
      const bool all = action_key == nullptr;
      const std::string key = all ? "" : *action_key;
      std::map<std::string, ActionEntries> out;
      for (const pqxx::row& r : w_.exec_prepared("read_actions", id.job_id,
                                                 Bin(id.record_key), id.seq_num,
                                                 all, key)) {
        ActionEntries& a = out[r[1].as<std::string>()];
        a.cost += CostAt(r, 8);
        if (r[0].as<int>() == 1) {
          a.completion = Completion{FromBin(r[6])};
          continue;
        }
        Step s;
        s.index = static_cast<uint32_t>(r[2].as<int64_t>());
        s.function_id = r[3].as<std::string>();
        s.args_digest = FromBin(r[4]);
        s.status = static_cast<StepStatus>(r[5].as<int>());
        s.result = FromBin(r[6]);
        s.error = FromBin(r[7]);
        s.cost = CostAt(r, 8);
        a.steps.push_back(std::move(s));
      }
      return SortedActions(std::move(out));
    });
  }

  absl::StatusOr<bool> InsertStep(const RecordId& id, const std::string& action_key,
                                  const Step& s, const Cost& c) override {
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("insert_step", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, static_cast<int64_t>(s.index),
                              s.function_id, Bin(s.args_digest),
                              static_cast<int>(s.status), Bin(s.result), Bin(s.error),
                              I64(c.input_tokens), I64(c.output_tokens),
                              I64(c.micro_usd))
                 .affected_rows() == 1;
    });
  }

  absl::StatusOr<bool> UpgradeStep(const RecordId& id, const std::string& action_key,
                                   const Step& s, const Cost& c) override {
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("upgrade_step", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, static_cast<int64_t>(s.index),
                              static_cast<int>(s.status), Bin(s.result), Bin(s.error),
                              I64(c.input_tokens), I64(c.output_tokens),
                              I64(c.micro_usd))
                 .affected_rows() == 1;
    });
  }

  absl::StatusOr<uint64_t> DeleteStepsFrom(const RecordId& id,
                                           const std::string& action_key,
                                           uint32_t from) override {
    return Guard([&]() -> absl::StatusOr<uint64_t> {
      return w_.exec_prepared("delete_steps_from", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, static_cast<int64_t>(from))
          .affected_rows();
    });
  }

  absl::StatusOr<bool> InsertCompletion(const RecordId& id,
                                        const std::string& action_key,
                                        const Completion& completion,
                                        const Cost& c) override {
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("insert_completion", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, Bin(completion.state),
                              I64(c.input_tokens), I64(c.output_tokens),
                              I64(c.micro_usd))
                 .affected_rows() == 1;
    });
  }

  absl::StatusOr<uint64_t> DeleteEntries(const RecordId& id) override {
    return Guard([&]() -> absl::StatusOr<uint64_t> {
      return w_.exec_prepared1("delete_entries", id.job_id, Bin(id.record_key),
                               id.seq_num)[0]
          .as<int64_t>();
    });
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req) override {
    return Guard([&]() -> absl::StatusOr<PruneResult> {
      std::string bounds;
      const std::string keys = HexArray(req.keys, &bounds);
      // NULL compares as unknown: no record matches by time without a bound.
      const char* no_time = nullptr;
      pqxx::row r =
          req.completed_before.has_value()
              ? w_.exec_prepared1("prune", req.job_id, req.whole_job,
                                  absl::ToUnixMicros(*req.completed_before), keys,
                                  bounds)
              : w_.exec_prepared1("prune", req.job_id, req.whole_job, no_time,
                                  keys, bounds);
      PruneResult out;
      out.records_deleted = r[0].as<int64_t>();
      out.entries_deleted = r[1].as<int64_t>();
      return out;
    });
  }

  absl::Status Savepoint() override {
    return Guard([&]() -> absl::StatusOr<bool> {
             w_.exec0("SAVEPOINT op");
             return true;
           }).status();
  }

  absl::Status RollbackToSavepoint() override {
    return Guard([&]() -> absl::StatusOr<bool> {
             w_.exec0("ROLLBACK TO SAVEPOINT op");
             return true;
           }).status();
  }

 private:
  static Cost CostAt(const pqxx::row& r, int i) {
    return Cost{static_cast<uint64_t>(r[i].as<int64_t>()),
                static_cast<uint64_t>(r[i + 1].as<int64_t>()),
                static_cast<uint64_t>(r[i + 2].as<int64_t>())};
  }

  pqxx::work& w_;
  const bool read_only_;
};

// Thread-safe: a fixed pool of connections, reconnected on demand.
class PostgresBackend final : public Backend {
 public:
  PostgresBackend(const PostgresStoreOptions& options, JournalObserver* observer)
      : options_(options), observer_(observer), slots_(options.pool_size) {
    for (int i = 0; i < options.pool_size; ++i) free_.push_back(i);
  }

  absl::Status Run(bool read_only,
                   absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    ASSIGN_OR_RETURN(int slot, Acquire());
    absl::Status s = Guard([&]() -> absl::Status {
      pqxx::connection& c = *slots_[slot];
      pqxx::work w(c);
      PostgresTransaction txn(w, read_only);
      absl::Status result = fn(txn);
      if (result.ok()) {
        w.commit();
      } else {
        w.abort();
      }
      return result;
    });
    Release(slot, s);
    return s;
  }

  absl::Status Ping() override {
    ASSIGN_OR_RETURN(int slot, Acquire());
    absl::Status s = Guard([&] {
      pqxx::nontransaction n(*slots_[slot]);
      n.exec("SELECT 1");
      n.commit();
      return absl::OkStatus();
    });
    Release(slot, s);
    return s;
  }

  int MaxConcurrentWriters() const override { return options_.pool_size; }

  absl::Status Migrate() {
    ASSIGN_OR_RETURN(int slot, Acquire());
    absl::Status s = Guard([&] { return MigrateOn(*slots_[slot]); });
    Release(slot, s);
    return s;
  }

 private:
  absl::Status MigrateOn(pqxx::connection& c) {
    // The advisory lock is the session's, so it spans the transactions below.
    auto outside = [&c](const std::string& sql) {
      pqxx::nontransaction n(c);
      pqxx::result r = n.exec(sql);
      n.commit();
      return r;
    };
    outside("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
    absl::Status s = Guard([&]() -> absl::Status {
      outside("CREATE TABLE IF NOT EXISTS schema_migrations (version integer "
              "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
              "DEFAULT now())");
      const int current =
          outside("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0]
              .as<int>();
      const int known = Migrations().empty() ? 0 : Migrations().back().version;
      if (current > known) {
        return absl::FailedPreconditionError(absl::StrCat(
            "database schema version ", current, " is newer than this server's ",
            known, "; upgrade the server"));
      }
      for (const Migration& m : Migrations()) {
        if (m.version <= current) continue;
        pqxx::work w(c);
        w.exec(m.sql);
        w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                      m.version, std::string(m.name));
        w.commit();
        LogInfo("applied migration ", m.name);
      }
      return absl::OkStatus();
    });
    absl::Status unlock = Guard([&] {
      outside("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
      return absl::OkStatus();
    });
    return s.ok() ? unlock : s;
  }

  // A connected slot, or UNAVAILABLE.
  absl::StatusOr<int> Acquire() {
    int slot;
    {
      absl::MutexLock lock(&mu_);
      auto has_free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !free_.empty();
      };
      if (!mu_.AwaitWithTimeout(absl::Condition(&has_free),
                                options_.acquire_timeout)) {
        return absl::UnavailableError("postgres: no free connection in the pool");
      }
      slot = free_.back();
      free_.pop_back();
      ReportPool();
    }
    if (slots_[slot] == nullptr || !slots_[slot]->is_open()) {
      absl::Status s = Guard([&] {
        slots_[slot] = std::make_unique<pqxx::connection>(ConnectString());
        pqxx::connection& c = *slots_[slot];
        {
          pqxx::nontransaction n(c);
          n.exec(absl::StrCat("SET statement_timeout = ",
                              absl::ToInt64Milliseconds(options_.statement_timeout)));
          n.commit();
        }
        for (const auto& [name, sql] : Statements()) c.prepare(name, sql);
        return absl::OkStatus();
      });
      if (!s.ok()) {
        slots_[slot].reset();
        Release(slot, s);
        return absl::UnavailableError(s.message());
      }
    }
    return slot;
  }

  // Returns the slot; a connection that failed is dropped and rebuilt on
  // its next use.
  void Release(int slot, const absl::Status& status) {
    if (!status.ok() && slots_[slot] != nullptr &&
        (absl::IsUnavailable(status) || !slots_[slot]->is_open())) {
      slots_[slot].reset();
    }
    absl::MutexLock lock(&mu_);
    free_.push_back(slot);
    ReportPool();
  }

  // Free slots are touched by no thread, so mu_ covers reading them.
  void ReportPool() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (observer_ == nullptr) return;
    int idle = 0;
    for (int slot : free_) idle += slots_[slot] != nullptr;
    observer_->OnPool(options_.pool_size - static_cast<int>(free_.size()), idle);
  }

  std::string ConnectString() const {
    const std::string timeout = absl::StrCat(
        "connect_timeout=",
        std::max<int64_t>(1, absl::ToInt64Seconds(options_.connect_timeout)));
    if (absl::StrContains(options_.dsn, "connect_timeout")) return options_.dsn;
    if (absl::StartsWith(options_.dsn, "postgres://") ||
        absl::StartsWith(options_.dsn, "postgresql://")) {
      return absl::StrCat(options_.dsn,
                          absl::StrContains(options_.dsn, "?") ? "&" : "?", timeout);
    }
    return absl::StrCat(options_.dsn, " ", timeout);
  }

  const PostgresStoreOptions options_;
  JournalObserver* const observer_;  // may be null
  // slots_[i] is touched only by the thread holding slot i.
  std::vector<std::unique_ptr<pqxx::connection>> slots_;
  absl::Mutex mu_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<JournalStore>> NewPostgresJournalStore(
    const PostgresStoreOptions& options, JournalOptions journal_options,
    JournalObserver* observer) {
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("pool_size: must be >= 1");
  }
  auto backend = std::make_unique<PostgresBackend>(options, observer);
  if (options.migrate) {
    RETURN_IF_ERROR(backend->Migrate());
  } else {
    RETURN_IF_ERROR(backend->Ping());
  }
  return NewJournal(std::move(backend), std::move(journal_options), observer);
}

}  // namespace actionjournal
