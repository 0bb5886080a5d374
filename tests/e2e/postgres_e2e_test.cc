// End-to-end on PostgreSQL: two server processes racing on one database, and
// a PostgreSQL that stops and comes back under a running server. Needs the
// server that scripts/with-postgres.sh starts (scripts/test.sh does).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/journal_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "storage/postgres/errors.h"
#include "storage/postgres/migrate.h"
#include "storage/postgres/migrations.h"
#include "tests/testing/eventually.h"
#include "tests/testing/scrape.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::Delta;
using ::actionjournal::testing::Eventually;
using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::Scrape;
using ::actionjournal::testing::ServerProcess;
using ::actionjournal::testing::StatusIs;
using ::actionjournal::testing::TempDir;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

v1::AppendActionRequest Completion(const std::string& job,
                                   const std::string& action,
                                   const std::string& state) {
  v1::AppendActionRequest req;
  req.mutable_record()->set_job_id(job);
  req.mutable_record()->set_record_key("key");
  req.mutable_record()->set_seq_num(1);
  req.set_action_key(action);
  req.mutable_completion()->set_state(state);
  return req;
}

class PostgresE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = Env("ACTIONJOURNAL_TEST_POSTGRES_DSN");
    ASSERT_FALSE(dsn_.empty())
        << "run under scripts/with-postgres.sh (scripts/test.sh does)";
    dir_ = TempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  std::unique_ptr<ServerProcess> Start(int n,
                                       std::vector<std::string> extra = {}) {
    extra.push_back("--store=" + dsn_);
    auto s =
        ServerProcess::Start(extra, absl::StrCat(dir_, "/server-", n, ".log"));
    EXPECT_THAT(s, IsOk());
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // attempts = 1: the server's own answers, without the client's retries.
  static std::unique_ptr<JournalClient> Client(
      const ServerProcess& s, absl::Duration deadline = absl::Seconds(10),
      int attempts = 10, bool coalesce = true) {
    ClientOptions o;
    o.target = s.Target();
    o.coalesce_appends = coalesce;
    o.deadline = deadline;
    o.retry.max_attempts = attempts;
    return std::move(JournalClient::Create(o)).value();
  }

  std::string dsn_, dir_;
};

// 16 threads through two servers append different results under the same
// identities: each identity stores one, and every caller is handed that one.
TEST_F(PostgresE2eTest, TwoServersRacingStoreOneResultPerIdentity) {
  auto a = Start(0);
  auto b = Start(1);
  ASSERT_TRUE(a && b);
  constexpr int kThreads = 16, kActions = 40;
  absl::Mutex mu;
  std::map<int, std::vector<std::string>> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = Client(t % 2 ? *a : *b);
      for (int i = 0; i < kActions; ++i) {
        auto r = client->AppendAction(Completion(
            "race2", absl::StrCat("act", i), absl::StrCat("writer", t)));
        ASSERT_THAT(r, IsOk());
        absl::MutexLock l(&mu);
        seen[i].push_back(r->stored_completion().state());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto client = Client(*a);
  for (int i = 0; i < kActions; ++i) {
    v1::LookupActionRequest req;
    *req.mutable_record() = Completion("race2", "", "").record();
    req.set_action_key(absl::StrCat("act", i));
    auto l = client->LookupAction(req);
    ASSERT_THAT(l, IsOk());
    ASSERT_TRUE(l->found());
    ASSERT_EQ(seen[i].size(), static_cast<size_t>(kThreads));
    for (const std::string& s : seen[i])
      EXPECT_EQ(s, l->action().completion().state());
  }
}

int Psql(const std::string& dsn, const std::string& sql) {
  return std::system(("psql -X -q -v ON_ERROR_STOP=1 '" + dsn + "' -c \"" +
                      sql + "\" >/dev/null")
                         .c_str());
}

// `migrate` applies the schema and exits 0; a database newer than the server
// makes it refuse to start, with a clear message.
TEST_F(PostgresE2eTest, MigrateAndRefuseNewerSchema) {
  const std::string migrate =
      absl::StrCat(testing::ServerBinary(), " migrate --store='", dsn_, "' 2>",
                   dir_, "/migrate.log");
  EXPECT_EQ(std::system(migrate.c_str()), 0);
  ASSERT_EQ(Psql(dsn_,
                 "INSERT INTO schema_migrations (version, name) VALUES "
                 "(9999, '9999_future.sql')"),
            0);
  auto refused = ServerProcess::Start({"--store=" + dsn_}, dir_ + "/newer.log",
                                      absl::Seconds(20));
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kInternal,
                       "schema version 9999 is newer than this server's"));
  EXPECT_NE(std::system(migrate.c_str()), 0);
  ASSERT_EQ(Psql(dsn_, "DELETE FROM schema_migrations WHERE version = 9999"),
            0);
  EXPECT_EQ(std::system(migrate.c_str()), 0);
}

