// Several statements in one round trip, through libpq's pipeline mode
// (PostgreSQL 14 and later): Send each, then Flush or Sync sends them
// together and returns their results in order. Statements run one after
// another on the server, each with its own snapshot, as if sent one by one.
// Everything sent up to a Sync is one transaction (PostgreSQL's implicit
// transaction of a pipeline), committed at the Sync if every statement
// succeeded and rolled back otherwise: a Flush returns results and keeps
// the transaction open for the next round; an error ends it (rolled back).
// A pipeline may also begin and commit its transaction itself (statements
// "begin" and "commit", as on Citus, which coordinates its workers only
// inside a transaction block); an error before the commit rolls it back.
//
// A round's statements are sent before any result is read. That is safe for
// the backend's rounds, whose large parts go one way only: a write round
// sends payloads and reads counts, a read round sends keys and reads
// payloads.
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_PIPELINE_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_PIPELINE_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace actionjournal::postgres {

// One statement's rows, in text form.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}

  int rows() const { return PQntuples(r_.get()); }
  bool IsNull(int row, int col) const {
    return PQgetisnull(r_.get(), row, col) != 0;
  }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       PQgetlength(r_.get(), row, col));
  }
  int64_t Int(int row, int col) const;
  std::string Bytes(int row, int col) const;  // a bytea, unescaped

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

class Pipeline {
 public:
  // `unnamed`: statements go as their SQL (Parse, Bind, Execute each time)
  // instead of by their prepared name, as behind a transaction pooler.
  Pipeline(PGconn* conn, bool unnamed) : conn_(conn), unnamed_(unnamed) {}
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Queues the backend's statement `name` (statements.cc) with text
  // parameters.
  void Send(const std::string& name, const std::vector<std::string>& params);

  // Each sends what is queued and waits for every result: the statements'
  // results in order, or the first error's status (ABORTED, UNAVAILABLE,
  // DEADLINE_EXCEEDED or INTERNAL, as errors.h maps SQLSTATEs), the
  // transaction then rolled back. UNAVAILABLE with the connection unusable
  // when it broke mid-way. Sync ends the transaction (committing it);
  // Flush keeps it open.
  absl::StatusOr<std::vector<Result>> Flush();
  absl::StatusOr<std::vector<Result>> Sync();

  // A Flush left the transaction open.
  bool open() const { return open_; }
  // Ends it (committing what it did: the pool's caller stopped after its
  // reads); UNAVAILABLE when the connection broke.
  absl::Status End();
  // The connection failed mid-round (UNAVAILABLE was returned): its state
  // is unknown, so it is never synced again and must be dropped (the
  // server rolls back what it was not told to commit).
  bool broken() const { return broken_; }

 private:
  absl::StatusOr<std::vector<Result>> Round(bool sync);
  absl::Status Broken(absl::string_view what);
  // Reads what is left up to the Sync's result and leaves pipeline mode.
  absl::Status DrainToSync();

  struct Queued {
    std::string name;
    std::vector<std::string> params;
  };

  PGconn* const conn_;
  const bool unnamed_;
  std::vector<Queued> queued_;
  bool open_ = false;  // in pipeline mode, a transaction under way
  bool broken_ = false;
};

}  // namespace actionjournal::postgres

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_PIPELINE_H_
