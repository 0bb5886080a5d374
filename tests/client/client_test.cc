// The C++ client against the real server binary: retries with backoff within
// a budget, a unix socket, asynchronous appends and RecordSession.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/journal_client.h"
#include "client/record_session.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/scrape.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::Eventually;
using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::Scrape;
using ::actionjournal::testing::ServerProcess;
using ::actionjournal::testing::StatusIs;
using ::actionjournal::testing::TempDir;

// Binds `fd` to a free port of 127.0.0.1; the port.
int BindLoopback(int fd) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// A port of 127.0.0.1 bound, not listening, while the object lives: a
// connection to it is refused, and no other test's server can take it.
class DeadPort {
 public:
  DeadPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)), port_(BindLoopback(fd_)) {}
  ~DeadPort() { close(fd_); }
  DeadPort(const DeadPort&) = delete;
  DeadPort& operator=(const DeadPort&) = delete;
  int port() const { return port_; }

 private:
  const int fd_;
  const int port_;
};

// A port of 127.0.0.1 where nothing serves: each connection is accepted and
// hung up at once, and counted, so that a test sees the client try. Close()
// frees the port for a server.
class HangingUpPort {
 public:
  HangingUpPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    port_ = BindLoopback(fd_);
    listen(fd_, 16);
    acceptor_ = std::thread([this] {
      for (int c; (c = accept(fd_, nullptr, nullptr)) >= 0;) {
        ++accepted_;
        close(c);
      }
    });
  }
  ~HangingUpPort() { Close(); }
  HangingUpPort(const HangingUpPort&) = delete;
  HangingUpPort& operator=(const HangingUpPort&) = delete;
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  void Close() {
    if (!acceptor_.joinable()) return;
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    close(fd_);
  }

 private:
  const int fd_;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
};

v1::AppendActionRequest Completion(const std::string& key,
                                   const std::string& action,
                                   const std::string& state) {
  v1::AppendActionRequest req;
  req.mutable_record()->set_job_id("client");
  req.mutable_record()->set_record_key(key);
  req.mutable_record()->set_seq_num(1);
  req.set_action_key(action);
  req.mutable_completion()->set_state(state);
  return req;
}

std::unique_ptr<JournalClient> Client(const std::string& target,
                                      ClientOptions o = {}) {
  o.target = target;
  return std::move(JournalClient::Create(o)).value();
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::unique_ptr<ServerProcess> Start(std::vector<std::string> args) {
    args.push_back("--store=sqlite://" + dir_ + "/journal.db");
    auto s = ServerProcess::Start(
        args, absl::StrCat(dir_, "/server-", starts_++, ".log"));
    EXPECT_THAT(s, IsOk());
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::string dir_;
  int starts_ = 0;
};

TEST_F(ClientTest, RetriesUntilTheServerComesUp) {
  HangingUpPort nothing;
  const int port = nothing.port();
  auto client = Client(absl::StrCat("127.0.0.1:", port));
  // The call starts while nothing serves; the server comes up once the
  // client has tried and been hung up on.
  auto call = std::async(std::launch::async, [&] {
    return client->AppendAction(Completion("k", "a", "S"));
  });
  ASSERT_TRUE(Eventually([&] { return nothing.accepted() >= 1; }));
  nothing.Close();
  auto server = Start({absl::StrCat("--listen=127.0.0.1:", port)});
  ASSERT_TRUE(server);
  auto r = call.get();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->outcome(), v1::APPEND_OUTCOME_APPENDED);
}

