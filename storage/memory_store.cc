#include "storage/memory_store.h"

#include <functional>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace actionjournal {
namespace {

using ActionId = std::pair<RecordId, std::string>;
using StepId = std::tuple<RecordId, std::string, uint32_t>;

template <typename V>
struct WithCost {
  V value;
  Cost cost;
};

// Three ordered maps mirror the SQL tables. Guarded by MemoryBackend::mu_.
struct Tables {
  std::map<RecordId, RecordRow> records;
  std::map<StepId, WithCost<Step>> steps;
  std::map<ActionId, WithCost<Completion>> completions;
};

// Not thread-safe; the backend holds its lock for the transaction's life.
// Writes go straight to the tables and log how to undo themselves.
class MemoryTransaction final : public Transaction {
 public:
  explicit MemoryTransaction(Tables& t) : t_(t) {}

  void RollbackAll() { Undo(0); }

  absl::StatusOr<std::optional<RecordRow>> LockRecord(
      const RecordId& id) override {
    auto it = t_.records.find(id);
    if (it == t_.records.end()) return std::nullopt;
    return it->second;
  }

  absl::StatusOr<bool> InsertRecord(const RecordId& id,
                                    const RecordRow& row) override {
    return Insert(t_.records, id, row);
  }

  absl::Status UpdateRecord(const RecordId& id, const RecordRow& row) override {
    Set(t_.records, id, row);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ActionEntries>> ReadActions(
      const RecordId& id, const std::string* action_key) override {
    std::map<std::string, ActionEntries> out;
    for (auto it = t_.steps.lower_bound({id, action_key ? *action_key : "", 0});
         it != t_.steps.end() && std::get<0>(it->first) == id; ++it) {
      const std::string& key = std::get<1>(it->first);
      if (action_key != nullptr && key != *action_key) break;
      ActionEntries& a = out[key];
      a.steps.push_back(it->second.value);
      a.steps.back().cost = it->second.cost;
      a.cost += it->second.cost;
    }
    for (auto it = t_.completions.lower_bound({id, action_key ? *action_key : ""});
         it != t_.completions.end() && it->first.first == id; ++it) {
      if (action_key != nullptr && it->first.second != *action_key) break;
      ActionEntries& a = out[it->first.second];
      a.completion = it->second.value;
      a.cost += it->second.cost;
    }
    return SortedActions(std::move(out));
  }

  absl::StatusOr<bool> InsertStep(const RecordId& id,
                                  const std::string& action_key,
                                  const Step& step, const Cost& cost) override {
    return Insert(t_.steps, {id, action_key, step.index}, {step, cost});
  }

  absl::StatusOr<bool> UpgradeStep(const RecordId& id,
                                   const std::string& action_key,
                                   const Step& step, const Cost& cost) override {
    StepId key{id, action_key, step.index};
    auto it = t_.steps.find(key);
    if (it == t_.steps.end() || it->second.value.status != StepStatus::kPending) {
      return false;
    }
    Set(t_.steps, key, {step, cost});
    return true;
  }

  absl::StatusOr<uint64_t> DeleteStepsFrom(const RecordId& id,
                                           const std::string& action_key,
                                           uint32_t from_index) override {
    std::vector<StepId> doomed;
    for (auto it = t_.steps.lower_bound({id, action_key, from_index});
         it != t_.steps.end() && std::get<0>(it->first) == id &&
         std::get<1>(it->first) == action_key;
         ++it) {
      doomed.push_back(it->first);
    }
    for (const StepId& k : doomed) Erase(t_.steps, k);
    return doomed.size();
  }

  absl::StatusOr<bool> InsertCompletion(const RecordId& id,
                                        const std::string& action_key,
                                        const Completion& completion,
                                        const Cost& cost) override {
    return Insert(t_.completions, {id, action_key}, {completion, cost});
  }

  absl::StatusOr<uint64_t> DeleteEntries(const RecordId& id) override {
    return EraseEntriesOf(id);
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req) override {
    std::vector<RecordId> doomed;
    auto it = t_.records.lower_bound(RecordId{req.job_id, "", 0});
    for (; it != t_.records.end() && it->first.job_id == req.job_id; ++it) {
      if (Selected(req, it->first, it->second)) doomed.push_back(it->first);
    }
    PruneResult result;
    for (const RecordId& id : doomed) {
      result.entries_deleted += EraseEntriesOf(id);
      Erase(t_.records, id);
      ++result.records_deleted;
    }
    return result;
  }

  absl::Status Savepoint() override {
    savepoint_ = undo_.size();
    return absl::OkStatus();
  }

  absl::Status RollbackToSavepoint() override {
    Undo(savepoint_);
    return absl::OkStatus();
  }

 private:
  static bool Selected(const PruneRequest& req, const RecordId& id,
                       const RecordRow& row) {
    if (req.whole_job) return true;
    if (req.completed_before.has_value() && row.completed &&
        row.completed_at < *req.completed_before) {
      return true;
    }
    for (const auto& [key, up_to] : req.keys) {
      if (id.record_key == key && id.seq_num <= up_to) return true;
    }
    return false;
  }

  uint64_t EraseEntriesOf(const RecordId& id) {
    std::vector<StepId> steps;
    for (auto it = t_.steps.lower_bound({id, "", 0});
         it != t_.steps.end() && std::get<0>(it->first) == id; ++it) {
      steps.push_back(it->first);
    }
    std::vector<ActionId> completions;
    for (auto it = t_.completions.lower_bound({id, ""});
         it != t_.completions.end() && it->first.first == id; ++it) {
      completions.push_back(it->first);
    }
    for (const auto& k : steps) Erase(t_.steps, k);
    for (const auto& k : completions) Erase(t_.completions, k);
    return steps.size() + completions.size();
  }

  template <typename M>
  bool Insert(M& m, const typename M::key_type& k,
              const typename M::mapped_type& v) {
    if (m.count(k) != 0) return false;
    Set(m, k, v);
    return true;
  }

  // Sets m[k] = v and logs how to restore the old state.
  template <typename M>
  void Set(M& m, const typename M::key_type& k,
           const typename M::mapped_type& v) {
    auto it = m.find(k);
    if (it == m.end()) {
      undo_.push_back([&m, k] { m.erase(k); });
      m.emplace(k, v);
    } else {
      undo_.push_back([&m, k, old = it->second] { m[k] = old; });
      it->second = v;
    }
  }

  template <typename M>
  void Erase(M& m, const typename M::key_type& k) {
    auto it = m.find(k);
    if (it == m.end()) return;
    undo_.push_back([&m, k, old = it->second] { m.emplace(k, old); });
    m.erase(it);
  }

  void Undo(size_t to) {
    while (undo_.size() > to) {
      undo_.back()();
      undo_.pop_back();
    }
  }

  Tables& t_;
  std::vector<std::function<void()>> undo_;
  size_t savepoint_ = 0;
};

// Thread-safe: one transaction at a time.
class MemoryBackend final : public Backend {
 public:
  absl::Status Run(bool /*read_only*/,
                   absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    absl::MutexLock lock(&mu_);
    MemoryTransaction txn(tables_);
    absl::Status s = fn(txn);
    if (!s.ok()) txn.RollbackAll();
    return s;
  }

  absl::Status Ping() override { return absl::OkStatus(); }
  int MaxConcurrentWriters() const override { return 1; }

 private:
  absl::Mutex mu_;
  Tables tables_ ABSL_GUARDED_BY(mu_);
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
