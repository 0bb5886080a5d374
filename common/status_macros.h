// Small status helpers that Debian 12's abseil (20220623) lacks.
#ifndef ACTIONJOURNAL_COMMON_STATUS_MACROS_H_
#define ACTIONJOURNAL_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AJ_STATUS_CONCAT_INNER_(a, b) a##b
#define AJ_STATUS_CONCAT_(a, b) AJ_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) fails.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status aj_status_ = (expr);      \
    if (!aj_status_.ok()) return aj_status_; \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr)                                         \
  AJ_ASSIGN_OR_RETURN_IMPL_(AJ_STATUS_CONCAT_(aj_statusor_, __LINE__), lhs, \
                            expr)

#define AJ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // ACTIONJOURNAL_COMMON_STATUS_MACROS_H_
