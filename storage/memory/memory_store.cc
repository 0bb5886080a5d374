#include "storage/memory/memory_store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "storage/dedup.h"
#include "storage/rules.h"

namespace actionjournal {
namespace {

// Records with all their actions, as the rules see them.
using Tables = std::map<RecordId, RecordSnapshot>;

// A payload of an entry stored once per job: (action_key, step index), or
// (action_key, -1) for the completion; the entry's own field is empty.
using Slot = std::pair<std::string, int64_t>;
constexpr int64_t kCompletionSlot = -1;

// A stored record: its entries, the large payloads moved to the blobs.
struct StoredRecord {
  RecordSnapshot rec;
  std::map<Slot, std::string> digests;
};

struct Blob {
  std::string bytes;
  uint64_t refs = 0;
};
using BlobKey = std::pair<std::string, std::string>;  // (job_id, digest)

absl::Status Mismatch(absl::string_view what) {
  return absl::AbortedError(
      absl::StrCat(what, ": not the rows expected; retry"));
}

// Applies `w` to `t`, checking each write's expectation as a database would.
absl::Status Apply(const WriteSet& w, Tables& t) {
  for (const auto& d : w.entry_deletes) {
    RecordSnapshot& rec = t[d.record];
    uint64_t n = 0;
    for (const auto& [key, a] : rec.actions)
      n += a.steps.size() + a.completion.has_value();
    if (n != d.expected) return Mismatch("reset");
    rec.actions.clear();
  }
  for (const auto& d : w.step_deletes) {
    auto& steps = t[d.record].actions[d.action_key].steps;
    if (steps.size() < d.from_index ||
        steps.size() - d.from_index != d.expected) {
      return Mismatch("delete steps");
    }
    steps.resize(d.from_index);
  }
  for (const auto& d : w.completion_deletes) {
    StoredAction& a = t[d.record].actions[d.action_key];
    if (!a.completion.has_value()) return Mismatch("delete completion");
    a.completion.reset();
  }
  // An action whose rows all went is no longer there (a replace writes its
  // step again below).
  for (auto& [id, rec] : t) {
    for (auto a = rec.actions.begin(); a != rec.actions.end();) {
      const bool empty =
          a->second.steps.empty() && !a->second.completion.has_value();
      a = empty ? rec.actions.erase(a) : std::next(a);
    }
  }
  for (const auto& r : w.records) {
    RecordSnapshot& rec = t[r.record];
    if (rec.row.has_value() == r.insert) return Mismatch("record");
    rec.row = r.row;
  }
  for (const auto& s : w.steps) {
    auto& steps = t[s.record].actions[s.action_key].steps;
    if (s.upgrade) {
      if (s.step.index >= steps.size() ||
          steps[s.step.index].status != StepStatus::kPending) {
        return Mismatch("upgrade step");
      }
      steps[s.step.index] = s.step;
    } else {
      if (s.step.index != steps.size()) return Mismatch("insert step");
      steps.push_back(s.step);
    }
  }
  for (const auto& c : w.completions) {
    StoredAction& a = t[c.record].actions[c.action_key];
    if (a.completion.has_value()) return Mismatch("insert completion");
    a.completion = c.completion;
    a.completion_cost = c.cost;
  }
  return absl::OkStatus();
}

// The order ListRecords answers in, and a query's filters, as the SQL
// backends' statements state them.
bool NewestFirst(const RecordInfo& a, const RecordInfo& b) {
  return std::tie(b.created_at, b.id.record_key, b.id.seq_num) <
         std::tie(a.created_at, a.id.record_key, a.id.seq_num);
}

bool Listed(const ListRecordsQuery& q, const RecordInfo& r) {
  using Status = ListRecordsQuery::Status;
  if (r.id.record_key.compare(0, q.key_prefix.size(), q.key_prefix) != 0)
    return false;
  if ((q.status == Status::kOpen && r.completed) ||
      (q.status == Status::kCompleted && !r.completed) ||
      (q.status == Status::kRetained && !r.retained_until.has_value())) {
    return false;
  }
  if (r.created_at < q.created_from || r.created_at >= q.created_before)
    return false;
  if (q.replayed_only && r.replays == 0) return false;
  if (q.after.has_value() &&
      !(std::tie(r.created_at, r.id.record_key, r.id.seq_num) <
        std::tie(q.after->created_at, q.after->record_key, q.after->seq_num))) {
    return false;
  }
  return true;
}

// Thread-safe: one call at a time.
class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(DedupOptions dedup) : dedup_(dedup) {}

