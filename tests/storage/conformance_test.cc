// One suite of the journal's rules, run unchanged against every backend.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/journal_store.h"
#include "storage/memory/memory_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/store_factories.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::IsOkAndHolds;
using ::actionjournal::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::SizeIs;

Step MakeStep(uint32_t index, StepStatus status, std::string fn = "llm.chat",
              std::string digest = "d1", std::string payload = "") {
  Step s;
  s.index = index;
  s.function_id = std::move(fn);
  s.args_digest = std::move(digest);
  s.status = status;
  if (status == StepStatus::kSucceeded) s.result = std::move(payload);
  if (status == StepStatus::kFailed) s.error = std::move(payload);
  return s;
}

class ConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    now_ = absl::FromUnixSeconds(1'700'000'000);
    JournalOptions options;
    options.record_ttl = kTtl;
    options.sweep_batch = 2;  // so that every sweep takes several batches
    options.clock = [this] {
      absl::MutexLock l(&clock_mu_);
      return now_;
    };
    auto store = GetParam().make(options);
    if (store.status().message() == kNoPostgres) GTEST_SKIP() << kNoPostgres;
    ASSERT_THAT(store, IsOk());
    store_ = std::move(store).value();
    // Each test gets its own job so a shared database needs no cleanup.
    job_ = std::string(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : job_) {
      if (c == '/') c = '.';
    }
    ASSERT_THAT(store_->Prune({job_, {}, std::nullopt, true}), IsOk());
  }

  void Advance(absl::Duration d) {
    absl::MutexLock l(&clock_mu_);
    now_ += d;
  }

  // Sweeping checks (SweepsDeleteWhatRetentionAndTtlMakeDue).
  void RetentionKeepsPrunedRecordsUntilItPasses();
  void TtlSweepsRecordsUnwrittenForLonger();
  void SweepsManyRecordsInBoundedBatches();

  void GoBack(absl::Duration d) {
    absl::MutexLock l(&clock_mu_);
    now_ -= d;
  }
  absl::Time Now() {
    absl::MutexLock l(&clock_mu_);
    return now_;
  }
  static constexpr absl::Duration kTtl = absl::Hours(24 * 7);

  RecordId Rec(std::string key = "user-1", int64_t seq = 0) {
    return RecordId{job_, std::move(key), seq};
  }

  absl::StatusOr<AppendResult> Append(
      const RecordId& r, std::string action, Entry entry, uint64_t attempt = 0,
      ConflictPolicy policy = ConflictPolicy::kKeepStored, Cost cost = {}) {
    AppendRequest req;
    req.record = r;
    req.action_key = std::move(action);
    req.attempt = attempt;
    req.entry = std::move(entry);
    req.cost = cost;
    req.conflict_policy = policy;
    return store_->AppendAction(req);
  }

  absl::StatusOr<BeginResult> Begin(const RecordId& r, uint64_t attempt = 0,
                                    std::string fp = "", bool reset = false) {
    return store_->BeginRecord({r, attempt, std::move(fp), reset});
  }

  // The job's stats (a zero row when it has no records).
  JobStats StatsOf(const std::string& job) {
    auto stats = store_->Stats(job);
    EXPECT_THAT(stats, IsOk());
    if (!stats.ok() || stats->empty()) return JobStats{};
    return stats->front();
  }

  std::vector<Step> StepsOf(const RecordId& r, const std::string& action) {
    auto found = store_->LookupAction(r, action);
    EXPECT_THAT(found, IsOk());
    if (!found.ok() || !found->action.has_value()) return {};
    return found->action->steps;
  }

  absl::Mutex clock_mu_;
  absl::Time now_ ABSL_GUARDED_BY(clock_mu_);
  std::unique_ptr<JournalStore> store_;
  std::string job_;
};

TEST_P(ConformanceTest, BeginCreatesThenReopens) {
  auto first = Begin(Rec(), 3, "fp");
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->status, RecordStatus::kNew);
  EXPECT_EQ(first->attempt, 3u);
  EXPECT_THAT(first->actions, SizeIs(0));

  auto again = Begin(Rec(), 3, "fp");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->status, RecordStatus::kOpen);
  EXPECT_FALSE(again->input_mismatch);
}

// IssueAttempt (DESIGN 3): the first above every record's stored attempt,
// then strictly rising, per job, and kept when the job's records go.
TEST_P(ConformanceTest, IssuedAttemptsRiseAboveEveryStoredOne) {
  ASSERT_THAT(Begin(Rec("a"), 7), IsOk());
  ASSERT_THAT(Begin(Rec("b"), 3), IsOk());
  EXPECT_THAT(store_->IssueAttempt(job_), IsOkAndHolds(8u));
  EXPECT_THAT(store_->IssueAttempt(job_), IsOkAndHolds(9u));
  ASSERT_THAT(store_->Prune({job_, {}, std::nullopt, true}), IsOk());
  EXPECT_THAT(store_->IssueAttempt(job_), IsOkAndHolds(10u));
  ASSERT_THAT(Begin(Rec("a"), 4), IsOk());  // below: counted on from 10
  // A record begun with a higher attempt of the client's own is passed too.
  ASSERT_THAT(Begin(Rec("d"), 40), IsOk());
  EXPECT_THAT(store_->IssueAttempt(job_), IsOkAndHolds(41u));
  // Another job counts on its own.
  EXPECT_THAT(store_->IssueAttempt(job_ + ".other"), IsOkAndHolds(1u));
  // An issued attempt takes a record over from every earlier one.
  auto issued = store_->IssueAttempt(job_);
  ASSERT_THAT(issued, IsOk());
  ASSERT_THAT(Begin(Rec("c"), *issued), IsOk());
  EXPECT_THAT(Begin(Rec("c"), *issued - 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, "fenced"));
}

// Callers racing (several connections of one store) never share a number.
TEST_P(ConformanceTest, RacingCallersGetDistinctAttempts) {
  constexpr int kThreads = 8, kEach = 25;
  absl::Mutex mu;
  std::vector<uint64_t> got;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto a = store_->IssueAttempt(job_);
        ASSERT_THAT(a, IsOk());
        absl::MutexLock l(&mu);
        got.push_back(*a);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::sort(got.begin(), got.end());
  ASSERT_THAT(got, SizeIs(kThreads * kEach));
  EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end());
  EXPECT_EQ(got.back(), static_cast<uint64_t>(kThreads * kEach));
}

TEST_P(ConformanceTest, BeginReturnsEveryJournaledAction) {
  const RecordId r = Rec();
  ASSERT_THAT(Begin(r), IsOk());
  ASSERT_THAT(
      Append(r, "b", MakeStep(0, StepStatus::kSucceeded, "f", "x", "R0"), 0,
             ConflictPolicy::kKeepStored, Cost{10, 20, 30}),
      IsOk());
  ASSERT_THAT(Append(r, "b", MakeStep(1, StepStatus::kPending)), IsOk());
  ASSERT_THAT(Append(r, "a", Completion{"state-a"}, 0,
                     ConflictPolicy::kKeepStored, Cost{1, 2, 3}),
              IsOk());

  auto begun = Begin(r);
  ASSERT_THAT(begun, IsOk());
  ASSERT_THAT(begun->actions, SizeIs(2));
  EXPECT_EQ(begun->actions[0].action_key, "a");
  ASSERT_TRUE(begun->actions[0].completion.has_value());
  EXPECT_EQ(begun->actions[0].completion->state, "state-a");
  EXPECT_EQ(begun->actions[0].cost, (Cost{1, 2, 3}));
  EXPECT_EQ(begun->actions[1].action_key, "b");
  EXPECT_FALSE(begun->actions[1].completion.has_value());
  EXPECT_THAT(begun->actions[1].steps,
              ElementsAre(MakeStep(0, StepStatus::kSucceeded, "f", "x", "R0"),
                          MakeStep(1, StepStatus::kPending)));
  EXPECT_EQ(begun->actions[1].cost, (Cost{10, 20, 30}));
}

