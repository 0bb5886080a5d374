// End-to-end: the real server binary, a real gRPC channel, real signals.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/journal_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/requests.h"
#include "tests/testing/scrape.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::CompletionReq;
using ::actionjournal::testing::Delta;
using ::actionjournal::testing::Eventually;
using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::Rec;
using ::actionjournal::testing::Scrape;
using ::actionjournal::testing::ServerProcess;
using ::actionjournal::testing::StatusIs;
using ::actionjournal::testing::StepReq;
using ::actionjournal::testing::TempDir;
using ::testing::HasSubstr;

class ServerE2eTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra = {}) {
    if (dir_.empty())
      dir_ = TempDir(
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    extra.push_back("--store=sqlite://" + dir_ + "/journal.db");
    auto server = ServerProcess::Start(
        extra, absl::StrCat(dir_, "/server-", starts_++, ".log"));
    ASSERT_THAT(server, IsOk());
    server_ = std::move(server).value();
    ClientOptions options;
    options.target = server_->Target();
    options.coalesce_appends = coalesce_;
    auto client = JournalClient::Create(options);
    ASSERT_THAT(client, IsOk());
    client_ = std::move(client).value();
  }

  std::string dir_;
  int starts_ = 0;
  bool coalesce_ = true;  // the client's coalesce_appends
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<JournalClient> client_;
};

TEST_F(ServerE2eTest, EveryRpcThroughTheClient) {
  StartServer();
  const v1::RecordId r = Rec("job-1", "user-7", 3);
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = r;
  begin.set_attempt(1);
  auto b = client_->BeginRecord(begin);
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->status(), v1::RECORD_STATUS_NEW);

  auto a1 =
      client_->AppendAction(StepReq(r, "act", 0, v1::STEP_STATUS_PENDING));
  ASSERT_THAT(a1, IsOk());
  EXPECT_EQ(a1->outcome(), v1::APPEND_OUTCOME_APPENDED);
  auto up = StepReq(r, "act", 0, v1::STEP_STATUS_SUCCEEDED, "R");
  up.mutable_cost()->set_input_tokens(100);
  up.mutable_cost()->set_micro_usd(250);
  auto a2 = client_->AppendAction(up);
  ASSERT_THAT(a2, IsOk());
  EXPECT_EQ(a2->outcome(), v1::APPEND_OUTCOME_UPGRADED);
  auto conflict = client_->AppendAction(
      StepReq(r, "act", 0, v1::STEP_STATUS_SUCCEEDED, "other"));
  ASSERT_THAT(conflict, IsOk());
  EXPECT_EQ(conflict->outcome(), v1::APPEND_OUTCOME_CONFLICT);
  EXPECT_EQ(conflict->stored_step().result(), "R");
  ASSERT_THAT(client_->AppendAction(CompletionReq(r, "act", "S")), IsOk());

  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = r;
  lookup.set_action_key("act");
  auto l = client_->LookupAction(lookup);
  ASSERT_THAT(l, IsOk());
  ASSERT_TRUE(l->found());
  EXPECT_EQ(l->action().steps(0).result(), "R");
  EXPECT_EQ(l->action().completion().state(), "S");
  EXPECT_EQ(l->action().cost().input_tokens(), 100u);
  EXPECT_EQ(l->record_status(), v1::RECORD_STATUS_OPEN);

  auto replay = client_->BeginRecord(begin);
  ASSERT_THAT(replay, IsOk());
  EXPECT_EQ(replay->status(), v1::RECORD_STATUS_OPEN);
  ASSERT_EQ(replay->actions_size(), 1);
  EXPECT_EQ(replay->actions(0).action_key(), "act");

  v1::CompleteRecordRequest complete;
  *complete.mutable_record() = r;
  auto c = client_->CompleteRecord(complete);
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->newly_completed());
  EXPECT_THAT(client_->AppendAction(CompletionReq(r, "other", "x")),
              StatusIs(absl::StatusCode::kFailedPrecondition, "completed"));

  v1::PruneRequest prune;
  prune.set_job_id("job-1");
  auto* k = prune.add_keys();
  k->set_record_key("user-7");
  k->set_up_to_seq_num(3);
  // The server's retention (24 hours by default): kept, still answered.
  auto p = client_->Prune(prune);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->records_retained(), 1u);
  EXPECT_EQ(p->records_deleted(), 0u);
  EXPECT_TRUE(client_->LookupAction(lookup)->found());
  // A retention of its own: 0 deletes at once; below 0 is refused.
  prune.set_retention_millis(-1);
  EXPECT_THAT(client_->Prune(prune),
              StatusIs(absl::StatusCode::kInvalidArgument, "retention_millis"));
  EXPECT_TRUE(client_->LookupAction(lookup)->found());
  prune.set_retention_millis(0);
  p = client_->Prune(prune);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->records_deleted(), 1u);
  EXPECT_EQ(p->entries_deleted(), 2u);
  l = client_->LookupAction(lookup);
  EXPECT_FALSE(l->found());
  EXPECT_EQ(l->record_status(), v1::RECORD_STATUS_UNSPECIFIED);
}

