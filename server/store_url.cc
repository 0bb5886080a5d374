#include "server/store_url.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/journal_stack.h"
#include "storage/memory/memory_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace actionjournal {
namespace {

// The backend the URL names.
absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(
    const std::string& url, DedupOptions dedup, JournalObserver* observer,
    PostgresStoreOptions postgres) {
  if (url == "memory:" || url == "memory://") return NewMemoryBackend(dedup);
  if (absl::StartsWith(url, "sqlite://")) {
    SqliteStoreOptions so;
    so.path = url.substr(std::string("sqlite://").size());
    if (so.path.empty()) {
      return absl::InvalidArgumentError("--store: sqlite:// needs a file path");
    }
    return NewSqliteBackend(so, dedup);
  }
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    postgres.dsn = url;
    return NewPostgresBackend(postgres, dedup, observer);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--store: unknown store '", RedactStoreUrl(url),
                   "'; use memory:, sqlite://<path> or postgresql://..."));
}

}  // namespace

absl::StatusOr<std::unique_ptr<JournalStore>> OpenStore(
    const std::string& url, JournalOptions options, JournalObserver* observer,
    PostgresStoreOptions postgres) {
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend,
                   OpenBackend(url, options.dedup, observer, postgres));
  return NewJournalStore(std::move(backend), std::move(options), observer);
}

std::string StoreKind(const std::string& url) {
  if (absl::StartsWith(url, "memory:")) return "memory";
  if (absl::StartsWith(url, "sqlite://")) return "sqlite";
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    return "postgresql";
  }
  return "unknown";
}

namespace {
bool IsPostgres(const std::string& url) {
  return absl::StartsWith(url, "postgresql://") ||
         absl::StartsWith(url, "postgres://");
}
}  // namespace

std::string RedactStoreUrl(const std::string& url) {
  if (IsPostgres(url)) return RedactPostgresDsn(url);
  return url;  // memory: and sqlite:// carry no secrets
}

std::vector<std::string> StoreSecrets(const std::string& url) {
  if (IsPostgres(url)) return PostgresSecrets(url);
  return {};
}

}  // namespace actionjournal
