// The one place pqxx exceptions become statuses (only the PostgreSQL
// backend's files include this).
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_ERRORS_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_ERRORS_H_

#include <exception>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace actionjournal::postgres {

// libpq's and PostgreSQL's messages as one line: their lines (an error, its
// LINE and caret, a HINT) joined by " | ", the trailing newline dropped.
inline std::string OneLine(absl::string_view message) {
  std::vector<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(message, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) lines.push_back(line);
  }
  return absl::StrJoin(lines, " | ");
}

// By type and SQLSTATE: a lost connection, the server shutting down or out
// of connections, or a full disk -> UNAVAILABLE (the same call may succeed
// later); serialization failure or deadlock -> ABORTED (redo the
// transaction); statement timeout or cancel -> DEADLINE_EXCEEDED; else
// INTERNAL.
inline absl::Status FromSqlState(const std::string& state,
                                 const std::string& what) {
  if (state == "40001" || state == "40P01") return absl::AbortedError(what);
  // A prepared statement the connection should have and has not: the pool
  // drops the connection and the next one prepares afresh.
  if (state == "26000") return absl::UnavailableError(what);
  if (state == "57014") return absl::DeadlineExceededError(what);
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P") ||
      state == "53300") {
    return absl::UnavailableError(what);
  }
  // A full disk: the store cannot take writes until an operator frees
  // space; the same request may then succeed, so UNAVAILABLE, as on
  // SQLite (docs/operations.md, "Failures").
  if (state == "53100") return absl::UnavailableError(what);
  // A Citus coordinator's link to a worker lost mid-command: Citus passes
  // on the worker's SQLSTATE, and libpq gives none for a connection that
  // died, so Citus says XX000, in the context of the command it ran
  // (docs/scale.md, "A worker restart").
  if (state == "XX000" &&
      absl::StrContains(what, "while executing command on")) {
    return absl::UnavailableError(what);
  }
  return absl::InternalError(what);
}

inline absl::Status FromException(const std::exception& e) {
  const std::string what = absl::StrCat("postgres: ", OneLine(e.what()));
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(what);
  }
  // libpqxx 6 (Debian 12) throws these as transaction_rollback, which is
  // not an sql_error, so they are told apart by type too.
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return absl::AbortedError(what);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return FromSqlState(sql->sqlstate(), what);
  }
  return absl::InternalError(what);
}

// Runs f (returning a Status or StatusOr), turning a pqxx exception into
// its status.
template <typename F>
auto Guard(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return FromException(e);
  }
}

}  // namespace actionjournal::postgres

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_ERRORS_H_
