#include "storage/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "storage/dedup.h"
#include "storage/sql_text.h"

namespace actionjournal {
namespace {

constexpr int kSchemaVersion = 5;

// The same tables as migrations/ (0001 to 0008; 0003 and 0004 are PostgreSQL's
// own), in SQLite's dialect.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS records (
  job_id TEXT NOT NULL,
  record_key BLOB NOT NULL,
  seq_num INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  input_fingerprint BLOB NOT NULL,
  completed_at_us INTEGER,  -- NULL while open
  written_at_us INTEGER NOT NULL DEFAULT 0,  -- last write, for the TTL
  expires_at_us INTEGER,  -- pruned with a retention: deleted from then on
  created_at_us INTEGER NOT NULL DEFAULT 0,
  replays INTEGER NOT NULL DEFAULT 0,  -- takeovers by a higher attempt
  replayed_at_us INTEGER,  -- the last one's
  PRIMARY KEY (job_id, record_key, seq_num)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_completed
  ON records (job_id, completed_at_us) WHERE completed_at_us IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_expires
  ON records (expires_at_us) WHERE expires_at_us IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_written ON records (written_at_us);
CREATE INDEX IF NOT EXISTS records_created ON records (job_id, created_at_us);
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
  blob_digest BLOB,  -- result stored once, in blobs
  written_at_us INTEGER NOT NULL DEFAULT 0,  -- 0: before it was kept
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
  blob_digest BLOB,  -- state stored once, in blobs
  written_at_us INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, record_key, seq_num, action_key)
) WITHOUT ROWID;
-- Payloads stored once per job (migrations/0005_dedup.sql): a write adds
-- its rows' references with an upsert, triggers (DedupTriggers) release
-- those of the rows deleted or overwritten and delete a blob at zero. A
-- rowid table: its rows are large.
CREATE TABLE IF NOT EXISTS blobs (
  job_id TEXT NOT NULL,
  digest BLOB NOT NULL,  -- SHA-256 of bytes
  bytes BLOB NOT NULL,
  refs INTEGER NOT NULL,
  PRIMARY KEY (job_id, digest)
);
-- The last attempt issued per job (IssueAttempt): no Prune, sweep or TTL
-- deletes it.
CREATE TABLE IF NOT EXISTS job_attempts (
  job_id TEXT PRIMARY KEY,
  last_attempt INTEGER NOT NULL
);
)sql";

