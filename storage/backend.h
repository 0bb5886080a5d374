// What a storage backend provides to the journal, batch-shaped as leveldb's
// WriteBatch is: read (and lock) a read-set in one go, apply a write-set in
// one go, prune. The journal's rules (storage/rules.h) decide every answer
// and every row from a snapshot; a backend translates and never decides.
// Uniqueness lives in the database: inserts never overwrite, and every write
// states the rows it expects to change, so that a lost race is detected and
// the batch redone from a fresh read.
#ifndef ACTIONJOURNAL_STORAGE_BACKEND_H_
#define ACTIONJOURNAL_STORAGE_BACKEND_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/journal_store.h"

namespace actionjournal {

// A record's stored row.
struct RecordRow {
  uint64_t attempt = 0;
  std::string input_fingerprint;
  bool completed = false;
  absl::Time completed_at = absl::InfinitePast();  // when completed
  // The record's last write, to within the rules' kTouchEvery: what the
  // record TTL counts from.
  absl::Time written_at = absl::InfinitePast();
  // When it was created: written once, by its insert (the read APIs' order).
  absl::Time created_at = absl::InfinitePast();
  // Takeovers by a higher attempt (replays) and the last one's time:
  // written with the attempt, so a replay costs no extra row write.
  uint64_t replays = 0;
  absl::Time replayed_at = absl::InfinitePast();

  friend bool operator==(const RecordRow& a, const RecordRow& b) {
    return a.attempt == b.attempt &&
           a.input_fingerprint == b.input_fingerprint &&
           a.completed == b.completed && a.completed_at == b.completed_at &&
           a.written_at == b.written_at && a.created_at == b.created_at &&
           a.replays == b.replays && a.replayed_at == b.replayed_at;
  }
};

// An action's stored rows.
struct StoredAction {
  std::vector<Step> steps;  // by index, contiguous from 0; each with its cost
  std::optional<Completion> completion;
  Cost completion_cost;
};

// What a batch reads: records, each with every action or only some.
class ReadSet {
 public:
  struct Item {
    RecordId record;
    bool all_actions = false;
    std::vector<std::string> action_keys;  // sorted, unique; unused if all
  };

  // Adds `record`, with `action_key`'s entries (nullptr: every action's;
  // an empty string pointer is never passed).
  void Add(const RecordId& record, const std::string* action_key);
  // Adds the record alone (its row, no entries).
  void AddRecord(const RecordId& record);

  // By record, in the one order every backend locks in.
  const std::vector<Item>& items() const { return items_; }

 private:
  // The record's item, inserted in order when new.
  Item& ItemOf(const RecordId& record);

  std::vector<Item> items_;  // sorted by record
};

// What a backend read for a ReadSet: every record of it, present or not,
// with the actions asked for that exist.
struct RecordSnapshot {
  std::optional<RecordRow> row;  // nullopt: no such record
  std::map<std::string, StoredAction> actions;
};
using Snapshot = std::map<RecordId, RecordSnapshot>;

// The rows a batch changes, as the difference between its snapshot and the
// state after its writes. Applied in this order: deletes (a record's
// entries, an action's steps from an index, an action's completion), record
// inserts and updates, step inserts and upgrades, completion inserts.
struct WriteSet {
  struct RecordWrite {
    RecordId record;
    RecordRow row;
    bool insert = false;  // INSERT (expects 1 row inserted), else UPDATE (1)
  };
  struct EntriesDelete {  // every step and completion of the record
    RecordId record;
    uint64_t expected = 0;  // rows the snapshot holds
  };
  struct StepsDelete {  // an action's steps from an index on
    RecordId record;
    std::string action_key;
    uint32_t from_index = 0;
    uint64_t expected = 0;
  };
  struct CompletionDelete {  // an action's completion (an invalidation)
    RecordId record;
    std::string action_key;
  };
  struct StepWrite {
    RecordId record;
    std::string action_key;
    Step step;  // with its cost
    bool upgrade =
        false;  // UPDATE of a PENDING step (expects 1), else INSERT (1)
  };
  struct CompletionWrite {
    RecordId record;
    std::string action_key;
    Completion completion;
    Cost cost;
  };

  std::vector<EntriesDelete> entry_deletes;
  std::vector<StepsDelete> step_deletes;
  std::vector<CompletionDelete> completion_deletes;
  std::vector<RecordWrite> records;
  std::vector<StepWrite> steps;
  std::vector<CompletionWrite> completions;

