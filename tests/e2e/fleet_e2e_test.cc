// A fleet on one PostgreSQL (issue 13): many servers within their connection
// budget, and clients balancing over every replica a target names. Needs the
// server that scripts/with-postgres.sh starts (scripts/test.sh does); it
// is never stopped here, so these tests run beside others.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/journal_client.h"
#include "gmock/gmock.h"
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
using ::actionjournal::testing::TempDir;

v1::AppendActionRequest Completion(const std::string& job, int key, int action,
                                   const std::string& state) {
  v1::AppendActionRequest req;
  req.mutable_record()->set_job_id(job);
  req.mutable_record()->set_record_key(absl::StrCat("key-", key));
  req.mutable_record()->set_seq_num(1);
  req.set_action_key(absl::StrCat("act-", action));
  req.mutable_completion()->set_state(state);
  return req;
}

// The DSN with a query parameter added.
std::string WithParam(const std::string& dsn, const std::string& param) {
  return absl::StrCat(dsn, dsn.find('?') == std::string::npos ? "?" : "&",
                      param);
}

// Runs `sql` with psql; its output, one line per row, or "" on failure.
std::string Psql(const std::string& dsn, const std::string& sql) {
  const std::string cmd = absl::StrCat("psql -At -v ON_ERROR_STOP=1 -d '", dsn,
                                       "' -c \"", sql, "\" 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return pclose(p) == 0 ? out : "";
}

class FleetE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
    ASSERT_NE(dsn, nullptr)
        << "run under scripts/with-postgres.sh (scripts/test.sh does)";
    dsn_ = dsn;
    dir_ = TempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    // This run's own name, so that other tests' connections do not count.
    tag_ = absl::StrCat("aj-fleet-", getpid());
  }

  std::unique_ptr<ServerProcess> Start(int n, std::vector<std::string> args) {
    args.push_back(
        "--store=" +
        WithParam(dsn_, absl::StrCat("application_name=", tag_, "-", n)));
    auto s = ServerProcess::Start(
        args, absl::StrCat(dir_, "/server-", n, ".log"), absl::Seconds(60));
    EXPECT_THAT(s, IsOk());
    return s.ok() ? std::move(s).value() : nullptr;
  }

  static std::unique_ptr<JournalClient> Client(const std::string& target) {
    ClientOptions o;
    o.target = target;
    return std::move(JournalClient::Create(o)).value();
  }

  // Connections to PostgreSQL now, by server number.
  std::map<int, int> Connections() {
    std::map<int, int> out;
    const std::string rows = Psql(
        dsn_, absl::StrCat("SELECT application_name, count(*) FROM "
                           "pg_stat_activity WHERE application_name LIKE '",
                           tag_, "-%' GROUP BY 1"));
    for (absl::string_view line : absl::StrSplit(rows, '\n')) {
      std::vector<std::string> f = absl::StrSplit(line, '|');
      int n = 0, count = 0;
      if (f.size() == 2 && absl::SimpleAtoi(f[0].substr(tag_.size() + 1), &n) &&
          absl::SimpleAtoi(f[1], &count)) {
        out[n] = count;
      }
    }
    return out;
  }

  std::string dsn_, dir_, tag_;
};

// 8 servers with --pg-pool-size=3 under writes and reads (more readers than
// connections, so each pool is used to its end): PostgreSQL never sees more
// than 3 connections of one server, 24 of all; and each server does reach
// its 3, so a pool that ignored the flag would be caught.
TEST_F(FleetE2eTest, EightServersStayWithinTheirConnectionBudget) {
  constexpr int kServers = 8, kPool = 3;
  std::vector<std::unique_ptr<ServerProcess>> servers;
  for (int i = 0; i < kServers; ++i) {
    servers.push_back(Start(i, {"--pg-pool-size=3", "--pg-write-transactions=2",
                                "--health-interval=200ms"}));
    ASSERT_NE(servers.back(), nullptr);
  }
  const std::string job = absl::StrCat("budget-", getpid());
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0}, failed{0};
  absl::Mutex mu;
  std::string first_error;
  std::vector<std::thread> load;
  for (int s = 0; s < kServers; ++s) {
    const std::string target = servers[s]->Target();
    for (int t = 0; t < 5; ++t) {
      load.emplace_back([&, s, t, target] {
        auto client = Client(target);
        for (int i = 0; !stop; ++i) {
          absl::Status st;
          if (t < 2) {  // a writer
            st = client->AppendAction(Completion(job, s * 10 + t, i, "x"))
                     .status();
            if (st.ok()) ++appended;
          } else {  // a reader of what the writers wrote
            v1::LookupActionRequest req;
            *req.mutable_record() =
                Completion(job, s * 10, i % 50, "").record();
            req.set_action_key(absl::StrCat("act-", i % 50));
            st = client->LookupAction(req).status();
          }
          if (!st.ok()) {
            ++failed;
            absl::MutexLock l(&mu);
            if (first_error.empty()) first_error = st.ToString();
          }
        }
      });
    }
  }
  std::map<int, int> most;
  int most_total = 0;
  for (absl::Time until = absl::Now() + absl::Seconds(6);
       absl::Now() < until;) {
    int total = 0;
    for (const auto& [n, count] : Connections()) {
      most[n] = std::max(most[n], count);
      total += count;
    }
    most_total = std::max(most_total, total);
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  for (auto& th : load) th.join();

  EXPECT_EQ(failed, 0) << first_error;
  EXPECT_GT(appended, 100);
  EXPECT_LE(most_total, kServers * kPool);
  ASSERT_EQ(most.size(), static_cast<size_t>(kServers));
  for (const auto& [n, count] : most) {
    EXPECT_EQ(count, kPool) << "server " << n;
  }
  // The pool's own gauges agree: never more open than the budget.
  for (auto& s : servers) {
    auto m = Scrape(s->metrics_port());
    ASSERT_THAT(m, IsOk());
    EXPECT_LE((*m)[R"(actionjournal_store_connections{state="in_use"})"] +
                  (*m)[R"(actionjournal_store_connections{state="idle"})"],
              kPool);
  }
  std::printf(
      "budget: %d servers, most connections %d (budget %d), %d "
      "appends\n",
      kServers, most_total, kServers * kPool, appended.load());
}