// The triggers that release a blob's reference when an entry holding it is
// deleted or its digest overwritten, and delete the blob at zero.
std::string DedupTriggers() {
  std::string out;
  for (const char* table : {"steps", "completions"}) {
    for (const char* event : {"DELETE", "UPDATE OF blob_digest"}) {
      absl::StrAppend(
          &out, "CREATE TRIGGER IF NOT EXISTS ", table,
          event[0] == 'D' ? "_release" : "_overwrite", " AFTER ", event, " ON ",
          table,
          " WHEN old.blob_digest IS NOT NULL BEGIN UPDATE blobs SET refs = "
          "refs - 1 WHERE job_id = old.job_id AND digest = old.blob_digest; "
          "DELETE FROM blobs WHERE job_id = old.job_id AND digest = "
          "old.blob_digest AND refs <= 0; END;\n");
    }
  }
  return out;
}

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string msg = absl::StrCat("sqlite ", what, ": ",
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
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
    sqlite3_bind_text(s_, ++n_, v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC);
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
        return absl::UnavailableError(absl::StrCat("cannot create directory ",
                                                   path.parent_path().string(),
                                                   ": ", ec.message()));
      }
    }
    auto conn = std::unique_ptr<Connection>(new Connection());
    int rc = sqlite3_open_v2(
        options.path.c_str(), &conn->db_,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(conn->db_, rc, absl::StrCat("open ", options.path));
    }
    sqlite3_busy_timeout(
        conn->db_,
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

  // Prepared once per connection and text (the file's statements are a
  // fixed set), then reused.
  absl::StatusOr<Stmt> Prepare(absl::string_view sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
      it = cache_.emplace(std::string(sql), s).first;
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
    // Version 1 lacks the retention columns; its records count as written
    // now, so that an upgrade expires nothing at once.
    absl::Status s =
        version == 1
            ? Exec(absl::StrCat("ALTER TABLE records ADD COLUMN written_at_us "
                                "INTEGER NOT NULL DEFAULT 0; ALTER TABLE "
                                "records ADD COLUMN expires_at_us INTEGER; "
                                "UPDATE records SET written_at_us = ",
                                absl::ToUnixMicros(absl::Now()), ";")
                       .c_str())
            : absl::OkStatus();
    // Versions 1 and 2 lack the digest columns: their payloads stay
    // inline (a NULL digest).
    if (s.ok() && version >= 1 && version <= 2) {
      s = Exec(
          "ALTER TABLE steps ADD COLUMN blob_digest BLOB; ALTER TABLE "
          "completions ADD COLUMN blob_digest BLOB;");
    }
    // Versions 1 to 4 lack what the read APIs show (0008_reads.sql): their
    // records count as created now, their entries' times are unknown (0).
    if (s.ok() && version >= 1 && version <= 4) {
      s = Exec(absl::StrCat(
                   "ALTER TABLE records ADD COLUMN created_at_us INTEGER NOT "
                   "NULL DEFAULT 0; ALTER TABLE records ADD COLUMN replays "
                   "INTEGER NOT NULL DEFAULT 0; ALTER TABLE records ADD "
                   "COLUMN replayed_at_us INTEGER; ALTER TABLE steps ADD "
                   "COLUMN written_at_us INTEGER NOT NULL DEFAULT 0; ALTER "
                   "TABLE completions ADD COLUMN written_at_us INTEGER NOT "
                   "NULL DEFAULT 0; UPDATE records SET created_at_us = ",
                   absl::ToUnixMicros(absl::Now()), ";")
                   .c_str());
    }
    if (s.ok()) s = Exec(kSchema);
    if (s.ok()) s = Exec(DedupTriggers().c_str());
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
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;  // by SQL text
};

Cost CostAt(Stmt& s, int i) {
  return Cost{static_cast<uint64_t>(s.ColInt(i)),
              static_cast<uint64_t>(s.ColInt(i + 1)),
              static_cast<uint64_t>(s.ColInt(i + 2))};
}

// Each query is driven by the primary key's prefix: the record's, or the
// record's and the action's (tests/storage/plan_test.cc checks the plans).
constexpr char kReadRecord[] =
    "SELECT attempt, input_fingerprint, completed_at_us, written_at_us, "
    "created_at_us, replays, replayed_at_us FROM records WHERE job_id = ? AND "
    "record_key = ? AND seq_num = ?";
// A payload stored once (a digest) is one probe of the blobs' key away; NULL
// when the blob is missing, which the reader reports.
#define AJ_STEP_COLUMNS                                                     \
  "SELECT action_key, step_index, function_id, args_digest, status, CASE "  \
  "WHEN blob_digest IS NULL THEN result ELSE (SELECT b.bytes FROM blobs b " \
  "WHERE b.job_id = steps.job_id AND b.digest = steps.blob_digest) END, "   \
  "error, input_tokens, output_tokens, micro_usd, written_at_us FROM steps "
#define AJ_COMPLETION_COLUMNS                                              \
  "SELECT action_key, CASE WHEN blob_digest IS NULL THEN state ELSE "      \
  "(SELECT b.bytes FROM blobs b WHERE b.job_id = completions.job_id AND "  \
  "b.digest = completions.blob_digest) END, input_tokens, output_tokens, " \
  "micro_usd, written_at_us FROM completions "
constexpr char kReadAllSteps[] = AJ_STEP_COLUMNS
    "WHERE job_id = ? AND record_key = ? AND seq_num = ? ORDER BY action_key, "
    "step_index";
constexpr char kReadActionSteps[] = AJ_STEP_COLUMNS
    "WHERE job_id = ? AND record_key = ? AND seq_num = ? AND action_key = ? "
    "ORDER BY step_index";
constexpr char kReadAllCompletions[] =
    AJ_COMPLETION_COLUMNS "WHERE job_id = ? AND record_key = ? AND seq_num = ?";
constexpr char kReadActionCompletion[] = AJ_COMPLETION_COLUMNS
    "WHERE job_id = ? AND record_key = ? AND seq_num = ? AND action_key = ?";
#undef AJ_STEP_COLUMNS
#undef AJ_COMPLETION_COLUMNS

// A time column: microseconds, NULL or 0 for none.
absl::Time TimeAt(Stmt& s, int i) {
  if (s.ColNull(i) || s.ColInt(i) == 0) return absl::InfinitePast();
  return absl::FromUnixMicros(s.ColInt(i));
}

absl::Status MissingBlob() {
  return absl::DataLossError("sqlite: an entry references a missing blob");
}

absl::Status ReadSteps(Stmt& s, RecordSnapshot* rec) {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::OkStatus();
    if (s.ColNull(5)) return MissingBlob();
    Step step;
    step.index = static_cast<uint32_t>(s.ColInt(1));
    step.function_id = s.ColBytes(2);
    step.args_digest = s.ColBytes(3);
    step.status = static_cast<StepStatus>(s.ColInt(4));
    step.result = s.ColBytes(5);
    step.error = s.ColBytes(6);
    step.cost = CostAt(s, 7);
    step.written_at = TimeAt(s, 10);
    rec->actions[s.ColBytes(0)].steps.push_back(std::move(step));
  }
}

