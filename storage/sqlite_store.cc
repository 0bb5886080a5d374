#include "storage/sqlite_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace actionjournal {
namespace {

constexpr int kSchemaVersion = 1;

// The same three tables as migrations/0001_init.sql, in SQLite's dialect.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS records (
  job_id TEXT NOT NULL,
  record_key BLOB NOT NULL,
  seq_num INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  input_fingerprint BLOB NOT NULL,
  completed_at_us INTEGER,  -- NULL while open
  PRIMARY KEY (job_id, record_key, seq_num)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_completed
  ON records (job_id, completed_at_us) WHERE completed_at_us IS NOT NULL;
CREATE TABLE IF NOT EXISTS steps (
  job_id TEXT NOT NULL,
  record_key BLOB NOT NULL,
  seq_num INTEGER NOT NULL,
  action_key TEXT NOT NULL,
  step_index INTEGER NOT NULL,
  function_id TEXT NOT NULL,
  args_digest BLOB NOT NULL,
  status INTEGER NOT NULL,
  result BLOB NOT NULL,
  error BLOB NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  micro_usd INTEGER NOT NULL,
  PRIMARY KEY (job_id, record_key, seq_num, action_key, step_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS completions (
  job_id TEXT NOT NULL,
  record_key BLOB NOT NULL,
  seq_num INTEGER NOT NULL,
  action_key TEXT NOT NULL,
  state BLOB NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  micro_usd INTEGER NOT NULL,
  PRIMARY KEY (job_id, record_key, seq_num, action_key)
) WITHOUT ROWID;
)sql";

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string msg =
      absl::StrCat("sqlite ", what, ": ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }

// A prepared statement bound for one execution; resets itself when done.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_), n_(o.n_) { o.s_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (s_ == nullptr) return;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt& Text(const std::string& v) {
    sqlite3_bind_text(s_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Blob(const std::string& v) {
    // A zero-length blob must still be a blob, not NULL.
    sqlite3_bind_blob(s_, ++n_, v.empty() ? "" : v.data(),
                      static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Int(int64_t v) {
    sqlite3_bind_int64(s_, ++n_, v);
    return *this;
  }
  Stmt& Null() {
    sqlite3_bind_null(s_, ++n_);
    return *this;
  }
  Stmt& Record(const RecordId& id) {
    return Text(id.job_id).Blob(id.record_key).Int(id.seq_num);
  }
  Stmt& CostOf(const Cost& c) {
    return Int(static_cast<int64_t>(c.input_tokens))
        .Int(static_cast<int64_t>(c.output_tokens))
        .Int(static_cast<int64_t>(c.micro_usd));
  }
  // Returns true on a row, false when done.
  absl::StatusOr<bool> Step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, "step");
  }
  absl::Status Exec() { return Step().status(); }
  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }
  bool ColNull(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::string ColBytes(int i) {
    const void* p = sqlite3_column_blob(s_, i);
    int n = sqlite3_column_bytes(s_, i);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }
  int Changes() { return sqlite3_changes(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  int n_ = 0;
};

// Owns the connection. Not thread-safe; SqliteBackend serializes use.
class Connection {
 public:
  ~Connection() {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    sqlite3_close(db_);
  }

  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const SqliteStoreOptions& options) {
    std::filesystem::path path(options.path);
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) {
        return absl::UnavailableError(absl::StrCat(
            "cannot create directory ", path.parent_path().string(), ": ",
            ec.message()));
      }
    }
    auto conn = std::unique_ptr<Connection>(new Connection());
    int rc = sqlite3_open_v2(options.path.c_str(), &conn->db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(conn->db_, rc, absl::StrCat("open ", options.path));
    }
    sqlite3_busy_timeout(conn->db_,
                         static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
    RETURN_IF_ERROR(conn->Exec("PRAGMA journal_mode=WAL"));
    RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=FULL"));
    RETURN_IF_ERROR(conn->Migrate());
    return conn;
  }

  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      absl::Status s = SqliteError(db_, rc, sql);
      sqlite3_free(err);
      return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Stmt> Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
                                  nullptr);
      if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
      it = cache_.emplace(sql, s).first;
    }
    return Stmt(db_, it->second);
  }