TEST_P(ConformanceTest, AppendCreatesUnknownRecord) {
  auto r = Append(Rec(), "act", MakeStep(0, StepStatus::kPending));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->outcome, AppendOutcome::kAppended);
  auto begun = Begin(Rec());
  ASSERT_THAT(begun, IsOk());
  EXPECT_EQ(begun->status, RecordStatus::kOpen);
  EXPECT_THAT(begun->actions, SizeIs(1));
}

TEST_P(ConformanceTest, IdenticalRetryIsDuplicateWithStoredEntry) {
  const Step s = MakeStep(0, StepStatus::kSucceeded, "f", "x", "answer");
  ASSERT_EQ(Append(Rec(), "act", s)->outcome, AppendOutcome::kAppended);
  auto again = Append(Rec(), "act", s);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(std::get<Step>(again->stored), s);
  EXPECT_THAT(StepsOf(Rec(), "act"), ElementsAre(s));
}

TEST_P(ConformanceTest, TerminalStepFirstWriterWins) {
  const Step first = MakeStep(0, StepStatus::kSucceeded, "f", "x", "first");
  ASSERT_EQ(Append(Rec(), "act", first)->outcome, AppendOutcome::kAppended);
  auto second = Append(Rec(), "act",
                       MakeStep(0, StepStatus::kSucceeded, "f", "x", "other"));
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->outcome, AppendOutcome::kConflict);
  EXPECT_EQ(std::get<Step>(second->stored), first);
  // A terminal step is never upgraded either.
  auto failed =
      Append(Rec(), "act", MakeStep(0, StepStatus::kFailed, "f", "x", "e"));
  EXPECT_EQ(failed->outcome, AppendOutcome::kConflict);
  EXPECT_THAT(StepsOf(Rec(), "act"), ElementsAre(first));
}

TEST_P(ConformanceTest, ConflictOnDifferentFunctionOrDigest) {
  const Step pending = MakeStep(0, StepStatus::kPending, "f", "x");
  ASSERT_EQ(Append(Rec(), "act", pending)->outcome, AppendOutcome::kAppended);
  auto other_fn =
      Append(Rec(), "act", MakeStep(0, StepStatus::kSucceeded, "g", "x", "r"));
  EXPECT_EQ(other_fn->outcome, AppendOutcome::kConflict);
  EXPECT_EQ(std::get<Step>(other_fn->stored), pending);
  auto other_digest =
      Append(Rec(), "act", MakeStep(0, StepStatus::kSucceeded, "f", "y", "r"));
  EXPECT_EQ(other_digest->outcome, AppendOutcome::kConflict);
  EXPECT_EQ(std::get<Step>(other_digest->stored), pending);
  EXPECT_THAT(StepsOf(Rec(), "act"), ElementsAre(pending));
}

TEST_P(ConformanceTest, PendingUpgradedOnce) {
  ASSERT_EQ(Append(Rec(), "act", MakeStep(0, StepStatus::kPending))->outcome,
            AppendOutcome::kAppended);
  const Step done = MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d1", "R");
  auto up =
      Append(Rec(), "act", done, 0, ConflictPolicy::kKeepStored, Cost{5, 6, 7});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->outcome, AppendOutcome::kUpgraded);
  EXPECT_EQ(std::get<Step>(up->stored), done);
  // The retry of the upgrade is a duplicate; a different upgrade conflicts.
  EXPECT_EQ(Append(Rec(), "act", done)->outcome, AppendOutcome::kDuplicate);
  auto other = Append(Rec(), "act",
                      MakeStep(0, StepStatus::kFailed, "llm.chat", "d1", "E"));
  EXPECT_EQ(other->outcome, AppendOutcome::kConflict);
  EXPECT_EQ(std::get<Step>(other->stored), done);
  // A replayed intent for the journaled call hands back the result.
  auto intent = Append(Rec(), "act", MakeStep(0, StepStatus::kPending));
  EXPECT_EQ(intent->outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(std::get<Step>(intent->stored), done);
  auto found = store_->LookupAction(Rec(), "act");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->action->cost, (Cost{5, 6, 7}));
  EXPECT_EQ(found->action->steps[0].cost, (Cost{5, 6, 7}));
}

TEST_P(ConformanceTest, ReplaysHandBackWhatTheySave) {
  const Step call = MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d", "R");
  ASSERT_THAT(
      Append(Rec(), "act", call, 0, ConflictPolicy::kKeepStored, Cost{5, 6, 7}),
      IsOk());
  // A replayed step saves its own cost, whatever the replay claims.
  auto again =
      Append(Rec(), "act", call, 0, ConflictPolicy::kKeepStored, Cost{9, 9, 9});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(again->stored_cost, (Cost{5, 6, 7}));
  // A completion saves the whole action: its steps and itself.
  auto done = Append(Rec(), "act", Completion{"S"}, 0,
                     ConflictPolicy::kKeepStored, Cost{1, 1, 1});
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->stored_cost, (Cost{6, 7, 8}));
  auto replayed = Append(Rec(), "act", Completion{"S"});
  ASSERT_THAT(replayed, IsOk());
  EXPECT_EQ(replayed->outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(replayed->stored_cost, (Cost{6, 7, 8}));
}

TEST_P(ConformanceTest, StepGapRefused) {
  EXPECT_THAT(Append(Rec(), "act", MakeStep(1, StepStatus::kPending)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "step.index"));
  ASSERT_THAT(Append(Rec(), "act", MakeStep(0, StepStatus::kPending)), IsOk());
  EXPECT_THAT(Append(Rec(), "act", MakeStep(2, StepStatus::kPending)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "gap"));
  EXPECT_THAT(StepsOf(Rec(), "act"), SizeIs(1));
}

TEST_P(ConformanceTest, ReplaceFromHereDropsLaterSteps) {
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_THAT(Append(Rec(), "act",
                       MakeStep(i, StepStatus::kSucceeded, "f", "x", "r")),
                IsOk());
  }
  const Step replacement = MakeStep(1, StepStatus::kSucceeded, "g", "y", "new");
  auto r =
      Append(Rec(), "act", replacement, 0, ConflictPolicy::kReplaceFromHere);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->outcome, AppendOutcome::kAppended);
  EXPECT_THAT(StepsOf(Rec(), "act"),
              ElementsAre(MakeStep(0, StepStatus::kSucceeded, "f", "x", "r"),
                          replacement));
}

TEST_P(ConformanceTest, CompletedActionRefusesChanges) {
  ASSERT_THAT(
      Append(Rec(), "act", MakeStep(0, StepStatus::kSucceeded, "f", "x", "r")),
      IsOk());
  ASSERT_EQ(Append(Rec(), "act", Completion{"S"})->outcome,
            AppendOutcome::kAppended);
  EXPECT_THAT(Append(Rec(), "act", MakeStep(1, StepStatus::kPending)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "completed"));
  EXPECT_THAT(
      Append(Rec(), "act", MakeStep(0, StepStatus::kSucceeded, "g", "y", "z"),
             0, ConflictPolicy::kReplaceFromHere),
      StatusIs(absl::StatusCode::kFailedPrecondition, "completed"));
  auto dup = Append(Rec(), "act", Completion{"S"});
  EXPECT_EQ(dup->outcome, AppendOutcome::kDuplicate);
  auto other = Append(Rec(), "act", Completion{"T"});
  EXPECT_EQ(other->outcome, AppendOutcome::kConflict);
  EXPECT_EQ(std::get<Completion>(other->stored).state, "S");
  EXPECT_THAT(StepsOf(Rec(), "act"), SizeIs(1));
}

