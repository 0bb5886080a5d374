// The in-memory backend: for unit tests and trials; loses everything on exit.
#ifndef ACTIONJOURNAL_STORAGE_MEMORY_MEMORY_STORE_H_
#define ACTIONJOURNAL_STORAGE_MEMORY_MEMORY_STORE_H_

#include <memory>

#include "storage/backend.h"
#include "storage/dedup.h"

namespace actionjournal {

// An empty in-memory backend. Never fails. A journal over it:
// NewJournalStore (storage/journal_stack.h), or NewMemoryJournalStore
// (storage/stores.h).
std::unique_ptr<Backend> NewMemoryBackend(DedupOptions dedup = {});

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_MEMORY_MEMORY_STORE_H_
