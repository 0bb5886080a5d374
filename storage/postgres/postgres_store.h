// The PostgreSQL backend (libpqxx): production's shared, durable store.
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_POSTGRES_STORE_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_POSTGRES_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/backend.h"
#include "storage/dedup.h"
#include "storage/observer.h"

namespace actionjournal {

struct PostgresStoreOptions {
  // libpq connection string or URI ("postgresql://user:pw@host:5432/db").
  std::string dsn;
  // Connections kept open.
  int pool_size = 8;
  // Group-commit transactions running at once (at most pool_size); the rest
  // of the pool serves reads. Few and large beats many and small: every
  // batch costs the same few round trips and one WAL flush whatever its size
  // (see docs/performance.md).
  int max_write_transactions = 2;
  // How long a connection attempt may take before UNAVAILABLE.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Server-side limit on one statement.
  absl::Duration statement_timeout = absl::Seconds(30);
  // How long a call waits for a free connection before UNAVAILABLE.
  absl::Duration acquire_timeout = absl::Seconds(10);
  // How long a silent link to PostgreSQL (a partition, a vanished host) may
  // go unnoticed, by either end (PoolOptions::link_timeout).
  absl::Duration link_timeout = absl::Seconds(10);
  // Apply missing migrations at open (under an advisory lock).
  bool migrate = true;
  // With migrate: also distribute the tables on Citus, by job
  // (postgres::DistributeOnCitus; docs/scale.md). Needs the citus extension.
  bool distribute_citus = false;
  // PostgreSQL is reached through a pooler in transaction mode (pgbouncer
  // pool_mode=transaction): no prepared statements, no session settings
  // (PoolOptions::transaction_pooling).
  bool transaction_pooling = false;
  // Each write transaction begins and commits itself (BEGIN, COMMIT in its
  // pipeline) instead of riding the pipeline's implicit transaction. Always
  // so on Citus, which the pool detects (statements.cc, "begin"); here for
  // tests that run that path on PostgreSQL.
  bool explicit_transactions = false;
};

// INVALID_ARGUMENT naming the first option out of range: pool_size >= 1,
// max_write_transactions 1 to pool_size, link_timeout >= 2 s (below, a link
// that is merely slow looks dead).
absl::Status CheckPostgresStoreOptions(const PostgresStoreOptions& options);

// Connects, checks the schema version (FAILED_PRECONDITION when the database
// is newer than this build), applies missing migrations, and returns the
// backend; its pool reports to `observer` (may be null). UNAVAILABLE when
// the server cannot be reached.
absl::StatusOr<std::unique_ptr<Backend>> NewPostgresBackend(
    const PostgresStoreOptions& options, DedupOptions dedup = {},
    JournalObserver* observer = nullptr);

// The values of every secret a libpq connection string or URI carries
// (password, sslpassword: what libpq itself hides), for a log to mask.
std::vector<std::string> PostgresSecrets(const std::string& dsn);

// The connection string's settings as "postgresql: host=h user=u
// password=***", every secret masked, for logs.
std::string RedactPostgresDsn(const std::string& dsn);

// EXPLAIN ANALYZE of the read statement (generic plan, as the server runs
// it) for (record, action_key) and for the whole record, for the test that
// keeps reads index-driven.
absl::StatusOr<std::string> ExplainPostgresReadsForTest(
    const std::string& dsn, const RecordId& record,
    const std::string& action_key);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_POSTGRES_STORE_H_