// A new database `name` on the test server with migrations 0001 to
// `version` applied (by the server's own Migrate), as a server of that
// version left it; its URL, or "" (and a failure).
std::string DatabaseAtMigration(const std::string& dsn, const std::string& name,
                                int version) {
  Psql(dsn, "DROP DATABASE IF EXISTS " + name);
  if (Psql(dsn, "CREATE DATABASE " + name) != 0) {
    ADD_FAILURE() << "cannot create " << name;
    return "";
  }
  const std::string db = dsn.substr(0, dsn.rfind('/')) + "/" + name;
  const absl::Status migrated = postgres::Guard([&] {
    pqxx::connection c(db);
    return postgres::Migrate(c, version);
  });
  if (!migrated.ok()) {
    ADD_FAILURE() << "cannot migrate " << name << ": " << migrated;
    return "";
  }
  return db;
}

// Upgrades: a server started on a database of an older schema.
class PostgresUpgradeTest : public PostgresE2eTest {
 protected:
  // A server on the new database `name` (old_db_) of migration `version`
  // (DatabaseAtMigration), with `sql` run on it and with `flags`; null (and
  // a failure) if it cannot be.
  std::unique_ptr<ServerProcess> StartOnOldSchema(
      const std::string& name, int version, const std::string& sql,
      std::vector<std::string> flags) {
    old_db_ = DatabaseAtMigration(dsn_, name, version);
    if (old_db_.empty()) return nullptr;
    if (Psql(old_db_, sql) != 0) {
      ADD_FAILURE() << "cannot run on " << name << ": " << sql;
      return nullptr;
    }
    flags.push_back("--store=" + old_db_);
    auto s = ServerProcess::Start(flags, dir_ + "/upgrade.log");
    EXPECT_THAT(s, IsOk());
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::string old_db_;
};

// A database that ran the withdrawn 0006 (its version recorded), holding
// records with attempts of their own, is upgraded by 0007: the first
// attempt issued is above theirs.
TEST_F(PostgresUpgradeTest, JobAttemptsMigrationIssuesAboveStoredAttempts) {
  auto server = StartOnOldSchema(
      "aj_attempts_upgrade", 5,
      "INSERT INTO schema_migrations (version, name) VALUES (6, "
      "'0006_orphans.sql'); INSERT INTO records (job_id, record_key, "
      "seq_num, attempt, input_fingerprint) VALUES ('old-job', 'k', 1, "
      "12, '')",
      {});
  ASSERT_TRUE(server);
  v1::IssueAttemptRequest issue;
  issue.set_job_id("old-job");
  auto issued = Client(*server)->IssueAttempt(issue);
  ASSERT_THAT(issued, IsOk());
  EXPECT_EQ(issued->attempt(), 13u);
}

// A database of migration 0001 alone, holding a record, is upgraded by
// 0002 without expiring it: its record counts as written at the upgrade.
TEST_F(PostgresUpgradeTest, RetentionMigrationKeepsExistingRecords) {
  auto server = StartOnOldSchema(
      "aj_upgrade", 1,
      "INSERT INTO records VALUES ('old-job', 'k', 1, 0, "
      "'', NULL); INSERT INTO completions VALUES ('old-job', 'k', "
      "1, 'act', 'state', 0, 0, 0)",
      {"--record-ttl=1h", "--sweep-interval=50ms"});
  ASSERT_TRUE(server);
  // Several sweeps, each of which would have expired it.
  EXPECT_TRUE(Eventually(
      [&] {
        auto m = Scrape(server->metrics_port());
        return m.ok() && (*m)["actionjournal_sweep_batches_total"] >= 3;
      },
      absl::Seconds(30), absl::Milliseconds(50)));
  v1::LookupActionRequest lookup;
  lookup.mutable_record()->set_job_id("old-job");
  lookup.mutable_record()->set_record_key("k");
  lookup.mutable_record()->set_seq_num(1);
  lookup.set_action_key("act");
  auto found = Client(*server)->LookupAction(lookup);
  ASSERT_THAT(found, IsOk());
  EXPECT_TRUE(found->found());
  EXPECT_EQ(found->action().completion().state(), "state");
  EXPECT_EQ(Psql(old_db_,
                 "DO \\$\\$ BEGIN IF (SELECT written_at_us FROM records) < "
                 "extract(epoch FROM now()) * 1000000 - 60000000 THEN RAISE "
                 "EXCEPTION 'written_at_us not the upgrade time'; END IF; END "
                 "\\$\\$"),
            0);
}

// A database of migration 0004, holding a large payload inline, is upgraded
// by 0005: the payload stays inline and reads back; the same bytes written
// since are stored once, and both read back.
TEST_F(PostgresUpgradeTest, DedupMigrationKeepsPayloadsInline) {
  // Uncompressed, so that the 4 KiB stay 4 KiB as stored.
  auto server = StartOnOldSchema(
      "aj_dedup_upgrade", 4,
      "INSERT INTO records (job_id, record_key, seq_num, attempt, "
      "input_fingerprint) VALUES ('old-job', 'key', 1, 0, ''); INSERT "
      "INTO completions VALUES ('old-job', 'key', 1, 'act', "
      "decode(repeat('ab', 4096), 'hex'), 0, 0, 0)",
      {"--compression-min-bytes=0", "--dedup-min-bytes=2048"});
  ASSERT_TRUE(server);
  const std::string payload(4096, '\xab');
  auto client = Client(*server);
  v1::AppendActionRequest again = Completion("old-job", "act", payload);
  again.mutable_record()->set_seq_num(2);
  ASSERT_THAT(client->AppendAction(again), IsOk());
  for (int64_t seq : {1, 2}) {
    v1::LookupActionRequest lookup;
    *lookup.mutable_record() = again.record();
    lookup.mutable_record()->set_seq_num(seq);
    lookup.set_action_key("act");
    auto found = client->LookupAction(lookup);
    ASSERT_THAT(found, IsOk());
    ASSERT_TRUE(found->found()) << seq;
    EXPECT_EQ(found->action().completion().state(), payload) << seq;
  }
  EXPECT_EQ(Psql(old_db_,
                 "DO \\$\\$ BEGIN IF (SELECT count(*) FROM completions WHERE "
                 "blob_digest IS NULL AND length(state) = 4096) <> 1 OR "
                 "(SELECT count(*) FROM blobs WHERE refs = 1) <> 1 THEN RAISE "
                 "EXCEPTION 'not one inline and one stored once'; END IF; END "
                 "\\$\\$"),
            0);
}

// A database of migration 0008, whose blob references triggers released,
// holding a payload stored once for two records, is upgraded by 0009
// (statements release them, Citus runs no triggers): the triggers go, the
// blob stays while a record holds it and goes with the last one.
TEST_F(PostgresUpgradeTest, ReleaseMigrationKeepsBlobsCounted) {
  old_db_ = DatabaseAtMigration(dsn_, "aj_release_upgrade", 8);
  ASSERT_FALSE(old_db_.empty());
  ASSERT_EQ(Psql(old_db_,
                 "INSERT INTO records (job_id, record_key, seq_num, attempt, "
                 "input_fingerprint) VALUES ('old-job', 'a', 1, 0, ''), "
                 "('old-job', 'b', 1, 0, ''); INSERT INTO blobs VALUES "
                 "('old-job', '\\x01', 'stored once', 2); INSERT INTO "
                 "completions (job_id, record_key, seq_num, action_key, state, "
                 "input_tokens, output_tokens, micro_usd, blob_digest) VALUES "
                 "('old-job', 'a', 1, 'act', '', 0, 0, 0, '\\x01'), "
                 "('old-job', 'b', 1, 'act', '', 0, 0, 0, '\\x01')"),
            0);
  auto server = ServerProcess::Start({"--store=" + old_db_},
                                     dir_ + "/release-upgrade.log");
  ASSERT_THAT(server, IsOk());
  auto client = Client(**server);
  auto refs_are = [&](const std::string& expected) {
    return Psql(old_db_,
                absl::StrCat("DO \\$\\$ BEGIN IF (SELECT coalesce(string_agg("
                             "refs::text, ','), 'none') FROM blobs) <> '",
                             expected,
                             "' OR EXISTS (SELECT 1 FROM pg_trigger WHERE NOT "
                             "tgisinternal AND tgrelid IN ('steps'::regclass, "
                             "'completions'::regclass)) THEN RAISE EXCEPTION "
                             "'not %', '",
                             expected, "'; END IF; END \\$\\$")) == 0;
  };
  EXPECT_TRUE(refs_are("2"));
  v1::LookupActionRequest lookup;
  lookup.mutable_record()->set_job_id("old-job");
  lookup.mutable_record()->set_record_key("b");
  lookup.mutable_record()->set_seq_num(1);
  lookup.set_action_key("act");
  auto found = client->LookupAction(lookup);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->action().completion().state(), "stored once");
  for (const auto& [key, left] :
       {std::pair<std::string, std::string>{"a", "1"}, {"b", "none"}}) {
    v1::PruneRequest prune;
    prune.set_job_id("old-job");
    prune.set_retention_millis(0);
    auto* k = prune.add_keys();
    k->set_record_key(key);
    k->set_up_to_seq_num(1);
    auto pruned = client->Prune(prune);
    ASSERT_THAT(pruned, IsOk());
    EXPECT_EQ(pruned->records_deleted(), 1u) << key;
    EXPECT_TRUE(refs_are(left)) << "after pruning " << key;
  }
}

