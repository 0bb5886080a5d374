// Payload compression, transparent to the rules and to clients: a Backend
// decorator that stores large payloads (step results and errors, completion
// states) zstd-compressed and hands every payload back as it was sent.
//
// A stored payload is one of:
//   - the payload itself, when it is not compressed and does not begin with
//     the marker byte 0xFF (text and JSON never do: 0xFF is not UTF-8);
//   - 0xFF 'A' 'J' 0x00, then the payload (one that begins with 0xFF);
//   - 0xFF 'A' 'J' 0x01, then a zstd frame of the payload.
// So rows written before compression existed, or with it turned off, read
// back unchanged (unless one began with 0xFF 'A' 'J' 0x00 or 0x01: binary
// payloads only, written before this format).
#ifndef ACTIONJOURNAL_STORAGE_COMPRESSION_H_
#define ACTIONJOURNAL_STORAGE_COMPRESSION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/backend.h"

namespace actionjournal {

class JournalObserver;

struct CompressionOptions {
  // Payloads of at least this many bytes are compressed; 0 compresses none
  // (stored payloads, compressed or not, are still read back).
  int min_bytes = 1024;
  // zstd's level: 1 (fastest) to 19; 3 is zstd's default.
  int level = 3;
};

// The stored form of `payload`: compressed when that pays.
std::string EncodePayload(absl::string_view payload,
                          const CompressionOptions& options);
// The payload a stored form holds; DATA_LOSS when a compressed one does not
// decompress.
absl::StatusOr<std::string> DecodePayload(absl::string_view stored);

// `inner` with every payload encoded on the way in and decoded on the way
// out. `observer` (may be null) hears of each payload written, as sent and
// as stored.
std::unique_ptr<Backend> WithCompression(std::unique_ptr<Backend> inner,
                                         CompressionOptions options,
                                         JournalObserver* observer);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_COMPRESSION_H_
