#include "storage/dedup.h"

#include <openssl/sha.h>

namespace actionjournal {

std::optional<std::string> DedupDigest(absl::string_view stored,
                                       const DedupOptions& options) {
  if (options.min_bytes <= 0 ||
      stored.size() < static_cast<size_t>(options.min_bytes)) {
    return std::nullopt;
  }
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(stored.data()), stored.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

}  // namespace actionjournal
