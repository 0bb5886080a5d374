// A whole journal on each backend in one call, for tests, benchmarks and
// tools: the backend's factory, then NewJournalStore. Only what is called
// needs its backend's library linked.
#ifndef ACTIONJOURNAL_STORAGE_STORES_H_
#define ACTIONJOURNAL_STORAGE_STORES_H_

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "common/status_macros.h"
#include "storage/journal_stack.h"
#include "storage/memory/memory_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace actionjournal {

// An empty in-memory journal. Never fails.
inline std::unique_ptr<JournalStore> NewMemoryJournalStore(
    JournalOptions options = {}, JournalObserver* observer = nullptr) {
  auto backend = NewMemoryBackend(options.dedup);
  return NewJournalStore(std::move(backend), std::move(options), observer);
}

// The journal in a SQLite file (NewSqliteBackend's errors).
inline absl::StatusOr<std::unique_ptr<JournalStore>> NewSqliteJournalStore(
    const SqliteStoreOptions& sqlite, JournalOptions options = {},
    JournalObserver* observer = nullptr) {
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend,
                   NewSqliteBackend(sqlite, options.dedup));
  return NewJournalStore(std::move(backend), std::move(options), observer);
}

// The journal on PostgreSQL (NewPostgresBackend's errors).
inline absl::StatusOr<std::unique_ptr<JournalStore>> NewPostgresJournalStore(
    const PostgresStoreOptions& postgres, JournalOptions options = {},
    JournalObserver* observer = nullptr) {
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend,
                   NewPostgresBackend(postgres, options.dedup, observer));
  return NewJournalStore(std::move(backend), std::move(options), observer);
}

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_STORES_H_
