#include "storage/postgres/pipeline.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/statements.h"

namespace actionjournal::postgres {
namespace {

// libpq's messages end with a newline.
std::string Message(const char* m) {
  return std::string(absl::StripTrailingAsciiWhitespace(m == nullptr ? "" : m));
}

// The connection is in an unknown state: the pool drops it.
absl::Status Broken(PGconn* conn, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("postgres: ", what, ": ", Message(PQerrorMessage(conn))));
}

absl::Status StatusOf(const PGresult* r) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return FromSqlState(
      state == nullptr ? "" : state,
      absl::StrCat("postgres: ", Message(PQresultErrorMessage(r))));
}

}  // namespace

int64_t Result::Int(int row, int col) const {
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

std::string Result::Bytes(int row, int col) const {
  size_t n = 0;
  unsigned char* b = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)),
      &n);
  if (b == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(b), n);
  PQfreemem(b);
  return out;
}

void Pipeline::Send(const std::string& name,
                    const std::vector<std::string>& params) {
  queued_.push_back(Queued{name, nullptr, params});
}

void Pipeline::SendSql(const char* sql) {
  queued_.push_back(Queued{"", sql, {}});
}

absl::StatusOr<std::vector<Result>> Pipeline::Sync() {
  const std::vector<Queued> queued = std::move(queued_);
  queued_.clear();
  if (PQenterPipelineMode(conn_) != 1) return Broken(conn_, "pipeline mode");
  for (const Queued& q : queued) {
    int sent;
    if (q.name.empty()) {
      sent = PQsendQueryParams(conn_, q.sql, 0, nullptr, nullptr, nullptr,
                               nullptr, 0);
    } else {
      std::vector<const char*> values;
      values.reserve(q.params.size());
      for (const std::string& p : q.params) values.push_back(p.c_str());
      const int n = static_cast<int>(values.size());
      sent = unnamed_ ? PQsendQueryParams(
                            conn_, Statements().at(q.name).c_str(), n, nullptr,
                            values.data(), nullptr, nullptr, 0)
                      : PQsendQueryPrepared(conn_, q.name.c_str(), n,
                                            values.data(), nullptr, nullptr, 0);
    }
    if (sent != 1) return Broken(conn_, "send");
  }
  if (PQpipelineSync(conn_) != 1) return Broken(conn_, "sync");
  std::vector<Result> out;
  absl::Status first;
  for (size_t i = 0; i < queued.size(); ++i) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) return Broken(conn_, "no result");
    Result result(r);
    switch (PQresultStatus(r)) {
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        out.push_back(std::move(result));
        break;
      case PGRES_PIPELINE_ABORTED:  // skipped after an earlier error
        break;
      default:
        if (first.ok()) first = StatusOf(r);
        break;
    }
    // Each statement's results end with a null.
    if (PGresult* extra = PQgetResult(conn_); extra != nullptr) {
      PQclear(extra);
      return Broken(conn_, "more results than statements");
    }
  }
  PGresult* sync = PQgetResult(conn_);
  const bool synced =
      sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced || PQexitPipelineMode(conn_) != 1) {
    return Broken(conn_, "end of pipeline");
  }
  if (!first.ok()) return first;
  return out;
}

}  // namespace actionjournal::postgres
