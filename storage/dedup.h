// Large-payload dedup: a stored payload (after compression) of at least
// DedupOptions::min_bytes is stored once per job, in a blobs table keyed by
// (job_id, digest) with a reference count, and the entry holds the digest.
// Each backend does it inside its own write transaction (the SQL ones with
// an upsert and triggers, docs/decisions.md); reads resolve the digest, so
// the rules and clients see the payload as stored inline.
#ifndef ACTIONJOURNAL_STORAGE_DEDUP_H_
#define ACTIONJOURNAL_STORAGE_DEDUP_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace actionjournal {

struct DedupOptions {
  // Stored payloads (step results, completion states) of at least this many
  // bytes are stored once per job; 0 stores every payload inline (what is
  // stored once is still read back). 2 KiB: PostgreSQL stores values that
  // large out of line already, and a blob's own overhead (a row, an index
  // entry, the 32-byte digest in the entry) stays under a tenth of it.
  int min_bytes = 2048;
};

// The digest `stored` is kept under when it is stored once (SHA-256, 32
// bytes), or nullopt when it is stored inline.
std::optional<std::string> DedupDigest(absl::string_view stored,
                                       const DedupOptions& options);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_DEDUP_H_
