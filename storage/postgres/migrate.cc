#include "storage/postgres/migrate.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "storage/postgres/migrations.h"
#include "storage/postgres/statements.h"

namespace actionjournal::postgres {
namespace {

// Any number, the same in every replica: the migration lock's key.
constexpr int64_t kMigrationLock = 0x616a6d6967726174;  // "ajmigrat"

}  // namespace

absl::Status Migrate(pqxx::connection& c, int up_to) {
  // One transaction under a transaction-scoped advisory lock: replicas
  // starting together apply each migration once, and the lock ends with the
  // transaction whatever happens, also behind a pooler in transaction mode
  // (where a session lock and its unlock could reach different server
  // connections, leaving the lock held). Every migration must therefore be
  // transactional (no CREATE INDEX CONCURRENTLY).
  pqxx::work w(c);
  w.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
         ")");
  w.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer "
      "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
      "DEFAULT now())");
  const int current =
      w.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0]
          .as<int>();
  const int known = Migrations().empty() ? 0 : Migrations().back().version;
  if (current > known) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema version ", current, " is newer than this server's ",
        known, "; upgrade the server"));
  }
  std::vector<std::string> applied;
  for (const Migration& m : Migrations()) {
    if (m.version <= current || m.version > up_to) continue;
    w.exec(m.sql);
    w.exec_params(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
        m.version, std::string(m.name));
    applied.push_back(m.name);
  }
  w.commit();
  for (const std::string& name : applied) LogInfo("applied migration ", name);
  return absl::OkStatus();
}

absl::Status DistributeOnCitus(pqxx::connection& c) {
  pqxx::work w(c);
  w.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
         ")");
  if (!CitusInstalled(w)) {
    return absl::FailedPreconditionError(
        "distribute on Citus: the database has no citus extension (CREATE "
        "EXTENSION citus, on the coordinator and every worker)");
  }
  std::vector<std::string> distributed;
  // records first: the others are co-located with it.
  for (const char* table :
       {"records", "steps", "completions", "blobs", "job_attempts"}) {
    const bool done = w.exec_params(
                           "SELECT count(*) FROM pg_dist_partition WHERE "
                           "logicalrelid = $1::regclass",
                           std::string(table))[0][0]
                          .as<int>() > 0;
    if (done) continue;
    w.exec_params(
        "SELECT create_distributed_table($1, 'job_id', colocate_with => $2)",
        std::string(table),
        std::string(table == std::string("records") ? "default" : "records"));
    distributed.push_back(table);
  }
  w.commit();
  for (const std::string& t : distributed)
    LogInfo("distributed table ", t, " on Citus by job_id");
  return absl::OkStatus();
}

}  // namespace actionjournal::postgres
