// The in-memory backend: for unit tests and trials; loses everything on exit.
#ifndef ACTIONJOURNAL_STORAGE_MEMORY_MEMORY_STORE_H_
#define ACTIONJOURNAL_STORAGE_MEMORY_MEMORY_STORE_H_

#include <memory>

#include "storage/backend.h"
#include "storage/dedup.h"
#include "storage/group_commit.h"
#include "storage/journal_store.h"

namespace actionjournal {

// The in-memory backend alone, for tests that wrap it.
std::unique_ptr<Backend> NewMemoryBackend(DedupOptions dedup = {});

// Returns an empty in-memory journal. Never fails.
std::unique_ptr<JournalStore> NewMemoryJournalStore(
    JournalOptions options = {}, JournalObserver* observer = nullptr);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_MEMORY_MEMORY_STORE_H_
