// The backends the conformance suite runs against.
#ifndef ACTIONJOURNAL_TESTS_STORAGE_STORE_FACTORIES_H_
#define ACTIONJOURNAL_TESTS_STORAGE_STORE_FACTORIES_H_

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/group_commit.h"
#include "storage/journal_store.h"
#include "storage/memory/memory_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/stores.h"

namespace actionjournal {

struct StoreFactory {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<JournalStore>>(JournalOptions)>
      make;
};

inline void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }

// A fresh temporary SQLite path per call.
inline std::string TempSqlitePath() {
  static std::atomic<int> n{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  std::filesystem::path base =
      dir ? dir : std::filesystem::temp_directory_path().string();
  std::filesystem::path p =
      base /
      ("aj-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++)) /
      "journal.db";
  std::filesystem::remove_all(p.parent_path());
  return p.string();
}

// `n` bytes that zstd cannot shrink (so that they are stored as sent, and
// stored once when large), different for each `seed`.
inline std::string Incompressible(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

inline constexpr char kNoPostgres[] =
    "no PostgreSQL: run under scripts/with-postgres.sh (scripts/test.sh does)";

// `n` stores on the test script's PostgreSQL, as `n` server replicas on one
// database would be; FAILED_PRECONDITION without it.
inline absl::StatusOr<std::vector<std::unique_ptr<JournalStore>>>
PostgresReplicas(int n) {
  const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
  if (dsn == nullptr) return absl::FailedPreconditionError(kNoPostgres);
  std::vector<std::unique_ptr<JournalStore>> out;
  for (int i = 0; i < n; ++i) {
    PostgresStoreOptions po;
    po.dsn = dsn;
    auto store = NewPostgresJournalStore(po);
    if (!store.ok()) return store.status();
    out.push_back(std::move(store).value());
  }
  return out;
}

inline std::vector<StoreFactory> AllStoreFactories() {
  std::vector<StoreFactory> all = {
      {"Memory",
       [](JournalOptions o) -> absl::StatusOr<std::unique_ptr<JournalStore>> {
         return NewMemoryJournalStore(std::move(o));
       }},
      {"Sqlite",
       [](JournalOptions o) {
         SqliteStoreOptions so;
         so.path = TempSqlitePath();
         return NewSqliteJournalStore(so, std::move(o));
       }},
  };
  // The test script starts a real PostgreSQL and names it here (and
  // pgbouncer in front of it in transaction pooling mode, where Debian's
  // pgbouncer is installed: `env` names its DSN). Always listed, so that a
  // test list made without them still holds these tests; without them they
  // skip, saying why.
  auto postgres = [](std::string name, const char* env,
                     void (*tweak)(PostgresStoreOptions&)) {
    return StoreFactory{std::move(name),
                        [env, tweak](JournalOptions o)
                            -> absl::StatusOr<std::unique_ptr<JournalStore>> {
                          const char* dsn = std::getenv(env);
                          if (dsn == nullptr)
                            return absl::FailedPreconditionError(kNoPostgres);
                          PostgresStoreOptions po;
                          po.dsn = dsn;
                          tweak(po);
                          return NewPostgresJournalStore(po, std::move(o));
                        }};
  };
  all.push_back(postgres("Postgres", "ACTIONJOURNAL_TEST_POSTGRES_DSN",
                         [](PostgresStoreOptions&) {}));
  // Each write transaction begun and committed by the backend itself, as on
  // Citus (docs/scale.md), whose other differences (no generic plans)
  // change no answer.
  all.push_back(postgres(
      "PostgresExplicitTransactions", "ACTIONJOURNAL_TEST_POSTGRES_DSN",
      [](PostgresStoreOptions& po) { po.explicit_transactions = true; }));
  all.push_back(postgres(
      "PostgresThroughPgbouncer", "ACTIONJOURNAL_TEST_PGBOUNCER_DSN",
      [](PostgresStoreOptions& po) { po.transaction_pooling = true; }));
  return all;
}

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_TESTS_STORAGE_STORE_FACTORIES_H_
