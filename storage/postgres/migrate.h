// Applies the versioned migrations (migrations/NNNN_*.sql, compiled in)
// under an advisory lock, so that replicas starting together apply each
// once.
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_MIGRATE_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_MIGRATE_H_

#include <limits>
#include <pqxx/pqxx>

#include "absl/status/status.h"

namespace actionjournal::postgres {

// OK when the schema is current (up to migration `up_to`: tests build
// older schemas with it). FAILED_PRECONDITION when the database's schema is
// newer than this build knows. Throws pqxx exceptions for the caller's
// Guard.
absl::Status Migrate(pqxx::connection& c,
                     int up_to = std::numeric_limits<int>::max());

// Distributes the journal's tables on Citus (docs/scale.md), after Migrate:
// every table by job_id, co-located with records, so that all of a job's
// rows live in one shard group and each statement (which names one job)
// goes to one worker. Idempotent: tables already distributed are left as
// they are. FAILED_PRECONDITION when the database has no citus extension.
// Throws pqxx exceptions for the caller's Guard.
absl::Status DistributeOnCitus(pqxx::connection& c);

}  // namespace actionjournal::postgres

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_MIGRATE_H_