  absl::StatusOr<Snapshot> Read(const ReadSet& reads) override {
    absl::MutexLock lock(&mu_);
    return ReadFrom(reads);
  }

  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    (void)deadline;
    absl::MutexLock lock(&mu_);
    const WriteSet w = decide(ReadFrom(reads));
    // All or nothing: the writes go to a copy of the records they touch.
    Tables touched;
    for (const ReadSet::Item& item : reads.items()) {
      auto it = tables_.find(item.record);
      if (it != tables_.end()) touched.emplace(it->first, Resolved(it));
    }
    absl::Status s = Apply(w, touched);
    if (!s.ok()) return s;
    // The references of the new rows are added before those of the old
    // ones are released, as the SQL backends' upsert and triggers do.
    for (auto& [id, rec] : touched) {
      if (!rec.row.has_value()) continue;
      StoredRecord stored = Intern(id.job_id, std::move(rec));
      auto it = tables_.find(id);
      if (it == tables_.end()) {
        tables_.emplace(id, std::move(stored));
      } else {
        Release(id.job_id, it->second);
        it->second = std::move(stored);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req,
                                    absl::Time now) override {
    absl::MutexLock lock(&mu_);
    PruneResult out;
    const absl::Time due = now + req.retention;
    for (auto it = tables_.begin(); it != tables_.end();) {
      if (!it->second.rec.row.has_value() ||
          !PruneSelects(req, it->first, *it->second.rec.row)) {
        ++it;
      } else if (req.retention > absl::ZeroDuration()) {
        auto [d, fresh] = due_.emplace(it->first, due);
        if (!fresh) d->second = std::min(d->second, due);
        ++out.records_retained;
        ++it;
      } else {
        ++out.records_deleted;
        out.entries_deleted += Erase(it++);
      }
    }
    return out;
  }

  absl::StatusOr<SweepResult> Sweep(absl::Time now, absl::Time written_before,
                                    int limit) override {
    absl::MutexLock lock(&mu_);
    SweepResult out;
    for (auto it = tables_.begin(); it != tables_.end() && limit > 0;) {
      auto d = due_.find(it->first);
      switch (SweepReasonOf(
          d == due_.end() ? std::nullopt : std::optional<absl::Time>(d->second),
          it->second.rec.row->written_at, now, written_before)) {
        case SweepReason::kRetention:
          ++out.retention_records;
          break;
        case SweepReason::kTtl:
          ++out.ttl_records;
          break;
        case SweepReason::kKeep:
          ++it;
          continue;
      }
      out.entries += Erase(it++);
      --limit;
    }
    return out;
  }

  absl::StatusOr<std::vector<JobStats>> Stats(
      const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    std::map<std::string, JobStats> by_job;
    for (const auto& [id, stored] : tables_) {
      const RecordSnapshot& rec = stored.rec;
      if (!rec.row.has_value() || (!job_id.empty() && id.job_id != job_id))
        continue;
      JobStats& s = by_job[id.job_id];
      s.job_id = id.job_id;
      ++s.records;
      s.retained_records += due_.count(id);
      s.replayed_records += rec.row->replays > 0;
      s.replays += rec.row->replays;
      for (const auto& [key, a] : rec.actions) {
        for (const Step& step : a.steps) {
          ++s.entries;
          s.payload_bytes += step.result.size() + step.error.size();
          s.cost += step.cost;
        }
        if (a.completion.has_value()) {
          ++s.entries;
          s.payload_bytes += a.completion->state.size();
          s.cost += a.completion_cost;
        }
      }
    }
    for (const auto& [key, blob] : blobs_) {
      auto s = by_job.find(key.first);
      if (s == by_job.end()) continue;
      ++s->second.blobs;
      s->second.blob_bytes += blob.bytes.size();
      s->second.payload_bytes += blob.bytes.size();
      s->second.deduplicated_bytes += (blob.refs - 1) * blob.bytes.size();
    }
    std::vector<JobStats> out;
    for (auto& [job, s] : by_job) out.push_back(std::move(s));
    return out;
  }

  absl::StatusOr<std::vector<RecordInfo>> ListRecords(
      const ListRecordsQuery& q) override {
    absl::MutexLock lock(&mu_);
    std::vector<RecordInfo> out;
    for (const auto& [id, stored] : tables_) {
      if (id.job_id != q.job_id || !stored.rec.row.has_value()) continue;
      RecordInfo info = InfoOf(id, stored);
      if (Listed(q, info)) out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), NewestFirst);
    if (out.size() > static_cast<size_t>(q.limit)) out.resize(q.limit);
    return out;
  }