TEST_P(ConformanceTest, CompletedRecordRefusesAppends) {
  ASSERT_THAT(Append(Rec(), "act", MakeStep(0, StepStatus::kPending)), IsOk());
  auto done = store_->CompleteRecord({Rec(), 0});
  ASSERT_THAT(done, IsOk());
  EXPECT_TRUE(done->newly_completed);
  auto again = store_->CompleteRecord({Rec(), 0});
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->newly_completed);
  EXPECT_EQ(again->completed_at, done->completed_at);

  EXPECT_THAT(
      Append(Rec(), "act", MakeStep(1, StepStatus::kPending)),
      StatusIs(absl::StatusCode::kFailedPrecondition, "record is completed"));
  EXPECT_THAT(
      Append(Rec(), "other", Completion{"S"}),
      StatusIs(absl::StatusCode::kFailedPrecondition, "record is completed"));
  EXPECT_EQ(Begin(Rec())->status, RecordStatus::kCompleted);
  EXPECT_EQ(store_->LookupAction(Rec(), "act")->record_status,
            RecordStatus::kCompleted);
  EXPECT_THAT(StepsOf(Rec(), "act"), SizeIs(1));
}

TEST_P(ConformanceTest, Fencing) {
  ASSERT_EQ(Begin(Rec(), 2)->attempt, 2u);
  EXPECT_THAT(Begin(Rec(), 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, "fenced"));
  EXPECT_TRUE(IsFenced(Begin(Rec(), 1).status()));
  EXPECT_THAT(Append(Rec(), "act", MakeStep(0, StepStatus::kPending), 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, "fenced"));
  // Other preconditions are not fencing.
  EXPECT_FALSE(IsFenced(
      Append(Rec(), "act", MakeStep(3, StepStatus::kPending)).status()));
  EXPECT_THAT(store_->CompleteRecord({Rec(), 1}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "fenced"));
  EXPECT_THAT(StepsOf(Rec(), "act"), SizeIs(0));
  // Attempt 0 is never fenced and changes nothing.
  ASSERT_THAT(Append(Rec(), "act", MakeStep(0, StepStatus::kPending), 0),
              IsOk());
  EXPECT_EQ(Begin(Rec(), 0)->attempt, 2u);
  // A higher attempt takes over; the old one is fenced from then on.
  ASSERT_THAT(Append(Rec(), "act", MakeStep(1, StepStatus::kPending), 5),
              IsOk());
  EXPECT_EQ(Begin(Rec())->attempt, 5u);
  EXPECT_THAT(Begin(Rec(), 2),
              StatusIs(absl::StatusCode::kFailedPrecondition, "fenced"));
}

TEST_P(ConformanceTest, FingerprintMismatchReportedAndReset) {
  ASSERT_THAT(Begin(Rec(), 0, "fp1"), IsOk());
  ASSERT_THAT(Append(Rec(), "act", MakeStep(0, StepStatus::kPending)), IsOk());
  ASSERT_THAT(store_->CompleteRecord({Rec(), 0}), IsOk());

  auto mismatch = Begin(Rec(), 0, "fp2");
  ASSERT_THAT(mismatch, IsOk());
  EXPECT_TRUE(mismatch->input_mismatch);
  EXPECT_FALSE(mismatch->reset);
  EXPECT_THAT(mismatch->actions, SizeIs(1));
  EXPECT_THAT(Begin(Rec(), 0, ""), IsOk());  // empty: not checked
  EXPECT_FALSE(Begin(Rec(), 0, "")->input_mismatch);

  auto reset = Begin(Rec(), 0, "fp2", /*reset=*/true);
  ASSERT_THAT(reset, IsOk());
  EXPECT_TRUE(reset->input_mismatch);
  EXPECT_TRUE(reset->reset);
  EXPECT_EQ(reset->status, RecordStatus::kOpen);
  EXPECT_THAT(reset->actions, SizeIs(0));
  auto after = Begin(Rec(), 0, "fp2");
  EXPECT_FALSE(after->input_mismatch);
  EXPECT_THAT(Append(Rec(), "act", MakeStep(0, StepStatus::kPending)), IsOk());
}

TEST_P(ConformanceTest, LookupMissIsNotAnError) {
  auto miss = store_->LookupAction(Rec(), "nothing");
  ASSERT_THAT(miss, IsOk());
  EXPECT_FALSE(miss->action.has_value());
  EXPECT_FALSE(miss->record_status.has_value());
  ASSERT_THAT(Begin(Rec()), IsOk());
  miss = store_->LookupAction(Rec(), "nothing");
  EXPECT_FALSE(miss->action.has_value());
  EXPECT_EQ(miss->record_status, RecordStatus::kOpen);
}

TEST_P(ConformanceTest, ActionsAndRecordsAreIsolated) {
  ASSERT_THAT(Append(Rec("k", 1), "a", Completion{"1"}), IsOk());
  ASSERT_THAT(Append(Rec("k", 2), "a", Completion{"2"}), IsOk());
  ASSERT_THAT(Append(Rec("k", 1), "ab", Completion{"3"}), IsOk());
  EXPECT_EQ(store_->LookupAction(Rec("k", 1), "a")->action->completion->state,
            "1");
  EXPECT_EQ(store_->LookupAction(Rec("k", 2), "a")->action->completion->state,
            "2");
  EXPECT_EQ(store_->LookupAction(Rec("k", 1), "ab")->action->completion->state,
            "3");
  EXPECT_FALSE(store_->LookupAction(Rec("k2", 1), "a")->action.has_value());
}

TEST_P(ConformanceTest, BinaryKeysAndPayloadsRoundTrip) {
  const std::string key("\0\x01\xff key", 7);
  const std::string payload("\0\0\xfe\x80", 4);
  const Step s =
      MakeStep(0, StepStatus::kSucceeded, "f", std::string("\0d", 2), payload);
  ASSERT_THAT(Append(Rec(key), "act", s), IsOk());
  ASSERT_THAT(Append(Rec(key), "act", Completion{payload}), IsOk());
  auto found = store_->LookupAction(Rec(key), "act");
  ASSERT_THAT(found, IsOk());
  EXPECT_THAT(found->action->steps, ElementsAre(s));
  EXPECT_EQ(found->action->completion->state, payload);
  EXPECT_FALSE(store_->LookupAction(Rec(std::string("\0", 1)), "act")
                   ->action.has_value());
}

// Keys and ids with the characters that quoting schemes trip on.
TEST_P(ConformanceTest, QuotesBackslashesAndBracesRoundTrip) {
  const std::string odd = "a\"b\\c{d},e' NULL";
  const RecordId r{job_ + odd, "k\\\"{}", 1};
  const Step s = MakeStep(0, StepStatus::kPending, odd, "\\x00");
  ASSERT_EQ(Append(r, odd, s)->outcome, AppendOutcome::kAppended);
  const Step done = MakeStep(0, StepStatus::kSucceeded, odd, "\\x00", "\\\"");
  ASSERT_EQ(Append(r, odd, done)->outcome, AppendOutcome::kUpgraded);
  ASSERT_THAT(Append(r, odd, Completion{odd}), IsOk());
  auto begun = store_->BeginRecord({r, 0, odd, false});
  ASSERT_THAT(begun, IsOk());
  ASSERT_EQ(begun->actions.size(), 1u);
  EXPECT_EQ(begun->actions[0].action_key, odd);
  EXPECT_THAT(begun->actions[0].steps, ElementsAre(done));
  EXPECT_EQ(begun->actions[0].completion->state, odd);
  EXPECT_EQ(store_->BeginRecord({r, 0, odd, false})->input_mismatch, false);
}

TEST_P(ConformanceTest, PruneByKeyPairs) {
  for (const std::string key : {"a", "b", "c"}) {
    for (int64_t seq = 0; seq < 4; ++seq) {
      ASSERT_THAT(Append(Rec(key, seq), "x", MakeStep(0, StepStatus::kPending)),
                  IsOk());
      ASSERT_THAT(Append(Rec(key, seq), "x", Completion{"s"}), IsOk());
    }
  }
  PruneRequest req;
  req.job_id = job_;
  req.keys = {{"a", 1}, {"b", 0}, {"zz", 9}};
  auto pruned = store_->Prune(req);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->records_deleted, 3u);
  EXPECT_EQ(pruned->entries_deleted, 6u);
  EXPECT_FALSE(
      store_->LookupAction(Rec("a", 1), "x")->record_status.has_value());
  EXPECT_TRUE(store_->LookupAction(Rec("a", 2), "x")->action.has_value());
  EXPECT_TRUE(store_->LookupAction(Rec("b", 1), "x")->action.has_value());
  EXPECT_TRUE(store_->LookupAction(Rec("c", 0), "x")->action.has_value());
  EXPECT_EQ(store_->Prune(req)->records_deleted, 0u);
}

