// The rules alone, with no backend: a snapshot and a batch of requests in,
// answers and a write-set out. Table-driven: each case names the stored
// state, the requests, and what must come out.
#include "storage/rules.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actionjournal {
namespace {

const RecordId kRec{"job", "key", 7};
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

Step MakeStep(uint32_t index, StepStatus status,
              const std::string& payload = "", const std::string& fn = "llm") {
  Step s;
  s.index = index;
  s.function_id = fn;
  s.args_digest = "d";
  s.status = status;
  if (status == StepStatus::kSucceeded) s.result = payload;
  if (status == StepStatus::kFailed) s.error = payload;
  return s;
}

WriteRequest Append(const std::string& action, Entry entry,
                    uint64_t attempt = 0,
                    ConflictPolicy policy = ConflictPolicy::kKeepStored) {
  AppendRequest r;
  r.record = kRec;
  r.action_key = action;
  r.entry = std::move(entry);
  r.attempt = attempt;
  r.conflict_policy = policy;
  r.cost = Cost{1, 2, 3};
  return r;
}

WriteRequest Begin(uint64_t attempt = 0, const std::string& fp = "",
                   bool reset = false) {
  BeginRequest r;
  r.record = kRec;
  r.attempt = attempt;
  r.input_fingerprint = fp;
  r.reset_on_mismatch = reset;
  return r;
}

WriteRequest Complete(uint64_t attempt = 0) {
  CompleteRequest r;
  r.record = kRec;
  r.attempt = attempt;
  return r;
}

// A stored record: its row, and actions by key.
Snapshot Stored(RecordRow row,
                std::map<std::string, StoredAction> actions = {}) {
  Snapshot s;
  s[kRec].row = row;
  s[kRec].actions = std::move(actions);
  return s;
}

StoredAction WithSteps(std::vector<Step> steps) {
  StoredAction a;
  a.steps = std::move(steps);
  return a;
}

// What a case expects: per request, an outcome or an error code; and the
// write-set's shape.
struct Expect {
  std::vector<std::string>
      answers;  // "APPENDED", "DUPLICATE", ..., or a code name
  size_t record_inserts = 0, record_updates = 0;
  size_t step_inserts = 0, step_upgrades = 0;
  std::vector<uint64_t> step_deletes;   // expected counts
  std::vector<uint64_t> entry_deletes;  // expected counts
  size_t completions = 0;
};

struct Case {
  std::string name;
  Snapshot snapshot;
  std::vector<WriteRequest> requests;
  Expect expect;
};

std::string AnswerName(const absl::StatusOr<WriteResult>& r) {
  if (!r.ok()) return absl::StatusCodeToString(r.status().code());
  if (const auto* a = std::get_if<AppendResult>(&*r)) {
    switch (a->outcome) {
      case AppendOutcome::kAppended:
        return "APPENDED";
      case AppendOutcome::kDuplicate:
        return "DUPLICATE";
      case AppendOutcome::kUpgraded:
        return "UPGRADED";
      case AppendOutcome::kConflict:
        return "CONFLICT";
    }
  }
  if (const auto* b = std::get_if<BeginResult>(&*r)) {
    std::string s = b->status == RecordStatus::kNew    ? "NEW"
                    : b->status == RecordStatus::kOpen ? "OPEN"
                                                       : "COMPLETED";
    if (b->reset) s += "+RESET";
    if (b->input_mismatch && !b->reset) s += "+MISMATCH";
    return s;
  }
  return std::get<CompleteResult>(*r).newly_completed ? "COMPLETED" : "ALREADY";
}

std::vector<Case> Cases() {
  RecordRow open;
  open.attempt = 3;
  open.written_at = kNow - kTouchEvery / 2;  // marked recently
  RecordRow done = open;
  done.completed = true;
  done.completed_at = kNow - absl::Hours(1);
  RecordRow fingerprinted = open;
  fingerprinted.input_fingerprint = "fp1";
  StoredAction completed_action =
      WithSteps({MakeStep(0, StepStatus::kSucceeded, "r")});
  completed_action.completion = Completion{"state"};

  return {
      {"FirstAppendCreatesTheRecord",
       {},
       {Append("a", MakeStep(0, StepStatus::kPending))},
       {{"APPENDED"}, 1, 0, 1}},
      {"LaterRequestsSeeEarlierOnes",
       {},
       {Append("a", MakeStep(0, StepStatus::kPending)),
        Append("a", MakeStep(0, StepStatus::kSucceeded, "r")),
        Append("a", MakeStep(1, StepStatus::kPending)),
        Append("a", Completion{"s"})},
       // The upgrade of a step inserted in the same batch is its insert.
       {{"APPENDED", "UPGRADED", "APPENDED", "APPENDED"},
        1,
        0,
        2,
        0,
        {},
        {},
        1}},
      {"IdenticalRetryIsDuplicateAndWritesNothing",
       Stored(open,
              {{"a", WithSteps({MakeStep(0, StepStatus::kSucceeded, "r")})}}),
       {Append("a", MakeStep(0, StepStatus::kSucceeded, "r"))},
       {{"DUPLICATE"}}},
      {"PendingIntentForAJournaledCallIsDuplicate",
       Stored(open,
              {{"a", WithSteps({MakeStep(0, StepStatus::kSucceeded, "r")})}}),
       {Append("a", MakeStep(0, StepStatus::kPending))},
       {{"DUPLICATE"}}},
      {"AnotherResultIsConflict",
       Stored(open,
              {{"a", WithSteps({MakeStep(0, StepStatus::kSucceeded, "r")})}}),
       {Append("a", MakeStep(0, StepStatus::kSucceeded, "other"))},
       {{"CONFLICT"}}},
      {"PendingUpgradesOnce",
       Stored(open, {{"a", WithSteps({MakeStep(0, StepStatus::kPending)})}}),
       {Append("a", MakeStep(0, StepStatus::kFailed, "boom")),
        Append("a", MakeStep(0, StepStatus::kSucceeded, "late"))},
       {{"UPGRADED", "CONFLICT"}, 0, 0, 0, 1}},
      {"AGapIsRefusedAndWritesNothing",
       Stored(open),
       {Append("a", MakeStep(2, StepStatus::kPending))},
       {{"FAILED_PRECONDITION"}}},
      {"ReplaceFromHereDeletesTheRestAndWrites",
       Stored(open, {{"a", WithSteps({MakeStep(0, StepStatus::kSucceeded, "r"),
                                      MakeStep(1, StepStatus::kSucceeded, "r1"),
                                      MakeStep(2, StepStatus::kPending)})}}),
       {Append("a", MakeStep(1, StepStatus::kPending, "", "other-fn"), 0,
               ConflictPolicy::kReplaceFromHere)},
       {{"APPENDED"}, 0, 0, 1, 0, {2}}},
      {"ACompletedActionRefusesSteps",
       Stored(open, {{"a", completed_action}}),
       {Append("a", MakeStep(1, StepStatus::kPending)),
        Append("a", MakeStep(0, StepStatus::kSucceeded, "r")),
        Append("a", Completion{"state"}), Append("a", Completion{"other"})},
       {{"FAILED_PRECONDITION", "DUPLICATE", "DUPLICATE", "CONFLICT"}}},
      {"ACompletedRecordRefusesNewEntries",
       Stored(done, {{"a", completed_action}}),
       {Append("b", MakeStep(0, StepStatus::kPending)),
        Append("a", Completion{"state"}), Complete()},
       {{"FAILED_PRECONDITION", "DUPLICATE", "ALREADY"}}},
      {"FencingRefusesALowerAttemptAndARefusalWritesNothing",
       Stored(open),
       {Append("a", MakeStep(0, StepStatus::kPending), 2),
        Append("a", MakeStep(0, StepStatus::kPending), 5)},
       {{"FAILED_PRECONDITION", "APPENDED"}, 0, 1, 1}},
      {"ARefusedRequestsAttemptRiseIsNotStored",
       Stored(open),
       {Append("a", MakeStep(1, StepStatus::kPending), 9)},
       {{"FAILED_PRECONDITION"}}},
      {"BeginCreatesThenFindsTheRecordOpen",
       {},
       {Begin(1, "fp"), Begin(1, "fp"), Complete(1), Begin(1)},
       {{"NEW", "OPEN", "COMPLETED", "COMPLETED"}, 1}},
      {"MismatchIsReportedOrReset",
       Stored(fingerprinted,
              {{"a", WithSteps({MakeStep(0, StepStatus::kSucceeded, "r")})},
               {"b", completed_action}}),
       {Begin(0, "fp2"), Begin(0, "fp2", /*reset=*/true),
        Append("a", Completion{"new"})},
       // The reset deletes the three stored entries; the completion after
       // it is new.
       {{"OPEN+MISMATCH", "OPEN+RESET", "APPENDED"}, 0, 1, 0, 0, {}, {3}, 1}},
  };
}

class RulesTest : public ::testing::TestWithParam<Case> {};

TEST_P(RulesTest, DecidesAnswersAndRows) {
  const Case& c = GetParam();
  Snapshot snapshot = c.snapshot;
  ReadSet reads;
  std::vector<const WriteRequest*> requests;
  for (const WriteRequest& r : c.requests) {
    AddReads(r, &reads);
    requests.push_back(&r);
  }
  // Every record the batch reads is in the snapshot, present or not.
  for (const auto& item : reads.items()) snapshot[item.record];
  const Decision d = Decide(snapshot, requests, kNow);
  std::vector<std::string> answers;
  for (const auto& r : d.results) answers.push_back(AnswerName(r));
  EXPECT_EQ(answers, c.expect.answers);
  size_t inserts = 0, updates = 0;
  for (const auto& r : d.writes.records) ++(r.insert ? inserts : updates);
  EXPECT_EQ(inserts, c.expect.record_inserts) << "record inserts";
  EXPECT_EQ(updates, c.expect.record_updates) << "record updates";
  size_t step_inserts = 0, upgrades = 0;
  for (const auto& s : d.writes.steps) ++(s.upgrade ? upgrades : step_inserts);
  EXPECT_EQ(step_inserts, c.expect.step_inserts) << "step inserts";
  EXPECT_EQ(upgrades, c.expect.step_upgrades) << "step upgrades";
  std::vector<uint64_t> step_deletes, entry_deletes;
  for (const auto& x : d.writes.step_deletes)
    step_deletes.push_back(x.expected);
  for (const auto& x : d.writes.entry_deletes)
    entry_deletes.push_back(x.expected);
  EXPECT_EQ(step_deletes, c.expect.step_deletes);
  EXPECT_EQ(entry_deletes, c.expect.entry_deletes);
  EXPECT_EQ(d.writes.completions.size(), c.expect.completions) << "completions";
}

INSTANTIATE_TEST_SUITE_P(Table, RulesTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(RulesTest, AnUpgradeCarriesItsCostAndAStepItsIndex) {
  Snapshot s = Stored(RecordRow{},
                      {{"a", WithSteps({MakeStep(0, StepStatus::kPending)})}});
  const WriteRequest up = Append("a", MakeStep(0, StepStatus::kSucceeded, "r"));
  const Decision d = Decide(s, {&up}, kNow);
  ASSERT_EQ(d.writes.steps.size(), 1u);
  EXPECT_TRUE(d.writes.steps[0].upgrade);
  EXPECT_EQ(d.writes.steps[0].step.result, "r");
  EXPECT_EQ(d.writes.steps[0].step.cost, (Cost{1, 2, 3}));
}

TEST(RulesTest, AWriteMarksItsRecordWrittenAtMostOnceATouchInterval) {
  const WriteRequest append = Append("a", MakeStep(0, StepStatus::kSucceeded));
  // A new record's row carries its write time.
  Decision d = Decide(Snapshot{{kRec, {}}}, {&append}, kNow);
  ASSERT_EQ(d.writes.records.size(), 1u);
  EXPECT_TRUE(d.writes.records[0].insert);
  EXPECT_EQ(d.writes.records[0].row.written_at, kNow);
  // An append into a record marked recently writes no record row...
  RecordRow row;
  row.written_at = kNow - kTouchEvery + absl::Seconds(1);
  d = Decide(Stored(row, {}), {&append}, kNow);
  EXPECT_TRUE(d.writes.records.empty());
  EXPECT_EQ(d.writes.steps.size(), 1u);
  // ...and into one marked longer ago, updates its mark.
  row.written_at = kNow - kTouchEvery;
  d = Decide(Stored(row, {}), {&append}, kNow);
  ASSERT_EQ(d.writes.records.size(), 1u);
  EXPECT_FALSE(d.writes.records[0].insert);
  EXPECT_EQ(d.writes.records[0].row.written_at, kNow);
  // A refused write (a gap) marks nothing.
  const WriteRequest gap = Append("a", MakeStep(5, StepStatus::kSucceeded));
  d = Decide(Stored(row, {}), {&gap}, kNow);
  EXPECT_TRUE(d.writes.records.empty());
}

TEST(RulesTest, ReadsAnswerWithoutWritesOnlyWhenNothingChanges) {
  RecordRow row;
  row.attempt = 4;
  row.input_fingerprint = "fp";
  const Snapshot s =
      Stored(row, {{"a", WithSteps({MakeStep(0, StepStatus::kPending)})}});
  auto begin = [](uint64_t attempt, std::string fp, bool reset) {
    return std::get<BeginRequest>(Begin(attempt, fp, reset));
  };
  auto same = BeginWithoutWrites(s, begin(4, "fp", false));
  ASSERT_TRUE(same.has_value());
  ASSERT_TRUE(same->ok());
  EXPECT_EQ((*same)->actions.size(), 1u);
  EXPECT_TRUE(
      BeginWithoutWrites(s, begin(0, "other", false)).has_value());  // mismatch
  EXPECT_FALSE(
      BeginWithoutWrites(s, begin(5, "fp", false)).has_value());  // rises
  EXPECT_FALSE(
      BeginWithoutWrites(s, begin(0, "other", true)).has_value());  // reset
  auto fenced = BeginWithoutWrites(s, begin(3, "", false));
  ASSERT_TRUE(fenced.has_value());
  EXPECT_TRUE(IsFenced(fenced->status()));
  EXPECT_FALSE(
      BeginWithoutWrites(Snapshot{}, begin(0, "", false)).has_value());  // new

  const LookupResult l = LookupFrom(s, kRec, "a");
  EXPECT_EQ(l.record_status, RecordStatus::kOpen);
  ASSERT_TRUE(l.action.has_value());
  EXPECT_EQ(l.action->steps.size(), 1u);
  EXPECT_FALSE(LookupFrom(s, kRec, "b").action.has_value());
  EXPECT_FALSE(LookupFrom(Snapshot{}, kRec, "a").record_status.has_value());
}

}  // namespace
}  // namespace actionjournal