 private:
  Connection() = default;

  absl::Status Migrate() {
    ASSIGN_OR_RETURN(Stmt v, Prepare("PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, v.Step());
    const int64_t version = row ? v.ColInt(0) : 0;
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema version ", version, " is newer than this server's ",
          kSchemaVersion, "; upgrade the server"));
    }
    if (version == kSchemaVersion) return absl::OkStatus();
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    absl::Status s = Exec(kSchema);
    if (s.ok()) {
      s = Exec(absl::StrCat("PRAGMA user_version=", kSchemaVersion).c_str());
    }
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return s;
    }
    return Exec("COMMIT");
  }

  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> cache_;  // keyed by literal address
};

class SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(Connection& c) : c_(c) {}

  absl::StatusOr<std::optional<RecordRow>> LockRecord(
      const RecordId& id) override {
    ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
        "SELECT attempt, input_fingerprint, completed_at_us FROM records "
        "WHERE job_id = ? AND record_key = ? AND seq_num = ?"));
    s.Record(id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    RecordRow r;
    r.attempt = static_cast<uint64_t>(s.ColInt(0));
    r.input_fingerprint = s.ColBytes(1);
    r.completed = !s.ColNull(2);
    if (r.completed) r.completed_at = absl::FromUnixMicros(s.ColInt(2));
    return r;
  }

  absl::StatusOr<bool> InsertRecord(const RecordId& id,
                                    const RecordRow& row) override {
    ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
        "INSERT INTO records (job_id, record_key, seq_num, attempt, "
        "input_fingerprint, completed_at_us) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING"));
    s.Record(id).Int(static_cast<int64_t>(row.attempt)).Blob(row.input_fingerprint);
    if (row.completed) s.Int(ToMicros(row.completed_at)); else s.Null();
    RETURN_IF_ERROR(s.Exec());
    return s.Changes() == 1;
  }

  absl::Status UpdateRecord(const RecordId& id, const RecordRow& row) override {
    ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
        "UPDATE records SET attempt = ?, input_fingerprint = ?, "
        "completed_at_us = ? WHERE job_id = ? AND record_key = ? AND seq_num = ?"));
    s.Int(static_cast<int64_t>(row.attempt)).Blob(row.input_fingerprint);
    if (row.completed) s.Int(ToMicros(row.completed_at)); else s.Null();
    s.Record(id);
    return s.Exec();
  }

  absl::StatusOr<std::vector<ActionEntries>> ReadActions(
      const RecordId& id, const std::string* action_key) override {
    std::map<std::string, ActionEntries> out;
    {
      ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
          "SELECT action_key, step_index, function_id, args_digest, status, "
          "result, error, input_tokens, output_tokens, micro_usd FROM steps "
          "WHERE job_id = ?1 AND record_key = ?2 AND seq_num = ?3 "
          "AND (?4 IS NULL OR action_key = ?4) "
          "ORDER BY action_key, step_index"));
      BindActionFilter(s.Record(id), action_key);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        ActionEntries& a = out[s.ColBytes(0)];
        Step step;
        step.index = static_cast<uint32_t>(s.ColInt(1));
        step.function_id = s.ColBytes(2);
        step.args_digest = s.ColBytes(3);
        step.status = static_cast<StepStatus>(s.ColInt(4));
        step.result = s.ColBytes(5);
        step.error = s.ColBytes(6);
        step.cost = CostAt(s, 7);
        a.cost += step.cost;
        a.steps.push_back(std::move(step));
      }
    }
    {
      ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
          "SELECT action_key, state, input_tokens, output_tokens, micro_usd "
          "FROM completions WHERE job_id = ?1 AND record_key = ?2 AND "
          "seq_num = ?3 AND (?4 IS NULL OR action_key = ?4)"));
      BindActionFilter(s.Record(id), action_key);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        ActionEntries& a = out[s.ColBytes(0)];
        a.completion = Completion{s.ColBytes(1)};
        a.cost += CostAt(s, 2);
      }
    }
    return SortedActions(std::move(out));
  }

  absl::StatusOr<bool> InsertStep(const RecordId& id,
                                  const std::string& action_key,
                                  const Step& step, const Cost& cost) override {
    ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
        "INSERT INTO steps (job_id, record_key, seq_num, action_key, "
        "step_index, function_id, args_digest, status, result, error, "
        "input_tokens, output_tokens, micro_usd) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"));
    s.Record(id).Text(action_key).Int(step.index).Text(step.function_id)
        .Blob(step.args_digest).Int(static_cast<int>(step.status))
        .Blob(step.result).Blob(step.error).CostOf(cost);
    RETURN_IF_ERROR(s.Exec());
    return s.Changes() == 1;
  }

  absl::StatusOr<bool> UpgradeStep(const RecordId& id,
                                   const std::string& action_key,
                                   const Step& step, const Cost& cost) override {
    ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
        "UPDATE steps SET status = ?, result = ?, error = ?, input_tokens = ?, "
        "output_tokens = ?, micro_usd = ? WHERE job_id = ? AND record_key = ? "
        "AND seq_num = ? AND action_key = ? AND step_index = ? AND status = ?"));
    s.Int(static_cast<int>(step.status)).Blob(step.result).Blob(step.error)
        .CostOf(cost).Record(id).Text(action_key).Int(step.index)
        .Int(static_cast<int>(StepStatus::kPending));
    RETURN_IF_ERROR(s.Exec());
    return s.Changes() == 1;
  }

  absl::StatusOr<uint64_t> DeleteStepsFrom(const RecordId& id,
                                           const std::string& action_key,
                                           uint32_t from_index) override {
    ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
        "DELETE FROM steps WHERE job_id = ? AND record_key = ? AND seq_num = ? "
        "AND action_key = ? AND step_index >= ?"));
    s.Record(id).Text(action_key).Int(from_index);
    RETURN_IF_ERROR(s.Exec());
    return s.Changes();
  }

  absl::StatusOr<bool> InsertCompletion(const RecordId& id,
                                        const std::string& action_key,
                                        const Completion& completion,
                                        const Cost& cost) override {
    ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
        "INSERT INTO completions (job_id, record_key, seq_num, action_key, "
        "state, input_tokens, output_tokens, micro_usd) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"));
    s.Record(id).Text(action_key).Blob(completion.state).CostOf(cost);
    RETURN_IF_ERROR(s.Exec());
    return s.Changes() == 1;
  }

  absl::StatusOr<uint64_t> DeleteEntries(const RecordId& id) override {
    uint64_t n = 0;
    for (const char* sql :
         {"DELETE FROM steps WHERE job_id = ? AND record_key = ? AND seq_num = ?",
          "DELETE FROM completions WHERE job_id = ? AND record_key = ? AND "
          "seq_num = ?"}) {
      ASSIGN_OR_RETURN(Stmt s, c_.Prepare(sql));
      s.Record(id);
      RETURN_IF_ERROR(s.Exec());
      n += s.Changes();
    }
    return n;
  }

  // Marks the selected records in a temporary table, then deletes by join:
  // a few set-based statements whatever the number of keys.
  absl::StatusOr<PruneResult> Prune(const PruneRequest& req) override {
    RETURN_IF_ERROR(c_.Exec(
        "CREATE TEMP TABLE IF NOT EXISTS prune_keys "
        "(record_key BLOB NOT NULL, up_to INTEGER NOT NULL)"));
    RETURN_IF_ERROR(c_.Exec("DELETE FROM temp.prune_keys"));
    for (const auto& [key, up_to] : req.keys) {
      ASSIGN_OR_RETURN(Stmt s, c_.Prepare(
          "INSERT INTO temp.prune_keys (record_key, up_to) VALUES (?, ?)"));
      s.Blob(key).Int(up_to);
      RETURN_IF_ERROR(s.Exec());
    }
    // The selection, as a predicate on records r of job ?1.
    static constexpr const char* kSelected =
        "(?2 OR (r.completed_at_us IS NOT NULL AND r.completed_at_us < ?3) OR "
        "EXISTS (SELECT 1 FROM temp.prune_keys k WHERE k.record_key = "
        "r.record_key AND r.seq_num <= k.up_to))";
    static const std::string kEntries[] = {
        absl::StrCat("DELETE FROM steps WHERE (job_id, record_key, seq_num) IN "
                     "(SELECT r.job_id, r.record_key, r.seq_num FROM records r "
                     "WHERE r.job_id = ?1 AND ", kSelected, ")"),
        absl::StrCat("DELETE FROM completions WHERE (job_id, record_key, "
                     "seq_num) IN (SELECT r.job_id, r.record_key, r.seq_num "
                     "FROM records r WHERE r.job_id = ?1 AND ", kSelected, ")"),
    };
    static const std::string kRecords = absl::StrCat(
        "DELETE FROM records AS r WHERE r.job_id = ?1 AND ", kSelected);
    const int64_t before = req.completed_before.has_value()
                               ? ToMicros(*req.completed_before)
                               : INT64_MIN;
    PruneResult result;
    for (const std::string* sql : {&kEntries[0], &kEntries[1], &kRecords}) {
      ASSIGN_OR_RETURN(Stmt s, c_.Prepare(sql->c_str()));
      s.Text(req.job_id).Int(req.whole_job ? 1 : 0).Int(before);
      RETURN_IF_ERROR(s.Exec());
      if (sql == &kRecords) {
        result.records_deleted = s.Changes();
      } else {
        result.entries_deleted += s.Changes();
      }
    }
    return result;
  }

  absl::Status Savepoint() override {
    if (has_savepoint_) RETURN_IF_ERROR(c_.Exec("RELEASE op"));
    has_savepoint_ = true;
    return c_.Exec("SAVEPOINT op");
  }

  absl::Status RollbackToSavepoint() override {
    return c_.Exec("ROLLBACK TO op");
  }

 private:
  static void BindActionFilter(Stmt& s, const std::string* action_key) {
    if (action_key != nullptr) s.Text(*action_key); else s.Null();
  }
  static Cost CostAt(Stmt& s, int i) {
    return Cost{static_cast<uint64_t>(s.ColInt(i)),
                static_cast<uint64_t>(s.ColInt(i + 1)),
                static_cast<uint64_t>(s.ColInt(i + 2))};
  }

  Connection& c_;
  bool has_savepoint_ = false;
};

// Thread-safe: one connection, one transaction at a time (SQLite has one
// writer anyway); group commit above makes each transaction carry many writes.
class SqliteBackend final : public Backend {
 public:
  explicit SqliteBackend(std::unique_ptr<Connection> c) : conn_(std::move(c)) {}

  absl::Status Run(bool read_only,
                   absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(conn_->Exec(read_only ? "BEGIN" : "BEGIN IMMEDIATE"));
    SqliteTransaction txn(*conn_);
    absl::Status s = fn(txn);
    if (s.ok()) s = conn_->Exec("COMMIT");
    if (!s.ok()) conn_->Exec("ROLLBACK").IgnoreError();
    return s;
  }

  absl::Status Ping() override {
    absl::MutexLock lock(&mu_);
    return conn_->Exec("SELECT 1");
  }

  int MaxConcurrentWriters() const override { return 1; }

 private:
  absl::Mutex mu_;
  std::unique_ptr<Connection> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<JournalStore>> NewSqliteJournalStore(
    const SqliteStoreOptions& options, JournalOptions journal_options,
    JournalObserver* observer) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(options));
  return NewJournal(std::make_unique<SqliteBackend>(std::move(conn)),
                    std::move(journal_options), observer);
}

}  // namespace actionjournal
