// Opens the store a --store URL names.
#ifndef ACTIONJOURNAL_SERVER_STORE_URL_H_
#define ACTIONJOURNAL_SERVER_STORE_URL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/journal.h"
#include "storage/journal_store.h"

namespace actionjournal {

// "memory:", "sqlite://<path>" (sqlite:///abs/path or sqlite://rel/path),
// "postgresql://..." (a libpq URI; migrations are applied at open).
// INVALID_ARGUMENT for an unknown scheme; otherwise the backend's errors.
absl::StatusOr<std::unique_ptr<JournalStore>> OpenStore(
    const std::string& url, JournalOptions options = {},
    JournalObserver* observer = nullptr);

// "memory", "sqlite", "postgresql" or "unknown": the backend a URL names.
std::string StoreKind(const std::string& url);

// The URL with any password replaced by "***", for logs.
std::string RedactStoreUrl(const std::string& url);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_STORE_URL_H_