TEST_P(ConformanceTest, PruneByCompletionTime) {
  ASSERT_THAT(Append(Rec("old"), "x", Completion{"s"}), IsOk());
  ASSERT_THAT(store_->CompleteRecord({Rec("old"), 0}), IsOk());
  Advance(absl::Hours(1));
  const absl::Time cut = now_;
  ASSERT_THAT(store_->CompleteRecord({Rec("new"), 0}), IsOk());
  ASSERT_THAT(Append(Rec("open"), "x", Completion{"s"}), IsOk());
  PruneRequest req;
  req.job_id = job_;
  req.completed_before = cut;
  auto pruned = store_->Prune(req);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->records_deleted, 1u);
  EXPECT_EQ(pruned->entries_deleted, 1u);
  EXPECT_FALSE(
      store_->LookupAction(Rec("old"), "x")->record_status.has_value());
  EXPECT_TRUE(store_->LookupAction(Rec("new"), "x")->record_status.has_value());
  EXPECT_TRUE(store_->LookupAction(Rec("open"), "x")->action.has_value());
}

void ConformanceTest::RetentionKeepsPrunedRecordsUntilItPasses() {
  GoBack(absl::Hours(24 * 1000));
  // One large state in every record: stored once, released by the sweep.
  const std::string big = Incompressible(4096, 10);
  for (int64_t seq = 0; seq < 5; ++seq) {
    ASSERT_THAT(Append(Rec("a", seq), "x", MakeStep(0, StepStatus::kPending)),
                IsOk());
    ASSERT_THAT(Append(Rec("a", seq), "x", Completion{big}), IsOk());
  }
  PruneRequest req;
  req.job_id = job_;
  req.keys = {{"a", 2}};
  req.retention = absl::Hours(1);
  auto pruned = store_->Prune(req);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->records_retained, 3u);
  EXPECT_EQ(pruned->records_deleted, 0u);
  // A later prune with a longer retention does not postpone the deletion.
  req.retention = absl::Hours(10);
  EXPECT_EQ(store_->Prune(req)->records_retained, 3u);

  // Within the retention a restore replays everything, and a sweep deletes
  // nothing of it.
  Advance(absl::Minutes(59));
  ASSERT_THAT(store_->Sweep(Now()), IsOk());
  for (int64_t seq = 0; seq < 5; ++seq) {
    auto begun = store_->BeginRecord({Rec("a", seq), 0, "", false});
    ASSERT_THAT(begun, IsOk());
    ASSERT_THAT(begun->actions, SizeIs(1)) << seq;
    ASSERT_TRUE(begun->actions[0].completion.has_value());
    EXPECT_EQ(begun->actions[0].completion->state, big);
  }
  // Once it has passed, a sweep deletes them with their entries, and only
  // them.
  Advance(absl::Minutes(2));
  auto swept = store_->Sweep(Now());
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(swept->retention_records, 3u);
  EXPECT_EQ(swept->ttl_records, 0u);
  EXPECT_EQ(swept->entries, 6u);
  for (int64_t seq = 0; seq < 5; ++seq) {
    EXPECT_EQ(store_->LookupAction(Rec("a", seq), "x")->action.has_value(),
              seq > 2)
        << seq;
  }
  EXPECT_EQ(store_->LookupAction(Rec("a", 4), "x")->action->completion->state,
            big);
  const JobStats stats = StatsOf(job_);
  EXPECT_EQ(stats.blobs, 1u);
  EXPECT_EQ(stats.deduplicated_bytes, big.size());  // two references left
  EXPECT_EQ(store_->Sweep(Now())->retention_records, 0u);
}

