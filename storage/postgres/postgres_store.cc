// The PostgreSQL backend translates a batch into two round trips of one
// transaction, whatever its size (libpq's pipeline mode, whose statements
// up to a Sync are one transaction: storage/postgres/pipeline.h): the
// batch's statement timeout, one statement locking every record of the
// batch and one reading the entries the rules need; then one statement for
// deletes (only when a reset or a replace needs it) and one for every other
// write, committed at the Sync. No BEGIN, no COMMIT, no ROLLBACK: an error
// rolls the whole transaction back. Reads are one statement, one round
// trip.
#include "storage/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/backend.h"
#include "storage/dedup.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/migrate.h"
#include "storage/postgres/pool.h"
#include "storage/postgres/statements.h"
#include "storage/sql_text.h"

namespace actionjournal {
namespace {

using postgres::ArrayLiteral;
using postgres::ConnectionPool;
using postgres::Guard;
using postgres::Pipeline;
using postgres::Result;
using postgres::WriteRows;

int64_t I64(uint64_t v) { return static_cast<int64_t>(v); }

RecordId IdAt(const Result& r, int i) {
  return RecordId{r.Text(i, 0), r.Bytes(i, 1), r.Int(i, 2)};
}

Cost CostAt(const Result& r, int i, int col) {
  return Cost{static_cast<uint64_t>(r.Int(i, col)),
              static_cast<uint64_t>(r.Int(i, col + 1)),
              static_cast<uint64_t>(r.Int(i, col + 2))};
}

// A time column: microseconds; NULL or 0 (unknown, before migration 0008)
// for none.
absl::Time TimeAt(const Result& r, int i, int col) {
  if (r.IsNull(i, col) || r.Int(i, col) == 0) return absl::InfinitePast();
  return absl::FromUnixMicros(r.Int(i, col));
}

// A record's row from columns attempt, fingerprint and completion time (or
// NULL) from `col` on (statements.h: kAttempt, kLockedAttempt).
RecordRow RowAt(const Result& r, int i, int col) {
  RecordRow row;
  row.attempt = static_cast<uint64_t>(r.Int(i, col));
  row.input_fingerprint = r.Bytes(i, col + 1);
  row.completed = !r.IsNull(i, col + 2);
  if (row.completed) row.completed_at = absl::FromUnixMicros(r.Int(i, col + 2));
  return row;
}

// A row of list_records / record_info (statements.cc's kInfoColumns).
RecordInfo InfoAt(const std::string& job_id, const Result& r, int i) {
  RecordInfo info;
  info.id = RecordId{job_id, r.Bytes(i, 0), r.Int(i, 1)};
  info.attempt = static_cast<uint64_t>(r.Int(i, 2));
  info.completed = !r.IsNull(i, 3);
  info.completed_at = TimeAt(r, i, 3);
  info.created_at = TimeAt(r, i, 4);
  info.written_at = TimeAt(r, i, 5);
  info.replays = static_cast<uint64_t>(r.Int(i, 6));
  info.replayed_at = TimeAt(r, i, 7);
  if (!r.IsNull(i, 8)) info.retained_until = absl::FromUnixMicros(r.Int(i, 8));
  info.actions = static_cast<uint64_t>(r.Int(i, 9));
  info.entries = static_cast<uint64_t>(r.Int(i, 10));
  info.payload_bytes = static_cast<uint64_t>(r.Int(i, 11));
  info.cost = CostAt(r, i, 12);
  return info;
}

// Adds row i of read_entries / read (statements.h, ReadColumn) to `out`.
// DATA_LOSS when an entry's payload is stored once and its blob is missing.
absl::Status AddRow(const Result& r, int i, Snapshot& out) {
  RecordSnapshot& rec = out[IdAt(r, i)];
  const int64_t kind = r.Int(i, postgres::kKind);
  if (kind == postgres::kRecordRow) {
    RecordRow& row = rec.row.emplace(RowAt(r, i, postgres::kAttempt));
    row.written_at = TimeAt(r, i, postgres::kWrittenAt);
    return absl::OkStatus();
  }
  if (r.IsNull(i, postgres::kPayload)) {
    return absl::DataLossError(absl::StrCat("postgres: an entry of job ",
                                            r.Text(i, postgres::kJobId),
                                            " references a missing blob"));
  }
  StoredAction& a = rec.actions[r.Text(i, postgres::kActionKey)];
  if (kind == postgres::kCompletionRow) {
    a.completion = Completion{r.Bytes(i, postgres::kPayload),
                              TimeAt(r, i, postgres::kWrittenAt)};
    a.completion_cost = CostAt(r, i, postgres::kInputTokens);
    return absl::OkStatus();
  }
  Step s;
  s.index = static_cast<uint32_t>(r.Int(i, postgres::kStepIndex));
  s.function_id = r.Text(i, postgres::kFunctionId);
  s.args_digest = r.Bytes(i, postgres::kArgsDigest);
  s.status = static_cast<StepStatus>(r.Int(i, postgres::kStatus));
  s.result = r.Bytes(i, postgres::kPayload);
  s.error = r.Bytes(i, postgres::kError);
  s.cost = CostAt(r, i, postgres::kInputTokens);
  s.written_at = TimeAt(r, i, postgres::kWrittenAt);
  a.steps.push_back(std::move(s));
  return absl::OkStatus();
}

// Adds rows of `r` to `out`; the first error.
absl::Status AddRows(const Result& r, Snapshot& out) {
  for (int i = 0; i < r.rows(); ++i) RETURN_IF_ERROR(AddRow(r, i, out));
  return absl::OkStatus();
}

// Makes a snapshot what the rules expect: an absent record has no entries
// (none can exist without it: PruneRaceTest), and steps, which arrive
// unordered from the joins, go by index.
void Settle(Snapshot& s) {
  for (auto& [id, rec] : s) {
    if (!rec.row.has_value()) rec.actions.clear();
    for (auto& [key, a] : rec.actions) {
      std::sort(a.steps.begin(), a.steps.end(),
                [](const Step& x, const Step& y) { return x.index < y.index; });
    }
  }
}

// The arrays of one job's read: (record, action) pairs, whole records, and
// every record (for the lock, or the records' own rows).
struct EntryArgs {
  ArrayLiteral pair_keys, pair_seqs, pair_actions;
  ArrayLiteral rec_keys, rec_seqs;
  ArrayLiteral keys, seqs;

