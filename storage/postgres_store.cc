#include "storage/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <libpq-fe.h>
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
    // A full disk: the store cannot take writes until an operator frees
    // space; the same request may then succeed, so UNAVAILABLE, as on
    // SQLite (README, "Failures").
    if (state == "53100") return absl::UnavailableError(what);
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
      // The batch statements: arrays travel as parameters (see ArrayLiteral).
      // Locks are taken in one order, as the journal sorts its batches, so
      // that concurrent batches do not deadlock.
      {"lock_records",
       "SELECT r.job_id, r.record_key, r.seq_num, r.attempt, "
       "r.input_fingerprint, r.completed_at_us FROM records r JOIN "
       "unnest($1::text[], $2::bytea[], $3::bigint[]) AS u(job_id, record_key, "
       "seq_num) USING (job_id, record_key, seq_num) ORDER BY r.job_id "
       "COLLATE \"C\", r.record_key, r.seq_num FOR UPDATE OF r"},
      // read_actions for many (record, action or NULL = all) pairs, with the
      // record's identity in front.
      {"read_actions_many",
       "WITH u AS (SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], "
       "$4::text[]) AS u(job_id, record_key, seq_num, action_key)) "
       "SELECT t.job_id, t.record_key, t.seq_num, 0 AS kind, t.action_key, "
       "t.step_index, t.function_id, t.args_digest, t.status, t.result, t.error, "
       "t.input_tokens, t.output_tokens, t.micro_usd FROM steps t JOIN u ON "
       "t.job_id = u.job_id AND t.record_key = u.record_key AND t.seq_num = "
       "u.seq_num AND (u.action_key IS NULL OR t.action_key = u.action_key) "
       "UNION ALL SELECT t.job_id, t.record_key, t.seq_num, 1, t.action_key, 0, "
       "'', ''::bytea, 0, t.state, ''::bytea, t.input_tokens, t.output_tokens, "
       "t.micro_usd FROM completions t JOIN u ON t.job_id = u.job_id AND "
       "t.record_key = u.record_key AND t.seq_num = u.seq_num AND "
       "(u.action_key IS NULL OR t.action_key = u.action_key)"},
      {"insert_records",
       "INSERT INTO records (job_id, record_key, seq_num, attempt, "
       "input_fingerprint, completed_at_us) SELECT * FROM unnest($1::text[], "
       "$2::bytea[], $3::bigint[], $4::bigint[], $5::bytea[], $6::bigint[]) "
       "ON CONFLICT DO NOTHING"},
      {"update_records",
       "UPDATE records t SET attempt = u.attempt, input_fingerprint = "
       "u.input_fingerprint, completed_at_us = u.completed_at_us FROM "
       "unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[], "
       "$5::bytea[], $6::bigint[]) AS u(job_id, record_key, seq_num, attempt, "
       "input_fingerprint, completed_at_us) WHERE t.job_id = u.job_id AND "
       "t.record_key = u.record_key AND t.seq_num = u.seq_num"},
      {"insert_steps",
       "INSERT INTO steps (job_id, record_key, seq_num, action_key, "
       "step_index, function_id, args_digest, status, result, error, "
       "input_tokens, output_tokens, micro_usd) SELECT * FROM "
       "unnest($1::text[], $2::bytea[], $3::bigint[], $4::text[], $5::bigint[], "
       "$6::text[], $7::bytea[], $8::smallint[], $9::bytea[], $10::bytea[], "
       "$11::bigint[], $12::bigint[], $13::bigint[]) ON CONFLICT DO NOTHING"},
      {"upgrade_steps",
       "UPDATE steps t SET status = u.status, result = u.result, error = "
       "u.error, input_tokens = u.input_tokens, output_tokens = "
       "u.output_tokens, micro_usd = u.micro_usd FROM unnest($1::text[], "
       "$2::bytea[], $3::bigint[], $4::text[], $5::bigint[], $6::smallint[], "
       "$7::bytea[], $8::bytea[], $9::bigint[], $10::bigint[], $11::bigint[]) "
       "AS u(job_id, record_key, seq_num, action_key, step_index, status, "
       "result, error, input_tokens, output_tokens, micro_usd) WHERE "
       "t.job_id = u.job_id AND t.record_key = u.record_key AND t.seq_num = "
       "u.seq_num AND t.action_key = u.action_key AND t.step_index = "
       "u.step_index AND t.status = 1"},
      {"insert_completions",
       "INSERT INTO completions (job_id, record_key, seq_num, action_key, "
       "state, input_tokens, output_tokens, micro_usd) SELECT * FROM "
       "unnest($1::text[], $2::bytea[], $3::bigint[], $4::text[], $5::bytea[], "
       "$6::bigint[], $7::bigint[], $8::bigint[]) ON CONFLICT DO NOTHING"},
      {"delete_entries",
       "WITH s AS (DELETE FROM steps WHERE job_id = $1 AND record_key = $2 "
       "AND seq_num = $3 RETURNING 1), c AS (DELETE FROM completions WHERE "
       "job_id = $1 AND record_key = $2 AND seq_num = $3 RETURNING 1) "
       "SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM c)"},
      // One set-based statement: select the records, delete their entries
      // and them. $2 whole job, $3 completed-before (micros, or NULL),
      // $4/$5 parallel arrays of record keys and bounds.
      {"prune",
       "WITH sel AS (SELECT r.job_id, r.record_key, r.seq_num FROM records r "
       "  WHERE r.job_id = $1 AND ($2 OR r.completed_at_us < $3::bigint OR "
       "  EXISTS (SELECT 1 FROM unnest($4::bytea[], $5::bigint[]) AS "
       "  k(record_key, up_to) WHERE k.record_key = r.record_key "
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

// A PostgreSQL array literal, built element by element, for the batch
// statements' unnest($n::type[]) parameters. Elements are quoted and escaped
// by the array syntax's rules; the literal goes as one parameter value,
// never as SQL.
class ArrayLiteral {
 public:
  ArrayLiteral& Text(absl::string_view s) {
    Separate();
    out_ += '"';
    for (char ch : s) {
      if (ch == '"' || ch == '\\') out_ += '\\';
      out_ += ch;
    }
    out_ += '"';
    return *this;
  }
  // bytea in hex form ("\\x0a1b" once quoted).
  ArrayLiteral& Bytes(absl::string_view b) {
    return Text(absl::StrCat("\\x", absl::BytesToHexString(b)));
  }
  ArrayLiteral& Int(int64_t v) {
    Separate();
    absl::StrAppend(&out_, v);
    return *this;
  }
  ArrayLiteral& Null() {
    Separate();
    out_ += "NULL";
    return *this;
  }
  std::string Done() const { return out_ + "}"; }

 private:
  void Separate() {
    if (out_.size() > 1) out_ += ',';
  }
  std::string out_ = "{";
};

RecordRow RowAt(const pqxx::row& r, int i) {
  RecordRow row;
  row.attempt = static_cast<uint64_t>(r[i].as<int64_t>());
  row.input_fingerprint = FromBin(r[i + 1]);
  row.completed = !r[i + 2].is_null();
  if (row.completed) row.completed_at = absl::FromUnixMicros(r[i + 2].as<int64_t>());
  return row;
}

Cost CostAt(const pqxx::row& r, int i) {
  return Cost{static_cast<uint64_t>(r[i].as<int64_t>()),
              static_cast<uint64_t>(r[i + 1].as<int64_t>()),
              static_cast<uint64_t>(r[i + 2].as<int64_t>())};
}

// Adds the steps / completion row r (read_actions' columns from `at`: kind,
// action_key, step_index, function_id, args_digest, status, result, error,
// three costs) to `out`.
void AddEntryAt(const pqxx::row& r, int at, std::map<std::string, ActionEntries>& out) {
  ActionEntries& a = out[r[at + 1].as<std::string>()];
  a.cost += CostAt(r, at + 8);
  if (r[at].as<int>() == 1) {
    a.completion = Completion{FromBin(r[at + 6])};
    return;
  }
  Step s;
  s.index = static_cast<uint32_t>(r[at + 2].as<int64_t>());
  s.function_id = r[at + 3].as<std::string>();
  s.args_digest = FromBin(r[at + 4]);
  s.status = static_cast<StepStatus>(r[at + 5].as<int>());
  s.result = FromBin(r[at + 6]);
  s.error = FromBin(r[at + 7]);
  s.cost = CostAt(r, at + 8);
  a.steps.push_back(std::move(s));
}

void SubtractCost(Cost& from, const Cost& c) {
  from.input_tokens -= c.input_tokens;
  from.output_tokens -= c.output_tokens;
  from.micro_usd -= c.micro_usd;
}

// One transaction. A write transaction keeps what it locked and read in a
// cache and holds its writes back, so that a group-commit batch costs a fixed
// number of round trips whatever its size: Prefetch locks every record of
// the batch and reads their entries in two statements, the rules run against
// the cache, and Flush sends the batch's writes as one multi-row statement
// per kind before the commit. The database stays the judge of uniqueness:
// every insert is ON CONFLICT DO NOTHING, and a statement that stores fewer
// rows than sent (another server won a race on an absent record) makes the
// transaction ABORTED, to be redone with fresh reads. What the cache does not
// hold falls back to one statement per call.
class PostgresTransaction final : public Transaction {
 public:
  PostgresTransaction(pqxx::work& w, bool read_only) : w_(w), read_only_(read_only) {}

  absl::Status Prefetch(const std::vector<Touch>& touches) override {
    if (read_only_ || touches.empty()) return absl::OkStatus();
    return Guard([&]() -> absl::Status {
      ArrayLiteral jobs, keys, seqs;
      std::vector<const RecordId*> ids;
      for (const Touch& t : touches) {
        if (cache_.count(*t.record) > 0 ||
            (!ids.empty() && *ids.back() == *t.record)) {
          continue;
        }
        ids.push_back(t.record);
        jobs.Text(t.record->job_id);
        keys.Bytes(t.record->record_key);
        seqs.Int(t.record->seq_num);
      }
      if (ids.empty()) return absl::OkStatus();
      for (const RecordId* id : ids) {
        // Absent until the lock says otherwise; an absent record has no
        // entries (every write creates its record first).
        cache_[*id].all_actions = true;
      }
      for (const pqxx::row& r : w_.exec_prepared("lock_records", jobs.Done(),
                                                 keys.Done(), seqs.Done())) {
        Cached& c = cache_[IdAt(r, 0)];
        c.row = RowAt(r, 3);
        c.all_actions = false;
      }
      // Read the entries the batch will look at, for the records that exist:
      // every action of a record one write reads whole, else the keys named.
      std::set<RecordId> whole;
      for (const Touch& t : touches) {
        if (t.all_actions) whole.insert(*t.record);
      }
      ArrayLiteral rjobs, rkeys, rseqs, ractions;
      bool any = false;
      for (const Touch& t : touches) {
        Cached& c = cache_[*t.record];
        if (!c.row.has_value() || c.all_actions) continue;
        if (whole.count(*t.record) > 0) {
          c.all_actions = true;
          ractions.Null();
        } else if (t.action_key != nullptr && c.known.insert(*t.action_key).second) {
          ractions.Text(*t.action_key);
        } else {
          continue;
        }
        any = true;
        rjobs.Text(t.record->job_id);
        rkeys.Bytes(t.record->record_key);
        rseqs.Int(t.record->seq_num);
      }
      if (!any) return absl::OkStatus();
      std::map<RecordId, std::map<std::string, ActionEntries>> found;
      for (const pqxx::row& r :
           w_.exec_prepared("read_actions_many", rjobs.Done(), rkeys.Done(),
                            rseqs.Done(), ractions.Done())) {
        AddEntryAt(r, 3, found[IdAt(r, 0)]);
      }
      for (auto& [id, actions] : found) {
        for (auto& [key, a] : actions) {
          std::sort(a.steps.begin(), a.steps.end(),
                    [](const Step& x, const Step& y) { return x.index < y.index; });
          a.action_key = key;
          cache_[id].actions[key] = std::move(a);
        }
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::optional<RecordRow>> LockRecord(const RecordId& id) override {
    if (auto it = cache_.find(id); it != cache_.end()) return it->second.row;
    return Guard([&]() -> absl::StatusOr<std::optional<RecordRow>> {
      pqxx::result r = w_.exec_prepared(read_only_ ? "read_record" : "lock_record",
                                        id.job_id, Bin(id.record_key), id.seq_num);
      if (r.empty()) return std::nullopt;
      return RowAt(r[0], 0);
    });
  }

  absl::StatusOr<bool> InsertRecord(const RecordId& id, const RecordRow& row) override {
    if (auto it = cache_.find(id); it != cache_.end()) {
      if (it->second.row.has_value()) return false;
      it->second.row = row;
      pending_record_inserts_[id] = row;
      return true;
    }
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("insert_record", id.job_id, Bin(id.record_key),
                              id.seq_num, I64(row.attempt), Bin(row.input_fingerprint),
                              row.completed, absl::ToUnixMicros(row.completed_at))
                 .affected_rows() == 1;
    });
  }

  absl::Status UpdateRecord(const RecordId& id, const RecordRow& row) override {
    if (auto it = cache_.find(id); it != cache_.end()) {
      it->second.row = row;
      auto pending = pending_record_inserts_.find(id);
      if (pending != pending_record_inserts_.end()) {
        pending->second = row;
      } else {
        pending_record_updates_[id] = row;
      }
      return absl::OkStatus();
    }
    return Guard([&]() -> absl::StatusOr<bool> {
             w_.exec_prepared("update_record", id.job_id, Bin(id.record_key),
                              id.seq_num, I64(row.attempt), Bin(row.input_fingerprint),
                              row.completed, absl::ToUnixMicros(row.completed_at));
             return true;
           }).status();
  }

  absl::StatusOr<std::vector<ActionEntries>> ReadActions(
      const RecordId& id, const std::string* action_key) override {
    Cached* c = Find(id);
    if (c != nullptr && (action_key == nullptr ? c->all_actions : c->Knows(*action_key))) {
      std::vector<ActionEntries> out;
      for (const auto& [key, a] : c->actions) {
        if (action_key == nullptr || key == *action_key) out.push_back(a);
      }
      return out;
    }
    RETURN_IF_ERROR(Flush());
    ASSIGN_OR_RETURN(std::vector<ActionEntries> out, ReadActionsNow(id, action_key));
    if (c != nullptr) {
      if (action_key == nullptr) c->actions.clear();
      for (const ActionEntries& a : out) c->actions[a.action_key] = a;
      if (action_key == nullptr) {
        c->all_actions = true;
      } else {
        c->known.insert(*action_key);
      }
    }
    return out;
  }

  absl::StatusOr<bool> InsertStep(const RecordId& id, const std::string& action_key,
                                  const Step& s, const Cost& cost) override {
    if (Cached* c = Find(id); c != nullptr && c->Knows(action_key)) {
      ActionEntries& a = c->Action(action_key);
      auto at = std::lower_bound(
          a.steps.begin(), a.steps.end(), s.index,
          [](const Step& x, uint32_t index) { return x.index < index; });
      if (at != a.steps.end() && at->index == s.index) return false;
      Step stored = s;
      stored.cost = cost;
      a.steps.insert(at, stored);
      a.cost += cost;
      pending_steps_.push_back({id, action_key, stored});
      return true;
    }
    RETURN_IF_ERROR(Flush());
    Forget(id, &action_key);
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("insert_step", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, static_cast<int64_t>(s.index),
                              s.function_id, Bin(s.args_digest),
                              static_cast<int>(s.status), Bin(s.result), Bin(s.error),
                              I64(cost.input_tokens), I64(cost.output_tokens),
                              I64(cost.micro_usd))
                 .affected_rows() == 1;
    });
  }

  absl::StatusOr<bool> UpgradeStep(const RecordId& id, const std::string& action_key,
                                   const Step& s, const Cost& cost) override {
    if (Cached* c = Find(id); c != nullptr && c->Knows(action_key)) {
      ActionEntries& a = c->Action(action_key);
      for (Step& stored : a.steps) {
        if (stored.index != s.index) continue;
        if (stored.status != StepStatus::kPending) return false;
        SubtractCost(a.cost, stored.cost);
        a.cost += cost;
        stored.status = s.status;
        stored.result = s.result;
        stored.error = s.error;
        stored.cost = cost;
        pending_upgrades_.push_back({id, action_key, stored});
        return true;
      }
      return false;
    }
    RETURN_IF_ERROR(Flush());
    Forget(id, &action_key);
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("upgrade_step", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, static_cast<int64_t>(s.index),
                              static_cast<int>(s.status), Bin(s.result), Bin(s.error),
                              I64(cost.input_tokens), I64(cost.output_tokens),
                              I64(cost.micro_usd))
                 .affected_rows() == 1;
    });
  }

  absl::StatusOr<uint64_t> DeleteStepsFrom(const RecordId& id,
                                           const std::string& action_key,
                                           uint32_t from) override {
    RETURN_IF_ERROR(Flush());
    Forget(id, &action_key);
    return Guard([&]() -> absl::StatusOr<uint64_t> {
      return w_.exec_prepared("delete_steps_from", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, static_cast<int64_t>(from))
          .affected_rows();
    });
  }

  absl::StatusOr<bool> InsertCompletion(const RecordId& id,
                                        const std::string& action_key,
                                        const Completion& completion,
                                        const Cost& cost) override {
    if (Cached* c = Find(id); c != nullptr && c->Knows(action_key)) {
      ActionEntries& a = c->Action(action_key);
      if (a.completion.has_value()) return false;
      a.completion = completion;
      a.cost += cost;
      pending_completions_.push_back({id, action_key, completion, cost});
      return true;
    }
    RETURN_IF_ERROR(Flush());
    Forget(id, &action_key);
    return Guard([&]() -> absl::StatusOr<bool> {
      return w_.exec_prepared("insert_completion", id.job_id, Bin(id.record_key),
                              id.seq_num, action_key, Bin(completion.state),
                              I64(cost.input_tokens), I64(cost.output_tokens),
                              I64(cost.micro_usd))
                 .affected_rows() == 1;
    });
  }

  absl::StatusOr<uint64_t> DeleteEntries(const RecordId& id) override {
    RETURN_IF_ERROR(Flush());
    Forget(id, nullptr);
    return Guard([&]() -> absl::StatusOr<uint64_t> {
      return w_.exec_prepared1("delete_entries", id.job_id, Bin(id.record_key),
                               id.seq_num)[0]
          .as<int64_t>();
    });
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req) override {
    RETURN_IF_ERROR(Flush());
    cache_.clear();
    return Guard([&]() -> absl::StatusOr<PruneResult> {
      ArrayLiteral keys, bounds;
      for (const auto& [key, up_to] : req.keys) {
        keys.Bytes(key);
        bounds.Int(up_to);
      }
      // NULL compares as unknown: no record matches by time without a bound.
      const char* no_time = nullptr;
      pqxx::row r =
          req.completed_before.has_value()
              ? w_.exec_prepared1("prune", req.job_id, req.whole_job,
                                  absl::ToUnixMicros(*req.completed_before),
                                  keys.Done(), bounds.Done())
              : w_.exec_prepared1("prune", req.job_id, req.whole_job, no_time,
                                  keys.Done(), bounds.Done());
      PruneResult out;
      out.records_deleted = r[0].as<int64_t>();
      out.entries_deleted = r[1].as<int64_t>();
      return out;
    });
  }

  absl::Status Savepoint() override {
    RETURN_IF_ERROR(Flush());
    return Guard([&]() -> absl::StatusOr<bool> {
             w_.exec0("SAVEPOINT op");
             return true;
           }).status();
  }

  absl::Status RollbackToSavepoint() override {
    // What was held back since the savepoint goes; the cache may hold it, so
    // it goes too, and later calls read again.
    ClearPending();
    cache_.clear();
    return Guard([&]() -> absl::StatusOr<bool> {
             w_.exec0("ROLLBACK TO SAVEPOINT op");
             return true;
           }).status();
  }

  // Sends every held-back write. ABORTED when a statement stored fewer rows
  // than it was sent (a race lost to another transaction).
  absl::Status Flush() {
    absl::Status s = Guard([&]() -> absl::Status {
      if (!pending_record_inserts_.empty()) {
        RETURN_IF_ERROR(Expect(WriteRecords("insert_records", pending_record_inserts_),
                               pending_record_inserts_.size(), "record"));
      }
      if (!pending_steps_.empty()) {
        RETURN_IF_ERROR(Expect(InsertSteps(), pending_steps_.size(), "step"));
      }
      if (!pending_upgrades_.empty()) {
        RETURN_IF_ERROR(Expect(UpgradeSteps(), pending_upgrades_.size(), "step upgrade"));
      }
      if (!pending_completions_.empty()) {
        RETURN_IF_ERROR(Expect(InsertCompletions(), pending_completions_.size(),
                               "completion"));
      }
      if (!pending_record_updates_.empty()) {
        RETURN_IF_ERROR(Expect(WriteRecords("update_records", pending_record_updates_),
                               pending_record_updates_.size(), "record update"));
      }
      return absl::OkStatus();
    });
    ClearPending();
    return s;
  }

 private:
  // What this transaction knows of one record it locked (or found absent).
  struct Cached {
    std::optional<RecordRow> row;  // as this transaction left it; nullopt: none
    bool all_actions = false;      // `actions` holds every action of the record
    std::set<std::string> known;   // or these keys' (a key missing there: none)
    std::map<std::string, ActionEntries> actions;

    bool Knows(const std::string& key) const {
      return all_actions || known.count(key) > 0;
    }
    ActionEntries& Action(const std::string& key) {
      ActionEntries& a = actions[key];
      a.action_key = key;
      known.insert(key);
      return a;
    }
  };
  struct PendingStep {
    RecordId id;
    std::string action_key;
    Step step;  // with its cost
  };
  struct PendingCompletion {
    RecordId id;
    std::string action_key;
    Completion completion;
    Cost cost;
  };

  Cached* Find(const RecordId& id) {
    if (read_only_) return nullptr;
    auto it = cache_.find(id);
    return it == cache_.end() ? nullptr : &it->second;
  }

  // Drops what the cache knows of the record's actions (all of them when
  // action_key is null), after a write that went straight to the database.
  void Forget(const RecordId& id, const std::string* action_key) {
    Cached* c = Find(id);
    if (c == nullptr) return;
    c->all_actions = false;
    if (action_key == nullptr) {
      c->known.clear();
      c->actions.clear();
    } else {
      c->known.erase(*action_key);
      c->actions.erase(*action_key);
    }
  }

  static RecordId IdAt(const pqxx::row& r, int i) {
    return RecordId{r[i].as<std::string>(), FromBin(r[i + 1]), r[i + 2].as<int64_t>()};
  }

  absl::StatusOr<std::vector<ActionEntries>> ReadActionsNow(
      const RecordId& id, const std::string* action_key) {
    return Guard([&]() -> absl::StatusOr<std::vector<ActionEntries>> {
      const bool all = action_key == nullptr;
      const std::string key = all ? "" : *action_key;
      std::map<std::string, ActionEntries> out;
      for (const pqxx::row& r : w_.exec_prepared("read_actions", id.job_id,
                                                 Bin(id.record_key), id.seq_num,
                                                 all, key)) {
        AddEntryAt(r, 0, out);
      }
      return SortedActions(std::move(out));
    });
  }

  static absl::Status Expect(const pqxx::result& r, size_t sent, const char* what) {
    if (r.affected_rows() == sent) return absl::OkStatus();
    return absl::AbortedError(absl::StrCat(what, " raced with another transaction; retry"));
  }

  static void AddRecord(const RecordId& id, ArrayLiteral (&a)[3]) {
    a[0].Text(id.job_id);
    a[1].Bytes(id.record_key);
    a[2].Int(id.seq_num);
  }

  pqxx::result WriteRecords(const char* statement,
                            const std::map<RecordId, RecordRow>& rows) {
    ArrayLiteral id[3], attempt, fingerprint, completed_at;
    for (const auto& [record, row] : rows) {
      AddRecord(record, id);
      attempt.Int(I64(row.attempt));
      fingerprint.Bytes(row.input_fingerprint);
      if (row.completed) {
        completed_at.Int(absl::ToUnixMicros(row.completed_at));
      } else {
        completed_at.Null();
      }
    }
    return w_.exec_prepared(statement, id[0].Done(), id[1].Done(), id[2].Done(),
                            attempt.Done(), fingerprint.Done(), completed_at.Done());
  }

  // The columns of held-back steps, as arrays.
  struct StepColumns {
    explicit StepColumns(const std::vector<PendingStep>& steps) {
      for (const PendingStep& p : steps) {
        AddRecord(p.id, id);
        action.Text(p.action_key);
        index.Int(p.step.index);
        function.Text(p.step.function_id);
        digest.Bytes(p.step.args_digest);
        status.Int(static_cast<int>(p.step.status));
        result.Bytes(p.step.result);
        error.Bytes(p.step.error);
        in.Int(I64(p.step.cost.input_tokens));
        out.Int(I64(p.step.cost.output_tokens));
        usd.Int(I64(p.step.cost.micro_usd));
      }
    }
    ArrayLiteral id[3], action, index, function, digest, status, result, error,
        in, out, usd;
  };

  pqxx::result InsertSteps() {
    const StepColumns c(pending_steps_);
    return w_.exec_prepared("insert_steps", c.id[0].Done(), c.id[1].Done(),
                            c.id[2].Done(), c.action.Done(), c.index.Done(),
                            c.function.Done(), c.digest.Done(), c.status.Done(),
                            c.result.Done(), c.error.Done(), c.in.Done(),
                            c.out.Done(), c.usd.Done());
  }

  pqxx::result UpgradeSteps() {
    const StepColumns c(pending_upgrades_);
    return w_.exec_prepared("upgrade_steps", c.id[0].Done(), c.id[1].Done(),
                            c.id[2].Done(), c.action.Done(), c.index.Done(),
                            c.status.Done(), c.result.Done(), c.error.Done(),
                            c.in.Done(), c.out.Done(), c.usd.Done());
  }

  pqxx::result InsertCompletions() {
    ArrayLiteral id[3], action, state, in, out, usd;
    for (const PendingCompletion& p : pending_completions_) {
      AddRecord(p.id, id);
      action.Text(p.action_key);
      state.Bytes(p.completion.state);
      in.Int(I64(p.cost.input_tokens));
      out.Int(I64(p.cost.output_tokens));
      usd.Int(I64(p.cost.micro_usd));
    }
    return w_.exec_prepared("insert_completions", id[0].Done(), id[1].Done(),
                            id[2].Done(), action.Done(), state.Done(), in.Done(),
                            out.Done(), usd.Done());
  }

  void ClearPending() {
    pending_record_inserts_.clear();
    pending_record_updates_.clear();
    pending_steps_.clear();
    pending_upgrades_.clear();
    pending_completions_.clear();
  }

  pqxx::work& w_;
  const bool read_only_;
  std::map<RecordId, Cached> cache_;
  // Held-back writes, sent by Flush in this order (a record before its
  // entries; updates last, collapsed to one per record).
  std::map<RecordId, RecordRow> pending_record_inserts_;
  std::vector<PendingStep> pending_steps_;
  std::vector<PendingStep> pending_upgrades_;
  std::vector<PendingCompletion> pending_completions_;
  std::map<RecordId, RecordRow> pending_record_updates_;
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
    if (cancelled_.load()) {
      return absl::UnavailableError("postgres: the server is stopping");
    }
    ASSIGN_OR_RETURN(int slot, Acquire());
    absl::Status s = Guard([&]() -> absl::Status {
      pqxx::connection& c = *slots_[slot];
      pqxx::work w(c);
      PostgresTransaction txn(w, read_only);
      absl::Status result = fn(txn);
      if (result.ok()) result = txn.Flush();
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

  // PQcancel on every connection a call holds: each running statement ends
  // with an error, its transaction rolls back, and the call returns.
  void Cancel() override {
    cancelled_ = true;
    std::vector<std::shared_ptr<pqxx::connection>> busy;
    {
      absl::MutexLock lock(&mu_);
      std::vector<bool> is_free(slots_.size(), false);
      for (int slot : free_) is_free[slot] = true;
      for (size_t i = 0; i < slots_.size(); ++i) {
        if (!is_free[i] && slots_[i] != nullptr) busy.push_back(slots_[i]);
      }
    }
    for (auto& c : busy) {
      Guard([&] {
        c->cancel_query();
        return absl::OkStatus();
      }).IgnoreError();
    }
  }

  int MaxConcurrentWriters() const override {
    return std::min(options_.pool_size, options_.max_write_transactions);
  }

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
        auto fresh = std::make_shared<pqxx::connection>(ConnectString());
        {
          absl::MutexLock lock(&mu_);  // Cancel reads slots_ under mu_
          slots_[slot] = fresh;
        }
        pqxx::connection& c = *fresh;
        {
          pqxx::nontransaction n(c);
          n.exec(absl::StrCat("SET statement_timeout = ",
                              absl::ToInt64Milliseconds(options_.statement_timeout)));
          // PostgreSQL 14 on: a statement whose client went away (a killed
          // server) is stopped within a second instead of running on, and
          // holding its locks, to its end.
          if (c.server_version() >= 140000) {
            n.exec("SET client_connection_check_interval = 1000");
          }
          // The statements are few and their plans do not depend on values
          // (key lookups, unnest of the batch); planning each call anew
          // costs more than running it.
          n.exec("SET plan_cache_mode = force_generic_plan");
          n.commit();
        }
        for (const auto& [name, sql] : Statements()) c.prepare(name, sql);
        return absl::OkStatus();
      });
      if (!s.ok()) {
        {
          absl::MutexLock lock(&mu_);
          slots_[slot].reset();
        }
        Release(slot, s);
        return absl::UnavailableError(s.message());
      }
    }
    return slot;
  }

  // Returns the slot; a connection that failed is dropped and rebuilt on
  // its next use.
  void Release(int slot, const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (!status.ok() && slots_[slot] != nullptr &&
        (absl::IsUnavailable(status) || !slots_[slot]->is_open())) {
      slots_[slot].reset();
    }
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
  // slots_[i] is used only by the thread holding slot i; it is replaced
  // under mu_, so that Cancel can take a reference to a busy one.
  std::vector<std::shared_ptr<pqxx::connection>> slots_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::vector<std::string> PostgresSecrets(const std::string& dsn) {
  std::vector<std::string> out;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    // libpq marks what it treats as a password with '*' ("sslpassword" too).
    if (o->val != nullptr && o->val[0] != '\0' && o->dispchar != nullptr &&
        std::string(o->dispchar).find('*') != std::string::npos) {
      out.emplace_back(o->val);
    }
  }
  PQconninfoFree(options);
  return out;
}

std::string RedactPostgresDsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return "postgresql (a connection string libpq cannot parse)";
  std::string out = "postgresql:";
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const bool secret = o->dispchar != nullptr &&
                        std::string(o->dispchar).find('*') != std::string::npos;
    absl::StrAppend(&out, " ", o->keyword, "=", secret ? "***" : o->val);
  }
  PQconninfoFree(options);
  return out;
}

absl::StatusOr<std::unique_ptr<JournalStore>> NewPostgresJournalStore(
    const PostgresStoreOptions& options, JournalOptions journal_options,
    JournalObserver* observer) {
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("pool_size: must be >= 1");
  }
  if (options.max_write_transactions < 1) {
    return absl::InvalidArgumentError("max_write_transactions: must be >= 1");
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