void ConformanceTest::TtlSweepsRecordsUnwrittenForLonger() {
  GoBack(absl::Hours(24 * 2000));
  ASSERT_THAT(Append(Rec("idle"), "x", MakeStep(0, StepStatus::kPending)),
              IsOk());
  ASSERT_THAT(Append(Rec("busy"), "x", MakeStep(0, StepStatus::kPending)),
              IsOk());
  Advance(kTtl - absl::Hours(1));
  // A write to "busy" counts as its last write; a read of "idle" does not.
  ASSERT_THAT(
      Append(Rec("busy"), "x",
             MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d1", "r")),
      IsOk());
  ASSERT_THAT(store_->BeginRecord({Rec("idle"), 0, "", false}), IsOk());
  Advance(absl::Hours(2));
  auto swept = store_->Sweep(Now());
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(swept->ttl_records, 1u);
  EXPECT_EQ(swept->retention_records, 0u);
  EXPECT_EQ(swept->entries, 1u);
  EXPECT_FALSE(
      store_->LookupAction(Rec("idle"), "x")->record_status.has_value());
  EXPECT_TRUE(store_->LookupAction(Rec("busy"), "x")->action.has_value());
  Advance(kTtl);
  EXPECT_EQ(store_->Sweep(Now())->ttl_records, 1u);
  EXPECT_FALSE(
      store_->LookupAction(Rec("busy"), "x")->record_status.has_value());
}

void ConformanceTest::SweepsManyRecordsInBoundedBatches() {
  GoBack(absl::Hours(24 * 3000));
  const uint64_t blobs_before = StatsOf(job_).blobs;
  const std::string big = Incompressible(4096, 11);
  for (int64_t seq = 0; seq < 7; ++seq) {
    ASSERT_THAT(Append(Rec("m", seq), "x", Completion{big}), IsOk());
  }
  EXPECT_EQ(StatsOf(job_).blobs, blobs_before + 1);
  PruneRequest req;
  req.job_id = job_;
  req.keys = {{"m", 3}};
  req.retention = absl::Seconds(1);
  ASSERT_THAT(store_->Prune(req), IsOk());
  Advance(absl::Seconds(2));
  // Four due by retention, three by the TTL; two a transaction.
  Advance(kTtl);
  auto swept = store_->Sweep(Now());
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(swept->retention_records, 4u);
  EXPECT_EQ(swept->ttl_records, 3u);
  EXPECT_EQ(swept->entries, 7u);
  EXPECT_EQ(StatsOf(job_).blobs, blobs_before);  // the last references went
}

// Sweeps are global and the PostgreSQL store is shared by tests running at
// once, so every sweeping check runs in this one test, each in its own
// span of time years before the other tests' clock: what a sweep finds due
// is this test's own.
TEST_P(ConformanceTest, SweepsDeleteWhatRetentionAndTtlMakeDue) {
  // The PostgreSQL instantiations (direct and through pgbouncer) share one
  // database, so they take turns: a session advisory lock on a connection
  // of their own, released when it closes.
  std::unique_ptr<pqxx::connection> turn;
  const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
  if (GetParam().name.rfind("Postgres", 0) == 0 && dsn != nullptr) {
    turn = std::make_unique<pqxx::connection>(dsn);
    pqxx::nontransaction(*turn).exec("SELECT pg_advisory_lock(7450001)");
  }
  {
    SCOPED_TRACE("retention");
    RetentionKeepsPrunedRecordsUntilItPasses();
  }
  {
    SCOPED_TRACE("ttl");
    TtlSweepsRecordsUnwrittenForLonger();
  }
  {
    SCOPED_TRACE("batches");
    SweepsManyRecordsInBoundedBatches();
  }
}

TEST_P(ConformanceTest, StatsCountAJobsJournal) {
  const Cost cost{100, 20, 300};
  ASSERT_THAT(
      Append(Rec("a", 0), "x",
             MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d1", "result"), 0,
             ConflictPolicy::kKeepStored, cost),
      IsOk());
  ASSERT_THAT(Append(Rec("a", 0), "x", Completion{"state"}, 0,
                     ConflictPolicy::kKeepStored, cost),
              IsOk());
  ASSERT_THAT(Append(Rec("b", 0), "y",
                     MakeStep(0, StepStatus::kFailed, "tool", "d2", "err")),
              IsOk());
  ASSERT_THAT(store_->BeginRecord({Rec("c", 0), 0, "", false}), IsOk());
  PruneRequest req;
  req.job_id = job_;
  req.keys = {{"b", 0}};
  req.retention = absl::Hours(1);
  ASSERT_THAT(store_->Prune(req), IsOk());
  const RecordId other{job_ + ".other", "k", 0};
  ASSERT_THAT(Append(other, "x", Completion{"s"}), IsOk());

  auto stats = store_->Stats(job_);
  ASSERT_THAT(stats, IsOk());
  ASSERT_THAT(*stats, SizeIs(1));
  const JobStats& j = (*stats)[0];
  EXPECT_EQ(j.job_id, job_);
  EXPECT_EQ(j.records, 3u);
  EXPECT_EQ(j.retained_records, 1u);
  EXPECT_EQ(j.entries, 3u);
  EXPECT_EQ(j.payload_bytes, 6u + 5u + 3u);  // "result", "state", "err"
  EXPECT_EQ(j.cost, (Cost{200, 40, 600}));

  auto all = store_->Stats("");
  ASSERT_THAT(all, IsOk());
  int mine = 0;
  for (const JobStats& s : *all) {
    if (s.job_id == job_) ++mine;
    if (s.job_id == other.job_id) {
      EXPECT_EQ(s.records, 1u);
      EXPECT_EQ(s.entries, 1u);
    }
  }
  EXPECT_EQ(mine, 1);
  EXPECT_THAT(store_->Stats("no-such-job"), IsOk());
  EXPECT_THAT(*store_->Stats("no-such-job"), SizeIs(0));
  ASSERT_THAT(store_->Prune({other.job_id, {}, std::nullopt, true}), IsOk());
}

// Payloads over the compression threshold are stored compressed (smaller
// in the database) and every read and every comparison sees them as sent.
TEST_P(ConformanceTest, LargePayloadsAreStoredCompressedAndReadBackExactly) {
  std::string text = R"({"content":")";
  for (int i = 0; text.size() < 64 * 1024; ++i) {
    text += "Order " + std::to_string(i % 50) + " shipped on Tuesday. ";
  }
  const std::string odd(
      "\xff"
      "AJ\x01"
      "looks compressed",
      20);
  ASSERT_THAT(
      Append(Rec(), "x", MakeStep(0, StepStatus::kSucceeded, "llm", "d", text)),
      IsOk());
  ASSERT_THAT(Append(Rec(), "x", Completion{odd}), IsOk());
  auto again =
      Append(Rec(), "x", MakeStep(0, StepStatus::kSucceeded, "llm", "d", text));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, AppendOutcome::kDuplicate);
  auto other = Append(
      Rec(), "y", MakeStep(0, StepStatus::kSucceeded, "llm", "d", text + "!"));
  ASSERT_THAT(other, IsOk());
  auto conflict =
      Append(Rec(), "y", MakeStep(0, StepStatus::kSucceeded, "llm", "d", text));
  ASSERT_THAT(conflict, IsOk());
  EXPECT_EQ(conflict->outcome, AppendOutcome::kConflict);
  EXPECT_EQ(std::get<Step>(conflict->stored).result, text + "!");

  auto l = store_->LookupAction(Rec(), "x");
  ASSERT_THAT(l, IsOk());
  ASSERT_TRUE(l->action.has_value());
  EXPECT_EQ(l->action->steps[0].result, text);
  EXPECT_EQ(l->action->completion->state, odd);
  auto begun = store_->BeginRecord({Rec(), 0, "", false});
  ASSERT_THAT(begun, IsOk());
  ASSERT_THAT(begun->actions, SizeIs(2));
  EXPECT_EQ(begun->actions[1].steps[0].result, text + "!");
  auto stats = store_->Stats(job_);
  ASSERT_THAT(stats, IsOk());
  ASSERT_THAT(*stats, SizeIs(1));
  // Two 64 KiB texts and 20 bytes, stored in a fraction of that.
  EXPECT_LT((*stats)[0].payload_bytes, text.size() / 4);
}

// A large payload that many records store (a tool's answer, a retrieved
// document) is stored once per job; reads, duplicates and conflicts see it
// as sent; a prune keeps it while one entry holds it and frees it after.
TEST_P(ConformanceTest, LargePayloadsRepeatedAcrossRecordsAreStoredOnce) {
  const std::string doc = Incompressible(16 * 1024, 1);
  const std::string other = Incompressible(16 * 1024, 2);
  ASSERT_THAT(Append(Rec("sentinel"), "x", Completion{"small"}), IsOk());
  constexpr int kRecords = 10;
  for (int i = 0; i < kRecords; ++i) {
    auto r = Append(Rec("k", i), "tool",
                    MakeStep(0, StepStatus::kSucceeded, "search", "q", doc));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->outcome, AppendOutcome::kAppended);
  }
  ASSERT_THAT(Append(Rec("k", 0), "tool", Completion{doc}), IsOk());
  JobStats stats = StatsOf(job_);
  EXPECT_EQ(stats.entries, kRecords + 2u);
  EXPECT_EQ(stats.blobs, 1u);
  EXPECT_EQ(stats.blob_bytes, doc.size());
  EXPECT_EQ(stats.payload_bytes, doc.size() + 5);  // once, and "small"
  EXPECT_EQ(stats.deduplicated_bytes, kRecords * doc.size());

  // The same entry again is a duplicate; another payload still conflicts,
  // answered with the stored one.
  auto again = Append(Rec("k", 3), "tool",
                      MakeStep(0, StepStatus::kSucceeded, "search", "q", doc));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(std::get<Step>(again->stored).result, doc);
  auto conflict =
      Append(Rec("k", 3), "tool",
             MakeStep(0, StepStatus::kSucceeded, "search", "q", other));
  ASSERT_THAT(conflict, IsOk());
  EXPECT_EQ(conflict->outcome, AppendOutcome::kConflict);
  EXPECT_EQ(std::get<Step>(conflict->stored).result, doc);
  EXPECT_EQ(StatsOf(job_).blobs, 1u);
  auto begun = Begin(Rec("k", 0));
  ASSERT_THAT(begun, IsOk());
  ASSERT_THAT(begun->actions, SizeIs(1));
  EXPECT_EQ(begun->actions[0].steps[0].result, doc);
  EXPECT_EQ(begun->actions[0].completion->state, doc);

  // All but one record pruned: the payload stays readable, stored once.
  PruneRequest prune;
  prune.job_id = job_;
  prune.keys = {{"k", kRecords - 2}};
  auto pruned = store_->Prune(prune);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->records_deleted, kRecords - 1u);
  EXPECT_EQ(StepsOf(Rec("k", kRecords - 1), "tool")[0].result, doc);
  stats = StatsOf(job_);
  EXPECT_EQ(stats.blobs, 1u);
  EXPECT_EQ(stats.deduplicated_bytes, 0u);
  // The last one pruned: the payload goes with it.
  prune.keys = {{"k", kRecords}};
  ASSERT_THAT(store_->Prune(prune), IsOk());
  stats = StatsOf(job_);
  EXPECT_EQ(stats.records, 1u);
  EXPECT_EQ(stats.blobs, 0u);
  EXPECT_EQ(stats.payload_bytes, 5u);
}