// Requests answered by a server, all methods and codes.
double Answered(const ServerProcess& s) {
  auto m = Scrape(s.metrics_port());
  if (!m.ok()) return -1;
  double sum = 0;
  for (const auto& [series, value] : *m) {
    if (series.rfind("actionjournal_requests_total{", 0) == 0) sum += value;
  }
  return sum;
}

// One client, one target naming two servers: both serve a share. Then one
// is SIGKILLed under the load: the writers see retries, never an error, and
// everything acknowledged is stored.
TEST_F(FleetE2eTest, ClientsBalanceOverEveryAddressAndSurviveAReplicaLoss) {
  auto a = Start(0, {});
  auto b = Start(1, {});
  ASSERT_TRUE(a && b);
  const std::string target =
      absl::StrCat("ipv4:127.0.0.1:", a->port(), ",127.0.0.1:", b->port());
  auto client = Client(target);
  const std::string job = absl::StrCat("balance-", getpid());

  // Sequential calls: round_robin alternates between the two.
  for (int i = 0; i < 40; ++i) {
    ASSERT_THAT(client->AppendAction(Completion(job, 0, i, "v")), IsOk());
  }
  const double on_a = Answered(*a), on_b = Answered(*b);
  EXPECT_GE(on_a, 10) << "a served " << on_a << ", b " << on_b;
  EXPECT_GE(on_b, 10) << "a served " << on_a << ", b " << on_b;

  // 4 writers; b goes away once it has served 100 of their appends, and
  // the writers go on until 400 more were acknowledged after that.
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  absl::Mutex mu;
  std::map<std::pair<int, int>, bool> acked;
  std::vector<std::thread> writers;
  for (int t = 1; t <= 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        auto r = client->AppendAction(Completion(job, t, i, "v"));
        if (!r.ok()) {
          ++failed;
          continue;
        }
        absl::MutexLock l(&mu);
        acked[{t, i}] = true;
      }
    });
  }
  const auto acked_now = [&] {
    absl::MutexLock l(&mu);
    return acked.size();
  };
  EXPECT_TRUE(Eventually([&] { return Answered(*b) >= on_b + 100; },
                         absl::Seconds(30), absl::Milliseconds(50)))
      << "b served " << Answered(*b) - on_b << " of the writers' appends";
  const double b_before_kill = Answered(*b);
  ASSERT_THAT(b->Stop(SIGKILL), IsOk());
  const size_t at_kill = acked_now();
  EXPECT_TRUE(Eventually([&] { return acked_now() >= at_kill + 400; }))
      << acked_now() - at_kill << " acknowledged after b died";
  stop = true;
  for (auto& th : writers) th.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(b_before_kill, on_b) << "b served part of the load before it died";

  // Every acknowledged append is stored, read through the survivor.
  auto reader = Client(a->Target());
  int verified = 0;
  for (const auto& [id, ok] : acked) {
    v1::LookupActionRequest req;
    *req.mutable_record() = Completion(job, id.first, id.second, "").record();
    req.set_action_key(absl::StrCat("act-", id.second));
    auto l = reader->LookupAction(req);
    ASSERT_THAT(l, IsOk());
    ASSERT_TRUE(l->found()) << id.first << "/" << id.second;
    ++verified;
  }
  EXPECT_GT(verified, 50);
  std::printf(
      "balance: a %g, b %g of the first 40 calls; %d appends "
      "acknowledged across the loss of b, none failed\n",
      on_a, on_b, verified);
}

}  // namespace
}  // namespace actionjournal
