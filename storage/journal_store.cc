#include "storage/journal_store.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace actionjournal {

constexpr char kFencedPayload[] = "actionjournal/fenced";

absl::Status FencedError(uint64_t attempt, uint64_t stored_attempt) {
  absl::Status s = absl::FailedPreconditionError(absl::StrCat(
      "fenced: attempt ", attempt, " is below the record's attempt ",
      stored_attempt, "; a newer writer owns this record"));
  s.SetPayload(kFencedPayload, absl::Cord());
  return s;
}

bool IsFenced(const absl::Status& status) {
  return status.GetPayload(kFencedPayload).has_value();
}

constexpr char kRetryPayload[] = "actionjournal/retry";

absl::Status BusyError(absl::string_view message) {
  absl::Status s = absl::ResourceExhaustedError(message);
  s.SetPayload(kRetryPayload, absl::Cord());
  return s;
}

bool IsRetryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsAborted(status) ||
         status.GetPayload(kRetryPayload).has_value();
}

}  // namespace actionjournal
