#include "storage/memory/memory_store.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace actionjournal {
namespace {

// The three tables as one map: every record with all its actions.
using Tables = std::map<RecordId, RecordSnapshot>;

Snapshot ReadFrom(const Tables& t, const ReadSet& reads) {
  Snapshot out;
  for (const ReadSet::Item& item : reads.items()) {
    RecordSnapshot& rec = out[item.record];
    auto it = t.find(item.record);
    if (it == t.end()) continue;
    rec.row = it->second.row;
    if (item.all_actions) {
      rec.actions = it->second.actions;
      continue;
    }
    for (const std::string& key : item.action_keys) {
      auto a = it->second.actions.find(key);
      if (a != it->second.actions.end()) rec.actions.insert(*a);
    }
  }
  return out;
}

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

bool Selected(const PruneRequest& req, const RecordId& id,
              const RecordRow& row) {
  if (id.job_id != req.job_id) return false;
  if (req.whole_job) return true;
  if (req.completed_before.has_value() && row.completed &&
      row.completed_at < *req.completed_before) {
    return true;
  }
  for (const auto& [key, up_to] : req.keys) {
    if (key == id.record_key && id.seq_num <= up_to) return true;
  }
  return false;
}

// Thread-safe: one call at a time.
class MemoryBackend final : public Backend {
 public:
  absl::StatusOr<Snapshot> Read(const ReadSet& reads) override {
    absl::MutexLock lock(&mu_);
    return ReadFrom(tables_, reads);
  }

  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    (void)deadline;
    absl::MutexLock lock(&mu_);
    const WriteSet w = decide(ReadFrom(tables_, reads));
    // All or nothing: the writes go to a copy of the records they touch.
    Tables touched;
    for (const ReadSet::Item& item : reads.items()) {
      auto it = tables_.find(item.record);
      if (it != tables_.end()) touched.insert(*it);
    }
    absl::Status s = Apply(w, touched);
    if (!s.ok()) return s;
    for (auto& [id, rec] : touched) {
      if (rec.row.has_value()) tables_[id] = std::move(rec);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req,
                                    absl::Time now) override {
    absl::MutexLock lock(&mu_);
    PruneResult out;
    const absl::Time due = now + req.retention;
    for (auto it = tables_.begin(); it != tables_.end();) {
      if (!it->second.row.has_value() ||
          !Selected(req, it->first, *it->second.row)) {
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
      if (d != due_.end() && d->second <= now) {
        ++out.retention_records;
      } else if (it->second.row->written_at < written_before) {
        ++out.ttl_records;
      } else {
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
    for (const auto& [id, rec] : tables_) {
      if (!rec.row.has_value() || (!job_id.empty() && id.job_id != job_id))
        continue;
      JobStats& s = by_job[id.job_id];
      s.job_id = id.job_id;
      ++s.records;
      s.retained_records += due_.count(id);
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
    std::vector<JobStats> out;
    for (auto& [job, s] : by_job) out.push_back(std::move(s));
    return out;
  }

  absl::StatusOr<StoreSize> Size() override {
    absl::MutexLock lock(&mu_);
    StoreSize out;
    for (const auto& [id, rec] : tables_) {
      if (!rec.row.has_value()) continue;
      ++out.records;
      if (due_.count(id) == 0) {
        out.oldest_unpruned_written =
            std::min(out.oldest_unpruned_written, rec.row->written_at);
      }
    }
    return out;
  }

  absl::Status Ping() override { return absl::OkStatus(); }
  int MaxConcurrentWriters() const override { return 1; }

 private:
  // Erases a record and its entries; returns how many entries it had.
  uint64_t Erase(Tables::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t entries = 0;
    for (const auto& [key, a] : it->second.actions) {
      entries += a.steps.size() + a.completion.has_value();
    }
    due_.erase(it->first);
    tables_.erase(it);
    return entries;
  }

  absl::Mutex mu_;
  Tables tables_ ABSL_GUARDED_BY(mu_);
  // When a pruned record with a retention may be deleted.
  std::map<RecordId, absl::Time> due_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Backend> NewMemoryBackend() {
  return std::make_unique<MemoryBackend>();
}

std::unique_ptr<JournalStore> NewMemoryJournalStore(JournalOptions options,
                                                    JournalObserver* observer) {
  return NewJournal(NewMemoryBackend(), std::move(options), observer);
}

}  // namespace actionjournal
