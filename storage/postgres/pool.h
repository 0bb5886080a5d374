// A bounded, self-healing pool of PostgreSQL connections, each with the
// backend's statements prepared and its session settings made.
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_POOL_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_POOL_H_

#include <atomic>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "storage/observer.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/pipeline.h"
#include "storage/postgres/statements.h"

namespace actionjournal::postgres {

struct PoolOptions {
  std::string dsn;  // libpq connection string or URI
  int size = 8;     // connections kept open
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration statement_timeout = absl::Seconds(30);  // the session's
  absl::Duration acquire_timeout = absl::Seconds(10);    // wait for a free one
  // How long a silent link may go unnoticed. This end: libpq's keepalives
  // and tcp_user_timeout fail a call whose bytes go unacknowledged, or whose
  // answer stops coming, within it. PostgreSQL's end (session settings, so
  // not behind a transaction pooler): its keepalives and tcp_user_timeout,
  // and idle_in_transaction_session_timeout, end the session of a server
  // that vanished, between a batch's round trips too, releasing its locks.
  absl::Duration link_timeout = absl::Seconds(10);
  // PostgreSQL is reached through a pooler in transaction mode (pgbouncer's
  // pool_mode=transaction), which hands each transaction (each statement
  // outside one) to any of its server connections: neither prepared
  // statements nor session settings would be there next time, so none are
  // made and Exec sends each statement's SQL unnamed.
  bool transaction_pooling = false;
};

// The TCP settings that bound a silent link to `link_timeout`, for libpq
// and for PostgreSQL's end alike: keepalive probes from half of it on,
// `count` of them, and unacknowledged bytes for at most all of it.
struct LinkTimeouts {
  int64_t idle_s = 0;
  int64_t interval_s = 0;
  int64_t count = 5;
  int64_t user_timeout_ms = 0;
};
LinkTimeouts LinkTimeoutsOf(absl::Duration link_timeout);

// Thread-safe.
class ConnectionPool {
 public:
  // `observer` (may be null) hears of the pool's use.
  ConnectionPool(PoolOptions options, JournalObserver* observer);

  // Runs f(pqxx::connection&) on a free connection, connecting it first if
  // needed, and returns what f returns; a pqxx exception becomes its status.
  // UNAVAILABLE when no connection frees up in time, none can be made, or
  // the pool was cancelled. A connection whose call failed for want of the
  // server is dropped and made anew on its next use.
  template <typename F>
  auto Run(F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
    absl::StatusOr<int> slot = Acquire();
    if (!slot.ok()) return slot.status();
    pqxx::connection& c = *slots_[*slot];
    auto out = Guard([&] { return f(c); });
    Release(*slot, out.ok() ? absl::OkStatus() : StatusOf(out));
    return out;
  }

  // Runs f(Pipeline&) on a free connection's libpq handle, as Run does; a
  // transaction f left open is ended before the connection is released.
  template <typename F>
  auto RunPipeline(F&& f) -> decltype(f(std::declval<Pipeline&>())) {
    absl::StatusOr<int> slot = Acquire();
    if (!slot.ok()) return slot.status();
    Pipeline p(handles_[*slot], options_.transaction_pooling);
    auto out = [&]() -> decltype(f(p)) {
      RETURN_IF_ERROR(PrepareForPipelines(*slot));
      return Guard([&] { return f(p); });
    }();
    absl::Status release = out.ok() ? absl::OkStatus() : StatusOf(out);
    if (p.open() && !p.broken()) {
      if (absl::Status ended = p.End(); !ended.ok()) release = ended;
    }
    if (p.broken()) {
      release = absl::UnavailableError("postgres: pipeline broke");  // drop
    }
    Release(*slot, release);
    return out;
  }

  // PQcancel on every connection in use: each running statement ends with
  // an error; later calls are refused.
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // The database is a Citus coordinator (its citus extension is created),
  // as the last connection made found.
  bool citus() const { return citus_.load(); }

  // Runs the backend's statement `name` (statements.cc) in `tx` with
  // `args`: prepared, or, under transaction pooling, as an unnamed statement
  // (Parse, Bind and Execute in one round trip, planned each time).
  template <typename... Args>
  pqxx::result Exec(pqxx::transaction_base& tx, const std::string& name,
                    Args&&... args) const {
    if (options_.transaction_pooling) {
      return tx.exec_params(Statements().at(name), std::forward<Args>(args)...);
    }
    return tx.exec_prepared(name, std::forward<Args>(args)...);
  }

 private:
  template <typename T>
  static absl::Status StatusOf(const absl::StatusOr<T>& s) {
    return s.status();
  }
  static absl::Status StatusOf(const absl::Status& s) { return s; }

  absl::StatusOr<int> Acquire();
  absl::Status PrepareForPipelines(int slot);
  void Release(int slot, const absl::Status& status);
  void ReportPool() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ConnectString() const;

  const PoolOptions options_;
  JournalObserver* const observer_;
  // slots_[i] is used only by the thread holding slot i; it is replaced
  // under mu_, so that Cancel can take a reference to a busy one.
  std::vector<std::shared_ptr<pqxx::connection>> slots_;
  // slots_[i]'s libpq handle (pqxx never reconnects it by itself).
  std::vector<PGconn*> handles_;
  // The statements are prepared on slots_[i] (char, not bool: each slot's
  // element is written by the thread holding it, concurrently).
  std::vector<char> prepared_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> citus_{false};
  absl::Mutex mu_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace actionjournal::postgres

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_POOL_H_