  absl::StatusOr<std::optional<RecordInfo>> RecordInfoOf(
      const RecordId& record) override {
    absl::MutexLock lock(&mu_);
    auto it = tables_.find(record);
    if (it == tables_.end() || !it->second.rec.row.has_value())
      return std::optional<RecordInfo>();
    return std::optional<RecordInfo>(InfoOf(record, it->second));
  }

  absl::StatusOr<uint64_t> IssueAttempt(const std::string& job_id) override {
    absl::MutexLock lock(&mu_);
    uint64_t& last = attempts_[job_id];
    for (const auto& [id, stored] : tables_) {
      if (id.job_id == job_id && stored.rec.row.has_value()) {
        last = std::max(last, stored.rec.row->attempt);
      }
    }
    return ++last;
  }

  absl::StatusOr<StoreSize> Size() override {
    absl::MutexLock lock(&mu_);
    StoreSize out;
    for (const auto& [id, stored] : tables_) {
      if (!stored.rec.row.has_value()) continue;
      ++out.records;
      if (due_.count(id) == 0) {
        out.oldest_unpruned_written =
            std::min(out.oldest_unpruned_written, stored.rec.row->written_at);
      }
    }
    return out;
  }

  absl::Status Ping() override { return absl::OkStatus(); }
  int MaxConcurrentWriters() const override { return 1; }

 private:
  using StoredTables = std::map<RecordId, StoredRecord>;

  RecordInfo InfoOf(const RecordId& id, const StoredRecord& stored) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const RecordRow& row = *stored.rec.row;
    // In microseconds, as the SQL backends store times (and page tokens
    // carry them).
    auto micros = [](absl::Time t) {
      return t == absl::InfinitePast()
                 ? t
                 : absl::FromUnixMicros(absl::ToUnixMicros(t));
    };
    RecordInfo info;
    info.id = id;
    info.attempt = row.attempt;
    info.completed = row.completed;
    info.completed_at = micros(row.completed_at);
    info.created_at = micros(row.created_at);
    info.written_at = micros(row.written_at);
    info.replays = row.replays;
    info.replayed_at = micros(row.replayed_at);
    if (auto d = due_.find(id); d != due_.end())
      info.retained_until = d->second;
    for (const auto& [key, a] : stored.rec.actions) {
      ++info.actions;
      for (const Step& step : a.steps) {
        ++info.entries;
        info.payload_bytes += step.result.size() + step.error.size();
        info.cost += step.cost;
      }
      if (a.completion.has_value()) {
        ++info.entries;
        info.payload_bytes += a.completion->state.size();
        info.cost += a.completion_cost;
      }
    }
    for (const auto& [slot, digest] : stored.digests) {
      info.payload_bytes += blobs_.at({id.job_id, digest}).bytes.size();
    }
    return info;
  }

