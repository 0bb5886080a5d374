// What a storage backend provides to the journal: transactions over three
// tables (records, steps, completions). The journal's rules live above this
// interface, in journal_rules.cc, so that a backend translates and never
// decides. Uniqueness lives in the database: Insert* never overwrite.
#ifndef ACTIONJOURNAL_STORAGE_BACKEND_H_
#define ACTIONJOURNAL_STORAGE_BACKEND_H_

#include <map>
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
};

// The actions of a record gathered by key, as ReadActions returns them:
// ordered by key, each with its key set.
inline std::vector<ActionEntries> SortedActions(
    std::map<std::string, ActionEntries>&& by_key) {
  std::vector<ActionEntries> out;
  out.reserve(by_key.size());
  for (auto& [key, action] : by_key) {
    action.action_key = key;
    out.push_back(std::move(action));
  }
  return out;
}

// What one write of a batch will read: its record and either one action's
// entries, every action's, or none.
struct Touch {
  const RecordId* record = nullptr;
  const std::string* action_key = nullptr;  // read this action's entries
  bool all_actions = false;                 // read every action's entries
};

// One open transaction. Not thread-safe; lives inside Backend::Run.
// Every method returns UNAVAILABLE / ABORTED / DEADLINE_EXCEEDED / INTERNAL
// for store faults, as JournalStore documents.
class Transaction {
 public:
  virtual ~Transaction() = default;

  // Announces what the writes that follow will read, so that a backend with
  // costly round trips can lock and read it all at once. Optional: the
  // methods below work without it.
  virtual absl::Status Prefetch(const std::vector<Touch>& touches) {
    (void)touches;
    return absl::OkStatus();
  }

  // Returns the record, locking it against other writers until the
  // transaction ends (a no-op where the whole store is locked), or nullopt.
  virtual absl::StatusOr<std::optional<RecordRow>> LockRecord(
      const RecordId& id) = 0;

  // Inserts the record unless it exists (ON CONFLICT DO NOTHING); returns
  // true when inserted, after which the record is locked.
  virtual absl::StatusOr<bool> InsertRecord(const RecordId& id,
                                            const RecordRow& row) = 0;

  virtual absl::Status UpdateRecord(const RecordId& id,
                                    const RecordRow& row) = 0;

  // Every action of the record, or only `action_key`'s, ordered by key,
  // steps by index, costs summed.
  virtual absl::StatusOr<std::vector<ActionEntries>> ReadActions(
      const RecordId& id, const std::string* action_key) = 0;

  // Inserts unless the identity exists; true when inserted.
  virtual absl::StatusOr<bool> InsertStep(const RecordId& id,
                                          const std::string& action_key,
                                          const Step& step,
                                          const Cost& cost) = 0;

  // Replaces the step at step.index if it is still PENDING; true if so.
  virtual absl::StatusOr<bool> UpgradeStep(const RecordId& id,
                                           const std::string& action_key,
                                           const Step& step,
                                           const Cost& cost) = 0;

  // Deletes the action's steps with index >= from_index; returns how many.
  virtual absl::StatusOr<uint64_t> DeleteStepsFrom(
      const RecordId& id, const std::string& action_key,
      uint32_t from_index) = 0;

  virtual absl::StatusOr<bool> InsertCompletion(const RecordId& id,
                                                const std::string& action_key,
                                                const Completion& completion,
                                                const Cost& cost) = 0;

  // Deletes every step and completion of the record; returns how many.
  virtual absl::StatusOr<uint64_t> DeleteEntries(const RecordId& id) = 0;

  // Deletes the records `request` selects and their entries, set-based.
  virtual absl::StatusOr<PruneResult> Prune(const PruneRequest& request) = 0;

  // Marks a point that RollbackToSavepoint returns to. Not nested: each
  // Savepoint replaces the previous one.
  virtual absl::Status Savepoint() = 0;
  virtual absl::Status RollbackToSavepoint() = 0;
};

// Thread-safe.
class Backend {
 public:
  virtual ~Backend() = default;

  // Opens a transaction, runs `fn`, and commits when `fn` returns OK (rolls
  // back otherwise). Returns fn's error, or the commit's. OK means the
  // transaction is durable.
  virtual absl::Status Run(bool read_only,
                           absl::FunctionRef<absl::Status(Transaction&)> fn) = 0;

  virtual absl::Status Ping() = 0;

  // For a stopping server: ends the statements under way (their calls return
  // an error and roll back) and refuses new transactions with UNAVAILABLE.
  // Thread-safe; may be called while other threads are inside Run.
  virtual void Cancel() {}

  // How many write transactions may run at once (1 for a single-writer
  // store); the journal's group commit uses it.
  virtual int MaxConcurrentWriters() const = 0;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_BACKEND_H_
