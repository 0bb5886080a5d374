// IsOk() and StatusIs() matchers, which Debian 12's abseil lacks.
#ifndef ACTIONJOURNAL_TESTS_TESTING_STATUS_MATCHERS_H_
#define ACTIONJOURNAL_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace actionjournal::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status: " << s.ToString();
  return s.ok();
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status: " << s.ToString();
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, substring,
           "has code " + absl::StatusCodeToString(code) +
               " and a message with '" + std::string(substring) + "'") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status: " << s.ToString();
  return s.code() == code &&
         std::string(s.message()).find(substring) != std::string::npos;
}

// An OK StatusOr whose value equals `value`.
MATCHER_P(IsOkAndHolds, value,
          "is OK and holds " + ::testing::PrintToString(value)) {
  if (!arg.ok()) {
    *result_listener << "status: " << arg.status().ToString();
    return false;
  }
  *result_listener << "value: " << ::testing::PrintToString(*arg);
  return *arg == value;
}

}  // namespace actionjournal::testing

#endif  // ACTIONJOURNAL_TESTS_TESTING_STATUS_MATCHERS_H_