  // Erases a record and its entries; returns how many entries it had.
  uint64_t Erase(StoredTables::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t entries = 0;
    for (const auto& [key, a] : it->second.rec.actions) {
      entries += a.steps.size() + a.completion.has_value();
    }
    Release(it->first.job_id, it->second);
    due_.erase(it->first);
    tables_.erase(it);
    return entries;
  }

  // The payload in `slot` of a stored record, its blob's when stored once.
  void Resolve(const std::string& job_id, const StoredRecord& stored,
               const std::string& key, StoredAction& a) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto d = stored.digests.lower_bound({key, kCompletionSlot});
         d != stored.digests.end() && d->first.first == key; ++d) {
      const std::string& bytes = blobs_.at({job_id, d->second}).bytes;
      if (d->first.second == kCompletionSlot) {
        a.completion->state = bytes;
      } else {
        a.steps[d->first.second].result = bytes;
      }
    }
  }

  RecordSnapshot Resolved(StoredTables::const_iterator it) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    RecordSnapshot out = it->second.rec;
    for (auto& [key, a] : out.actions) {
      Resolve(it->first.job_id, it->second, key, a);
    }
    return out;
  }

  Snapshot ReadFrom(const ReadSet& reads) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Snapshot out;
    for (const ReadSet::Item& item : reads.items()) {
      RecordSnapshot& rec = out[item.record];
      auto it = tables_.find(item.record);
      if (it == tables_.end()) continue;
      if (item.all_actions) {
        rec = Resolved(it);
        continue;
      }
      rec.row = it->second.rec.row;
      for (const std::string& key : item.action_keys) {
        auto a = it->second.rec.actions.find(key);
        if (a == it->second.rec.actions.end()) continue;
        StoredAction& copy = rec.actions[key] = a->second;
        Resolve(item.record.job_id, it->second, key, copy);
      }
    }
    return out;
  }

  // `payload`, moved to its blob (one more reference) when stored once.
  void Reference(const std::string& job_id, std::string& payload, Slot slot,
                 StoredRecord& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::optional<std::string> digest = DedupDigest(payload, dedup_);
    if (!digest.has_value()) return;
    Blob& blob = blobs_[{job_id, *digest}];
    if (blob.refs++ == 0) blob.bytes = std::move(payload);
    payload.clear();
    out.digests.emplace(std::move(slot), *std::move(digest));
  }

  // The stored form of `rec`, adding its references.
  StoredRecord Intern(const std::string& job_id, RecordSnapshot rec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    StoredRecord out;
    for (auto& [key, a] : rec.actions) {
      for (Step& step : a.steps) {
        Reference(job_id, step.result, {key, step.index}, out);
      }
      if (a.completion.has_value()) {
        Reference(job_id, a.completion->state, {key, kCompletionSlot}, out);
      }
    }
    out.rec = std::move(rec);
    return out;
  }

  // Releases the references of a stored record; a blob goes at zero.
  void Release(const std::string& job_id, const StoredRecord& stored)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [slot, digest] : stored.digests) {
      auto b = blobs_.find({job_id, digest});
      if (--b->second.refs == 0) blobs_.erase(b);
    }
  }

  const DedupOptions dedup_;
  absl::Mutex mu_;
  StoredTables tables_ ABSL_GUARDED_BY(mu_);
  std::map<BlobKey, Blob> blobs_ ABSL_GUARDED_BY(mu_);
  // When a pruned record with a retention may be deleted.
  std::map<RecordId, absl::Time> due_ ABSL_GUARDED_BY(mu_);
  // The last attempt issued per job (IssueAttempt); never deleted.
  std::map<std::string, uint64_t> attempts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Backend> NewMemoryBackend(DedupOptions dedup) {
  return std::make_unique<MemoryBackend>(dedup);
}

}  // namespace actionjournal
