// The in-memory backend: for unit tests and trials; loses everything on exit.
#ifndef ACTIONJOURNAL_STORAGE_MEMORY_STORE_H_
#define ACTIONJOURNAL_STORAGE_MEMORY_STORE_H_

#include <memory>

#include "storage/journal.h"
#include "storage/journal_store.h"

namespace actionjournal {

// Returns an empty in-memory journal. Never fails.
std::unique_ptr<JournalStore> NewMemoryJournalStore(
    JournalOptions options = {}, JournalObserver* observer = nullptr);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_MEMORY_STORE_H_