// A pruned record stays, and a restore replays from it, until the
// retention passes; then the server deletes it, even one restarted since.
TEST_F(ServerE2eTest, PrunedRecordsReplayUntilTheRetentionPasses) {
  const std::vector<std::string> flags = {"--prune-retention=2s",
                                          "--sweep-interval=100ms"};
  StartServer(flags);
  for (int64_t seq = 0; seq < 3; ++seq) {
    ASSERT_THAT(client_->AppendAction(
                    CompletionReq(Rec("job-r", "k", seq), "act", "S")),
                IsOk());
  }
  v1::PruneRequest prune;
  prune.set_job_id("job-r");
  auto* k = prune.add_keys();
  k->set_record_key("k");
  k->set_up_to_seq_num(1);
  auto p = client_->Prune(prune);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->records_retained(), 2u);
  // A restore from an older checkpoint replays the pruned records.
  for (int64_t seq = 0; seq < 2; ++seq) {
    v1::BeginRecordRequest begin;
    *begin.mutable_record() = Rec("job-r", "k", seq);
    auto b = client_->BeginRecord(begin);
    ASSERT_THAT(b, IsOk());
    ASSERT_EQ(b->actions_size(), 1) << seq;
    EXPECT_EQ(b->actions(0).completion().state(), "S");
  }
  // Killed well before the retention passes: the next process deletes.
  ASSERT_THAT(server_->Stop(SIGKILL), IsOk());
  StartServer(flags);
  v1::LookupActionRequest lookup;
  lookup.set_action_key("act");
  *lookup.mutable_record() = Rec("job-r", "k", 1);
  EXPECT_TRUE(
      Eventually([&] { return !client_->LookupAction(lookup)->found(); },
                 absl::Seconds(15), absl::Milliseconds(100)));
  *lookup.mutable_record() = Rec("job-r", "k", 0);
  EXPECT_FALSE(client_->LookupAction(lookup)->found());
  *lookup.mutable_record() = Rec("job-r", "k", 2);
  EXPECT_TRUE(client_->LookupAction(lookup)->found());
  auto m = Scrape(server_->metrics_port());
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ((*m)["actionjournal_swept_records_total{reason=\"retention\"}"], 2);
  EXPECT_EQ((*m)["actionjournal_swept_entries_total"], 2);
  EXPECT_GE((*m)["actionjournal_sweep_batches_total"], 1);
}

// Records nobody prunes (a cancelled job) go once unwritten for the TTL.
TEST_F(ServerE2eTest, RecordsUnwrittenForTheTtlAreSwept) {
  StartServer({"--record-ttl=1s", "--sweep-interval=100ms"});
  const v1::RecordId r = Rec("job-ttl", "k", 0);
  ASSERT_THAT(client_->AppendAction(CompletionReq(r, "act", "S")), IsOk());
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = r;
  lookup.set_action_key("act");
  EXPECT_TRUE(client_->LookupAction(lookup)->found());
  EXPECT_TRUE(
      Eventually([&] { return !client_->LookupAction(lookup)->found(); },
                 absl::Seconds(15), absl::Milliseconds(100)));
  auto m = Scrape(server_->metrics_port());
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ((*m)["actionjournal_swept_records_total{reason=\"ttl\"}"], 1);
}

// GetStats counts a job from the database; the size gauges follow the store.
TEST_F(ServerE2eTest, StatsAndSizeShowWhatIsStored) {
  StartServer({"--sweep-interval=100ms"});
  auto step = StepReq(Rec("job-s", "k", 0), "act", 0, v1::STEP_STATUS_SUCCEEDED,
                      std::string(1000, 'r'));
  step.mutable_cost()->set_input_tokens(7);
  step.mutable_cost()->set_micro_usd(9);
  ASSERT_THAT(client_->AppendAction(step), IsOk());
  ASSERT_THAT(
      client_->AppendAction(CompletionReq(Rec("job-s", "k", 0), "act", "done")),
      IsOk());
  ASSERT_THAT(client_->AppendAction(CompletionReq(Rec("job-t", "k", 0), "a",
                                                  std::string(10, 's'))),
              IsOk());
  v1::GetStatsRequest req;
  req.set_job_id("job-s");
  auto stats = client_->GetStats(req);
  ASSERT_THAT(stats, IsOk());
  ASSERT_EQ(stats->jobs_size(), 1);
  EXPECT_EQ(stats->jobs(0).job_id(), "job-s");
  EXPECT_EQ(stats->jobs(0).records(), 1u);
  EXPECT_EQ(stats->jobs(0).entries(), 2u);
  EXPECT_EQ(stats->jobs(0).payload_bytes(), 1004u);
  EXPECT_EQ(stats->jobs(0).cost().input_tokens(), 7u);
  EXPECT_EQ(stats->jobs(0).cost().micro_usd(), 9u);
  req.clear_job_id();
  EXPECT_EQ(client_->GetStats(req)->jobs_size(), 2);
  req.set_job_id("bad job id!");
  EXPECT_THAT(client_->GetStats(req),
              StatusIs(absl::StatusCode::kInvalidArgument, "job_id"));

  // IssueAttempt: above the stored attempts, rising; a bad job id named.
  v1::IssueAttemptRequest issue;
  issue.set_job_id("job-s");
  auto first = client_->IssueAttempt(issue);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->attempt(), 1u);
  EXPECT_EQ(client_->IssueAttempt(issue)->attempt(), 2u);
  issue.set_job_id("bad job id!");
  EXPECT_THAT(client_->IssueAttempt(issue),
              StatusIs(absl::StatusCode::kInvalidArgument, "job_id"));

  // Payload sizes as appended; the store's size once a sweep measured it.
  absl::StatusOr<testing::Samples> m;
  EXPECT_TRUE(Eventually(
      [&] {
        m = Scrape(server_->metrics_port());
        return m.ok() && (*m)["actionjournal_store_records"] >= 2;
      },
      absl::Seconds(10), absl::Milliseconds(100)));
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ((*m)["actionjournal_store_records"], 2);
  EXPECT_GT((*m)["actionjournal_store_bytes"], 0);
  EXPECT_GE((*m)["actionjournal_oldest_record_age_seconds"], 0);
  // Below --compression-min-bytes: stored as sent.
  for (const char* stage : {"sent", "stored"}) {
    const std::string s = absl::StrCat("{stage=\"", stage, "\"");
    EXPECT_EQ((*m)["actionjournal_entry_payload_bytes_count" + s + "}"], 3);
    EXPECT_EQ((*m)["actionjournal_entry_payload_bytes_sum" + s + "}"], 1014);
    EXPECT_EQ(
        (*m)["actionjournal_entry_payload_bytes_bucket" + s + ",le=\"256\"}"],
        2);
  }
}

