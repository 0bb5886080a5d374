// The server's own promises, in process: a full work queue answers
// RESOURCE_EXHAUSTED, and health follows the store.
#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/journal_client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/executor.h"
#include "server/metrics.h"
#include "server/server.h"
#include "storage/memory/memory_store.h"
#include "storage/stores.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::Eventually;
using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::StatusIs;

// A real memory store whose calls can be held at a gate and whose Ping can be
// made to fail.
class GatedStore final : public JournalStore {
 public:
  absl::StatusOr<BeginResult> BeginRecord(const BeginRequest& r) override {
    Gate();
    return inner_->BeginRecord(r);
  }
  absl::StatusOr<AppendResult> AppendAction(const AppendRequest& r) override {
    Gate();
    return inner_->AppendAction(r);
  }
  absl::StatusOr<LookupResult> LookupAction(const RecordId& r,
                                            const std::string& k) override {
    Gate();
    return inner_->LookupAction(r, k);
  }
  absl::StatusOr<CompleteResult> CompleteRecord(
      const CompleteRequest& r) override {
    Gate();
    return inner_->CompleteRecord(r);
  }
  absl::StatusOr<PruneResult> Prune(const PruneRequest& r) override {
    Gate();
    return inner_->Prune(r);
  }
  absl::Status Ping() override {
    if (down_.load()) return absl::UnavailableError("store down");
    return inner_->Ping();
  }

  void Close() {
    absl::MutexLock l(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock l(&mu_);
    open_ = true;
  }
  int Waiting() {
    absl::MutexLock l(&mu_);
    return waiting_;
  }
  std::atomic<bool> down_{false};

 private:
  void Gate() {
    absl::MutexLock l(&mu_);
    ++waiting_;
    mu_.Await(absl::Condition(&open_));
    --waiting_;
  }
  std::unique_ptr<JournalStore> inner_ = NewMemoryJournalStore();
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(ExecutorTest, RefusesWhenQueueIsFull) {
  // Declared before the executor, which runs what is queued when it goes.
  std::atomic<int> ran{0};
  absl::Notification release;
  absl::Notification started;
  Executor executor(1, 1);
  ASSERT_TRUE(executor.TrySchedule([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  EXPECT_TRUE(executor.TrySchedule([&] { ++ran; }));   // waits in the queue
  EXPECT_FALSE(executor.TrySchedule([&] { ++ran; }));  // queue full
  release.Notify();
  ASSERT_TRUE(Eventually([&] { return executor.QueueDepth() == 0; }));
  EXPECT_TRUE(executor.TrySchedule([&] { ++ran; }));
}

v1::LookupActionRequest Lookup() {
  v1::LookupActionRequest req;
  req.mutable_record()->set_job_id("job");
  req.mutable_record()->set_record_key("k");
  req.set_action_key("a");
  return req;
}

// LookupAction calls refused as busy so far (actionjournal_busy_total).
double BusyLookups(const ServerMetrics& metrics) {
  for (const auto& family : metrics.registry()->Collect()) {
    if (family.name != "actionjournal_busy_total") continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "method" && label.value == "LookupAction")
          return metric.counter.value;
      }
    }
  }
  return 0;
}

TEST(JournalServerTest, FullQueueAnswersResourceExhausted) {
  GatedStore store;
  ServerMetrics metrics("memory");
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.workers = 1;
  options.queue_capacity = 1;
  auto server = JournalServer::Start(options, store, &metrics);
  ASSERT_THAT(server, IsOk());
  ClientOptions co;
  co.target = "127.0.0.1:" + std::to_string((*server)->port());
  auto client = JournalClient::Create(co);
  ASSERT_THAT(client, IsOk());

  // A second client with a short deadline and no retries, its connection
  // made up front so that its calls reach the server well within that
  // deadline.
  co.deadline = absl::Seconds(1);
  co.retry.max_attempts = 1;
  auto impatient = JournalClient::Create(co);
  ASSERT_THAT(impatient, IsOk());
  ASSERT_THAT((*impatient)->LookupAction(Lookup()), IsOk());
  auto raw = v1::ActionJournal::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                          grpc::InsecureChannelCredentials()));

  store.Close();
  // One call holds the only worker.
  std::thread first(
      [&] { EXPECT_THAT((*client)->LookupAction(Lookup()), IsOk()); });
  ASSERT_TRUE(Eventually([&] { return store.Waiting() >= 1; }));
  // The next call takes the only queue slot (and times out there); the one
  // after it is refused at once, marked as worth a retry.
  EXPECT_THAT((*impatient)->LookupAction(Lookup()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT((*impatient)->LookupAction(Lookup()),
              StatusIs(absl::StatusCode::kResourceExhausted, "queue is full"));
  {
    grpc::ClientContext ctx;
    v1::LookupActionResponse resp;
    grpc::Status s = raw->LookupAction(&ctx, Lookup(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(
        ctx.GetServerTrailingMetadata().count("actionjournal-retry-after-ms"),
        1u);
  }
  // A client with retries, refused at first, gets through once the queue
  // drains.
  const double refused = BusyLookups(metrics);
  EXPECT_EQ(refused, 2);  // the impatient client's and the raw call
  absl::StatusOr<v1::LookupActionResponse> retried = absl::UnknownError("");
  std::thread patient([&] { retried = (*client)->LookupAction(Lookup()); });
  EXPECT_TRUE(Eventually([&] { return BusyLookups(metrics) > refused; }))
      << "the patient client was never refused";
  store.Open();
  first.join();
  patient.join();
  EXPECT_THAT(retried, IsOk());
  EXPECT_THAT((*client)->LookupAction(Lookup()), IsOk());
}

TEST(JournalServerTest, HealthFollowsTheStore) {
  GatedStore store;
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.health_interval = absl::Milliseconds(20);
  auto server = JournalServer::Start(options, store);
  ASSERT_THAT(server, IsOk());
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                          grpc::InsecureChannelCredentials()));
  auto status = [&] {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    EXPECT_TRUE(stub->Check(&ctx, req, &resp).ok());
    return resp.status();
  };
  auto await = [&](grpc::health::v1::HealthCheckResponse::ServingStatus want) {
    return Eventually([&] { return status() == want; }, absl::Seconds(10),
                      absl::Milliseconds(10));
  };
  EXPECT_TRUE(await(grpc::health::v1::HealthCheckResponse::SERVING));
  store.down_ = true;
  EXPECT_TRUE(await(grpc::health::v1::HealthCheckResponse::NOT_SERVING));
  store.down_ = false;
  EXPECT_TRUE(await(grpc::health::v1::HealthCheckResponse::SERVING));
}

}  // namespace
}  // namespace actionjournal
