// What the journal itself promises, whatever the backend: asynchronous writes
// answer once, after their transaction, and a full write queue refuses at once.
#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

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
  store->AppendActionAsync(CompletionOf("a"), [&](auto r) {
    first = std::move(r);
    first_done.Notify();
  });
  while (observer.batches() < 1) absl::SleepFor(absl::Milliseconds(1));
  // The committer holds "a"; "b" takes the one queue slot; "c" is refused.
  store->AppendActionAsync(CompletionOf("b"), [&](auto r) {
    second = std::move(r);
    second_done.Notify();
  });
  absl::StatusOr<AppendResult> third = absl::UnknownError("not answered");
  store->AppendActionAsync(CompletionOf("c"), [&](auto r) { third = std::move(r); });
  EXPECT_THAT(third, StatusIs(absl::StatusCode::kResourceExhausted, "too many writes"));
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

TEST(JournalTest, DestroyingTheStoreCommitsWhatIsQueued) {
  std::atomic<int> answered{0};
  {
    auto store = NewMemoryJournalStore();
    for (int i = 0; i < 50; ++i) {
      store->AppendActionAsync(CompletionOf("a" + std::to_string(i)), [&](auto r) {
        EXPECT_THAT(r, IsOk());
        answered.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(answered.load(), 50);
}

}  // namespace
}  // namespace actionjournal