absl::Status ReadCompletions(Stmt& s, RecordSnapshot* rec) {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::OkStatus();
    if (s.ColNull(1)) return MissingBlob();
    StoredAction& a = rec->actions[s.ColBytes(0)];
    a.completion = Completion{s.ColBytes(1), TimeAt(s, 5)};
    a.completion_cost = CostAt(s, 2);
  }
}

absl::StatusOr<Snapshot> ReadAll(Connection& c, const ReadSet& reads) {
  Snapshot out;
  for (const ReadSet::Item& item : reads.items()) {
    RecordSnapshot& rec = out[item.record];
    {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare(kReadRecord));
      s.Record(item.record);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) continue;
      RecordRow r;
      r.attempt = static_cast<uint64_t>(s.ColInt(0));
      r.input_fingerprint = s.ColBytes(1);
      r.completed = !s.ColNull(2);
      if (r.completed) r.completed_at = absl::FromUnixMicros(s.ColInt(2));
      r.written_at = absl::FromUnixMicros(s.ColInt(3));
      r.created_at = TimeAt(s, 4);
      r.replays = static_cast<uint64_t>(s.ColInt(5));
      r.replayed_at = TimeAt(s, 6);
      rec.row = std::move(r);
    }
    if (item.all_actions) {
      ASSIGN_OR_RETURN(Stmt steps, c.Prepare(kReadAllSteps));
      steps.Record(item.record);
      RETURN_IF_ERROR(ReadSteps(steps, &rec));
      ASSIGN_OR_RETURN(Stmt done, c.Prepare(kReadAllCompletions));
      done.Record(item.record);
      RETURN_IF_ERROR(ReadCompletions(done, &rec));
      continue;
    }
    for (const std::string& key : item.action_keys) {
      ASSIGN_OR_RETURN(Stmt steps, c.Prepare(kReadActionSteps));
      steps.Record(item.record).Text(key);
      RETURN_IF_ERROR(ReadSteps(steps, &rec));
      ASSIGN_OR_RETURN(Stmt done, c.Prepare(kReadActionCompletion));
      done.Record(item.record).Text(key);
      RETURN_IF_ERROR(ReadCompletions(done, &rec));
    }
  }
  return out;
}

// Binds a time column: NULL for none.
Stmt& BindTime(Stmt& s, absl::Time t) {
  return t == absl::InfinitePast() ? s.Null() : s.Int(ToMicros(t));
}

// Binds a digest column: the digest, or NULL for a payload stored inline.
Stmt& BindDigest(Stmt& s, const std::optional<std::string>& digest) {
  return digest.has_value() ? s.Blob(*digest) : s.Null();
}

// Runs `s` and checks it changed `expected` rows; ABORTED if not.
absl::Status ExecExpecting(Stmt& s, uint64_t expected, absl::string_view what) {
  RETURN_IF_ERROR(s.Exec());
  if (static_cast<uint64_t>(s.Changes()) != expected) {
    return absl::AbortedError(absl::StrCat(what, ": changed ", s.Changes(),
                                           " rows, expected ", expected,
                                           "; retry"));
  }
  return absl::OkStatus();
}

// Where an entry's payload goes: the digest column's value (nullopt: NULL,
// the payload stored inline) after the blob's reference was added.
absl::StatusOr<std::optional<std::string>> AddReference(
    Connection& c, const std::string& job_id, const std::string& payload,
    const DedupOptions& dedup) {
  std::optional<std::string> digest = DedupDigest(payload, dedup);
  if (!digest.has_value()) return digest;
  ASSIGN_OR_RETURN(
      Stmt s, c.Prepare("INSERT INTO blobs (job_id, digest, bytes, refs) "
                        "VALUES (?, ?, ?, 1) ON CONFLICT (job_id, digest) DO "
                        "UPDATE SET refs = refs + 1"));
  s.Text(job_id).Blob(*digest).Blob(payload);
  RETURN_IF_ERROR(s.Exec());
  return digest;
}