// A reset (a new input) and a replace (REPLACE_FROM_HERE) drop entries, and
// the references they held; an upgraded intent holds its result's.
// A PENDING step that already holds a large result (the wire allows it)
// and its upgrade to another: the pending one's reference goes with it.
TEST_P(ConformanceTest, AnUpgradeOverALargePendingResultMovesItsReference) {
  const std::string draft = Incompressible(8192, 5);
  const std::string final_result = Incompressible(8192, 6);
  const RecordId r = Rec();
  Step pending = MakeStep(0, StepStatus::kPending, "f", "a");
  pending.result = draft;
  ASSERT_THAT(Append(r, "x", pending), IsOk());
  EXPECT_EQ(StatsOf(job_).blobs, 1u);
  auto up = Append(r, "x",
                   MakeStep(0, StepStatus::kSucceeded, "f", "a", final_result));
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->outcome, AppendOutcome::kUpgraded);
  JobStats stats = StatsOf(job_);
  EXPECT_EQ(stats.blobs, 1u);  // the draft's blob went
  EXPECT_EQ(stats.blob_bytes, final_result.size());
  std::vector<Step> steps = StepsOf(r, "x");
  ASSERT_THAT(steps, SizeIs(1));
  EXPECT_EQ(steps[0].result, final_result);
  ASSERT_THAT(store_->Prune({job_, {}, std::nullopt, true}), IsOk());
  EXPECT_EQ(StatsOf(job_).blobs, 0u);
}

TEST_P(ConformanceTest, ResetAndReplaceReleaseTheirReferences) {
  const std::string first = Incompressible(8192, 3);
  const std::string second = Incompressible(8192, 4);
  const RecordId r = Rec();
  ASSERT_THAT(Begin(r, 0, "input-1"), IsOk());
  ASSERT_THAT(Append(r, "x", MakeStep(0, StepStatus::kPending, "f", "a")),
              IsOk());
  auto up =
      Append(r, "x", MakeStep(0, StepStatus::kSucceeded, "f", "a", first));
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->outcome, AppendOutcome::kUpgraded);
  ASSERT_THAT(
      Append(r, "x", MakeStep(1, StepStatus::kSucceeded, "g", "b", first)),
      IsOk());
  EXPECT_EQ(StatsOf(job_).blobs, 1u);
  EXPECT_EQ(StatsOf(job_).deduplicated_bytes, first.size());

  auto replaced =
      Append(r, "x", MakeStep(1, StepStatus::kSucceeded, "g", "b", second), 0,
             ConflictPolicy::kReplaceFromHere);
  ASSERT_THAT(replaced, IsOk());
  EXPECT_EQ(std::get<Step>(replaced->stored).result, second);
  JobStats stats = StatsOf(job_);
  EXPECT_EQ(stats.blobs, 2u);
  EXPECT_EQ(stats.deduplicated_bytes, 0u);  // one reference each
  replaced =
      Append(r, "x", MakeStep(0, StepStatus::kSucceeded, "f", "a", second), 0,
             ConflictPolicy::kReplaceFromHere);
  ASSERT_THAT(replaced, IsOk());
  stats = StatsOf(job_);
  EXPECT_EQ(stats.blobs, 1u);  // `first` lost its last reference
  EXPECT_EQ(stats.blob_bytes, second.size());
  std::vector<Step> steps = StepsOf(r, "x");
  ASSERT_THAT(steps, SizeIs(1));
  EXPECT_EQ(steps[0].result, second);

  auto reset = Begin(r, 0, "input-2", true);
  ASSERT_THAT(reset, IsOk());
  EXPECT_TRUE(reset->reset);
  stats = StatsOf(job_);
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.blobs, 0u);
  // Stored afresh after the reset.
  ASSERT_THAT(
      Append(r, "x", MakeStep(0, StepStatus::kSucceeded, "f", "a", second)),
      IsOk());
  EXPECT_EQ(StepsOf(r, "x")[0].result, second);
  EXPECT_EQ(StatsOf(job_).blobs, 1u);
}

// Blobs are per job: another job storing the same payload has its own, and
// a whole-job prune frees the job's without touching the other's.
TEST_P(ConformanceTest, JobsDoNotShareBlobs) {
  const std::string doc = Incompressible(8192, 5);
  const RecordId theirs{job_ + ".other", "k", 0};
  ASSERT_THAT(store_->Prune({theirs.job_id, {}, std::nullopt, true}), IsOk());
  ASSERT_THAT(Append(Rec("a"), "x", Completion{doc}), IsOk());
  ASSERT_THAT(Append(Rec("b"), "x", Completion{doc}), IsOk());
  ASSERT_THAT(Append(theirs, "x", Completion{doc}), IsOk());
  EXPECT_EQ(StatsOf(job_).blobs, 1u);
  EXPECT_EQ(StatsOf(theirs.job_id).blobs, 1u);
  EXPECT_EQ(StatsOf(theirs.job_id).deduplicated_bytes, 0u);

  ASSERT_THAT(store_->Prune({job_, {}, std::nullopt, true}), IsOk());
  auto found = store_->LookupAction(theirs, "x");
  ASSERT_THAT(found, IsOk());
  ASSERT_TRUE(found->action.has_value());
  EXPECT_EQ(found->action->completion->state, doc);
  // The pruned job's blob went: written again, it has one reference.
  ASSERT_THAT(Append(Rec("a"), "x", Completion{doc}), IsOk());
  EXPECT_EQ(StatsOf(job_).blobs, 1u);
  EXPECT_EQ(StatsOf(job_).deduplicated_bytes, 0u);
  ASSERT_THAT(store_->Prune({theirs.job_id, {}, std::nullopt, true}), IsOk());
}

TEST_P(ConformanceTest, PruneWholeJobLeavesOtherJobs) {
  const RecordId other{job_ + ".other", "k", 0};
  ASSERT_THAT(store_->Prune({other.job_id, {}, std::nullopt, true}), IsOk());
  ASSERT_THAT(Append(Rec("a"), "x", MakeStep(0, StepStatus::kPending)), IsOk());
  ASSERT_THAT(Append(Rec("b"), "x", Completion{"s"}), IsOk());
  ASSERT_THAT(Append(other, "x", Completion{"s"}), IsOk());
  auto pruned = store_->Prune({job_, {}, std::nullopt, true});
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->records_deleted, 2u);
  EXPECT_EQ(pruned->entries_deleted, 2u);
  EXPECT_TRUE(store_->LookupAction(other, "x")->action.has_value());
  EXPECT_THAT(store_->Prune({other.job_id, {}, std::nullopt, true}), IsOk());
}

// Many threads race on the same identities: every caller sees one result.
TEST_P(ConformanceTest, RacingWritersStoreOneResult) {
  constexpr int kThreads = 8;
  constexpr int kActions = 20;
  absl::Mutex mu;
  std::vector<std::string> seen[kActions];
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int a = 0; a < kActions; ++a) {
        auto r = Append(Rec("race"), "act" + std::to_string(a),
                        Completion{"writer-" + std::to_string(t)});
        ASSERT_THAT(r, IsOk());
        absl::MutexLock l(&mu);
        seen[a].push_back(std::get<Completion>(r->stored).state);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int a = 0; a < kActions; ++a) {
    ASSERT_THAT(seen[a], SizeIs(kThreads));
    auto found = store_->LookupAction(Rec("race"), "act" + std::to_string(a));
    ASSERT_THAT(found, IsOk());
    for (const std::string& s : seen[a]) {
      EXPECT_EQ(s, found->action->completion->state);
    }
  }
}

