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
#include "storage/observer.h"

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

// Returns a JournalStore applying the rules over `backend`. `observer` may be
// null; otherwise it must outlive the store. Destroying the store commits
// what is queued.
std::unique_ptr<JournalStore> NewJournal(std::unique_ptr<Backend> backend,
                                         JournalOptions options = {},
                                         JournalObserver* observer = nullptr);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_GROUP_COMMIT_H_
