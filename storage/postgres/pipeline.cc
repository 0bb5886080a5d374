#include "storage/postgres/pipeline.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/statements.h"

namespace actionjournal::postgres {
namespace {

std::string Message(const char* m) { return OneLine(m == nullptr ? "" : m); }

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

absl::Status Pipeline::Broken(absl::string_view what) {
  broken_ = true;
  open_ = false;
  return absl::UnavailableError(
      absl::StrCat("postgres: ", what, ": ", Message(PQerrorMessage(conn_))));
}

absl::StatusOr<std::vector<Result>> Pipeline::Round(bool sync) {
  if (broken_) return Broken("used after it broke");
  const std::vector<Queued> queued = std::move(queued_);
  queued_.clear();
  // Everything that can fail in our code before the first byte goes out, so
  // that a round is sent whole or not at all (a part sent and then synced
  // would commit it).
  struct Call {
    const char* command;  // a prepared statement's name, or SQL
    std::vector<const char*> values;
  };
  std::vector<Call> calls;
  calls.reserve(queued.size());
  for (const Queued& q : queued) {
    Call& call = calls.emplace_back();
    call.command = unnamed_ ? Statements().at(q.name).c_str() : q.name.c_str();
    for (const std::string& p : q.params) call.values.push_back(p.c_str());
  }
  if (!open_) {
    if (PQenterPipelineMode(conn_) != 1) return Broken("pipeline mode");
    open_ = true;
  }
  for (const Call& call : calls) {
    const int n = static_cast<int>(call.values.size());
    const int sent =
        unnamed_ ? PQsendQueryParams(conn_, call.command, n, nullptr,
                                     call.values.data(), nullptr, nullptr, 0)
                 : PQsendQueryPrepared(conn_, call.command, n,
                                       call.values.data(), nullptr, nullptr, 0);
    if (sent != 1) return Broken("send");
  }
  if (sync) {
    if (PQpipelineSync(conn_) != 1) return Broken("sync");
  } else if (PQsendFlushRequest(conn_) != 1 || PQflush(conn_) != 0) {
    return Broken("flush");
  }
  std::vector<Result> out;
  absl::Status first;
  for (size_t i = 0; i < queued.size(); ++i) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) return Broken("no result");
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
      return Broken("more results than statements");
    }
  }
  // A failed Flush ends the transaction too: it can only be rolled back.
  if (sync || !first.ok()) {
    if (absl::Status ended = sync ? DrainToSync() : End(); !ended.ok()) {
      return ended;
    }
  }
  if (!first.ok()) return first;
  return out;
}

absl::Status Pipeline::End() {
  if (broken_) return Broken("ended after it broke");
  if (PQpipelineSync(conn_) != 1) return Broken("sync");
  return DrainToSync();
}

absl::Status Pipeline::DrainToSync() {
  // Results of statements never waited for (each ends with a null), then
  // the sync's. Two nulls in a row: nothing more is coming (the connection
  // is gone: libpq answers null for ever then).
  bool after_null = false;
  for (;;) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) {
      if (after_null || PQstatus(conn_) == CONNECTION_BAD) {
        return Broken("end of pipeline");
      }
      after_null = true;
      continue;
    }
    after_null = false;
    const bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (synced) break;
  }
  open_ = false;
  if (PQexitPipelineMode(conn_) != 1) return Broken("end of pipeline");
  // A pipeline that began its transaction itself ("begin") and failed
  // before its "commit" left it open and aborted: rolled back here.
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    PGresult* r = PQexec(conn_, "ROLLBACK");
    const bool rolled_back = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!rolled_back) return Broken("rollback");
  }
  return absl::OkStatus();
}

}  // namespace actionjournal::postgres