  void Add(const ReadSet::Item& item) {
    keys.Bytes(item.record.record_key);
    seqs.Int(item.record.seq_num);
    if (item.all_actions) {
      rec_keys.Bytes(item.record.record_key);
      rec_seqs.Int(item.record.seq_num);
      return;
    }
    for (const std::string& key : item.action_keys) {
      pair_keys.Bytes(item.record.record_key);
      pair_seqs.Int(item.record.seq_num);
      pair_actions.Text(key);
    }
  }
  postgres::ReadShape Shape() const {
    return {!pair_keys.empty(), !rec_keys.empty()};
  }
  // The arrays of Shape()'s statements, after the job.
  std::vector<std::string> Params(const std::string& job_id) const {
    std::vector<std::string> out = {job_id};
    if (!pair_keys.empty()) {
      for (const ArrayLiteral* a : {&pair_keys, &pair_seqs, &pair_actions})
        out.push_back(a->Done());
    }
    if (!rec_keys.empty()) {
      for (const ArrayLiteral* a : {&rec_keys, &rec_seqs})
        out.push_back(a->Done());
    }
    return out;
  }
};

// A ReadSet's items by job (each statement reads or locks one job's rows:
// statements.h), in the ReadSet's order.
std::map<std::string, EntryArgs> ArgsByJob(const ReadSet& reads,
                                           Snapshot& snapshot) {
  std::map<std::string, EntryArgs> out;
  for (const ReadSet::Item& item : reads.items()) {
    snapshot[item.record];  // present in the snapshot, even if absent in
                            // the store
    out[item.record.job_id].Add(item);
  }
  return out;
}

// The blobs a job's write references, by digest: the payload and how many
// of the write's rows reference it.
using BlobRefs = std::map<std::string, std::pair<std::string, int>>;

// The payload column's value of an entry row; its digest (or NULL, stored
// inline) goes to `digest`, and a reference to `blobs`.
std::string StoredPayload(const std::string& payload, const DedupOptions& dedup,
                          ArrayLiteral& digest, BlobRefs& blobs) {
  std::optional<std::string> d = DedupDigest(payload, dedup);
  if (!d.has_value()) {
    digest.Null();
    return payload;
  }
  digest.Bytes(*d);
  auto& [bytes, refs] = blobs[*std::move(d)];
  if (refs++ == 0) bytes = payload;
  return std::string();
}

// A time column's value: NULL for none.
void AddTime(ArrayLiteral& a, absl::Time t) {
  if (t == absl::InfinitePast()) {
    a.Null();
  } else {
    a.Int(absl::ToUnixMicros(t));
  }
}

// A record's row, inserted or updated (created_at_us only when inserted).
void AddRecord(WriteRows& a, const RecordId& id, const RecordRow& row,
               bool insert) {
  a.record_key.Bytes(id.record_key);
  a.seq_num.Int(id.seq_num);
  a.attempt.Int(I64(row.attempt));
  a.input_fingerprint.Bytes(row.input_fingerprint);
  if (row.completed) {
    a.completed_at_us.Int(absl::ToUnixMicros(row.completed_at));
  } else {
    a.completed_at_us.Null();
  }
  a.written_at_us.Int(absl::ToUnixMicros(row.written_at));
  a.replays.Int(I64(row.replays));
  AddTime(a.replayed_at_us, row.replayed_at);
  if (insert) a.created_at_us.Int(absl::ToUnixMicros(row.created_at));
}

// An entry's record, action and cost.
void AddEntry(WriteRows& a, const RecordId& id, const std::string& action_key,
              const Cost& c) {
  a.record_key.Bytes(id.record_key);
  a.seq_num.Int(id.seq_num);
  a.action_key.Text(action_key);
  a.input_tokens.Int(I64(c.input_tokens));
  a.output_tokens.Int(I64(c.output_tokens));
  a.micro_usd.Int(I64(c.micro_usd));
}

// `w` split by job (each statement writes one job's rows: statements.h).
std::map<std::string, WriteSet> ByJob(const WriteSet& w) {
  std::map<std::string, WriteSet> out;
  for (const auto& d : w.entry_deletes)
    out[d.record.job_id].entry_deletes.push_back(d);
  for (const auto& d : w.step_deletes)
    out[d.record.job_id].step_deletes.push_back(d);
  for (const auto& d : w.completion_deletes)
    out[d.record.job_id].completion_deletes.push_back(d);
  for (const auto& r : w.records) out[r.record.job_id].records.push_back(r);
  for (const auto& s : w.steps) out[s.record.job_id].steps.push_back(s);
  for (const auto& c : w.completions)
    out[c.record.job_id].completions.push_back(c);
  return out;
}

// Queues job `job_id`'s writes `w` on `p`: deletes (when a reset or a
// replace needs them), then every other write; each states the rows it
// must change. True when they may have released a blob's last reference
// (then "drop_unreferenced" must follow).
absl::StatusOr<bool> SendWrites(Pipeline& p, const std::string& job_id,
                                const WriteSet& w, const DedupOptions& dedup) {
  bool released = false;
  if (!w.entry_deletes.empty() || !w.step_deletes.empty() ||
      !w.completion_deletes.empty()) {
    ArrayLiteral rk, rs, fk, fs, fa, fi, ck, cs, ca;
    for (const auto& d : w.completion_deletes) {
      ck.Bytes(d.record.record_key);
      cs.Int(d.record.seq_num);
      ca.Text(d.action_key);
    }
    int64_t entries = 0, steps = 0;
    for (const auto& d : w.entry_deletes) {
      rk.Bytes(d.record.record_key);
      rs.Int(d.record.seq_num);
      entries += d.expected;
    }
    for (const auto& d : w.step_deletes) {
      fk.Bytes(d.record.record_key);
      fs.Int(d.record.seq_num);
      fa.Text(d.action_key);
      fi.Int(d.from_index);
      steps += d.expected;
    }
    p.Send("delete_entries",
           {job_id, rk.Done(), rs.Done(), fk.Done(), fs.Done(), fa.Done(),
            fi.Done(), absl::StrCat(entries), absl::StrCat(steps), ck.Done(),
            cs.Done(), ca.Done(), absl::StrCat(w.completion_deletes.size())});
    released = true;
  }
  if (w.records.empty() && w.steps.empty() && w.completions.empty()) {
    return released;
  }
  WriteRows a[postgres::kWriteKinds];
  BlobRefs blobs;
  for (const auto& r : w.records) {
    AddRecord(a[r.insert ? postgres::kInsertRecords : postgres::kUpdateRecords],
              r.record, r.row, r.insert);
  }
  for (const auto& s : w.steps) {
    WriteRows& x =
        a[s.upgrade ? postgres::kUpgradeSteps : postgres::kInsertSteps];
    AddEntry(x, s.record, s.action_key, s.step.cost);
    x.step_index.Int(s.step.index);
    if (!s.upgrade) {
      x.function_id.Text(s.step.function_id);
      x.args_digest.Bytes(s.step.args_digest);
    }
    x.status.Int(static_cast<int>(s.step.status));
    x.result.Bytes(StoredPayload(s.step.result, dedup, x.blob_digest, blobs));
    x.error.Bytes(s.step.error);
    x.written_at_us.Int(absl::ToUnixMicros(s.step.written_at));
  }
  for (const auto& c : w.completions) {
    WriteRows& x = a[postgres::kInsertCompletions];
    AddEntry(x, c.record, c.action_key, c.cost);
    x.state.Bytes(
        StoredPayload(c.completion.state, dedup, x.blob_digest, blobs));
    x.written_at_us.Int(absl::ToUnixMicros(c.completion.written_at));
  }
  for (const auto& [digest, blob] : blobs) {
    WriteRows& x = a[postgres::kAddBlobReferences];
    x.digest.Bytes(digest);
    x.bytes.Bytes(blob.first);
    x.refs.Int(blob.second);
  }
  // A part is present when it has rows; the blobs' part too whenever steps
  // are upgraded (to release what they held), and its count is not checked.
  const bool upgrades = a[postgres::kUpgradeSteps].record_key.size() > 0;
  std::vector<std::string> params = {job_id}, expected;
  unsigned shape = 0;
  for (int i = 0; i < postgres::kWriteKinds; ++i) {
    const auto part = static_cast<postgres::WritePart>(i);
    const std::vector<postgres::WriteColumn>& columns =
        postgres::WriteColumns(part);
    const int rows = (a[i].*columns[0].values).size();
    if (rows == 0 && !(part == postgres::kAddBlobReferences && upgrades)) {
      continue;
    }
    shape |= 1u << i;
    for (const postgres::WriteColumn& c : columns) {
      const ArrayLiteral& values = a[i].*c.values;
      if (values.size() != rows) {
        return absl::InternalError(
            absl::StrCat("postgres: write part ", i, " has ", values.size(),
                         " values of ", c.name, " for ", rows, " rows"));
      }
      params.push_back(values.Done());
    }
    if (postgres::WriteCountChecked(part))
      expected.push_back(absl::StrCat(rows));
  }
  params.insert(params.end(), expected.begin(), expected.end());
  p.Send(postgres::WriteName(shape), params);
  return released || upgrades;
}

// Most records one prune transaction deletes.
constexpr int kPruneChunk = 10000;

// Thread-safe.
class PostgresBackend final : public Backend {
 public:
  PostgresBackend(const PostgresStoreOptions& options, DedupOptions dedup,
                  JournalObserver* observer)
      : options_(options),
        dedup_(dedup),
        pool_(
            postgres::PoolOptions{
                options.dsn, options.pool_size, options.connect_timeout,
                options.statement_timeout, options.acquire_timeout,
                options.link_timeout, options.transaction_pooling},
            observer) {}