// A large result stored by several records is stored once, and GetStats
// and the CLI's stats say what that saved.
TEST_F(ServerE2eTest, StatsShowWhatDedupSaved) {
  StartServer({"--compression-min-bytes=0", "--dedup-min-bytes=1024"});
  const std::string doc(4096, 'd');
  for (int seq = 0; seq < 3; ++seq) {
    ASSERT_THAT(client_->AppendAction(StepReq(Rec("job-d", "k", seq), "tool", 0,
                                              v1::STEP_STATUS_SUCCEEDED, doc)),
                IsOk());
  }
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = Rec("job-d", "k", 2);
  lookup.set_action_key("tool");
  auto found = client_->LookupAction(lookup);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->action().steps(0).result(), doc);
  v1::GetStatsRequest req;
  req.set_job_id("job-d");
  auto stats = client_->GetStats(req);
  ASSERT_THAT(stats, IsOk());
  ASSERT_EQ(stats->jobs_size(), 1);
  EXPECT_EQ(stats->jobs(0).entries(), 3u);
  EXPECT_EQ(stats->jobs(0).blobs(), 1u);
  EXPECT_EQ(stats->jobs(0).blob_bytes(), 4096u);
  EXPECT_EQ(stats->jobs(0).payload_bytes(), 4096u);
  EXPECT_EQ(stats->jobs(0).deduplicated_bytes(), 2 * 4096u);

  auto run = [&](const std::string& args) {
    std::string out;
    FILE* f = popen(absl::StrCat(testing::CliBinary(), " --target ",
                                 server_->Target(), " ", args)
                        .c_str(),
                    "r");
    if (f == nullptr) return out;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    pclose(f);
    return out;
  };
  EXPECT_THAT(run("stats --job job-d"),
              ::testing::HasSubstr("4096 payload bytes (1 stored once: 4096 "
                                   "bytes, saving 8192)"));
  EXPECT_THAT(run("stats --job job-d --output json"),
              ::testing::HasSubstr("\"deduplicated_bytes\":\"8192\""));
}

