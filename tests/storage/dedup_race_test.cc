// Large-payload dedup under races on PostgreSQL (READ COMMITTED, several
// writers at once): transactions dropping a blob's last reference (prunes,
// replaces) race transactions adding one (appends of the same payload), on
// two stores as two server replicas would. Afterwards no entry references
// a missing blob and every blob's refs equals the entries holding it.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/journal_store.h"
#include "storage/postgres/postgres_store.h"
#include "tests/storage/store_factories.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::IsOk;

// Entries of `job` whose blob is missing, and blobs of `job` whose refs
// disagree with the entries holding their digest.
std::pair<int64_t, int64_t> Inconsistencies(const std::string& dsn,
                                            const std::string& job) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  const pqxx::row r = n.exec_params1(
      "SELECT (SELECT count(*) FROM steps s WHERE s.job_id = $1 AND "
      "s.blob_digest IS NOT NULL AND NOT EXISTS (SELECT 1 FROM blobs b "
      "WHERE b.job_id = s.job_id AND b.digest = s.blob_digest)) + (SELECT "
      "count(*) FROM completions c WHERE c.job_id = $1 AND c.blob_digest IS "
      "NOT NULL AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.job_id = "
      "c.job_id AND b.digest = c.blob_digest)), (SELECT count(*) FROM blobs "
      "b WHERE b.job_id = $1 AND b.refs <> (SELECT count(*) FROM steps s "
      "WHERE s.job_id = b.job_id AND s.blob_digest = b.digest) + (SELECT "
      "count(*) FROM completions c WHERE c.job_id = b.job_id AND "
      "c.blob_digest = b.digest))",
      job);
  return {r[0].as<int64_t>(), r[1].as<int64_t>()};
}

TEST(DedupRaceTest, ReferencesStayCountedWhenLastReleasesRaceAdds) {
  const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
  if (dsn == nullptr) GTEST_SKIP() << kNoPostgres;
  const std::string job = "dedup-race";
  auto replicas = PostgresReplicas(2);
  ASSERT_THAT(replicas, IsOk());
  std::vector<std::unique_ptr<JournalStore>>& stores = *replicas;
  ASSERT_THAT(stores[0]->Prune({job, {}, std::nullopt, true}), IsOk());
  // Two documents, so that replaces swap one for the other.
  const std::string docs[2] = {Incompressible(8192, 21),
                               Incompressible(8192, 22)};
  constexpr int kWriters = 4, kRounds = 150;
  std::atomic<int> stored{0}, refused{0}, wrong_reads{0};
  std::atomic<int64_t> written[kWriters];
  for (auto& w : written) w = -1;
  std::atomic<int> writing{kWriters};
  auto count = [&](const absl::Status& s) {
    if (s.ok()) {
      ++stored;
    } else {
      // A lost race (a deadlock) is retryable; nothing else is expected.
      EXPECT_TRUE(IsRetryable(s)) << s;
      ++refused;
    }
  };
  auto step_of = [](const std::string& result) {
    Step step;
    step.function_id = "search";
    step.status = StepStatus::kSucceeded;
    step.result = result;
    return step;
  };
  std::vector<std::thread> threads;
  // Writers: every record stores docs[0] as a step and as a completion,
  // and is then read back whole.
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      JournalStore& store = *stores[t % 2];
      for (int i = 0; i < kRounds; ++i) {
        AppendRequest req;
        req.record = RecordId{job, absl::StrCat("w", t), i};
        req.action_key = "tool";
        req.entry = step_of(docs[0]);
        count(store.AppendAction(req).status());
        req.entry = Completion{docs[0]};
        count(store.AppendAction(req).status());
        auto found = store.LookupAction(req.record, "tool");
        EXPECT_THAT(found, IsOk());
        if (found.ok() && found->action.has_value() &&
            (found->action->steps.empty() ||
             found->action->steps[0].result != docs[0])) {
          ++wrong_reads;
        }
        written[t] = i;
      }
      --writing;
    });
  }
  // A replacer: one step swapped between the documents, each swap
  // releasing one's reference and adding the other's in one transaction.
  threads.emplace_back([&] {
    for (int i = 0; i < kRounds; ++i) {
      AppendRequest req;
      req.record = RecordId{job, "replaced", 0};
      req.action_key = "tool";
      req.entry = step_of(docs[i % 2]);
      req.conflict_policy = ConflictPolicy::kReplaceFromHere;
      count(stores[1]->AppendAction(req).status());
    }
  });
  // Pruners, on both stores: every record written so far, as a completed
  // checkpoint would, so that docs[0]'s blob loses its last reference
  // again and again while the writers add new ones.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      while (writing > 0) {
        PruneRequest req;
        req.job_id = job;
        for (int w = 0; w < kWriters; ++w) {
          req.keys.push_back({absl::StrCat("w", w), written[w].load()});
        }
        count(stores[t]->Prune(req).status());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong_reads.load(), 0);
  EXPECT_GT(stored.load(), 10 * refused.load()) << "mostly stored";
  const auto [missing, miscounted] = Inconsistencies(dsn, job);
  EXPECT_EQ(missing, 0) << "entries referencing a missing blob";
  EXPECT_EQ(miscounted, 0) << "blobs whose refs disagree with the entries";
  // Everything pruned: no blob is left behind.
  ASSERT_THAT(stores[0]->Prune({job, {}, std::nullopt, true}), IsOk());
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  EXPECT_EQ(
      n.exec_params1("SELECT count(*) FROM blobs WHERE job_id = $1", job)[0]
          .as<int64_t>(),
      0);
}

}  // namespace
}  // namespace actionjournal