TEST_F(ClientTest, GivesUpWithinItsBudget) {
  ClientOptions o;
  o.retry.budget = absl::Seconds(1);
  o.retry.max_attempts = 1000;
  const DeadPort dead;  // held: no other test's server can answer here
  auto client = Client(absl::StrCat("127.0.0.1:", dead.port()), o);
  const absl::Time start = absl::Now();
  EXPECT_THAT(client->AppendAction(Completion("k", "a", "S")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(ClientTest, RetriesNeitherRefusalsNorAnswers) {
  auto server = Start({});
  ASSERT_TRUE(server);
  auto client = Client(server->Target());
  auto bad = Completion("k", "", "S");  // no action key
  // Coalesced, the refusal is the item's inside one AppendActions call.
  EXPECT_THAT(client->AppendAction(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto metrics = Scrape(server->metrics_port());
  ASSERT_THAT(metrics, IsOk());
  EXPECT_EQ(
      (*metrics)
          [R"(actionjournal_requests_total{code="OK",method="AppendActions"})"],
      1);
  // One call at a time, the call's own refusal.
  ClientOptions unary;
  unary.target = server->Target();
  unary.coalesce_appends = false;
  auto one = std::move(JournalClient::Create(unary)).value();
  EXPECT_THAT(one->AppendAction(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  metrics = Scrape(server->metrics_port());
  ASSERT_THAT(metrics, IsOk());
  EXPECT_EQ(
      (*metrics)
          [R"(actionjournal_requests_total{code="INVALID_ARGUMENT",method="AppendAction"})"],
      1);
}

// Concurrent appends from many threads share AppendActions calls, each
// with its own answer.
TEST_F(ClientTest, ConcurrentAppendsAreCoalesced) {
  auto server = Start({});
  ASSERT_TRUE(server);
  auto client = Client(server->Target());
  constexpr int kThreads = 16, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = client->AppendAction(Completion(absl::StrCat("k", t),
                                                 absl::StrCat("a", i),
                                                 absl::StrCat(t, "/", i)));
        if (r.ok() && r->outcome() == v1::APPEND_OUTCOME_APPENDED &&
            r->stored_completion().state() == absl::StrCat(t, "/", i)) {
          ++ok;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  auto metrics = Scrape(server->metrics_port());
  ASSERT_THAT(metrics, IsOk());
  const double calls = (*metrics)
      [R"(actionjournal_requests_total{code="OK",method="AppendActions"})"];
  EXPECT_GT(calls, 0);
  EXPECT_LT(calls, kThreads * kEach)
      << "appends in flight together share a call";
  EXPECT_EQ((*metrics)[R"(actionjournal_appends_total{outcome="appended"})"],
            kThreads * kEach);
}

TEST_F(ClientTest, UnixSocket) {
  const std::string socket = "unix://" + dir_ + "/journal.sock";
  auto server = Start({"--listen=" + socket});
  ASSERT_TRUE(server);
  auto client = Client(socket);
  auto r = client->AppendAction(Completion("k", "a", "S"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->outcome(), v1::APPEND_OUTCOME_APPENDED);
}

TEST_F(ClientTest, AsynchronousAppendsPipeline) {
  auto server = Start({});
  ASSERT_TRUE(server);
  auto client = Client(server->Target());
  std::vector<std::future<absl::StatusOr<v1::AppendActionResponse>>> inflight;
  for (int i = 0; i < 50; ++i) {
    inflight.push_back(client->AppendActionAsync(
        Completion("k", absl::StrCat("a", i), absl::StrCat("S", i))));
  }
  for (int i = 0; i < 50; ++i) {
    auto r = inflight[i].get();
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->outcome(), v1::APPEND_OUTCOME_APPENDED);
    EXPECT_EQ(r->stored_completion().state(), absl::StrCat("S", i));
  }
  // The callback form, and a replay: duplicates hand back what is stored.
  std::promise<absl::StatusOr<v1::AppendActionResponse>> p;
  client->AppendActionAsync(Completion("k", "a7", "other"),
                            [&p](auto r) { p.set_value(std::move(r)); });
  auto again = p.get_future().get();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->outcome(), v1::APPEND_OUTCOME_CONFLICT);
  EXPECT_EQ(again->stored_completion().state(), "S7");
}

TEST_F(ClientTest, AsynchronousAppendRetriesToo) {
  HangingUpPort nothing;
  const int port = nothing.port();
  auto client = Client(absl::StrCat("127.0.0.1:", port));
  auto pending = client->AppendActionAsync(Completion("k", "late", "S"));
  ASSERT_TRUE(Eventually([&] { return nothing.accepted() >= 1; }));
  nothing.Close();
  auto server = Start({absl::StrCat("--listen=127.0.0.1:", port)});
  ASSERT_TRUE(server);
  auto r = pending.get();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->outcome(), v1::APPEND_OUTCOME_APPENDED);
}

// A replayed record costs one round trip: after BeginRecord, lookups are
// answered locally, even with the server gone.
TEST_F(ClientTest, RecordSessionReplaysFromOneBeginRecord) {
  auto server = Start({});
  ASSERT_TRUE(server);
  auto client = Client(server->Target());
  v1::BeginRecordRequest begin;
  begin.mutable_record()->set_job_id("client");
  begin.mutable_record()->set_record_key("session");
  begin.mutable_record()->set_seq_num(4);
  begin.set_attempt(1);
  {
    auto first = RecordSession::Begin(*client, begin);
    ASSERT_THAT(first, IsOk());
    EXPECT_EQ((*first)->begun().status(), v1::RECORD_STATUS_NEW);
    EXPECT_FALSE((*first)->Lookup("summarize").has_value());
    v1::AppendActionRequest step;
    step.set_action_key("summarize");
    step.mutable_step()->set_index(0);
    step.mutable_step()->set_function_id("llm.chat");
    step.mutable_step()->set_status(v1::STEP_STATUS_SUCCEEDED);
    step.mutable_step()->set_result("R");
    ASSERT_THAT((*first)->Append(step), IsOk());
    v1::AppendActionRequest done;
    done.set_action_key("summarize");
    done.mutable_completion()->set_state("summary");
    auto async = (*first)->AppendAsync(done).get();
    ASSERT_THAT(async, IsOk());
    auto local = (*first)->Lookup("summarize");
    ASSERT_TRUE(local.has_value());
    EXPECT_EQ(local->steps(0).result(), "R");
    EXPECT_EQ(local->completion().state(), "summary");
  }
  auto before = Scrape(server->metrics_port());
  ASSERT_THAT(before, IsOk());
  auto replay = RecordSession::Begin(*client, begin);
  ASSERT_THAT(replay, IsOk());
  ASSERT_EQ(server->Stop(SIGTERM).value(), 0);  // nothing answers from here on
  auto found = (*replay)->Lookup("summarize");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->completion().state(), "summary");
  EXPECT_EQ(found->steps(0).result(), "R");
  EXPECT_FALSE((*replay)->Lookup("other").has_value());
  // No LookupAction was answered: the series is not even exposed yet.
  EXPECT_EQ(
      before->ValueOr(
          R"(actionjournal_requests_total{code="OK",method="LookupAction"})",
          0),
      0);
}

}  // namespace
}  // namespace actionjournal