TEST_F(ServerE2eTest, HealthServing) {
  StartServer();
  auto channel = grpc::CreateChannel(server_->Target(),
                                     grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  for (const char* service :
       {"", "actionjournal.v1.ActionJournal", "liveness"}) {
    SCOPED_TRACE(service);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  // The CLI's health command, as the container check and operators use it.
  const std::string cli =
      absl::StrCat(testing::CliBinary(), " --target ", server_->Target());
  EXPECT_EQ(std::system((cli + " health >/dev/null").c_str()), 0);
  EXPECT_EQ(
      std::system((cli + " health --service liveness >/dev/null").c_str()), 0);
  // An unknown service is NOT_FOUND (exit code 5).
  EXPECT_EQ(WEXITSTATUS(std::system(
                (cli + " health --service nope 2>/dev/null").c_str())),
            5);
}

TEST_F(ServerE2eTest, MetricsCountKnownTraffic) {
  coalesce_ = false;  // one AppendAction per append, to count them by method
  StartServer();
  ASSERT_GT(server_->metrics_port(), 0) << server_->Log();
  auto before = Scrape(server_->metrics_port());
  ASSERT_THAT(before, IsOk());
  EXPECT_EQ(
      (*before)["actionjournal_build_info{store=\"sqlite\",version=\"0.1.0\"}"],
      1);
  EXPECT_EQ((*before)["actionjournal_store_ready"], 1);

  const v1::RecordId r = Rec("job-m", "k", 1);
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = r;
  begin.set_attempt(2);
  begin.set_input_fingerprint("f1");
  ASSERT_THAT(client_->BeginRecord(begin), IsOk());
  // Action "a": an intent, its result (cost 100/40 tokens, 3000 micro-USD)
  // and a completion (cost 10/5, 500).
  ASSERT_THAT(
      client_->AppendAction(StepReq(r, "a", 0, v1::STEP_STATUS_PENDING)),
      IsOk());
  auto result = StepReq(r, "a", 0, v1::STEP_STATUS_SUCCEEDED, "R");
  result.set_attempt(2);
  result.mutable_cost()->set_input_tokens(100);
  result.mutable_cost()->set_output_tokens(40);
  result.mutable_cost()->set_micro_usd(3000);
  ASSERT_THAT(client_->AppendAction(result), IsOk());
  auto done = CompletionReq(r, "a", "S");
  done.mutable_cost()->set_input_tokens(10);
  done.mutable_cost()->set_output_tokens(5);
  done.mutable_cost()->set_micro_usd(500);
  ASSERT_THAT(client_->AppendAction(done), IsOk());
  // Replays: the step again (saves 100/40/3000), then the completion, a
  // lookup and a BeginRecord of the completed action (110/45/3500 each).
  auto dup_step = client_->AppendAction(result);
  ASSERT_THAT(dup_step, IsOk());
  ASSERT_EQ(dup_step->outcome(), v1::APPEND_OUTCOME_DUPLICATE);
  auto dup_done = client_->AppendAction(done);
  ASSERT_THAT(dup_done, IsOk());
  ASSERT_EQ(dup_done->outcome(), v1::APPEND_OUTCOME_DUPLICATE);
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = r;
  lookup.set_action_key("a");
  ASSERT_THAT(client_->LookupAction(lookup), IsOk());
  ASSERT_THAT(client_->BeginRecord(begin), IsOk());
  // Action "b": a finished step, then a different result for it.
  ASSERT_THAT(
      client_->AppendAction(StepReq(r, "b", 0, v1::STEP_STATUS_SUCCEEDED, "x")),
      IsOk());
  auto conflict =
      client_->AppendAction(StepReq(r, "b", 0, v1::STEP_STATUS_SUCCEEDED, "y"));
  ASSERT_THAT(conflict, IsOk());
  ASSERT_EQ(conflict->outcome(), v1::APPEND_OUTCOME_CONFLICT);
  // A zombie (attempt 1 < 2), an input mismatch, a bad request.
  auto zombie = StepReq(r, "c", 0, v1::STEP_STATUS_PENDING);
  zombie.set_attempt(1);
  EXPECT_THAT(client_->AppendAction(zombie),
              StatusIs(absl::StatusCode::kFailedPrecondition, "fenced"));
  begin.set_input_fingerprint("f2");
  auto mismatch = client_->BeginRecord(begin);
  ASSERT_THAT(mismatch, IsOk());
  ASSERT_TRUE(mismatch->input_mismatch());
  auto bad = StepReq(r, "", 0, v1::STEP_STATUS_PENDING);
  EXPECT_THAT(client_->AppendAction(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // The end of the record, and a prune of it: 1 record, 3 entries.
  v1::CompleteRecordRequest complete;
  *complete.mutable_record() = r;
  ASSERT_THAT(client_->CompleteRecord(complete), IsOk());
  v1::PruneRequest prune;
  prune.set_job_id("job-m");
  prune.set_whole_job(true);
  prune.set_retention_millis(0);
  auto pruned = client_->Prune(prune);
  ASSERT_THAT(pruned, IsOk());
  ASSERT_EQ(pruned->entries_deleted(), 3u);

  auto after = Scrape(server_->metrics_port());
  ASSERT_THAT(after, IsOk());
  auto delta = [&](const std::string& series) {
    return Delta(*before, *after, series);
  };
  const std::map<std::string, double> expected = {
      {R"(actionjournal_requests_total{code="OK",method="BeginRecord"})", 3},
      {R"(actionjournal_requests_total{code="OK",method="AppendAction"})", 7},
      {R"(actionjournal_requests_total{code="FAILED_PRECONDITION",method="AppendAction"})",
       1},
      {R"(actionjournal_requests_total{code="INVALID_ARGUMENT",method="AppendAction"})",
       1},
      {R"(actionjournal_requests_total{code="OK",method="LookupAction"})", 1},
      {R"(actionjournal_requests_total{code="OK",method="CompleteRecord"})", 1},
      {R"(actionjournal_requests_total{code="OK",method="Prune"})", 1},
      {R"(actionjournal_request_duration_seconds_count{method="AppendAction"})",
       9},
      {R"(actionjournal_request_duration_seconds_count{method="BeginRecord"})",
       3},
      {R"(actionjournal_appends_total{outcome="appended"})", 3},
      {R"(actionjournal_appends_total{outcome="upgraded"})", 1},
      {R"(actionjournal_appends_total{outcome="duplicate"})", 2},
      {R"(actionjournal_appends_total{outcome="conflict"})", 1},
      {R"(actionjournal_conflicts_total{policy="keep_stored"})", 1},
      {R"(actionjournal_replay_hits_total{entry="step",method="AppendAction"})",
       1},
      {R"(actionjournal_replay_hits_total{entry="action",method="AppendAction"})",
       1},
      {R"(actionjournal_replay_hits_total{entry="action",method="LookupAction"})",
       1},
      // The second BeginRecord hands back "a"; the mismatching third one
      // hands back "a" and b's finished step.
      {R"(actionjournal_replay_hits_total{entry="action",method="BeginRecord"})",
       2},
      {R"(actionjournal_replay_hits_total{entry="step",method="BeginRecord"})",
       1},
      {R"(actionjournal_replay_saved_tokens_total{direction="input"})",
       100 + 110 * 4},
      {R"(actionjournal_replay_saved_tokens_total{direction="output"})",
       40 + 45 * 4},
      {R"(actionjournal_replay_saved_usd_total)", (3000 + 3500 * 4) / 1e6},
      {R"(actionjournal_fenced_total{method="AppendAction"})", 1},
      {R"(actionjournal_input_mismatches_total{reset="false"})", 1},
      {R"(actionjournal_pruned_records_total)", 1},
      {R"(actionjournal_pruned_entries_total)", 3},
  };
  for (const auto& [series, want] : expected) {
    EXPECT_NEAR(delta(series), want, 1e-9) << series;
  }
  // Every write that reached the store went through group commit, alone
  // (this client waits for each answer): the BeginRecord that created the
  // record (the other two change nothing and are reads), 8 appends (the bad
  // one never reached it) and CompleteRecord.
  EXPECT_EQ(delta("actionjournal_commit_batch_writes_count"), 10);
  EXPECT_EQ(delta("actionjournal_commit_batch_writes_sum"), 10);
  EXPECT_EQ(delta("actionjournal_commit_duration_seconds_count"), 10);
  EXPECT_GT(delta("actionjournal_commit_duration_seconds_sum"), 0);
  EXPECT_EQ(delta(R"(actionjournal_store_errors_total{code="UNAVAILABLE"})"),
            0);
}

// The read APIs after a real crash and replay: the record shows which
// entries the replay was handed (reused) and which it ran again; the list
// pages through a job; nothing is taken over by reading.
TEST_F(ServerE2eTest, ReadApisShowWhatAReplayReusedAndRanAgain) {
  StartServer();
  const v1::RecordId r = Rec("job-r", "user-1", 1);
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = r;
  begin.set_attempt(1);
  ASSERT_THAT(client_->BeginRecord(begin), IsOk());
  auto first = StepReq(r, "act", 0, v1::STEP_STATUS_SUCCEEDED, "R0");
  first.set_attempt(1);
  first.mutable_cost()->set_micro_usd(700);
  ASSERT_THAT(client_->AppendAction(first), IsOk());
  auto intent = StepReq(r, "act", 1, v1::STEP_STATUS_PENDING);
  intent.set_attempt(1);
  ASSERT_THAT(client_->AppendAction(intent), IsOk());
  // The writer's host dies between its intent and the call's result.
  ASSERT_THAT(server_->Stop(SIGKILL), IsOk());
  StartServer();
  auto before = Scrape(server_->metrics_port());
  ASSERT_THAT(before, IsOk());
  v1::IssueAttemptRequest issue;
  issue.set_job_id("job-r");
  auto attempt = client_->IssueAttempt(issue);
  ASSERT_THAT(attempt, IsOk());
  begin.set_attempt(attempt->attempt());
  auto replay = client_->BeginRecord(begin);
  ASSERT_THAT(replay, IsOk());
  ASSERT_EQ(replay->actions_size(), 1);
  absl::SleepFor(absl::Milliseconds(2));  // the replay's writes come later
  auto ran = StepReq(r, "act", 1, v1::STEP_STATUS_SUCCEEDED, "R1");
  ran.set_attempt(attempt->attempt());
  ASSERT_THAT(client_->AppendAction(ran), IsOk());
  auto done = CompletionReq(r, "act", "STATE");
  done.set_attempt(attempt->attempt());
  ASSERT_THAT(client_->AppendAction(done), IsOk());
  auto after = Scrape(server_->metrics_port());
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(Delta(*before, *after, "actionjournal_replayed_records_total"), 1);

  v1::GetRecordRequest show;
  *show.mutable_record() = r;
  auto shown = client_->GetRecord(show);
  ASSERT_THAT(shown, IsOk());
  EXPECT_EQ(shown->record().replays(), 1u);
  EXPECT_EQ(shown->record().attempt(), attempt->attempt());
  EXPECT_EQ(shown->record().entries(), 3u);
  EXPECT_EQ(shown->record().payload_bytes(), 2u + 2 + 5);
  EXPECT_EQ(shown->record().cost().micro_usd(), 700u);
  ASSERT_EQ(shown->actions_size(), 1);
  const v1::ActionEntries& a = shown->actions(0);
  ASSERT_EQ(a.steps_size(), 2);
  EXPECT_TRUE(a.steps(0).reused());   // stored before the crash: handed over
  EXPECT_FALSE(a.steps(1).reused());  // PENDING at the crash: ran again
  EXPECT_FALSE(a.completion().reused());
  EXPECT_GT(a.steps(0).written_at_unix_micros(), 0);
  EXPECT_LT(a.steps(0).written_at_unix_micros(),
            shown->record().replayed_at_unix_micros());
  EXPECT_GE(a.steps(1).written_at_unix_micros(),
            shown->record().replayed_at_unix_micros());
  // Payloads are left out unless asked for.
  EXPECT_EQ(a.steps(0).result(), "");
  EXPECT_EQ(a.steps(0).omitted_bytes(), 2u);
  EXPECT_EQ(a.completion().omitted_bytes(), 5u);
  show.set_include_payloads(true);
  shown = client_->GetRecord(show);
  ASSERT_THAT(shown, IsOk());
  EXPECT_EQ(shown->actions(0).steps(1).result(), "R1");
  EXPECT_EQ(shown->actions(0).completion().state(), "STATE");
  // Reading took nothing over: the replaying writer is not fenced.
  auto more = CompletionReq(r, "other", "x");
  more.set_attempt(attempt->attempt());
  ASSERT_THAT(client_->AppendAction(more), IsOk());

  // 120 more records, then the whole job, 50 at a time, newest first.
  for (int i = 0; i < 120; ++i) {
    ASSERT_THAT(client_->AppendAction(CompletionReq(
                    Rec("job-r", absl::StrCat("k", i), 0), "act", "s")),
                IsOk());
  }
  v1::ListRecordsRequest list;
  list.set_job_id("job-r");
  std::vector<std::string> keys;
  std::vector<int> pages;
  for (int page = 0; page < 10; ++page) {
    auto got = client_->ListRecords(list);
    ASSERT_THAT(got, IsOk());
    pages.push_back(got->records_size());
    for (const v1::RecordSummary& s : got->records()) {
      keys.push_back(s.record().record_key());
    }
    if (got->next_page_token().empty()) break;
    list.set_page_token(got->next_page_token());
  }
  EXPECT_THAT(pages, ::testing::ElementsAre(50, 50, 21));
  ASSERT_EQ(keys.size(), 121u);
  EXPECT_EQ(keys.back(), "user-1");  // the oldest
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 121u);
  list.clear_page_token();
  list.set_replayed_only(true);
  auto replayed = client_->ListRecords(list);
  ASSERT_THAT(replayed, IsOk());
  ASSERT_EQ(replayed->records_size(), 1);
  EXPECT_EQ(replayed->records(0).record().record_key(), "user-1");
  v1::GetStatsRequest stats;
  stats.set_job_id("job-r");
  auto counted = client_->GetStats(stats);
  ASSERT_THAT(counted, IsOk());
  EXPECT_EQ(counted->jobs(0).replayed_records(), 1u);
  EXPECT_EQ(counted->jobs(0).replays(), 1u);

  *show.mutable_record() = Rec("job-r", "nobody", 1);
  EXPECT_THAT(client_->GetRecord(show),
              StatusIs(absl::StatusCode::kNotFound, "record"));
}

// Every bad input of the read APIs: INVALID_ARGUMENT naming the field.
TEST_F(ServerE2eTest, ReadApisRefuseBadInputNamingTheField) {
  StartServer();
  ASSERT_THAT(
      client_->AppendAction(CompletionReq(Rec("job-b", "k", 0), "act", "s")),
      IsOk());
  auto list_refused = [&](std::function<void(v1::ListRecordsRequest&)> edit,
                          const std::string& field) {
    v1::ListRecordsRequest req;
    req.set_job_id("job-b");
    edit(req);
    EXPECT_THAT(client_->ListRecords(req),
                StatusIs(absl::StatusCode::kInvalidArgument, field))
        << field;
  };
  list_refused([](auto& r) { r.set_job_id("bad job!"); }, "job_id");
  list_refused([](auto& r) { r.clear_job_id(); }, "job_id");
  list_refused([](auto& r) { r.set_page_size(501); }, "page_size");
  list_refused([](auto& r) { r.set_page_size(-1); }, "page_size");
  list_refused([](auto& r) { r.set_created_from_unix_micros(-5); },
               "created_from_unix_micros");
  list_refused([](auto& r) { r.set_created_before_unix_micros(-5); },
               "created_before_unix_micros");
  list_refused([](auto& r) { r.set_page_token("xyz"); }, "page_token");
  list_refused(
      [](auto& r) {
        r.set_status(static_cast<v1::ListRecordsRequest::StatusFilter>(9));
      },
      "status");
  list_refused([](auto& r) { r.set_key_prefix(std::string(4097, 'k')); },
               "key_prefix");
  auto show_refused = [&](std::function<void(v1::GetRecordRequest&)> edit,
                          const std::string& field) {
    v1::GetRecordRequest req;
    *req.mutable_record() = Rec("job-b", "k", 0);
    edit(req);
    EXPECT_THAT(client_->GetRecord(req),
                StatusIs(absl::StatusCode::kInvalidArgument, field))
        << field;
  };
  show_refused([](auto& r) { r.clear_record(); }, "record");
  show_refused([](auto& r) { r.mutable_record()->set_record_key(""); },
               "record.record_key");
  show_refused([](auto& r) { r.mutable_record()->set_seq_num(-1); },
               "record.seq_num");
  show_refused([](auto& r) { r.mutable_record()->set_job_id("a b"); },
               "record.job_id");
  show_refused([](auto& r) { r.set_page_token(std::string(600, 'p')); },
               "page_token");
  // Nothing changed: the one record, as it was.
  v1::ListRecordsRequest req;
  req.set_job_id("job-b");
  auto listed = client_->ListRecords(req);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->records_size(), 1);
  EXPECT_EQ(listed->records(0).attempt(), 0u);
  EXPECT_EQ(listed->records(0).entries(), 1u);
}

TEST_F(ServerE2eTest, ReflectionListsTheService) {
  StartServer();
  auto stub =
      grpc::reflection::v1alpha::ServerReflection::NewStub(grpc::CreateChannel(
          server_->Target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(names, ::testing::Contains("actionjournal.v1.ActionJournal"));
  EXPECT_THAT(names, ::testing::Contains("grpc.health.v1.Health"));
  while (stream->Read(&resp)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

// One bad request per case: the code, a message naming the field, and no
// change to the store.
struct BadCase {
  std::string name;
  std::function<absl::Status(JournalClient&)> call;
  absl::StatusCode code;
  std::string field;
};

std::vector<BadCase> BadCases() {
  const v1::RecordId good = Rec("job-bad", "k", 1);
  auto append = [](v1::AppendActionRequest req) {
    return [req](JournalClient& c) { return c.AppendAction(req).status(); };
  };
  auto begin = [](v1::RecordId r) {
    return [r](JournalClient& c) {
      v1::BeginRecordRequest req;
      *req.mutable_record() = r;
      return c.BeginRecord(req).status();
    };
  };
  std::vector<BadCase> cases;
  cases.push_back({"EmptyJob", begin(Rec("", "k", 1)),
                   absl::StatusCode::kInvalidArgument, "record.job_id"});
  cases.push_back({"MalformedJob", begin(Rec("job bad/x", "k", 1)),
                   absl::StatusCode::kInvalidArgument, "record.job_id"});
  cases.push_back({"EmptyKey", begin(Rec("job-bad", "", 1)),
                   absl::StatusCode::kInvalidArgument, "record.record_key"});
  cases.push_back({"OversizeKey",
                   begin(Rec("job-bad", std::string(4097, 'k'), 1)),
                   absl::StatusCode::kInvalidArgument, "record.record_key"});
  cases.push_back({"NegativeSeq", begin(Rec("job-bad", "k", -1)),
                   absl::StatusCode::kInvalidArgument, "record.seq_num"});
  cases.push_back({"MissingRecord",
                   [](JournalClient& c) {
                     return c.BeginRecord(v1::BeginRecordRequest()).status();
                   },
                   absl::StatusCode::kInvalidArgument, "record"});
  cases.push_back({"OversizeFingerprint",
                   [good](JournalClient& c) {
                     v1::BeginRecordRequest req;
                     *req.mutable_record() = good;
                     req.set_input_fingerprint(std::string(257, 'f'));
                     return c.BeginRecord(req).status();
                   },
                   absl::StatusCode::kInvalidArgument, "input_fingerprint"});
  {
    auto req = StepReq(good, "act", 0, v1::STEP_STATUS_PENDING);
    req.set_action_key("");
    cases.push_back({"EmptyActionKey", append(req),
                     absl::StatusCode::kInvalidArgument, "action_key"});
    req.set_action_key(std::string(513, 'a'));
    cases.push_back({"OversizeActionKey", append(req),
                     absl::StatusCode::kInvalidArgument, "action_key"});
  }
  {
    auto req = StepReq(good, "act", 0, v1::STEP_STATUS_SUCCEEDED,
                       std::string(4 * 1024 * 1024 + 1, 'p'));
    cases.push_back({"OversizeResult", append(req),
                     absl::StatusCode::kResourceExhausted, "step.result"});
    auto comp =
        CompletionReq(good, "act", std::string(4 * 1024 * 1024 + 1, 's'));
    cases.push_back({"OversizeState", append(comp),
                     absl::StatusCode::kResourceExhausted, "completion.state"});
  }
  cases.push_back({"StepGap",
                   append(StepReq(good, "act", 1, v1::STEP_STATUS_PENDING)),
                   absl::StatusCode::kFailedPrecondition, "step.index"});
  {
    auto req = StepReq(good, "act", 0, v1::STEP_STATUS_PENDING);
    req.mutable_step()->set_status(static_cast<v1::StepStatus>(77));
    cases.push_back({"UnknownStepStatus", append(req),
                     absl::StatusCode::kInvalidArgument, "step.status"});
    req.mutable_step()->set_status(v1::STEP_STATUS_UNSPECIFIED);
    cases.push_back({"UnspecifiedStepStatus", append(req),
                     absl::StatusCode::kInvalidArgument, "step.status"});
  }
  {
    auto req = StepReq(good, "act", 0, v1::STEP_STATUS_PENDING);
    req.set_conflict_policy(static_cast<v1::ConflictPolicy>(9));
    cases.push_back({"UnknownConflictPolicy", append(req),
                     absl::StatusCode::kInvalidArgument, "conflict_policy"});
  }
  {
    auto req = StepReq(good, "act", 0, v1::STEP_STATUS_PENDING);
    req.mutable_step()->set_function_id("");
    cases.push_back({"EmptyFunctionId", append(req),
                     absl::StatusCode::kInvalidArgument, "step.function_id"});
  }
  {
    v1::AppendActionRequest req;
    *req.mutable_record() = good;
    req.set_action_key("act");
    cases.push_back({"MissingEntry", append(req),
                     absl::StatusCode::kInvalidArgument, "entry"});
  }
  {
    auto req = StepReq(good, "act", 0, v1::STEP_STATUS_PENDING, "result?");
    cases.push_back({"ResultOnPending", append(req),
                     absl::StatusCode::kInvalidArgument, "step.result"});
  }
  cases.push_back({"LookupEmptyAction",
                   [good](JournalClient& c) {
                     v1::LookupActionRequest req;
                     *req.mutable_record() = good;
                     return c.LookupAction(req).status();
                   },
                   absl::StatusCode::kInvalidArgument, "action_key"});
  cases.push_back({"CompleteNegativeSeq",
                   [](JournalClient& c) {
                     v1::CompleteRecordRequest req;
                     *req.mutable_record() = Rec("job-bad", "k", -5);
                     return c.CompleteRecord(req).status();
                   },
                   absl::StatusCode::kInvalidArgument, "record.seq_num"});
  cases.push_back({"PruneNoCriterion",
                   [](JournalClient& c) {
                     v1::PruneRequest req;
                     req.set_job_id("job-bad");
                     return c.Prune(req).status();
                   },
                   absl::StatusCode::kInvalidArgument, "keys"});
  cases.push_back({"PruneEmptyJob",
                   [](JournalClient& c) {
                     v1::PruneRequest req;
                     req.set_whole_job(true);
                     return c.Prune(req).status();
                   },
                   absl::StatusCode::kInvalidArgument, "job_id"});
  cases.push_back({"PruneNegativeSeq",
                   [](JournalClient& c) {
                     v1::PruneRequest req;
                     req.set_job_id("job-bad");
                     auto* k = req.add_keys();
                     k->set_record_key("k");
                     k->set_up_to_seq_num(-1);
                     return c.Prune(req).status();
                   },
                   absl::StatusCode::kInvalidArgument,
                   "keys[0].up_to_seq_num"});
  cases.push_back({"PruneTooManyKeys",
                   [](JournalClient& c) {
                     v1::PruneRequest req;
                     req.set_job_id("job-bad");
                     for (int i = 0; i < 10001; ++i) {
                       auto* k = req.add_keys();
                       k->set_record_key("k");
                       k->set_up_to_seq_num(0);
                     }
                     return c.Prune(req).status();
                   },
                   absl::StatusCode::kResourceExhausted, "keys"});
  return cases;
}

TEST_F(ServerE2eTest, BadInputGetsClearErrorAndChangesNothing) {
  StartServer();
  // A known state to compare against afterwards.
  const v1::RecordId sentinel = Rec("job-bad", "sentinel", 0);
  ASSERT_THAT(client_->AppendAction(
                  StepReq(sentinel, "act", 0, v1::STEP_STATUS_PENDING)),
              IsOk());
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = sentinel;
  auto before = client_->BeginRecord(begin);
  ASSERT_THAT(before, IsOk());

  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    absl::Status s = c.call(*client_);
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.field));
  }

  auto after = client_->BeginRecord(begin);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->SerializeAsString(), before->SerializeAsString());
  // The record the bad appends named was never created.
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = Rec("job-bad", "k", 1);
  lookup.set_action_key("act");
  auto l = client_->LookupAction(lookup);
  ASSERT_THAT(l, IsOk());
  EXPECT_FALSE(l->found());
  EXPECT_EQ(l->record_status(), v1::RECORD_STATUS_UNSPECIFIED);
}

TEST_F(ServerE2eTest, LimitsHoldExactlyAtTheBoundary) {
  StartServer();
  const std::string job128(128, 'j');
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = Rec(job128, std::string(4096, 'k'), 0);
  EXPECT_THAT(client_->BeginRecord(begin), IsOk());
  begin.mutable_record()->set_job_id(job128 + "j");
  EXPECT_THAT(client_->BeginRecord(begin),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "record.job_id: must be 1-128"));
  begin.mutable_record()->set_job_id("job");
  begin.mutable_record()->set_record_key(std::string(4097, 'k'));
  EXPECT_THAT(client_->BeginRecord(begin),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "record.record_key: must be 1-4096 bytes, got 4097"));

  const v1::RecordId r = Rec("job", "k", 0);
  const std::string max_payload(4 * 1024 * 1024, 'p');
  auto ok = client_->AppendAction(
      CompletionReq(r, std::string(512, 'a'), max_payload));
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->stored_completion().state().size(), max_payload.size());
  EXPECT_THAT(
      client_->AppendAction(CompletionReq(r, std::string(513, 'a'), "s")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "action_key: must be 1-512 bytes, got 513"));
  EXPECT_THAT(client_->AppendAction(CompletionReq(r, "b", max_payload + "p")),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "completion.state: 4194305 bytes is over the payload "
                       "limit of 4194304"));
  auto step = StepReq(r, "c", 0, v1::STEP_STATUS_SUCCEEDED, max_payload);
  EXPECT_THAT(client_->AppendAction(step), IsOk());

  v1::PruneRequest prune;
  prune.set_job_id("job");
  for (int i = 0; i < 10000; ++i) {
    auto* k = prune.add_keys();
    k->set_record_key(absl::StrCat("key-", i, std::string(64, 'x')));
    k->set_up_to_seq_num(i);
  }
  EXPECT_THAT(client_->Prune(prune), IsOk());
  prune.add_keys()->set_record_key("y");
  EXPECT_THAT(client_->Prune(prune),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "keys: 10001 pairs is over the limit of 10000"));
  // A Prune is bounded in bytes too, by the largest request (one append at
  // its limits): 10000 keys of 4 KiB (41 MB) are refused before parsing.
  v1::PruneRequest huge;
  huge.set_job_id("job");
  for (int i = 0; i < 10000; ++i) {
    auto* k = huge.add_keys();
    k->set_record_key(std::string(4096, 'x'));
    k->set_up_to_seq_num(i);
  }
  EXPECT_THAT(
      client_->Prune(huge),
      StatusIs(absl::StatusCode::kResourceExhausted, "larger than max"));
}

