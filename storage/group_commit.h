// Group commit: the JournalStore over any Backend. Concurrent writes share
// one transaction (one read of everything they touch, one decision by the
// rules, one write-set, one commit), and none is answered before the commit.
// Reads (LookupAction, and a BeginRecord that changes nothing) are one read
// of the backend, with no transaction of their own.
#ifndef ACTIONJOURNAL_STORAGE_GROUP_COMMIT_H_
#define ACTIONJOURNAL_STORAGE_GROUP_COMMIT_H_

#include <functional>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/backend.h"
#include "storage/compression.h"
#include "storage/dedup.h"
#include "storage/journal_store.h"

namespace actionjournal {

struct JournalOptions {
  // Most writes one transaction carries.
  int max_batch_size = 256;
  // How often a transaction that lost a race (ABORTED) is redone.
  int max_retries = 3;
  // Writes that may wait for a transaction; beyond, RESOURCE_EXHAUSTED.
  int max_queued_writes = 4096;
  // Records last written longer ago than this are deleted by sweeps (zero:
  // never). Counts from the last write to within a minute (rules.h).
  absl::Duration record_ttl = absl::ZeroDuration();
  // How often the store sweeps by itself and measures its size for the
  // observer (zero: never; Sweep still works).
  absl::Duration sweep_every = absl::ZeroDuration();
  // Most records one sweep transaction deletes.
  int sweep_batch = 1000;
  // Which payloads are stored compressed (storage/compression.h).
  CompressionOptions compression;
  // Which payloads are stored once per job (storage/dedup.h). Read by the
  // backends' factories: dedup happens inside the backend's transaction,
  // below compression.
  DedupOptions dedup;
  // The clock for completion times; tests inject their own.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// Observes group commit and the backend's connections; thread-safe
// implementations only.
class JournalObserver {
 public:
  virtual ~JournalObserver() = default;
  // One write transaction ended: how many writes it carried, how long it took
  // and its status.
  virtual void OnBatch(int size, absl::Duration duration,
                       const absl::Status& status) = 0;
  // A pooled backend's connections changed: held by a call, and open but
  // free.
  virtual void OnPool(int in_use, int idle) {
    (void)in_use;
    (void)idle;
  }
  // A sweep deleted records (each call reports one sweep transaction).
  virtual void OnSweep(const SweepResult& result) { (void)result; }
  // The store's size, measured after each periodic sweep.
  virtual void OnSize(const StoreSize& size) { (void)size; }
  // A payload was written: its size as sent and as stored (compressed or
  // not). Called inside the write transaction, so cheap only.
  virtual void OnPayload(size_t sent, size_t stored) {
    (void)sent;
    (void)stored;
  }
};

// Returns a JournalStore applying the rules over `backend`. `observer` may be
// null; otherwise it must outlive the store. Destroying the store commits
// what is queued.
std::unique_ptr<JournalStore> NewJournal(std::unique_ptr<Backend> backend,
                                         JournalOptions options = {},
                                         JournalObserver* observer = nullptr);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_GROUP_COMMIT_H_
