// Prunes and sweeps racing writers on the same records, on PostgreSQL (READ
// COMMITTED, two stores as two server replicas would be): a record deleted
// while a writer appends to it takes every entry with it, including the
// one the writer committed while the delete waited for its lock. Afterwards
// no entry of the job is left without its record.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/journal_store.h"
#include "storage/postgres/postgres_store.h"
#include "tests/storage/store_factories.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::IsOk;

// Entries of `job` whose record does not exist.
int64_t Orphans(const std::string& dsn, const std::string& job) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  const char* kWithout =
      " t WHERE t.job_id = $1 AND NOT EXISTS (SELECT 1 FROM records r WHERE "
      "r.job_id = t.job_id AND r.record_key = t.record_key AND r.seq_num = "
      "t.seq_num)";
  return n
      .exec_params1(
          absl::StrCat("SELECT (SELECT count(*) FROM steps", kWithout,
                       ") + (SELECT count(*) FROM completions", kWithout, ")"),
          job)[0]
      .as<int64_t>();
}

TEST(PruneRaceTest, NoEntryOutlivesItsRecord) {
  const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
  if (dsn == nullptr) GTEST_SKIP() << kNoPostgres;
  const std::string job = "prune-race";
  auto replicas = PostgresReplicas(2);
  ASSERT_THAT(replicas, IsOk());
  std::vector<std::unique_ptr<JournalStore>>& stores = *replicas;
  ASSERT_THAT(stores[0]->Prune({job, {}, std::nullopt, true}), IsOk());
  constexpr int kWriters = 4, kRecords = 60, kActions = 5;
  std::atomic<int> stored{0}, refused{0}, pruned{0}, swept{0};
  std::atomic<int64_t> writing_seq[kWriters];
  for (auto& w : writing_seq) w = 0;
  std::atomic<int> writing{kWriters};
  auto count = [&](const absl::Status& s) {
    if (s.ok()) {
      ++stored;
    } else {
      EXPECT_TRUE(IsRetryable(s)) << s;  // a lost race, redone by a client
      ++refused;
    }
  };
  std::vector<std::thread> threads;
  // Writers: five completions per record, record after record; past
  // kRecords on until the pruners and the sweeper have each deleted some (on
  // a busy machine the pruners may take every record first), for at most
  // 30 s.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      JournalStore& store = *stores[t % 2];
      for (int i = 0; i < kRecords ||
                      ((pruned == 0 || swept == 0) && absl::Now() < give_up);
           ++i) {
        writing_seq[t] = i;
        for (int a = 0; a < kActions; ++a) {
          AppendRequest req;
          req.record = RecordId{job, absl::StrCat("w", t), i};
          req.action_key = absl::StrCat("act", a);
          req.entry = Completion{absl::StrCat("state ", t, "/", i, "/", a)};
          count(store.AppendAction(req).status());
        }
      }
      --writing;
    });
  }
  // Pruners, on both stores: every record up to the one being written,
  // which loses the race against its own writer's next append.
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      while (writing > 0) {
        PruneRequest req;
        req.job_id = job;
        for (int w = 0; w < kWriters; ++w) {
          req.keys.push_back({absl::StrCat("w", w), writing_seq[w].load()});
        }
        auto r = stores[p]->Prune(req);
        EXPECT_THAT(r, IsOk());
        if (r.ok()) pruned += r->records_deleted;
      }
    });
  }
  // A sweeper: the same records made due at once (a retention of a
  // microsecond) and swept.
  threads.emplace_back([&] {
    while (writing > 0) {
      PruneRequest req;
      req.job_id = job;
      req.retention = absl::Microseconds(1);
      for (int w = 0; w < kWriters; ++w) {
        req.keys.push_back({absl::StrCat("w", w), writing_seq[w].load()});
      }
      EXPECT_THAT(stores[1]->Prune(req), IsOk());
      auto r = stores[1]->Sweep(absl::Now() + absl::Seconds(1));
      EXPECT_THAT(r, IsOk());
      if (r.ok()) swept += r->retention_records;
    }
  });
  for (auto& th : threads) th.join();
  EXPECT_GT(stored.load(), 10 * refused.load()) << "mostly stored";
  EXPECT_GT(pruned.load(), 0) << "the pruners deleted records";
  EXPECT_GT(swept.load(), 0) << "the sweeper deleted records";
  EXPECT_EQ(Orphans(dsn, job), 0) << "entries left without their record";
}

// Stores `req` on a clean job, then deletes its record behind the store's
// back: its entry is left without a record, as a prune racing a writer left
// entries before that was fixed.
void LeaveOrphan(const std::string& dsn, JournalStore& store,
                 const AppendRequest& req) {
  const std::string& job = req.record.job_id;
  ASSERT_THAT(store.Prune({job, {}, std::nullopt, true}), IsOk());
  ASSERT_THAT(store.AppendAction(req), IsOk());
  pqxx::connection c(dsn);
  pqxx::work w(c);
  w.exec_params("DELETE FROM records WHERE job_id = $1", job);
  w.commit();
  ASSERT_EQ(Orphans(dsn, job), 1);
}

// A whole-job prune deletes the job's entries whose record is already gone.
TEST(PruneRaceTest, WholeJobPruneTakesOrphanedEntries) {
  const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
  if (dsn == nullptr) GTEST_SKIP() << kNoPostgres;
  auto stores = PostgresReplicas(1);
  ASSERT_THAT(stores, IsOk());
  JournalStore& store = *(*stores)[0];
  const std::string job = "orphans";
  AppendRequest req;
  req.record = RecordId{job, "k", 1};
  req.action_key = "act";
  req.entry = Completion{"state"};
  ASSERT_NO_FATAL_FAILURE(LeaveOrphan(dsn, store, req));
  auto pruned = store.Prune({job, {}, std::nullopt, true});
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->entries_deleted, 1u);
  EXPECT_EQ(Orphans(dsn, job), 0);
}

// A record written again over entries orphaned by an earlier version is
// written: the orphans go first, where before its insert collided with them
// and was redone for ever.
TEST(PruneRaceTest, AWriteOverOrphanedEntriesClearsThem) {
  const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
  if (dsn == nullptr) GTEST_SKIP() << kNoPostgres;
  auto stores = PostgresReplicas(1);
  ASSERT_THAT(stores, IsOk());
  JournalStore& store = *(*stores)[0];
  const std::string job = "orphans-rewritten";
  AppendRequest req;
  req.record = RecordId{job, "k", 1};
  req.action_key = "act";
  req.entry = Completion{"before"};
  ASSERT_NO_FATAL_FAILURE(LeaveOrphan(dsn, store, req));
  req.entry = Completion{"after"};
  auto appended = store.AppendAction(req);
  ASSERT_THAT(appended, IsOk());
  EXPECT_EQ(appended->outcome, AppendOutcome::kAppended);
  auto found = store.LookupAction(req.record, "act");
  ASSERT_THAT(found, IsOk());
  ASSERT_TRUE(found->action.has_value());
  ASSERT_TRUE(found->action->completion.has_value());
  EXPECT_EQ(found->action->completion->state, "after");
  EXPECT_EQ(Orphans(dsn, job), 0);
}

}  // namespace
}  // namespace actionjournal