  absl::StatusOr<Snapshot> Read(const ReadSet& reads) override {
    return pool_.RunPipeline([&](Pipeline& p) -> absl::StatusOr<Snapshot> {
      Snapshot out;
      for (const auto& [job_id, e] : ArgsByJob(reads, out)) {
        std::vector<std::string> params = e.Params(job_id);
        params.push_back(e.keys.Done());
        params.push_back(e.seqs.Done());
        p.Send(postgres::ReadName(e.Shape()), params);
      }
      ASSIGN_OR_RETURN(std::vector<Result> r, p.Sync());
      for (const Result& rows : r) RETURN_IF_ERROR(AddRows(rows, out));
      Settle(out);
      return out;
    });
  }

  // Two round trips of one transaction (the pipeline's): the statement
  // timeout, the records' lock and the entries' read; then the writes,
  // committed by the Sync that ends them. The entries are read by a
  // statement of their own, after the lock is held, so that they are the
  // latest committed (a statement sees what was committed when it began).
  // Each statement takes one job's rows: a batch of several jobs sends
  // each statement once per job, in the same round trips.
  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    return pool_.RunPipeline([&](Pipeline& p) -> absl::Status {
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
      Snapshot snapshot;
      const std::map<std::string, EntryArgs> jobs = ArgsByJob(reads, snapshot);
      // On Citus, a transaction block of its own (statements.cc, "begin").
      const bool explicit_transaction =
          options_.explicit_transactions || pool_.citus();
      if (explicit_transaction) p.Send("begin", {});
      p.Send("timeout", {absl::StrCat(timeout_ms)});
      for (const auto& [job_id, e] : jobs) {
        p.Send("lock_records", {job_id, e.keys.Done(), e.seqs.Done()});
        const postgres::ReadShape shape = e.Shape();
        if (shape.pairs || shape.records)
          p.Send(postgres::EntriesName(shape), e.Params(job_id));
      }
      ASSIGN_OR_RETURN(std::vector<Result> read, p.Flush());
      // The entries' read sees what a lock holder committed only under READ
      // COMMITTED (a statement's own snapshot); a database whose default is
      // stricter would give the rules a stale snapshot.
      size_t next = explicit_transaction ? 1 : 0;
      const Result& timeout = read[next++];
      if (timeout.Text(0, 1) != "read committed") {
        return absl::FailedPreconditionError(absl::StrCat(
            "postgres: the journal needs transaction isolation 'read "
            "committed', the database's default is '",
            timeout.Text(0, 1), "'"));
      }
      for (const auto& [job_id, e] : jobs) {
        const Result& locked = read[next++];
        for (int i = 0; i < locked.rows(); ++i) {
          RecordRow& row = snapshot[IdAt(locked, i)].row.emplace(
              RowAt(locked, i, postgres::kLockedAttempt));
          row.written_at =
              absl::FromUnixMicros(locked.Int(i, postgres::kLockedWrittenAt));
          row.created_at = TimeAt(locked, i, postgres::kLockedCreatedAt);
          row.replays =
              static_cast<uint64_t>(locked.Int(i, postgres::kLockedReplays));
          row.replayed_at = TimeAt(locked, i, postgres::kLockedReplayedAt);
        }
        const postgres::ReadShape shape = e.Shape();
        if (shape.pairs || shape.records)
          RETURN_IF_ERROR(AddRows(read[next++], snapshot));
      }
      // A record absent when locked has no entries, even if another writer
      // has created it since (its batch then loses the race and is redone);
      // entries found without their record are deleted before the writes
      // (delete_orphans_of).
      std::map<std::string, std::pair<ArrayLiteral, ArrayLiteral>> orphans;
      for (const auto& [id, rec] : snapshot) {
        if (rec.row.has_value() || rec.actions.empty()) continue;
        auto& [keys, seqs] = orphans[id.job_id];
        keys.Bytes(id.record_key);
        seqs.Int(id.seq_num);
      }
      Settle(snapshot);
      const WriteSet writes = decide(snapshot);
      if (pool_.cancelled()) {  // a stopping server commits nothing more
        return absl::UnavailableError("postgres: the server is stopping");
      }
      std::map<std::string, WriteSet> by_job = ByJob(writes);
      for (const auto& [job_id, arrays] : orphans) by_job[job_id];
      for (const auto& [job_id, w] : by_job) {
        bool released = false;
        if (auto o = orphans.find(job_id); o != orphans.end()) {
          p.Send("delete_orphans_of",
                 {job_id, o->second.first.Done(), o->second.second.Done()});
          released = true;
        }
        ASSIGN_OR_RETURN(const bool wrote_releases,
                         SendWrites(p, job_id, w, dedup_));
        if (wrote_releases) released = true;
        if (released) p.Send("drop_unreferenced", {job_id});
      }
      if (explicit_transaction) p.Send("commit", {});
      return p.Sync().status();
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
      PruneResult out;
      if (req.retention > absl::ZeroDuration()) {
        pqxx::work w(c);
        pqxx::result r = pool_.Exec(
            w, "prune_retained", req.job_id, req.whole_job, before, keys.Done(),
            bounds.Done(), absl::ToUnixMicros(now + req.retention));
        out.records_retained = r.affected_rows();
        w.commit();
        return out;
      }
      // Deleted in chunks of their own transactions, so that a large prune
      // holds no long lock and no unbounded list of ids; a prune that fails
      // part way has deleted some (a retry deletes the rest).
      for (;;) {
        pqxx::work chunk(c);
        const pqxx::result deleted =
            pool_.Exec(chunk, "prune", req.job_id, req.whole_job, before,
                       keys.Done(), bounds.Done(), kPruneChunk);
        out.entries_deleted += DeleteEntriesOf(chunk, req.job_id, deleted);
        chunk.commit();
        out.records_deleted += deleted.size();
        if (deleted.size() < static_cast<size_t>(kPruneChunk)) break;
      }
      // A whole job's entries left without their record (by earlier
      // versions: PruneRaceTest), in chunks too.
      for (bool more = req.whole_job; more;) {
        pqxx::work w(c);
        const pqxx::row r =
            pool_.Exec(w, "delete_orphans", req.job_id, kPruneChunk)[0];
        if (r[2].as<int64_t>() > 0)
          pool_.Exec(w, "drop_unreferenced", req.job_id);
        w.commit();
        out.entries_deleted += r[0].as<int64_t>() + r[1].as<int64_t>();
        more = r[0].as<int64_t>() == kPruneChunk ||
               r[1].as<int64_t>() == kPruneChunk;
      }
      return out;
    });
  }

