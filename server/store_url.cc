#include "server/store_url.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/memory/memory_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace actionjournal {

absl::StatusOr<std::unique_ptr<JournalStore>> OpenStore(
    const std::string& url, JournalOptions options, JournalObserver* observer,
    PostgresStoreOptions postgres) {
  if (url == "memory:" || url == "memory://") {
    return NewMemoryJournalStore(std::move(options), observer);
  }
  if (absl::StartsWith(url, "sqlite://")) {
    SqliteStoreOptions so;
    so.path = url.substr(std::string("sqlite://").size());
    if (so.path.empty()) {
      return absl::InvalidArgumentError("--store: sqlite:// needs a file path");
    }
    return NewSqliteJournalStore(so, std::move(options), observer);
  }
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    postgres.dsn = url;
    return NewPostgresJournalStore(postgres, std::move(options), observer);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--store: unknown store '", RedactStoreUrl(url),
                   "'; use memory:, sqlite://<path> or postgresql://..."));
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