TEST_F(ServerE2eTest, ConfiguredLimitsApply) {
  StartServer({"--max-payload-bytes=10", "--max-action-key-bytes=4"});
  const v1::RecordId r = Rec("job", "k", 0);
  EXPECT_THAT(
      client_->AppendAction(CompletionReq(r, "abcd", std::string(10, 's'))),
      IsOk());
  EXPECT_THAT(
      client_->AppendAction(CompletionReq(r, "abcd", std::string(11, 's'))),
      StatusIs(absl::StatusCode::kResourceExhausted, "limit of 10 bytes"));
  EXPECT_THAT(client_->AppendAction(CompletionReq(r, "abcde", "s")),
              StatusIs(absl::StatusCode::kInvalidArgument, "1-4 bytes"));
}

TEST_F(ServerE2eTest, EnvironmentSetsDefaultsAndFlagsWin) {
  ::setenv("ACTIONJOURNAL_MAX_ACTION_KEY_BYTES", "4", 1);
  ::setenv("ACTIONJOURNAL_MAX_PAYLOAD_BYTES", "10", 1);
  StartServer({"--max-payload-bytes=20"});
  ::unsetenv("ACTIONJOURNAL_MAX_ACTION_KEY_BYTES");
  ::unsetenv("ACTIONJOURNAL_MAX_PAYLOAD_BYTES");
  const v1::RecordId r = Rec("job", "k", 0);
  EXPECT_THAT(client_->AppendAction(CompletionReq(r, "abcde", "s")),
              StatusIs(absl::StatusCode::kInvalidArgument, "1-4 bytes"));
  EXPECT_THAT(
      client_->AppendAction(CompletionReq(r, "abcd", std::string(20, 's'))),
      IsOk());
  EXPECT_THAT(
      client_->AppendAction(CompletionReq(r, "abc", std::string(21, 's'))),
      StatusIs(absl::StatusCode::kResourceExhausted, "limit of 20 bytes"));
}