  // Deletes the entries of job `job_id`'s `records` (rows of job, key,
  // seq) in `tx`, and the blobs they held the last references to: the
  // count of entries.
  int64_t DeleteEntriesOf(pqxx::transaction_base& tx, const std::string& job_id,
                          const pqxx::result& records) {
    if (records.empty()) return 0;
    ArrayLiteral keys, seqs;
    for (const pqxx::row& r : records) {
      keys.Bytes(pqxx::binarystring(r[1]).str());
      seqs.Int(r[2].as<int64_t>());
    }
    const pqxx::row r = pool_.Exec(tx, "delete_entries_of", job_id, keys.Done(),
                                   seqs.Done())[0];
    if (r[1].as<int64_t>() > 0) pool_.Exec(tx, "drop_unreferenced", job_id);
    return r[0].as<int64_t>();
  }

  // Job by job (each statement takes one job's rows: statements.h), each
  // in a transaction of its own, at most `limit` records of each kind in
  // all.
  absl::StatusOr<SweepResult> Sweep(absl::Time now, absl::Time written_before,
                                    int limit) override {
    return pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<SweepResult> {
      const int64_t now_us = absl::ToUnixMicros(now);
      const int64_t before_us = absl::ToUnixMicros(written_before);
      std::vector<std::string> jobs;
      {
        pqxx::nontransaction n(c);
        for (const pqxx::row& r :
             pool_.Exec(n, "sweep_jobs", now_us, before_us, limit)) {
          jobs.push_back(r[0].as<std::string>());
        }
      }
      SweepResult out;
      for (const std::string& job_id : jobs) {
        const int left = limit - static_cast<int>(std::max(
                                     out.ttl_records, out.retention_records));
        if (left <= 0) break;
        pqxx::work w(c);
        const pqxx::result deleted =
            pool_.Exec(w, "sweep", job_id, now_us, before_us, left);
        out.entries += DeleteEntriesOf(w, job_id, deleted);
        w.commit();
        for (const pqxx::row& r : deleted) {
          ++(r[3].as<bool>() ? out.ttl_records : out.retention_records);
        }
      }
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
            j.cost = Cost{static_cast<uint64_t>(row[5].as<int64_t>()),
                          static_cast<uint64_t>(row[6].as<int64_t>()),
                          static_cast<uint64_t>(row[7].as<int64_t>())};
            j.blobs = row[8].as<int64_t>();
            j.blob_bytes = row[9].as<int64_t>();
            j.deduplicated_bytes = row[10].as<int64_t>();
            j.replayed_records = row[11].as<int64_t>();
            j.replays = row[12].as<int64_t>();
            out.push_back(std::move(j));
          }
          return out;
        });
  }

  absl::StatusOr<std::vector<RecordInfo>> ListRecords(
      const ListRecordsQuery& q) override {
    return pool_.RunPipeline(
        [&](Pipeline& p) -> absl::StatusOr<std::vector<RecordInfo>> {
          auto bytes = [](const std::string& b) {
            return absl::StrCat("\\x", absl::BytesToHexString(b));
          };
          auto micros = [](absl::Time t) {
            return absl::StrCat(absl::ToUnixMicros(t));
          };
          const unsigned shape = ListShapeOf(q);
          std::vector<std::string> params = {q.job_id};
          if (!q.key_prefix.empty()) params.push_back(bytes(q.key_prefix));
          params.push_back(micros(q.created_from));
          params.push_back(micros(ListCreatedBefore(q)));
          if (q.after.has_value()) {
            params.push_back(micros(q.after->created_at));
            params.push_back(bytes(q.after->record_key));
            params.push_back(absl::StrCat(q.after->seq_num));
          }
          params.push_back(absl::StrCat(q.limit));
          p.Send(postgres::ListName(shape), params);
          ASSIGN_OR_RETURN(std::vector<Result> r, p.Sync());
          std::vector<RecordInfo> out;
          for (int i = 0; i < r[0].rows(); ++i)
            out.push_back(InfoAt(q.job_id, r[0], i));
          return out;
        });
  }

  absl::StatusOr<std::optional<RecordInfo>> RecordInfoOf(
      const RecordId& id) override {
    return pool_.RunPipeline(
        [&](Pipeline& p) -> absl::StatusOr<std::optional<RecordInfo>> {
          p.Send("record_info",
                 {id.job_id,
                  absl::StrCat("\\x", absl::BytesToHexString(id.record_key)),
                  absl::StrCat(id.seq_num)});
          ASSIGN_OR_RETURN(std::vector<Result> r, p.Sync());
          if (r[0].rows() == 0) return std::optional<RecordInfo>();
          return std::optional<RecordInfo>(InfoAt(id.job_id, r[0], 0));
        });
  }

  absl::StatusOr<uint64_t> IssueAttempt(const std::string& job_id) override {
    return pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
      // Autocommitted: one statement, its own transaction.
      pqxx::nontransaction n(c);
      pqxx::result r = pool_.Exec(n, "issue_attempt", job_id);
      return static_cast<uint64_t>(r[0][0].as<int64_t>());
    });
  }

  absl::StatusOr<StoreSize> Size() override {
    return pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<StoreSize> {
      pqxx::nontransaction n(c);
      pqxx::result r = pool_.citus() ? n.exec(postgres::CitusSizeSql())
                                     : pool_.Exec(n, "size");
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

  absl::Status Migrate(bool distribute_citus) {
    return pool_.Run([distribute_citus](pqxx::connection& c) {
      RETURN_IF_ERROR(postgres::Migrate(c));
      if (distribute_citus) RETURN_IF_ERROR(postgres::DistributeOnCitus(c));
      return absl::OkStatus();
    });
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
    std::string out;
    for (bool whole : {false, true}) {
      const std::string name = whole ? "aj_read_whole" : "aj_read_action";
      n.exec(absl::StrCat("PREPARE ", name, " AS ",
                          postgres::Statements().at(postgres::ReadName(
                              postgres::ReadShape{!whole, whole}))));
      ReadSet reads;
      reads.Add(record, whole ? nullptr : &action_key);
      EntryArgs e;
      e.Add(reads.items()[0]);
      std::vector<std::string> params = e.Params(record.job_id);
      params.push_back(e.keys.Done());
      params.push_back(e.seqs.Done());
      std::string args;
      for (const std::string& a : params)
        absl::StrAppend(&args, args.empty() ? "" : ", ", n.quote(a));
      absl::StrAppend(&out, whole ? "-- whole record\n" : "-- one action\n");
      for (const pqxx::row& r :
           n.exec(absl::StrCat("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "
                               "EXECUTE ",
                               name, "(", args, ")"))) {
        absl::StrAppend(&out, r[0].as<std::string>(), "\n");
      }
    }
    return out;
  });
}

absl::Status CheckPostgresStoreOptions(const PostgresStoreOptions& options) {
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool_size: must be >= 1, got ", options.pool_size));
  }
  if (options.max_write_transactions < 1 ||
      options.max_write_transactions > options.pool_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_write_transactions: must be 1 to pool_size (", options.pool_size,
        "), got ", options.max_write_transactions));
  }
  if (options.link_timeout < absl::Seconds(2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("link_timeout: must be >= 2s, got ",
                     absl::FormatDuration(options.link_timeout)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Backend>> NewPostgresBackend(
    const PostgresStoreOptions& options, DedupOptions dedup,
    JournalObserver* observer) {
  RETURN_IF_ERROR(CheckPostgresStoreOptions(options));
  auto backend = std::make_unique<PostgresBackend>(options, dedup, observer);
  if (options.migrate) {
    RETURN_IF_ERROR(backend->Migrate(options.distribute_citus));
  } else {
    RETURN_IF_ERROR(backend->Ping());
  }
  return backend;
}

}  // namespace actionjournal
