#include "storage/postgres/migrate.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/migrations.h"

namespace actionjournal::postgres {
namespace {

// Any number, the same in every replica: the migration lock's key.
constexpr int64_t kMigrationLock = 0x616a6d6967726174;  // "ajmigrat"

}  // namespace

absl::Status Migrate(pqxx::connection& c) {
  // The advisory lock is the session's, so it spans the transactions below.
  auto outside = [&c](const std::string& sql) {
    pqxx::nontransaction n(c);
    pqxx::result r = n.exec(sql);
    n.commit();
    return r;
  };
  outside("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
  absl::Status s = Guard([&]() -> absl::Status {
    outside(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer "
        "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
        "DEFAULT now())");
    const int current =
        outside("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0]
            .as<int>();
    const int known = Migrations().empty() ? 0 : Migrations().back().version;
    if (current > known) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema version ", current, " is newer than this server's ",
          known, "; upgrade the server"));
    }
    for (const Migration& m : Migrations()) {
      if (m.version <= current) continue;
      pqxx::work w(c);
      w.exec(m.sql);
      w.exec_params(
          "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
          m.version, std::string(m.name));
      w.commit();
      LogInfo("applied migration ", m.name);
    }
    return absl::OkStatus();
  });
  absl::Status unlock = Guard([&] {
    outside("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) +
            ")");
    return absl::OkStatus();
  });
  return s.ok() ? unlock : s;
}

}  // namespace actionjournal::postgres
