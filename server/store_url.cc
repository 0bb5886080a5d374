#include "server/store_url.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/memory_store.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"

namespace actionjournal {

absl::StatusOr<std::unique_ptr<JournalStore>> OpenStore(
    const std::string& url, JournalOptions options, JournalObserver* observer) {
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
    PostgresStoreOptions po;
    po.dsn = url;
    return NewPostgresJournalStore(po, std::move(options), observer);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--store: unknown store '", RedactStoreUrl(url),
      "'; use memory:, sqlite://<path> or postgresql://..."));
}

std::string StoreKind(const std::string& url) {
  if (absl::StartsWith(url, "memory:")) return "memory";
  if (absl::StartsWith(url, "sqlite://")) return "sqlite";
  if (absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://")) {
    return "postgresql";
  }
  return "unknown";
}

std::string RedactStoreUrl(const std::string& url) {
  // scheme://user:password@host -> scheme://user:***@host
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) {
    return url;
  }
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace actionjournal
