// The one place a journal is stacked: a backend, under the compression
// decorator, under group commit (the rules). The server's wiring
// (server/store_url.cc) and the convenience stores (storage/stores.h) build
// their journals here; backends know nothing of what is stacked on them.
#ifndef ACTIONJOURNAL_STORAGE_JOURNAL_STACK_H_
#define ACTIONJOURNAL_STORAGE_JOURNAL_STACK_H_

#include <memory>

#include "storage/backend.h"
#include "storage/group_commit.h"
#include "storage/journal_store.h"
#include "storage/observer.h"

namespace actionjournal {

// The journal over `backend`: payloads compressed by options.compression on
// their way down, writes decided and committed by group commit. `observer`
// may be null; otherwise it must outlive the store. (options.dedup is the
// backend's: give it to the backend's factory.)
std::unique_ptr<JournalStore> NewJournalStore(
    std::unique_ptr<Backend> backend, JournalOptions options = {},
    JournalObserver* observer = nullptr);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_JOURNAL_STACK_H_