// Concurrent writes of every kind on shared records, so that group commit
// puts them in one transaction: each gets its own answer, a refused one
// (a step gap) leaves its neighbours standing, and reads in the same batch
// see a consistent record.
TEST_P(ConformanceTest, MixedConcurrentWritesEachGetTheirOwnAnswer) {
  constexpr int kThreads = 6;
  constexpr int kRecords = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string action = "act-" + std::to_string(t);
      for (int r = 0; r < kRecords; ++r) {
        const RecordId rec = Rec("mixed", r);
        const Cost cost{1, 2, 3};
        auto intent = Append(rec, action, MakeStep(0, StepStatus::kPending));
        ASSERT_THAT(intent, IsOk());
        EXPECT_EQ(intent->outcome, AppendOutcome::kAppended);
        auto done =
            Append(rec, action,
                   MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d1", "R"),
                   0, ConflictPolicy::kKeepStored, cost);
        ASSERT_THAT(done, IsOk());
        EXPECT_EQ(done->outcome, AppendOutcome::kUpgraded);
        EXPECT_THAT(Append(rec, action, MakeStep(5, StepStatus::kPending)),
                    StatusIs(absl::StatusCode::kFailedPrecondition, "gap"));
        ASSERT_EQ(
            Append(rec, action, MakeStep(1, StepStatus::kPending))->outcome,
            AppendOutcome::kAppended);
        auto begun = Begin(rec);
        ASSERT_THAT(begun, IsOk());
        bool mine = false;
        for (const ActionEntries& a : begun->actions) {
          if (a.action_key != action) continue;
          mine = true;
          EXPECT_EQ(a.steps.size(), 2u);
          EXPECT_EQ(a.cost, cost);
        }
        EXPECT_TRUE(mine);
        auto completed = Append(rec, action, Completion{action}, 0,
                                ConflictPolicy::kKeepStored, cost);
        ASSERT_THAT(completed, IsOk());
        EXPECT_EQ(completed->outcome, AppendOutcome::kAppended);
        EXPECT_EQ(completed->stored_cost, (Cost{2, 4, 6}));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int r = 0; r < kRecords; ++r) {
    auto begun = Begin(Rec("mixed", r));
    ASSERT_THAT(begun, IsOk());
    ASSERT_EQ(begun->actions.size(), static_cast<size_t>(kThreads));
    for (const ActionEntries& a : begun->actions) {
      ASSERT_EQ(a.steps.size(), 2u) << a.action_key;
      EXPECT_EQ(a.steps[0].status, StepStatus::kSucceeded);
      EXPECT_EQ(a.steps[0].result, "R");
      EXPECT_EQ(a.steps[1].status, StepStatus::kPending);
      ASSERT_TRUE(a.completion.has_value());
      EXPECT_EQ(a.completion->state, a.action_key);
      EXPECT_EQ(a.cost, (Cost{2, 4, 6}));
    }
  }
}

// The read APIs (DESIGN 3, "Reading for people and tools").

// The keys of a page, in the order answered.
std::vector<std::string> KeysOf(const std::vector<RecordInfo>& page) {
  std::vector<std::string> out;
  for (const RecordInfo& r : page) {
    out.push_back(absl::StrCat(r.id.record_key, "/", r.id.seq_num));
  }
  return out;
}

TEST_P(ConformanceTest, ListRecordsNewestFirstFilteredAndPaged) {
  // Five records a second apart: a-1/0 a-1/1 a-2/0 b-1/0 b-2/0.
  const RecordId ids[] = {Rec("a-1", 0), Rec("a-1", 1), Rec("a-2", 0),
                          Rec("b-1", 0), Rec("b-2", 0)};
  absl::Time created[5];
  for (int i = 0; i < 5; ++i) {
    created[i] = Now();
    ASSERT_THAT(Begin(ids[i], 1), IsOk());
    Advance(absl::Seconds(1));
  }
  // Two records that share one creation time come in key order, newest
  // (largest) first.
  const RecordId tie = Rec("b-0", 0);
  created[4] = Now();
  ASSERT_THAT(Begin(tie, 1), IsOk());
  ASSERT_THAT(Begin(Rec("b-3", 0), 1), IsOk());
  // a-1/1 holds a step and a completion; a-2 is completed; b-1 pruned
  // with a retention; b-2 replayed (attempt 2 took it over).
  ASSERT_THAT(
      Append(ids[1], "act",
             MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d", "hello"), 1,
             ConflictPolicy::kKeepStored, Cost{10, 20, 30}),
      IsOk());
  ASSERT_THAT(Append(ids[1], "act", Completion{"state!"}, 1,
                     ConflictPolicy::kKeepStored, Cost{1, 2, 3}),
              IsOk());
  ASSERT_THAT(store_->CompleteRecord({ids[2], 1}), IsOk());
  PruneRequest keep;
  keep.job_id = job_;
  keep.keys = {{"b-1", 0}};
  keep.retention = absl::Hours(1);
  ASSERT_THAT(store_->Prune(keep), IsOk());
  ASSERT_THAT(Begin(ids[4], 2), IsOk());
  // Another job's records never show.
  ASSERT_THAT(Begin(RecordId{job_ + ".other", "a-1", 0}, 1), IsOk());

  auto list = [&](ListRecordsQuery q) {
    q.job_id = job_;
    auto page = store_->ListRecords(q);
    EXPECT_THAT(page, IsOk());
    return page.ok() ? *page : std::vector<RecordInfo>{};
  };
  EXPECT_THAT(KeysOf(list({})), ElementsAre("b-3/0", "b-0/0", "b-2/0", "b-1/0",
                                            "a-2/0", "a-1/1", "a-1/0"));
  // Paged by position: two at a time, each page after the last row.
  std::vector<std::string> paged;
  ListRecordsQuery q;
  q.limit = 2;
  for (int pages = 0; pages < 10; ++pages) {
    const std::vector<RecordInfo> page = list(q);
    for (const std::string& k : KeysOf(page)) paged.push_back(k);
    if (page.size() < 2) break;
    q.after = ListRecordsQuery::After{page.back().created_at,
                                      page.back().id.record_key,
                                      page.back().id.seq_num};
  }
  EXPECT_THAT(paged, ElementsAre("b-3/0", "b-0/0", "b-2/0", "b-1/0", "a-2/0",
                                 "a-1/1", "a-1/0"));

  ListRecordsQuery prefix;
  prefix.key_prefix = "a-";
  EXPECT_THAT(KeysOf(list(prefix)), ElementsAre("a-2/0", "a-1/1", "a-1/0"));
  prefix.key_prefix = "a-1";
  EXPECT_THAT(KeysOf(list(prefix)), ElementsAre("a-1/1", "a-1/0"));
  ListRecordsQuery status;
  status.status = ListRecordsQuery::Status::kCompleted;
  EXPECT_THAT(KeysOf(list(status)), ElementsAre("a-2/0"));
  status.status = ListRecordsQuery::Status::kRetained;
  EXPECT_THAT(KeysOf(list(status)), ElementsAre("b-1/0"));
  status.status = ListRecordsQuery::Status::kOpen;
  EXPECT_THAT(list(status), SizeIs(6));
  ListRecordsQuery range;
  range.created_from = created[1];
  range.created_before = created[3];
  EXPECT_THAT(KeysOf(list(range)), ElementsAre("a-2/0", "a-1/1"));
  ListRecordsQuery replayed;
  replayed.replayed_only = true;
  EXPECT_THAT(KeysOf(list(replayed)), ElementsAre("b-2/0"));

  // Each row as stored.
  for (const RecordInfo& r : list({})) {
    SCOPED_TRACE(r.id.record_key);
    EXPECT_EQ(r.attempt, r.id.record_key == "b-2" ? 2u : 1u);
    EXPECT_EQ(r.completed, r.id.record_key == "a-2");
    EXPECT_EQ(r.retained_until.has_value(), r.id.record_key == "b-1");
    EXPECT_EQ(r.replays, r.id.record_key == "b-2" ? 1u : 0u);
    if (r.id.record_key == "a-1" && r.id.seq_num == 1) {
      EXPECT_EQ(r.created_at, created[1]);
      EXPECT_EQ(r.actions, 1u);
      EXPECT_EQ(r.entries, 2u);
      EXPECT_EQ(r.payload_bytes, std::string("hello").size() + 6);
      EXPECT_EQ(r.cost, (Cost{11, 22, 33}));
    } else {
      EXPECT_EQ(r.entries, 0u);
    }
  }
  EXPECT_EQ(list({}).front().created_at, created[4]);
}