absl::Status Apply(Connection& c, const WriteSet& w,
                   const DedupOptions& dedup) {
  static const std::string kEmpty;
  for (const auto& d : w.entry_deletes) {
    uint64_t n = 0;
    for (const char* sql : {"DELETE FROM steps WHERE job_id = ? AND record_key "
                            "= ? AND seq_num = ?",
                            "DELETE FROM completions WHERE job_id = ? AND "
                            "record_key = ? AND seq_num = ?"}) {
      ASSIGN_OR_RETURN(Stmt s, c.Prepare(sql));
      s.Record(d.record);
      RETURN_IF_ERROR(s.Exec());
      n += s.Changes();
    }
    if (n != d.expected) return absl::AbortedError("reset raced; retry");
  }
  for (const auto& d : w.step_deletes) {
    ASSIGN_OR_RETURN(Stmt s,
                     c.Prepare("DELETE FROM steps WHERE job_id = ? AND "
                               "record_key = ? AND seq_num = ? "
                               "AND action_key = ? AND step_index >= ?"));
    s.Record(d.record).Text(d.action_key).Int(d.from_index);
    RETURN_IF_ERROR(ExecExpecting(s, d.expected, "delete steps"));
  }
  for (const auto& d : w.completion_deletes) {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare("DELETE FROM completions WHERE job_id "
                                       "= ? AND record_key = ? AND seq_num = "
                                       "? AND action_key = ?"));
    s.Record(d.record).Text(d.action_key);
    RETURN_IF_ERROR(ExecExpecting(s, 1, "delete completion"));
  }
  for (const auto& r : w.records) {
    ASSIGN_OR_RETURN(
        Stmt s,
        c.Prepare(
            r.insert ? "INSERT INTO records (attempt, input_fingerprint, "
                       "completed_at_us, written_at_us, replays, "
                       "replayed_at_us, created_at_us, job_id, record_key, "
                       "seq_num) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON "
                       "CONFLICT DO NOTHING"
                     : "UPDATE records SET attempt = ?, input_fingerprint = ?, "
                       "completed_at_us = ?, written_at_us = ?, replays = ?, "
                       "replayed_at_us = ? WHERE job_id = ? AND record_key = "
                       "? AND seq_num = ?"));
    s.Int(static_cast<int64_t>(r.row.attempt)).Blob(r.row.input_fingerprint);
    if (r.row.completed) {
      s.Int(ToMicros(r.row.completed_at));
    } else {
      s.Null();
    }
    s.Int(ToMicros(r.row.written_at)).Int(static_cast<int64_t>(r.row.replays));
    BindTime(s, r.row.replayed_at);
    if (r.insert) s.Int(ToMicros(r.row.created_at));
    s.Record(r.record);
    RETURN_IF_ERROR(
        ExecExpecting(s, 1, r.insert ? "insert record" : "update record"));
  }
  for (const auto& w1 : w.steps) {
    const Step& step = w1.step;
    ASSIGN_OR_RETURN(const std::optional<std::string> digest,
                     AddReference(c, w1.record.job_id, step.result, dedup));
    const std::string& result = digest.has_value() ? kEmpty : step.result;
    if (w1.upgrade) {
      ASSIGN_OR_RETURN(
          Stmt s,
          c.Prepare("UPDATE steps SET status = ?, result "
                    "= ?, error = ?, input_tokens = ?, "
                    "output_tokens = ?, micro_usd = ?, "
                    "blob_digest = ?, written_at_us = ? WHERE job_id = ? AND "
                    "record_key = ? AND seq_num = ? AND action_key = ? "
                    "AND step_index = ? AND status = 1"));
      s.Int(static_cast<int>(step.status))
          .Blob(result)
          .Blob(step.error)
          .CostOf(step.cost);
      BindDigest(s, digest)
          .Int(ToMicros(step.written_at))
          .Record(w1.record)
          .Text(w1.action_key)
          .Int(step.index);
      RETURN_IF_ERROR(ExecExpecting(s, 1, "upgrade step"));
    } else {
      ASSIGN_OR_RETURN(
          Stmt s,
          c.Prepare(
              "INSERT INTO steps (job_id, record_key, seq_num, action_key, "
              "step_index, function_id, args_digest, status, result, error, "
              "input_tokens, output_tokens, micro_usd, blob_digest, "
              "written_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
              "?, ?) ON CONFLICT DO NOTHING"));
      s.Record(w1.record)
          .Text(w1.action_key)
          .Int(step.index)
          .Text(step.function_id)
          .Blob(step.args_digest)
          .Int(static_cast<int>(step.status))
          .Blob(result)
          .Blob(step.error)
          .CostOf(step.cost);
      BindDigest(s, digest).Int(ToMicros(step.written_at));
      RETURN_IF_ERROR(ExecExpecting(s, 1, "insert step"));
    }
  }
  for (const auto& cw : w.completions) {
    ASSIGN_OR_RETURN(
        const std::optional<std::string> digest,
        AddReference(c, cw.record.job_id, cw.completion.state, dedup));
    ASSIGN_OR_RETURN(
        Stmt s,
        c.Prepare(
            "INSERT INTO completions (job_id, record_key, seq_num, action_key, "
            "state, input_tokens, output_tokens, micro_usd, blob_digest, "
            "written_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
            "DO NOTHING"));
    s.Record(cw.record)
        .Text(cw.action_key)
        .Blob(digest.has_value() ? kEmpty : cw.completion.state)
        .CostOf(cw.cost);
    BindDigest(s, digest).Int(ToMicros(cw.completion.written_at));
    RETURN_IF_ERROR(ExecExpecting(s, 1, "insert completion"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PruneResult> PruneAll(Connection& c, const PruneRequest& req,
                                     absl::Time now) {
  RETURN_IF_ERROR(
      c.Exec("CREATE TEMP TABLE IF NOT EXISTS prune_keys "
             "(record_key BLOB NOT NULL, up_to INTEGER NOT NULL)"));
  RETURN_IF_ERROR(c.Exec("DELETE FROM temp.prune_keys"));
  for (const auto& [key, up_to] : req.keys) {
    ASSIGN_OR_RETURN(
        Stmt s,
        c.Prepare(
            "INSERT INTO temp.prune_keys (record_key, up_to) VALUES (?, ?)"));
    s.Blob(key).Int(up_to);
    RETURN_IF_ERROR(s.Exec());
  }
  static const std::string kSelected =
      PruneSelectsSql("?2", "?3", "temp.prune_keys k");
  static const std::string kEntries[] = {
      absl::StrCat("DELETE FROM steps WHERE (job_id, record_key, seq_num) IN "
                   "(SELECT r.job_id, r.record_key, r.seq_num FROM records r "
                   "WHERE r.job_id = ?1 AND ",
                   kSelected, ")"),
      absl::StrCat("DELETE FROM completions WHERE (job_id, record_key, "
                   "seq_num) IN (SELECT r.job_id, r.record_key, r.seq_num "
                   "FROM records r WHERE r.job_id = ?1 AND ",
                   kSelected, ")"),
  };
  static const std::string kRecords = absl::StrCat(
      "DELETE FROM records AS r WHERE r.job_id = ?1 AND ", kSelected);
  const int64_t before = req.completed_before.has_value()
                             ? ToMicros(*req.completed_before)
                             : INT64_MIN;
  PruneResult result;
  if (req.retention > absl::ZeroDuration()) {
    static const std::string kRetain = absl::StrCat(
        "UPDATE records AS r SET expires_at_us = min(coalesce(expires_at_us, "
        "?4), ?4) WHERE r.job_id = ?1 AND ",
        kSelected);
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(kRetain));
    s.Text(req.job_id)
        .Int(req.whole_job ? 1 : 0)
        .Int(before)
        .Int(ToMicros(now + req.retention));
    RETURN_IF_ERROR(s.Exec());
    result.records_retained = s.Changes();
    return result;
  }
  for (const std::string* sql : {&kEntries[0], &kEntries[1], &kRecords}) {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(*sql));
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

absl::StatusOr<std::vector<JobStats>> StatsOf(Connection& c,
                                              const std::string& job_id) {
  static const std::string kAll = JobStatsSql("");
  static const std::string kJob = JobStatsSql("WHERE job_id = ?1");
  ASSIGN_OR_RETURN(Stmt s, c.Prepare(job_id.empty() ? kAll : kJob));
  if (!job_id.empty()) s.Text(job_id);
  std::vector<JobStats> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    JobStats j;
    j.job_id = s.ColBytes(0);
    j.records = s.ColInt(1);
    j.retained_records = s.ColInt(2);
    j.entries = s.ColInt(3);
    j.payload_bytes = s.ColInt(4);
    j.cost = CostAt(s, 5);
    j.blobs = s.ColInt(8);
    j.blob_bytes = s.ColInt(9);
    j.deduplicated_bytes = s.ColInt(10);
    j.replayed_records = s.ColInt(11);
    j.replays = s.ColInt(12);
    out.push_back(std::move(j));
  }
}

// The record columns of RecordInfo, from `r`.
#define AJ_INFO_COLUMNS                                             \
  "SELECT r.record_key, r.seq_num, r.attempt, r.completed_at_us, "  \
  "r.created_at_us, r.written_at_us, r.replays, r.replayed_at_us, " \
  "r.expires_at_us FROM records r "
// ListRecords' statements, one per shape (backend.h), each an index range
// of records_created backwards, whose entries carry the primary key, so the
// order needs no sort.
const std::string& ListSql(unsigned shape) {
  static const auto* kAll = [] {
    auto* all = new std::vector<std::string>;
    for (unsigned s = 0; s < kListShapes; ++s) {
      all->push_back(absl::StrCat(
          AJ_INFO_COLUMNS "WHERE ",
          ListRecordsSql(s, [](int i) { return absl::StrCat("?", i); })));
    }
    return all;
  }();
  return (*kAll)[shape];
}
constexpr char kRecordInfo[] = AJ_INFO_COLUMNS
    "WHERE r.job_id = ?1 AND r.record_key = ?2 AND r.seq_num = ?3";
#undef AJ_INFO_COLUMNS

// The RecordInfo of the row `s` is on (kListRecords' columns), with its
// entries' totals.
absl::StatusOr<RecordInfo> InfoAt(Connection& c, const std::string& job_id,
                                  Stmt& s) {
  RecordInfo info;
  info.id = RecordId{job_id, s.ColBytes(0), s.ColInt(1)};
  info.attempt = static_cast<uint64_t>(s.ColInt(2));
  info.completed = !s.ColNull(3);
  info.completed_at = TimeAt(s, 3);
  info.created_at = TimeAt(s, 4);
  info.written_at = TimeAt(s, 5);
  info.replays = static_cast<uint64_t>(s.ColInt(6));
  info.replayed_at = TimeAt(s, 7);
  if (!s.ColNull(8)) info.retained_until = absl::FromUnixMicros(s.ColInt(8));
  static const std::string kTotals = RecordTotalsSql("?1", "?2", "?3");
  ASSIGN_OR_RETURN(Stmt t, c.Prepare(kTotals));
  t.Record(info.id);
  ASSIGN_OR_RETURN(bool row, t.Step());
  if (!row) return absl::InternalError("sqlite: record totals: no row");
  info.actions = t.ColInt(0);
  info.entries = t.ColInt(1);
  info.payload_bytes = t.ColInt(2);
  info.cost = CostAt(t, 3);
  return info;
}

absl::StatusOr<std::vector<RecordInfo>> ListOf(Connection& c,
                                               const ListRecordsQuery& q) {
  const unsigned shape = ListShapeOf(q);
  ASSIGN_OR_RETURN(Stmt s, c.Prepare(ListSql(shape)));
  s.Text(q.job_id);
  if (!q.key_prefix.empty()) s.Blob(q.key_prefix);
  s.Int(ToMicros(q.created_from)).Int(ToMicros(ListCreatedBefore(q)));
  if (q.after.has_value()) {
    s.Int(ToMicros(q.after->created_at))
        .Blob(q.after->record_key)
        .Int(q.after->seq_num);
  }
  s.Int(q.limit);
  // The page's rows first: the totals' statement runs between steps of
  // another on the same connection, which SQLite allows.
  std::vector<RecordInfo> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    ASSIGN_OR_RETURN(RecordInfo info, InfoAt(c, q.job_id, s));
    out.push_back(std::move(info));
  }
}

absl::StatusOr<std::optional<RecordInfo>> InfoOf(Connection& c,
                                                 const RecordId& id) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare(kRecordInfo));
  s.Record(id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<RecordInfo>();
  ASSIGN_OR_RETURN(RecordInfo info, InfoAt(c, id.job_id, s));
  return std::optional<RecordInfo>(std::move(info));
}

