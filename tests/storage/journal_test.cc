// What the journal itself promises, whatever the backend: asynchronous writes
// answer once, after their transaction, and a full write queue refuses at once.
#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "storage/backend.h"
#include "storage/memory/memory_store.h"
#include "storage/stores.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::Eventually;
using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::StatusIs;

// Holds the committer inside its first batch until released.
class HoldingObserver final : public JournalObserver {
 public:
  void OnBatch(int, absl::Duration, const absl::Status&) override {
    absl::MutexLock l(&mu_);
    ++batches_;
    mu_.Await(absl::Condition(&released_));
  }
  void Release() {
    absl::MutexLock l(&mu_);
    released_ = true;
  }
  int batches() {
    absl::MutexLock l(&mu_);
    return batches_;
  }

 private:
  absl::Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
};

AppendRequest CompletionOf(const std::string& action) {
  AppendRequest req;
  req.record = RecordId{"job", "key", 1};
  req.action_key = action;
  req.entry = Completion{action};
  return req;
}

TEST(JournalTest, FullWriteQueueRefusesAtOnceAndQueuedWritesStillCommit) {
  HoldingObserver observer;
  JournalOptions options;
  options.max_queued_writes = 1;
  auto store = NewMemoryJournalStore(options, &observer);

  absl::Notification first_done, second_done;
  absl::StatusOr<AppendResult> first, second;
  store->AppendActionAsync(CompletionOf("a"),
                           [&](auto r) {
                             first = std::move(r);
                             first_done.Notify();
                           },
                           {});
  ASSERT_TRUE(Eventually([&] { return observer.batches() >= 1; }));
  // The committer holds "a"; "b" takes the one queue slot; "c" is refused.
  store->AppendActionAsync(CompletionOf("b"),
                           [&](auto r) {
                             second = std::move(r);
                             second_done.Notify();
                           },
                           {});
  absl::StatusOr<AppendResult> third = absl::UnknownError("not answered");
  store->AppendActionAsync(CompletionOf("c"),
                           [&](auto r) { third = std::move(r); }, {});
  EXPECT_THAT(
      third, StatusIs(absl::StatusCode::kResourceExhausted, "too many writes"));
  EXPECT_TRUE(IsRetryable(third.status())) << "a full queue is worth a retry";
  EXPECT_FALSE(first_done.HasBeenNotified());  // not before its commit ends

  observer.Release();
  first_done.WaitForNotification();
  second_done.WaitForNotification();
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(first->outcome, AppendOutcome::kAppended);
  EXPECT_EQ(second->outcome, AppendOutcome::kAppended);
  // The refused write changed nothing.
  EXPECT_FALSE(store->LookupAction({"job", "key", 1}, "c")->action.has_value());
}

// A backend whose transaction fails as a whole when any write in it would
// store the state "poison": as PostgreSQL fails a batch's multi-row INSERT
// for one value it refuses.
class PoisonBackend final : public ForwardingBackend {
 public:
  PoisonBackend() : ForwardingBackend(NewMemoryBackend()) {}

  absl::Status Write(const ReadSet& reads,
                     absl::FunctionRef<WriteSet(const Snapshot&)> decide,
                     absl::Time deadline) override {
    absl::StatusOr<Snapshot> snapshot = inner().Read(reads);
    if (!snapshot.ok()) return snapshot.status();
    for (const auto& c : decide(*snapshot).completions) {
      if (c.completion.state == "poison")
        return absl::InternalError("statement failed: poison");
    }
    return inner().Write(reads, decide, deadline);
  }
};

TEST(JournalTest, AWriteTheStoreRefusesNeverFailsItsBatch) {
  HoldingObserver observer;
  auto store = NewJournal(std::make_unique<PoisonBackend>(), {}, &observer);
  absl::Notification held;
  store->AppendActionAsync(CompletionOf("first"), [&](auto) { held.Notify(); },
                           {});
  ASSERT_TRUE(Eventually([&] { return observer.batches() >= 1; }));
  // These queue behind the held batch, so that they commit as one.
  constexpr int kWrites = 5;
  absl::Mutex mu;
  std::vector<absl::StatusOr<AppendResult>> results(kWrites,
                                                    absl::UnknownError(""));
  int answered = 0;
  for (int i = 0; i < kWrites; ++i) {
    AppendRequest req = CompletionOf("w" + std::to_string(i));
    if (i == 2) req.entry = Completion{"poison"};
    store->AppendActionAsync(req,
                             [&, i](auto r) {
                               absl::MutexLock lock(&mu);
                               results[i] = std::move(r);
                               ++answered;
                             },
                             {});
  }
  observer.Release();
  held.WaitForNotification();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == kWrites; }, &answered));
  }
  for (int i = 0; i < kWrites; ++i) {
    SCOPED_TRACE(i);
    const auto found =
        store->LookupAction({"job", "key", 1}, "w" + std::to_string(i));
    ASSERT_THAT(found, IsOk());
    if (i == 2) {
      EXPECT_THAT(results[i], StatusIs(absl::StatusCode::kInternal, "poison"));
      EXPECT_FALSE(found->action.has_value());
    } else {
      EXPECT_THAT(results[i], IsOk());
      EXPECT_TRUE(found->action.has_value());
    }
  }
  EXPECT_GE(observer.batches(), 2);
}

TEST(JournalTest, DestroyingTheStoreCommitsWhatIsQueued) {
  std::atomic<int> answered{0};
  {
    auto store = NewMemoryJournalStore();
    for (int i = 0; i < 50; ++i) {
      store->AppendActionAsync(CompletionOf("a" + std::to_string(i)),
                               [&](auto r) {
                                 EXPECT_THAT(r, IsOk());
                                 answered.fetch_add(1);
                               },
                               {});
    }
  }
  EXPECT_EQ(answered.load(), 50);
}

}  // namespace
}  // namespace actionjournal