TEST_P(ConformanceTest, ReplaysAreCountedOnTakeoverAndEntriesKeepTheirTimes) {
  const absl::Time first_run = Now();
  auto begun = Begin(Rec(), 1);
  ASSERT_THAT(begun, IsOk());
  EXPECT_FALSE(begun->replayed);  // a first run writes no replay
  ASSERT_THAT(
      Append(Rec(), "a",
             MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d0", "r0"), 1),
      IsOk());
  ASSERT_THAT(
      Append(Rec(), "a", MakeStep(1, StepStatus::kPending, "tool", "d1")),
      IsOk());
  auto shown = store_->ShowRecord(Rec());
  ASSERT_THAT(shown, IsOk());
  ASSERT_TRUE(shown->has_value());
  EXPECT_EQ((*shown)->info.replays, 0u);
  EXPECT_EQ((*shown)->info.replayed_at, absl::InfinitePast());

  // The writer restarts: attempt 2 takes the record over.
  Advance(absl::Seconds(10));
  const absl::Time replay = Now();
  begun = Begin(Rec(), 2);
  ASSERT_THAT(begun, IsOk());
  EXPECT_TRUE(begun->replayed);
  // The replay runs the PENDING call again and finishes it.
  Advance(absl::Seconds(5));
  const absl::Time ran = Now();
  auto upgraded = Append(
      Rec(), "a", MakeStep(1, StepStatus::kSucceeded, "tool", "d1", "r1"), 2);
  ASSERT_THAT(upgraded, IsOk());
  EXPECT_FALSE(upgraded->replayed);  // the takeover counted once
  ASSERT_THAT(Append(Rec(), "a", Completion{"done"}, 2), IsOk());
  // The same attempt again, an attempt of 0 and a lower one: no replay.
  ASSERT_THAT(Begin(Rec(), 2), IsOk());
  ASSERT_THAT(Begin(Rec(), 0), IsOk());
  EXPECT_THAT(Begin(Rec(), 1), StatusIs(absl::StatusCode::kFailedPrecondition));

  shown = store_->ShowRecord(Rec());
  ASSERT_THAT(shown, IsOk());
  ASSERT_TRUE(shown->has_value());
  const RecordDetail& d = **shown;
  EXPECT_EQ(d.info.attempt, 2u);
  EXPECT_EQ(d.info.replays, 1u);
  EXPECT_EQ(d.info.replayed_at, replay);
  EXPECT_EQ(d.info.created_at, first_run);
  ASSERT_THAT(d.actions, SizeIs(1));
  const ActionEntries& a = d.actions[0];
  ASSERT_THAT(a.steps, SizeIs(2));
  EXPECT_EQ(a.steps[0].written_at, first_run);  // stored before: reused
  EXPECT_EQ(a.steps[1].written_at, ran);        // upgraded by the replay: ran
  EXPECT_EQ(a.steps[1].result, "r1");
  ASSERT_TRUE(a.completion.has_value());
  EXPECT_EQ(a.completion->written_at, ran);

  // A second restart counts again; CompleteRecord can take over too.
  Advance(absl::Seconds(1));
  auto completed = store_->CompleteRecord({Rec(), 3});
  ASSERT_THAT(completed, IsOk());
  EXPECT_TRUE(completed->replayed);
  ASSERT_THAT(Begin(Rec("other"), 1), IsOk());
  const JobStats stats = StatsOf(job_);
  EXPECT_EQ(stats.replayed_records, 1u);
  EXPECT_EQ(stats.replays, 2u);
}

TEST_P(ConformanceTest, ShowRecordReadsWithoutTakingOver) {
  EXPECT_THAT(store_->ShowRecord(Rec()), IsOkAndHolds(std::nullopt));
  ASSERT_THAT(
      Append(Rec(), "b", MakeStep(0, StepStatus::kSucceeded, "f", "d", "x"), 4),
      IsOk());
  ASSERT_THAT(Append(Rec(), "a", Completion{"s"}, 4), IsOk());
  Advance(absl::Hours(1));
  ListRecordsQuery q;
  q.job_id = job_;
  auto before = store_->ListRecords(q);
  ASSERT_THAT(before, IsOk());
  auto shown = store_->ShowRecord(Rec());
  ASSERT_THAT(shown, IsOk());
  ASSERT_TRUE(shown->has_value());
  ASSERT_THAT((*shown)->actions, SizeIs(2));
  EXPECT_EQ((*shown)->actions[0].action_key, "a");
  EXPECT_EQ((*shown)->actions[1].steps[0].result, "x");
  auto after = store_->ListRecords(q);
  ASSERT_THAT(after, IsOk());
  ASSERT_THAT(*after, SizeIs(1));
  EXPECT_EQ(after->front().attempt, 4u);
  EXPECT_EQ(after->front().written_at, before->front().written_at);
  EXPECT_EQ(after->front().replays, 0u);
  // A later writer of the same attempt is not fenced by the read.
  EXPECT_THAT(Append(Rec(), "c", Completion{"t"}, 4), IsOk());
}

TEST_P(ConformanceTest, InvalidateDropsAnActionOrARecordForTheNextReplay) {
  ASSERT_THAT(
      Append(Rec(), "a",
             MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d", "r"), 3),
      IsOk());
  ASSERT_THAT(Append(Rec(), "a", Completion{"done-a"}, 3), IsOk());
  ASSERT_THAT(Append(Rec(), "b", MakeStep(0, StepStatus::kPending), 3), IsOk());
  ASSERT_THAT(Append(Rec("other"), "a", Completion{"kept"}, 3), IsOk());

  // Bad targets change nothing.
  EXPECT_THAT(store_->Invalidate({Rec("nobody"), "", false}),
              StatusIs(absl::StatusCode::kNotFound, "record"));
  EXPECT_THAT(store_->Invalidate({Rec(), "c", false}),
              StatusIs(absl::StatusCode::kNotFound, "action_key"));

  // One action: its steps and completion go, the other action stays, and
  // the next replay runs it again (its entries append afresh).
  auto one = store_->Invalidate({Rec(), "a", false});
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ(one->entries_deleted, 2u);
  EXPECT_FALSE(one->reopened);
  auto found = store_->LookupAction(Rec(), "a");
  ASSERT_THAT(found, IsOk());
  EXPECT_FALSE(found->action.has_value());
  auto begun = Begin(Rec(), 3);
  ASSERT_THAT(begun, IsOk());
  ASSERT_THAT(begun->actions, SizeIs(1));
  EXPECT_EQ(begun->actions[0].action_key, "b");
  EXPECT_EQ(begun->attempt, 3u);  // the owner is unchanged
  auto again =
      Append(Rec(), "a",
             MakeStep(0, StepStatus::kSucceeded, "llm.chat", "d", "new"), 3);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome, AppendOutcome::kAppended);

  // A completed record: refused unless forced, which reopens it.
  ASSERT_THAT(store_->CompleteRecord({Rec(), 3}), IsOk());
  EXPECT_THAT(store_->Invalidate({Rec(), "", false}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "force"));
  EXPECT_EQ(StepsOf(Rec(), "a").size(), 1u);
  auto all = store_->Invalidate({Rec(), "", true});
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->entries_deleted, 2u);
  EXPECT_TRUE(all->reopened);
  begun = Begin(Rec(), 3);
  ASSERT_THAT(begun, IsOk());
  EXPECT_EQ(begun->status, RecordStatus::kOpen);
  EXPECT_THAT(begun->actions, SizeIs(0));
  // The other record, and the job's counts: only what went is gone.
  found = store_->LookupAction(Rec("other"), "a");
  ASSERT_THAT(found, IsOk());
  ASSERT_TRUE(found->action.has_value());
  EXPECT_EQ(found->action->completion->state, "kept");
  const JobStats stats = StatsOf(job_);
  EXPECT_EQ(stats.records, 2u);
  EXPECT_EQ(stats.entries, 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, ConformanceTest, ::testing::ValuesIn(AllStoreFactories()),
    [](const ::testing::TestParamInfo<StoreFactory>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace actionjournal