// An attempt above the last one issued for the job and above every record's
// stored attempt (a client may begin records with attempts of its own).
constexpr const char* kIssueAttemptSql =
    "INSERT INTO job_attempts (job_id, last_attempt) SELECT ?1, "
    "coalesce(max(attempt), 0) + 1 FROM records WHERE job_id = ?1 "
    "ON CONFLICT (job_id) DO UPDATE SET last_attempt = "
    "max(last_attempt + 1, excluded.last_attempt) RETURNING last_attempt";

absl::StatusOr<uint64_t> IssueAttemptOf(Connection& c,
                                        const std::string& job_id) {
  ASSIGN_OR_RETURN(Stmt s, c.Prepare(kIssueAttemptSql));
  s.Text(job_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::InternalError("sqlite: issue attempt: no row");
  return static_cast<uint64_t>(s.ColInt(0));
}

absl::StatusOr<StoreSize> SizeOf(Connection& c) {
  StoreSize out;
  ASSIGN_OR_RETURN(
      Stmt s,
      c.Prepare("SELECT (SELECT count(*) FROM records), (SELECT page_count "
                "FROM pragma_page_count) * (SELECT page_size FROM "
                "pragma_page_size), (SELECT min(written_at_us) FROM records "
                "WHERE expires_at_us IS NULL)"));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::InternalError("sqlite: size: no row");
  out.records = s.ColInt(0);
  out.bytes = s.ColInt(1);
  if (!s.ColNull(2)) {
    out.oldest_unpruned_written = absl::FromUnixMicros(s.ColInt(2));
  }
  return out;
}

// Deletes at most `limit` due records (Backend::Sweep) and their entries.
absl::StatusOr<SweepResult> SweepSome(Connection& c, absl::Time now,
                                      absl::Time written_before, int limit) {
  // The records due (?1 now), and those past the TTL (?1 written before,
  // ?2 now); at most ?3.
  static const std::string kPickDue = absl::StrCat(
      "INSERT INTO temp.sweep SELECT job_id, record_key, seq_num, 0 FROM "
      "records r WHERE ",
      SweepRetentionSql("?1"), " LIMIT ?3");
  static const std::string kPickOld = absl::StrCat(
      "INSERT INTO temp.sweep SELECT job_id, record_key, seq_num, 1 FROM "
      "records r WHERE ",
      SweepTtlSql("?2", "?1"), " LIMIT ?3");
  RETURN_IF_ERROR(
      c.Exec("CREATE TEMP TABLE IF NOT EXISTS sweep (job_id TEXT NOT NULL, "
             "record_key BLOB NOT NULL, seq_num INTEGER NOT NULL, ttl INTEGER "
             "NOT NULL)"));
  RETURN_IF_ERROR(c.Exec("DELETE FROM temp.sweep"));
  // Each half driven by its own index: the retention's, then the TTL's.
  ASSIGN_OR_RETURN(Stmt pick, c.Prepare(kPickDue));
  pick.Int(ToMicros(now)).Int(ToMicros(written_before)).Int(limit);
  RETURN_IF_ERROR(pick.Exec());
  SweepResult out;
  out.retention_records = pick.Changes();
  if (written_before != absl::InfinitePast() &&
      out.retention_records < static_cast<uint64_t>(limit)) {
    ASSIGN_OR_RETURN(Stmt ttl, c.Prepare(kPickOld));
    ttl.Int(ToMicros(written_before))
        .Int(ToMicros(now))
        .Int(limit - static_cast<int>(out.retention_records));
    RETURN_IF_ERROR(ttl.Exec());
    out.ttl_records = ttl.Changes();
  }
  static const std::string kDelete[] = {
      "DELETE FROM steps WHERE (job_id, record_key, seq_num) IN (SELECT "
      "job_id, record_key, seq_num FROM temp.sweep)",
      "DELETE FROM completions WHERE (job_id, record_key, seq_num) IN "
      "(SELECT job_id, record_key, seq_num FROM temp.sweep)",
      "DELETE FROM records WHERE (job_id, record_key, seq_num) IN (SELECT "
      "job_id, record_key, seq_num FROM temp.sweep)"};
  for (const std::string& sql : kDelete) {
    ASSIGN_OR_RETURN(Stmt s, c.Prepare(sql));
    RETURN_IF_ERROR(s.Exec());
    if (&sql != &kDelete[2]) out.entries += s.Changes();
  }
  return out;
}

// Thread-safe: one connection, one call at a time (SQLite has one writer).
class SqliteBackend final : public Backend {
 public:
  SqliteBackend(std::unique_ptr<Connection> c, DedupOptions dedup)
      : dedup_(dedup), conn_(std::move(c)) {}

 private:
  // Runs `f` between `begin` and COMMIT, rolling back when it fails.
  // REQUIRES: mu_ held (not annotated: clang parses the annotation before
  // mu_ is declared).
  template <typename F>
  auto InTransaction(const char* begin, F f) -> decltype(f()) {
    RETURN_IF_ERROR(conn_->Exec(begin));
    auto out = f();
    absl::Status s = out.status();
    if (s.ok()) s = conn_->Exec("COMMIT");
    if (!s.ok()) {
      conn_->Exec("ROLLBACK").IgnoreError();
      return s;
    }
    return out;
  }

 public:
  absl::StatusOr<Snapshot> Read(const ReadSet& reads) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN", [&]() { return ReadAll(*conn_, reads); });
  }

  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    (void)deadline;  // SQLite statements are local and short
    absl::MutexLock lock(&mu_);
    return InTransaction(
               "BEGIN IMMEDIATE",
               [&]() -> absl::StatusOr<bool> {
                 ASSIGN_OR_RETURN(Snapshot snapshot, ReadAll(*conn_, reads));
                 RETURN_IF_ERROR(Apply(*conn_, decide(snapshot), dedup_));
                 return true;
               })
        .status();
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& request,
                                    absl::Time now) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN IMMEDIATE",
                         [&] { return PruneAll(*conn_, request, now); });
  }

  absl::StatusOr<SweepResult> Sweep(absl::Time now, absl::Time written_before,
                                    int limit) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN IMMEDIATE", [&] {
      return SweepSome(*conn_, now, written_before, limit);
    });
  }

  absl::StatusOr<std::vector<JobStats>> Stats(
      const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN", [&] { return StatsOf(*conn_, job_id); });
  }

  absl::StatusOr<std::vector<RecordInfo>> ListRecords(
      const ListRecordsQuery& query) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN", [&] { return ListOf(*conn_, query); });
  }

  absl::StatusOr<std::optional<RecordInfo>> RecordInfoOf(
      const RecordId& record) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN", [&] { return InfoOf(*conn_, record); });
  }

  absl::StatusOr<uint64_t> IssueAttempt(const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN IMMEDIATE",
                         [&] { return IssueAttemptOf(*conn_, job_id); });
  }

  absl::StatusOr<StoreSize> Size() override {
    absl::MutexLock lock(&mu_);
    return InTransaction("BEGIN", [&] { return SizeOf(*conn_); });
  }

  absl::Status Ping() override {
    absl::MutexLock lock(&mu_);
    return conn_->Exec("SELECT 1");
  }

  int MaxConcurrentWriters() const override { return 1; }

 private:
  const DedupOptions dedup_;
  absl::Mutex mu_;
  std::unique_ptr<Connection> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::string> ExplainSqliteReadsForTest(
    const SqliteStoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(options));
  std::string out;
  const std::vector<std::string> kExplained = {
      absl::StrCat("EXPLAIN QUERY PLAN ", kReadRecord),
      absl::StrCat("EXPLAIN QUERY PLAN ", kReadAllSteps),
      absl::StrCat("EXPLAIN QUERY PLAN ", kReadActionSteps),
      absl::StrCat("EXPLAIN QUERY PLAN ", kReadAllCompletions),
      absl::StrCat("EXPLAIN QUERY PLAN ", kReadActionCompletion)};
  for (const std::string& explain : kExplained) {
    const char* sql = explain.c_str() + strlen("EXPLAIN QUERY PLAN ");
    ASSIGN_OR_RETURN(Stmt s, conn->Prepare(explain));
    absl::StrAppend(&out, sql, "\n");
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      absl::StrAppend(&out, "  ", s.ColBytes(3), "\n");
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Backend>> NewSqliteBackend(
    const SqliteStoreOptions& options, DedupOptions dedup) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(options));
  return std::make_unique<SqliteBackend>(std::move(conn), dedup);
}

}  // namespace actionjournal