  bool empty() const {
    return entry_deletes.empty() && step_deletes.empty() &&
           completion_deletes.empty() && records.empty() && steps.empty() &&
           completions.empty();
  }
};

// Thread-safe. Every method returns UNAVAILABLE / ABORTED / DEADLINE_EXCEEDED
// / INTERNAL for store faults, as JournalStore documents.
class Backend {
 public:
  virtual ~Backend() = default;

  // Reads `reads` as one consistent snapshot, locking nothing.
  virtual absl::StatusOr<Snapshot> Read(const ReadSet& reads) = 0;

  // One write transaction: reads `reads`, locking its records in the
  // ReadSet's order, passes the snapshot to `decide`, applies the WriteSet
  // it returns and commits. ABORTED (and nothing written) when a write did
  // not change the rows it expected (another writer won a race): the caller
  // redoes the batch from a fresh read. OK means durable. `deadline`, when
  // finite, bounds the transaction's statements.
  virtual absl::Status Write(
      const ReadSet& reads, absl::FunctionRef<WriteSet(const Snapshot&)> decide,
      absl::Time deadline) = 0;

  // Deletes the records `request` selects and their entries, set-based; or,
  // with a retention, marks them due at `now` + retention (a record due
  // earlier stays so).
  virtual absl::StatusOr<PruneResult> Prune(const PruneRequest& request,
                                            absl::Time now) = 0;

  // Deletes, in one short transaction, at most `limit` records that are due
  // by `now` (a prune's retention passed) or were last written before
  // `written_before` (InfinitePast: no TTL), with their entries. Records
  // another transaction holds are skipped, so that concurrent sweepers and
  // writers never wait on each other.
  virtual absl::StatusOr<SweepResult> Sweep(absl::Time now,
                                            absl::Time written_before,
                                            int limit) = 0;

  // JournalStore::Stats, and the store's size for metrics.
  virtual absl::StatusOr<std::vector<JobStats>> Stats(
      const std::string& job_id) = 0;
  virtual absl::StatusOr<StoreSize> Size() = 0;

  // JournalStore::ListRecords, one consistent read; and one record's
  // RecordInfo (nullopt: no such record), which ShowRecord pairs with a
  // Read of every action.
  virtual absl::StatusOr<std::vector<RecordInfo>> ListRecords(
      const ListRecordsQuery& query) = 0;
  virtual absl::StatusOr<std::optional<RecordInfo>> RecordInfoOf(
      const RecordId& record) = 0;

  // JournalStore::IssueAttempt, in one transaction of its own.
  virtual absl::StatusOr<uint64_t> IssueAttempt(const std::string& job_id) {
    (void)job_id;
    return absl::UnimplementedError("issue attempt");
  }

  virtual absl::Status Ping() = 0;

  // For a stopping server: ends the statements under way (their calls return
  // an error and roll back) and refuses new ones with UNAVAILABLE.
  virtual void Cancel() {}

  // How many write transactions may run at once (1 for a single-writer
  // store); group commit runs that many committers.
  virtual int MaxConcurrentWriters() const = 0;
};

// A Backend that passes every call to another: decorators (compression,
// tests' fault injection) derive from it and override what they change.
class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(std::unique_ptr<Backend> inner)
      : inner_(std::move(inner)) {}

  absl::StatusOr<Snapshot> Read(const ReadSet& reads) override {
    return inner_->Read(reads);
  }
  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    return inner_->Write(reads, decide, deadline);
  }
  absl::StatusOr<PruneResult> Prune(const PruneRequest& request,
                                    absl::Time now) override {
    return inner_->Prune(request, now);
  }
  absl::StatusOr<SweepResult> Sweep(absl::Time now, absl::Time written_before,
                                    int limit) override {
    return inner_->Sweep(now, written_before, limit);
  }
  absl::StatusOr<std::vector<JobStats>> Stats(
      const std::string& job_id) override {
    return inner_->Stats(job_id);
  }
  absl::StatusOr<StoreSize> Size() override { return inner_->Size(); }
  absl::StatusOr<std::vector<RecordInfo>> ListRecords(
      const ListRecordsQuery& query) override {
    return inner_->ListRecords(query);
  }
  absl::StatusOr<std::optional<RecordInfo>> RecordInfoOf(
      const RecordId& record) override {
    return inner_->RecordInfoOf(record);
  }
  absl::StatusOr<uint64_t> IssueAttempt(const std::string& job_id) override {
    return inner_->IssueAttempt(job_id);
  }
  absl::Status Ping() override { return inner_->Ping(); }
  void Cancel() override { inner_->Cancel(); }
  int MaxConcurrentWriters() const override {
    return inner_->MaxConcurrentWriters();
  }

 protected:
  Backend& inner() { return *inner_; }

 private:
  const std::unique_ptr<Backend> inner_;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_BACKEND_H_
