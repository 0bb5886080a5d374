#include "storage/postgres/pool.h"

#include <poll.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/postgres/statements.h"

namespace actionjournal::postgres {
namespace {

// pqxx 6 keeps a connection's libpq handle to itself, but for one protected
// accessor of its large-object class.
struct RawConnection : pqxx::largeobject {
  static PGconn* Of(const pqxx::dbtransaction& t) { return raw_connection(t); }
};

// An idle connection has nothing to read: if its socket is readable (the
// server's goodbye after a restart, a terminated backend, a failover) or
// closed, it is stale, and made anew before use instead of failing a call.
bool Stale(PGconn* conn) {
  if (conn == nullptr) return true;
  pollfd p{PQsocket(conn), POLLIN, 0};
  return p.fd < 0 || poll(&p, 1, /*timeout_ms=*/0) != 0;
}

}  // namespace

ConnectionPool::ConnectionPool(PoolOptions options, JournalObserver* observer)
    : options_(std::move(options)),
      observer_(observer),
      slots_(options_.size),
      handles_(options_.size, nullptr),
      prepared_(options_.size, 0) {
  for (int i = 0; i < options_.size; ++i) free_.push_back(i);
}

void ConnectionPool::Cancel() {
  cancelled_ = true;
  std::vector<std::shared_ptr<pqxx::connection>> busy;
  {
    absl::MutexLock lock(&mu_);
    std::vector<bool> is_free(slots_.size(), false);
    for (int slot : free_) is_free[slot] = true;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!is_free[i] && slots_[i] != nullptr) busy.push_back(slots_[i]);
    }
  }
  for (auto& c : busy) {
    Guard([&] {
      c->cancel_query();
      return absl::OkStatus();
    }).IgnoreError();
  }
}

absl::StatusOr<int> ConnectionPool::Acquire() {
  if (cancelled_.load())
    return absl::UnavailableError("postgres: the server is stopping");
  int slot;
  {
    absl::MutexLock lock(&mu_);
    auto has_free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !free_.empty();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&has_free),
                              options_.acquire_timeout)) {
      return absl::UnavailableError("postgres: no free connection in the pool");
    }
    slot = free_.back();
    free_.pop_back();
    ReportPool();
  }
  if (slots_[slot] != nullptr && slots_[slot]->is_open() &&
      !Stale(handles_[slot])) {
    return slot;
  }
  absl::Status s = Guard([&] {
    auto fresh = std::make_shared<pqxx::connection>(ConnectString());
    {
      absl::MutexLock lock(&mu_);
      slots_[slot] = fresh;
    }
    // The pipelined statements use libpq's handle, which must stay the
    // same: a broken connection is dropped and made anew, not reactivated.
    // (Deprecated only because pqxx 7 never reactivates.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    fresh->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    pqxx::work n(*fresh);
    handles_[slot] = RawConnection::Of(n);
    prepared_[slot] = 0;
    citus_ = CitusInstalled(n);
    // Behind a transaction pooler these would land on one server connection
    // of many (and stay there for whoever gets it next).
    if (options_.transaction_pooling) {
      n.commit();
      return absl::OkStatus();
    }
    n.exec(absl::StrCat("SET statement_timeout = ",
                        absl::ToInt64Milliseconds(options_.statement_timeout)));
    // The statements are few and their plans do not depend on values (key
    // lookups, unnest of the batch); planning each call anew costs more than
    // running it. Not on Citus, which routes a statement by its job's value
    // and so cannot plan one without it (docs/scale.md).
    if (!citus_) n.exec("SET plan_cache_mode = force_generic_plan");
    const LinkTimeouts link = LinkTimeoutsOf(options_.link_timeout);
    n.exec(absl::StrCat("SET tcp_keepalives_idle = ", link.idle_s));
    n.exec(absl::StrCat("SET tcp_keepalives_interval = ", link.interval_s));
    n.exec(absl::StrCat("SET tcp_keepalives_count = ", link.count));
    n.exec(absl::StrCat("SET tcp_user_timeout = ", link.user_timeout_ms));
    n.exec(absl::StrCat("SET idle_in_transaction_session_timeout = ",
                        link.user_timeout_ms));
    // The write path's reads rely on READ COMMITTED (postgres_store.cc).
    n.exec("SET default_transaction_isolation = 'read committed'");
    // PostgreSQL 14 on: a statement whose client went away (a killed server)
    // is stopped within a second instead of running on, holding its locks.
    if (fresh->server_version() >= 140000) {
      n.exec("SET client_connection_check_interval = 1000");
    }
    n.commit();
    for (const auto& [name, sql] : Statements()) fresh->prepare(name, sql);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    {
      absl::MutexLock lock(&mu_);
      slots_[slot].reset();
    }
    Release(slot, s);
    return absl::UnavailableError(s.message());
  }
  return slot;
}