// The journal's tables carry their own autovacuum thresholds
// (migrations/0004_autovacuum.sql), so that a day of retained records does
// not carry a fifth of itself again as dead rows.
TEST_F(PostgresE2eTest, JournalTablesVacuumAtTwoPercentDead) {
  const std::string migrate =
      absl::StrCat(testing::ServerBinary(), " migrate --store='", dsn_, "' 2>",
                   dir_, "/autovacuum-migrate.log");
  ASSERT_EQ(std::system(migrate.c_str()), 0);
  EXPECT_EQ(Psql(dsn_,
                 "DO \\$\\$ BEGIN IF (SELECT count(*) FROM pg_class WHERE "
                 "relname IN ('records', 'steps', 'completions') AND "
                 "reloptions @> "
                 "ARRAY['autovacuum_vacuum_scale_factor=0.02']) <> 3 THEN "
                 "RAISE EXCEPTION 'autovacuum settings missing'; END IF; END "
                 "\\$\\$"),
            0);
}

// Replicas starting together on an empty database apply each migration once.
TEST_F(PostgresE2eTest, ReplicasStartingTogetherMigrateOnce) {
  Psql(dsn_, "DROP DATABASE IF EXISTS aj_fresh");
  ASSERT_EQ(Psql(dsn_, "CREATE DATABASE aj_fresh"), 0);
  const std::string fresh = dsn_.substr(0, dsn_.rfind('/')) + "/aj_fresh";
  std::unique_ptr<ServerProcess> servers[3];
  std::vector<std::thread> starts;
  for (int i = 0; i < 3; ++i) {
    starts.emplace_back([&, i] {
      auto s = ServerProcess::Start({"--store=" + fresh},
                                    absl::StrCat(dir_, "/replica-", i, ".log"));
      EXPECT_THAT(s, IsOk());
      if (s.ok()) servers[i] = std::move(s).value();
    });
  }
  for (auto& t : starts) t.join();
  int applied = 0;
  for (auto& s : servers) {
    ASSERT_TRUE(s);
    const std::string log = s->Log();
    for (size_t at = log.find("applied migration"); at != std::string::npos;
         at = log.find("applied migration", at + 1)) {
      ++applied;
    }
  }
  // Every migration file, applied by one replica.
  EXPECT_EQ(applied, static_cast<int>(Migrations().size()));
  EXPECT_EQ(Psql(fresh, absl::StrCat(
                            "DO \\$\\$ BEGIN IF (SELECT count(*) FROM "
                            "schema_migrations) <> ",
                            Migrations().size(),
                            " THEN RAISE EXCEPTION 'wrong count'; END IF; END "
                            "\\$\\$")),
            0);
  auto client = Client(*servers[2]);
  EXPECT_THAT(client->AppendAction(Completion("fresh", "a", "s")), IsOk());
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(
    const ServerProcess& s, const std::string& service = "") {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(s.Target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  if (!stub->Check(&ctx, req, &resp).ok()) return resp.UNKNOWN;
  return resp.status();
}

// PostgreSQL stops: calls answer UNAVAILABLE within their deadline and health
// says NOT_SERVING. It comes back: the same server recovers by itself.
TEST_F(PostgresE2eTest, SurvivesPostgresRestartWithoutRestarting) {
  ASSERT_FALSE(Env("AJ_PG_STOP").empty());
  auto s = Start(0, {"--health-interval=100ms"});
  ASSERT_TRUE(s);
  // One AppendAction per append, so that the call's own code is counted.
  auto client =
      Client(*s, absl::Seconds(5), /*attempts=*/1, /*coalesce=*/false);
  ASSERT_THAT(client->AppendAction(Completion("restart", "before", "S")),
              IsOk());
  EXPECT_EQ(Health(*s), grpc::health::v1::HealthCheckResponse::SERVING);
  // Connections opened so far wait in the pool; none is held between calls
  // (but the health check's ping, every 100 ms, for a moment: scraped again
  // while one is under way).
  constexpr char kInUse[] =
      R"(actionjournal_store_connections{state="in_use"})";
  absl::StatusOr<testing::Samples> up;
  Eventually(
      [&] {
        up = Scrape(s->metrics_port());
        return up.ok() && (*up)[kInUse] == 0;
      },
      absl::Milliseconds(400), absl::Milliseconds(20));
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ((*up)[kInUse], 0);
  EXPECT_GE((*up)[R"(actionjournal_store_connections{state="idle"})"], 1);
  EXPECT_EQ(
      (*up)[R"(actionjournal_build_info{store="postgresql",version="0.1.0"})"],
      1);

  ASSERT_EQ(std::system(Env("AJ_PG_STOP").c_str()), 0);
  const absl::Time start = absl::Now();
  auto down = client->AppendAction(Completion("restart", "during", "S"));
  EXPECT_THAT(down, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  auto refused = Scrape(s->metrics_port());
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(Delta(*up, *refused,
                  R"(actionjournal_store_errors_total{code="UNAVAILABLE"})"),
            1);
  EXPECT_EQ(
      Delta(
          *up, *refused,
          R"(actionjournal_requests_total{code="UNAVAILABLE",method="AppendAction"})"),
      1);
  EXPECT_TRUE(Eventually(
      [&] {
        return Health(*s) == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
      },
      absl::Seconds(10), absl::Milliseconds(50)));
  // Readiness follows the store; liveness does not (a restart would not help).
  EXPECT_EQ(Health(*s, "actionjournal.v1.ActionJournal"),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(*s, "liveness"),
            grpc::health::v1::HealthCheckResponse::SERVING);
  auto store_ready = [&] {
    auto m = Scrape(s->metrics_port());
    return m.ok() ? (*m)["actionjournal_store_ready"] : -1;
  };
  EXPECT_TRUE(Eventually([&] { return store_ready() == 0; }, absl::Seconds(5),
                         absl::Milliseconds(50)));

  ASSERT_EQ(std::system(Env("AJ_PG_START").c_str()), 0);
  EXPECT_TRUE(Eventually(
      [&] {
        return Health(*s) == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(20), absl::Milliseconds(50)));
  absl::StatusOr<v1::AppendActionResponse> again;
  EXPECT_TRUE(Eventually(
      [&] {
        again = client->AppendAction(Completion("restart", "during", "S"));
        return again.ok();
      },
      absl::Seconds(20), absl::Milliseconds(50)));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(Eventually([&] { return store_ready() == 1; }, absl::Seconds(5),
                         absl::Milliseconds(50)));
  // The refused call wrote nothing; the acknowledged one is still there.
  EXPECT_EQ(again->outcome(), v1::APPEND_OUTCOME_APPENDED);
  auto before = client->AppendAction(Completion("restart", "before", "S"));
  ASSERT_THAT(before, IsOk());
  EXPECT_EQ(before->outcome(), v1::APPEND_OUTCOME_DUPLICATE);
}

// SIGTERM while a store call waits on a row lock that another session holds:
// the client was answered at the grace, but the process lived on for its
// statement timeout, twice (59-65 s), and a pod would be SIGKILLed. Now the
// store's statements are cancelled at the grace and the process exits.
TEST_F(PostgresE2eTest, SigtermExitsSoonAfterTheGraceWhenTheStoreIsStuck) {
  auto server = Start(0, {"--shutdown-grace=2s"});
  ASSERT_NE(server, nullptr);
  auto client = Client(*server, absl::Seconds(30), /*attempts=*/1);
  // A job of this run's own: a lock left by an earlier run's killed psql
  // (held until PostgreSQL notices) must not be in the way.
  const std::string job =
      absl::StrCat("stuck-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
  ASSERT_THAT(client->AppendAction(Completion(job, "a", "first")), IsOk());

  // Another session locks the record's row and sleeps.
  const pid_t locker = fork();
  if (locker == 0) {
    execlp("psql", "psql", "-q", "-d", dsn_.c_str(), "-c",
           absl::StrCat("BEGIN; SELECT 1 FROM records WHERE job_id = '", job,
                        "' FOR UPDATE; SELECT pg_sleep(120); COMMIT;")
               .c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  struct KillLocker {
    pid_t pid;
    ~KillLocker() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } kill_locker{locker};
  // Wait until the lock is held: a probe that needs it gives up at once.
  const std::string probe =
      absl::StrCat("psql -q -t -d '", dsn_,
                   "' -c \"SET lock_timeout = '50ms'; SELECT 1 FROM records "
                   "WHERE job_id = '",
                   job, "' FOR UPDATE\" >/dev/null 2>&1");
  ASSERT_TRUE(Eventually([&] { return std::system(probe.c_str()) != 0; },
                         absl::Seconds(20), absl::Milliseconds(50)))
      << "the row lock was never taken";

  absl::Status stuck_call = absl::UnknownError("not answered");
  std::thread caller([&] {
    stuck_call = client->AppendAction(Completion(job, "b", "second")).status();
  });
  // The append waits on the lock: a backend of the server's waits for one.
  const std::string waiting = absl::StrCat(
      "test \"$(psql -q -t -A -d '", dsn_,
      "' -c \"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
      "'Lock'\")\" -gt 0");
  ASSERT_TRUE(Eventually([&] { return std::system(waiting.c_str()) == 0; },
                         absl::Seconds(20), absl::Milliseconds(50)))
      << "the append never waited on the lock";
  const absl::Time start = absl::Now();
  auto code = server->Stop(SIGTERM, absl::Seconds(60));
  const absl::Duration took = absl::Now() - start;
  caller.join();
  ASSERT_THAT(code, IsOk());
  EXPECT_LT(took, absl::Seconds(6)) << "grace 2 s; took " << took;
  EXPECT_FALSE(stuck_call.ok())
      << "an append that never committed is not acknowledged";
  EXPECT_THAT(server->Log(),
              ::testing::HasSubstr("cancelling the store's calls"));
}

// A full disk on PostgreSQL was RESOURCE_EXHAUSTED, which clients must not
// retry, while SQLite said UNAVAILABLE. Both are UNAVAILABLE now (retryable;
// an operator frees space), readiness goes NOT_SERVING and the log says why.
// The database lives in a tablespace on a small tmpfs (so this needs root);
// PostgreSQL's WAL stays on its own disk.
TEST_F(PostgresE2eTest, AFullDiskIsUnavailableAndNotReady) {
  // Not under the test's temp dir, which PostgreSQL's user cannot enter.
  char tmpl[] = "/tmp/aj-pg-tiny-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string mnt = tmpl;
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=16m,mode=0700") != 0) {
    rmdir(mnt.c_str());
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): "
                 << strerror(errno);
  }
  const std::string admin =
      absl::StrCat("psql -q -v ON_ERROR_STOP=1 -d '", dsn_, "' -c ");
  struct Cleanup {
    std::string admin, mnt;
    ~Cleanup() {
      std::system((admin + "'DROP DATABASE IF EXISTS aj_full' >/dev/null 2>&1")
                      .c_str());
      std::system(
          (admin + "'DROP TABLESPACE IF EXISTS aj_tiny' >/dev/null 2>&1")
              .c_str());
      umount2(mnt.c_str(), MNT_DETACH);
      rmdir(mnt.c_str());
    }
  } cleanup{admin, mnt};
  ASSERT_EQ(std::system(("chown postgres '" + mnt + "'").c_str()), 0);
  ASSERT_EQ(std::system(
                (admin + "\"CREATE TABLESPACE aj_tiny LOCATION '" + mnt + "'\"")
                    .c_str()),
            0);
  ASSERT_EQ(
      std::system(
          (admin + "'CREATE DATABASE aj_full TABLESPACE aj_tiny'").c_str()),
      0);
  std::string full_dsn = dsn_;
  full_dsn.replace(full_dsn.rfind('/') + 1, std::string::npos, "aj_full");

  auto s = ServerProcess::Start(
      {"--store=" + full_dsn, "--health-interval=100ms"}, dir_ + "/server.log");
  ASSERT_THAT(s, IsOk());
  auto server = std::move(s).value();
  auto client = Client(*server, absl::Seconds(10), /*attempts=*/1);
  // Incompressible payloads, so that TOAST cannot shrink them.
  uint64_t x = 88172645463325252ull;
  absl::Status failed;
  int stored = 0;
  for (int i = 0; i < 800 && failed.ok(); ++i) {
    std::string payload(64 * 1024, '\0');
    for (char& c : payload) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
    auto req = Completion("full", absl::StrCat("a", i), payload);
    auto r = client->AppendAction(req);
    if (r.ok()) {
      ++stored;
    } else {
      failed = r.status();
    }
  }
  ASSERT_FALSE(failed.ok()) << "16 MiB never filled";
  EXPECT_GT(stored, 0);
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      server->Target(), grpc::InsecureChannelCredentials()));
  auto ready = [&] {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
    return resp.status();
  };
  grpc::health::v1::HealthCheckResponse::ServingStatus status;
  Eventually(
      [&] {
        status = ready();
        return status != grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(5), absl::Milliseconds(50));
  EXPECT_EQ(status, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_THAT(server->Log(), ::testing::HasSubstr("writes fail"));
  server.reset();  // SIGKILL: the database can be dropped
}

}  // namespace
}  // namespace actionjournal
