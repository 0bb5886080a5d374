// The embedded SQLite backend: the zero-setup default. WAL journal with
// synchronous=FULL, so an OK answer is on disk.
#ifndef ACTIONJOURNAL_STORAGE_SQLITE_SQLITE_STORE_H_
#define ACTIONJOURNAL_STORAGE_SQLITE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/backend.h"
#include "storage/dedup.h"

namespace actionjournal {

struct SqliteStoreOptions {
  // The database file; its directory is created if missing.
  std::string path = "data/actionjournal.db";
  // How long a statement waits for a lock held by another process.
  absl::Duration busy_timeout = absl::Seconds(5);
};

// Opens (creating if needed) the database and its schema. Fails with
// UNAVAILABLE when the file cannot be opened, FAILED_PRECONDITION when its
// schema is newer than this build knows.
absl::StatusOr<std::unique_ptr<Backend>> NewSqliteBackend(
    const SqliteStoreOptions& options, DedupOptions dedup = {});

// EXPLAIN QUERY PLAN of every read statement, one line per plan step under
// the statement, for the test that keeps reads index-driven.
absl::StatusOr<std::string> ExplainSqliteReadsForTest(
    const SqliteStoreOptions& options);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_SQLITE_SQLITE_STORE_H_
