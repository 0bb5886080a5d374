// What a store reports as it works: its write transactions, connections,
// sweeps, size and payloads. The server's metrics implement it; group commit,
// the backends and the decorators report to it.
#ifndef ACTIONJOURNAL_STORAGE_OBSERVER_H_
#define ACTIONJOURNAL_STORAGE_OBSERVER_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/journal_store.h"

namespace actionjournal {

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

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_OBSERVER_H_
