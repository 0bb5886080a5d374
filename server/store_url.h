// Opens the store a --store URL names.
#ifndef ACTIONJOURNAL_SERVER_STORE_URL_H_
#define ACTIONJOURNAL_SERVER_STORE_URL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/group_commit.h"
#include "storage/journal_store.h"
#include "storage/postgres/postgres_store.h"

namespace actionjournal {

// "memory:", "sqlite://<path>" (sqlite:///abs/path or sqlite://rel/path),
// "postgresql://..." (a libpq URI; migrations are applied at open; the
// connection budget and timeouts come from `postgres`, whose dsn is the URL).
// INVALID_ARGUMENT for an unknown scheme; otherwise the backend's errors.
absl::StatusOr<std::unique_ptr<JournalStore>> OpenStore(
    const std::string& url, JournalOptions options = {},
    JournalObserver* observer = nullptr, PostgresStoreOptions postgres = {});

// "memory", "sqlite", "postgresql" or "unknown": the backend a URL names.
std::string StoreKind(const std::string& url);

// The URL with every secret replaced by "***", for logs. A PostgreSQL URL or
// connection string is shown as libpq parses it ("postgresql: host=..
// password=***"), so that a secret given as a query parameter
// (?password=..) or key=value is masked too.
std::string RedactStoreUrl(const std::string& url);

// The secret values the URL carries (PostgreSQL passwords), for the log to
// mask wherever they appear.
std::vector<std::string> StoreSecrets(const std::string& url);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_STORE_URL_H_