absl::Status ConnectionPool::PrepareForPipelines(int slot) {
  if (options_.transaction_pooling || prepared_[slot]) return absl::OkStatus();
  // pqxx prepares on first use; pipelines run statements by name, past
  // pqxx. Not at connect: the first connection runs the migrations that
  // create the tables the statements name.
  return Guard([&] {
    for (const auto& [name, sql] : Statements())
      slots_[slot]->prepare_now(name);
    prepared_[slot] = 1;
    return absl::OkStatus();
  });
}

void ConnectionPool::Release(int slot, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  if (!status.ok() && slots_[slot] != nullptr &&
      (absl::IsUnavailable(status) || !slots_[slot]->is_open())) {
    slots_[slot].reset();
  }
  free_.push_back(slot);
  ReportPool();
}

// Free slots are touched by no thread, so mu_ covers reading them.
void ConnectionPool::ReportPool() {
  if (observer_ == nullptr) return;
  int idle = 0;
  for (int slot : free_) idle += slots_[slot] != nullptr;
  observer_->OnPool(options_.size - static_cast<int>(free_.size()), idle);
}

LinkTimeouts LinkTimeoutsOf(absl::Duration link_timeout) {
  LinkTimeouts t;
  const int64_t s = std::max<int64_t>(2, absl::ToInt64Seconds(link_timeout));
  // Probes from half the timeout on, 5 of them before it ends.
  t.idle_s = std::max<int64_t>(1, s / 2);
  t.interval_s = std::max<int64_t>(1, (s - t.idle_s) / t.count);
  t.user_timeout_ms = s * 1000;
  return t;
}

std::string ConnectionPool::ConnectString() const {
  // What the DSN says itself wins; libpq takes the last of a repeated key,
  // so ours go first in a key=value string, and only when absent in a URI.
  const LinkTimeouts link = LinkTimeoutsOf(options_.link_timeout);
  std::vector<std::pair<std::string, std::string>> ours = {
      {"connect_timeout",
       absl::StrCat(std::max<int64_t>(
           1, absl::ToInt64Seconds(options_.connect_timeout)))},
      {"keepalives", "1"},
      {"keepalives_idle", absl::StrCat(link.idle_s)},
      {"keepalives_interval", absl::StrCat(link.interval_s)},
      {"keepalives_count", absl::StrCat(link.count)},
      {"tcp_user_timeout", absl::StrCat(link.user_timeout_ms)},
  };
  const bool uri = absl::StartsWith(options_.dsn, "postgres://") ||
                   absl::StartsWith(options_.dsn, "postgresql://");
  std::string out;
  if (uri) {
    out = options_.dsn;
    for (const auto& [key, value] : ours) {
      if (absl::StrContains(options_.dsn, key + "=")) continue;
      absl::StrAppend(&out, absl::StrContains(out, "?") ? "&" : "?", key, "=",
                      value);
    }
    return out;
  }
  for (const auto& [key, value] : ours)
    absl::StrAppend(&out, key, "=", value, " ");
  return out + options_.dsn;
}

}  // namespace actionjournal::postgres