// SIGKILL under a stream of appends; every acknowledged append survives the
// restart on the same SQLite file, and none is doubled.
TEST_F(ServerE2eTest, SigkillLosesNothingAcknowledged) {
  StartServer();
  constexpr int kWriters = 4;
  absl::Mutex mu;
  std::map<std::string, std::string> acked;  // action_key -> state
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      ClientOptions options;
      options.target = server_->Target();
      options.deadline = absl::Seconds(5);
      auto client = JournalClient::Create(options);
      for (int i = 0; i < 100000 && !stop.load(); ++i) {
        const std::string key = absl::StrCat("w", w, "-", i);
        const std::string state = absl::StrCat("state-", key);
        auto r = (*client)->AppendAction(CompletionReq(
            Rec("crash", absl::StrCat("key", i % 7), w), key, state));
        if (!r.ok()) return;  // the server is gone
        absl::MutexLock l(&mu);
        acked[key] = state;
      }
    });
  }
  // Kill once a fair number of appends were acknowledged (bounded wait).
  Eventually(
      [&] {
        absl::MutexLock l(&mu);
        return acked.size() >= 300;
      },
      absl::Seconds(60), absl::Milliseconds(5));
  auto killed = server_->Stop(SIGKILL);
  ASSERT_THAT(killed, IsOk());
  EXPECT_EQ(*killed, 128 + SIGKILL);
  stop = true;
  for (auto& t : writers) t.join();
  std::map<std::string, std::string> snapshot;
  {
    absl::MutexLock l(&mu);
    snapshot = acked;
  }
  ASSERT_GE(snapshot.size(), 300u);

  StartServer();
  for (const auto& [key, state] : snapshot) {
    const int w = key[1] - '0';
    const int i = std::stoi(key.substr(key.find('-') + 1));
    const v1::RecordId r = Rec("crash", absl::StrCat("key", i % 7), w);
    v1::LookupActionRequest lookup;
    *lookup.mutable_record() = r;
    lookup.set_action_key(key);
    auto l = client_->LookupAction(lookup);
    ASSERT_THAT(l, IsOk());
    ASSERT_TRUE(l->found()) << key << " was acknowledged but is gone";
    EXPECT_EQ(l->action().completion().state(), state);
    // The retry finds the one stored result; a different one cannot land.
    auto retry = client_->AppendAction(CompletionReq(r, key, state));
    ASSERT_THAT(retry, IsOk());
    EXPECT_EQ(retry->outcome(), v1::APPEND_OUTCOME_DUPLICATE);
    auto other = client_->AppendAction(CompletionReq(r, key, "other"));
    EXPECT_EQ(other->outcome(), v1::APPEND_OUTCOME_CONFLICT);
    EXPECT_EQ(other->stored_completion().state(), state);
  }
}

TEST_F(ServerE2eTest, SigtermExitsZeroAfterInFlightWork) {
  StartServer();
  // No retries: calls after the stop should fail at once, not for 30 s.
  ClientOptions once;
  once.target = server_->Target();
  once.retry.max_attempts = 1;
  client_ = std::move(JournalClient::Create(once)).value();
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto r = client_->AppendAction(
            CompletionReq(Rec("term", "k", t), absl::StrCat("a", i), "s"));
        if (r.ok()) ++ok;
      }
    });
  }
  Eventually([&] { return ok.load() >= 10; }, absl::Seconds(30),
             absl::Milliseconds(1));
  const int before_stop = ok.load();
  auto code = server_->Stop(SIGTERM);
  for (auto& c : callers) c.join();
  ASSERT_GE(before_stop, 10) << "appends did not get through";
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(server_->Log(), HasSubstr("stopped"));
}

TEST_F(ServerE2eTest, BadStartupConfigurationFailsFast) {
  dir_ = TempDir("badconfig");
  auto s = ServerProcess::Start({"--store=nosuch://x"}, dir_ + "/server.log",
                                absl::Seconds(10));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, "unknown store"));
}

}  // namespace
}  // namespace actionjournal
