#include "storage/postgres/pipeline.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/statements.h"

namespace actionjournal::postgres {
namespace {

std::string Message(const char* m) { return OneLine(m == nullptr ? "" : m); }

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
  queued_.push_back(Queued{name, params});
}

absl::StatusOr<std::vector<Result>> Pipeline::Flush() { return Round(false); }

absl::StatusOr<std::vector<Result>> Pipeline::Sync() { return Round(true); }

absl::StatusOr<std::vector<Result>> Pipeline::Round(bool sync) {
  const std::vector<Queued> queued = std::move(queued_);
  queued_.clear();
  if (!open_) {
    if (PQenterPipelineMode(conn_) != 1) return Broken(conn_, "pipeline mode");
    open_ = true;
  }
  for (const Queued& q : queued) {
    std::vector<const char*> values;
    values.reserve(q.params.size());
    for (const std::string& p : q.params) values.push_back(p.c_str());
    const int n = static_cast<int>(values.size());
    const int sent =
        unnamed_
            ? PQsendQueryParams(conn_, Statements().at(q.name).c_str(), n,
                                nullptr, values.data(), nullptr, nullptr, 0)
            : PQsendQueryPrepared(conn_, q.name.c_str(), n, values.data(),
                                  nullptr, nullptr, 0);
    if (sent != 1) return Broken(conn_, "send");
  }
  if (sync) {
    if (PQpipelineSync(conn_) != 1) return Broken(conn_, "sync");
  } else if (PQsendFlushRequest(conn_) != 1 || PQflush(conn_) != 0) {
    return Broken(conn_, "flush");
  }
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
  // A failed Flush ends the transaction too: it can only be rolled back.
  if (sync || !first.ok()) {
    if (absl::Status ended = sync ? AwaitSync() : End(); !ended.ok()) {
      return ended;
    }
  }
  if (!first.ok()) return first;
  return out;
}

absl::Status Pipeline::End() {
  if (PQpipelineSync(conn_) != 1) return Broken(conn_, "sync");
  // Results of statements queued but never waited for, then the sync.
  for (;;) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) continue;  // the end of one statement's results
    const bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (synced) break;
  }
  open_ = false;
  if (PQexitPipelineMode(conn_) != 1) return Broken(conn_, "end of pipeline");
  return absl::OkStatus();
}

absl::Status Pipeline::AwaitSync() {
  PGresult* sync = PQgetResult(conn_);
  const bool synced =
      sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  open_ = false;
  if (!synced || PQexitPipelineMode(conn_) != 1) {
    return Broken(conn_, "end of pipeline");
  }
  return absl::OkStatus();
}

}  // namespace actionjournal::postgres
