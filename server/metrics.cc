#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <variant>

#include "absl/strings/str_cat.h"

#ifndef ACTIONJOURNAL_VERSION
#define ACTIONJOURNAL_VERSION "unknown"
#endif

namespace actionjournal {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

constexpr const char* kCodeNames[17] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};

// Seconds, from 0.5 ms (an in-memory answer) to 10 s (a deadline).
const Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return *b;
}

bool IsStoreFault(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kAborted ||
         code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kInternal ||
         code == absl::StatusCode::kUnknown;
}

bool Finished(const Step& step) { return step.status != StepStatus::kPending; }

}  // namespace

const char* RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kBeginRecord:
      return "BeginRecord";
    case Rpc::kAppendAction:
      return "AppendAction";
    case Rpc::kLookupAction:
      return "LookupAction";
    case Rpc::kCompleteRecord:
      return "CompleteRecord";
    case Rpc::kPrune:
      return "Prune";
    case Rpc::kReadPayload:
      return "ReadPayload";
    case Rpc::kGetStats:
      return "GetStats";
    case Rpc::kAppendActions:
      return "AppendActions";
    case Rpc::kIssueAttempt:
      return "IssueAttempt";
    case Rpc::kListRecords:
      return "ListRecords";
    case Rpc::kGetRecord:
      return "GetRecord";
    case Rpc::kInvalidate:
      return "Invalidate";
  }
  return "unknown";
}

ServerMetrics::ServerMetrics(const std::string& store_kind)
    : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  BuildGauge()
      .Name("actionjournal_build_info")
      .Help("Always 1; the labels name the build and the store")
      .Register(r)
      .Add({{"version", ACTIONJOURNAL_VERSION}, {"store", store_kind}})
      .Set(1);

  requests_ = &BuildCounter()
                   .Name("actionjournal_requests_total")
                   .Help("RPCs answered, by method and gRPC status code")
                   .Register(r);
  auto& latency = BuildHistogram()
                      .Name("actionjournal_request_duration_seconds")
                      .Help("Time from an RPC's arrival to its answer")
                      .Register(r);
  replayed_records_ =
      &BuildCounter()
           .Name("actionjournal_replayed_records_total")
           .Help(
               "Records a replay took over: a write with a higher attempt "
               "(a restarted writer) on a record that existed")
           .Register(r)
           .Add({});
  auto& hits = BuildCounter()
                   .Name("actionjournal_replay_hits_total")
                   .Help(
                       "Completed actions and finished steps handed back "
                       "instead of run again, by method and entry")
                   .Register(r);
  auto& fenced =
      BuildCounter()
          .Name("actionjournal_fenced_total")
          .Help("Writes refused because a newer attempt owns the record")
          .Register(r);
  auto& refused = BuildCounter()
                      .Name("actionjournal_auth_refused_total")
                      .Help(
                          "Requests (and AppendActions items) refused for "
                          "their credentials, by method and code")
                      .Register(r);
  auto& busy = BuildCounter()
                   .Name("actionjournal_busy_total")
                   .Help(
                       "Calls refused because the server was busy (a full "
                       "queue, the answer memory full); clients retry them")
                   .Register(r);
  for (int i = 0; i < kRpcCount; ++i) {
    const std::string method = RpcName(static_cast<Rpc>(i));
    busy_[i] = &busy.Add({{"method", method}});
    latency_[i] = &latency.Add({{"method", method}}, LatencyBuckets());
    replay_hits_[i][0] = &hits.Add({{"method", method}, {"entry", "action"}});
    replay_hits_[i][1] = &hits.Add({{"method", method}, {"entry", "step"}});
    fenced_[i] = &fenced.Add({{"method", method}});
    auth_refused_[i][0] =
        &refused.Add({{"method", method}, {"code", "UNAUTHENTICATED"}});
    auth_refused_[i][1] =
        &refused.Add({{"method", method}, {"code", "PERMISSION_DENIED"}});
  }

  auto& appends =
      BuildCounter()
          .Name("actionjournal_appends_total")
          .Help("AppendAction calls the journal answered, by outcome")
          .Register(r);
  int i = 0;
  for (const char* outcome :
       {"appended", "duplicate", "upgraded", "conflict"}) {
    appends_[i++] = &appends.Add({{"outcome", outcome}});
  }
  auto& conflicts = BuildCounter()
                        .Name("actionjournal_conflicts_total")
                        .Help(
                            "Appends whose entry differed from the stored "
                            "one, by the caller's conflict policy")
                        .Register(r);
  conflicts_[0] = &conflicts.Add({{"policy", "keep_stored"}});
  conflicts_[1] = &conflicts.Add({{"policy", "replace_from_here"}});

  auto& tokens = BuildCounter()
                     .Name("actionjournal_replay_saved_tokens_total")
                     .Help("LLM tokens the replay hits did not spend again")
                     .Register(r);
  saved_input_tokens_ = &tokens.Add({{"direction", "input"}});
  saved_output_tokens_ = &tokens.Add({{"direction", "output"}});
  saved_usd_ = &BuildCounter()
                    .Name("actionjournal_replay_saved_usd_total")
                    .Help("US dollars the replay hits did not spend again")
                    .Register(r)
                    .Add({});

  auto& mismatches = BuildCounter()
                         .Name("actionjournal_input_mismatches_total")
                         .Help(
                             "BeginRecord calls whose input fingerprint "
                             "differed from the stored one, by whether the "
                             "record was reset")
                         .Register(r);
  mismatches_kept_ = &mismatches.Add({{"reset", "false"}});
  mismatches_reset_ = &mismatches.Add({{"reset", "true"}});

  store_errors_ = &BuildCounter()
                       .Name("actionjournal_store_errors_total")
                       .Help(
                           "Store calls that failed for the store's sake "
                           "(unreachable, lost race, timeout, fault), by code")
                       .Register(r);
  // Every code from the start, at 0: an alert on the rate sees the first
  // error, which a series born at 1 would hide.
  for (absl::StatusCode code :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kAborted,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kInternal,
        absl::StatusCode::kUnknown}) {
    store_errors_->Add({{"code", kCodeNames[static_cast<int>(code)]}});
  }

  batch_writes_ =
      &BuildHistogram()
           .Name("actionjournal_commit_batch_writes")
           .Help("Writes carried by one group-commit transaction")
           .Register(r)
           .Add({}, Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64});
  commit_seconds_ =
      &BuildHistogram()
           .Name("actionjournal_commit_duration_seconds")
           .Help("Time of one group-commit transaction, commit included")
           .Register(r)
           .Add({}, LatencyBuckets());

  auto& pool = BuildGauge()
                   .Name("actionjournal_store_connections")
                   .Help("The store's pooled connections, by state")
                   .Register(r);
  pool_in_use_ = &pool.Add({{"state", "in_use"}});
  store_ready_ = &BuildGauge()
                      .Name("actionjournal_store_ready")
                      .Help(
                          "1 while the store answers the health check "
                          "(readiness), else 0")
                      .Register(r)
                      .Add({});
  pool_idle_ = &pool.Add({{"state", "idle"}});
  held_answer_bytes_ = &BuildGauge()
                            .Name("actionjournal_answer_bytes_held")
                            .Help(
                                "Bytes of answers held for clients that have "
                                "not read them yet (bounded by "
                                "--max-held-answer-bytes)")
                            .Register(r)
                            .Add({});

  pruned_records_ = &BuildCounter()
                         .Name("actionjournal_pruned_records_total")
                         .Help("Records deleted by Prune")
                         .Register(r)
                         .Add({});
  pruned_entries_ = &BuildCounter()
                         .Name("actionjournal_pruned_entries_total")
                         .Help("Steps and completions deleted by Prune")
                         .Register(r)
                         .Add({});
  retained_records_ =
      &BuildCounter()
           .Name("actionjournal_prune_retained_records_total")
           .Help(
               "Records a Prune selected and kept until its retention "
               "passes (then swept)")
           .Register(r)
           .Add({});
  auto& swept = BuildCounter()
                    .Name("actionjournal_swept_records_total")
                    .Help(
                        "Records deleted by the sweep: reason=retention (a "
                        "prune's retention passed) or ttl (unwritten for "
                        "longer than --record-ttl)")
                    .Register(r);
  swept_records_ = {&swept.Add({{"reason", "retention"}}),
                    &swept.Add({{"reason", "ttl"}})};
  auto& payloads =
      BuildHistogram()
          .Name("actionjournal_entry_payload_bytes")
          .Help(
              "Each non-empty payload written (step result or error, "
              "completion state), in bytes: stage=sent as the client sent "
              "it, stage=stored after compression")
          .Register(r);
  const Histogram::BucketBoundaries sizes{64,    256,    1024,    4096,   16384,
                                          65536, 262144, 1048576, 4194304};
  payload_bytes_ = {&payloads.Add({{"stage", "sent"}}, sizes),
                    &payloads.Add({{"stage", "stored"}}, sizes)};
  store_records_ = &BuildGauge()
                        .Name("actionjournal_store_records")
                        .Help(
                            "Records stored (PostgreSQL: the planner's "
                            "estimate), measured every --sweep-interval")
                        .Register(r)
                        .Add({});
  store_bytes_ = &BuildGauge()
                      .Name("actionjournal_store_bytes")
                      .Help(
                          "The journal's tables and indexes on disk, "
                          "measured every --sweep-interval")
                      .Register(r)
                      .Add({});
  oldest_record_age_ =
      &BuildGauge()
           .Name("actionjournal_oldest_record_age_seconds")
           .Help(
               "Time since the last write of the oldest record no Prune "
               "selected (0 when there is none), measured every "
               "--sweep-interval; growing without bound: nothing prunes")
           .Register(r)
           .Add({});
  swept_entries_ = &BuildCounter()
                        .Name("actionjournal_swept_entries_total")
                        .Help("Steps and completions deleted by the sweep")
                        .Register(r)
                        .Add({});
  sweep_batches_ =
      &BuildCounter()
           .Name("actionjournal_sweep_batches_total")
           .Help(
               "Sweep batches that ran (at least one every --sweep-interval); "
               "flat: the sweeper is stuck or failing")
           .Register(r)
           .Add({});
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::OnRequest(Rpc rpc, grpc::StatusCode code,
                              absl::Duration latency) {
  const int r = static_cast<int>(rpc);
  const int c = code >= 0 && code < 17 ? code : 2;  // UNKNOWN
  std::atomic<prometheus::Counter*>& slot = request_counters_[r][c];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add returns the one child for these labels, so a race is benign.
    counter =
        &requests_->Add({{"method", RpcName(rpc)}, {"code", kCodeNames[c]}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
  latency_[r]->Observe(absl::ToDoubleSeconds(latency));
}

void ServerMetrics::OnAuthRefused(Rpc rpc, absl::StatusCode code) {
  auth_refused_[static_cast<int>(rpc)]
               [code == absl::StatusCode::kPermissionDenied ? 1 : 0]
                   ->Increment();
}

void ServerMetrics::OnStoreCall(Rpc rpc, const absl::Status& status) {
  if (IsFenced(status)) fenced_[static_cast<int>(rpc)]->Increment();
  if (IsStoreFault(status.code())) {
    store_errors_->Add({{"code", kCodeNames[static_cast<int>(status.code())]}})
        .Increment();
  }
}

void ServerMetrics::OnReplayStarted() { replayed_records_->Increment(); }

void ServerMetrics::OnBegin(const BeginResult& result) {
  if (result.replayed) OnReplayStarted();
  if (result.input_mismatch) {
    (result.reset ? mismatches_reset_ : mismatches_kept_)->Increment();
  }
  for (const ActionEntries& action : result.actions) {
    OnActionReplayed(Rpc::kBeginRecord, action);
  }
}

void ServerMetrics::OnAppend(ConflictPolicy policy,
                             const AppendResult& result) {
  appends_[static_cast<int>(result.outcome) - 1]->Increment();
  if (result.replayed) OnReplayStarted();
  if (result.outcome == AppendOutcome::kConflict) {
    conflicts_[static_cast<int>(policy) - 1]->Increment();
  }
  if (result.outcome != AppendOutcome::kDuplicate) return;
  const auto* step = std::get_if<Step>(&result.stored);
  if (step != nullptr && !Finished(*step)) return;  // an intent: it runs
  replay_hits_[static_cast<int>(Rpc::kAppendAction)][step ? 1 : 0]->Increment();
  OnSaved(result.stored_cost);
}

void ServerMetrics::OnLookup(const LookupResult& result) {
  if (result.action.has_value())
    OnActionReplayed(Rpc::kLookupAction, *result.action);
}

void ServerMetrics::OnActionReplayed(Rpc rpc, const ActionEntries& action) {
  auto& hits = replay_hits_[static_cast<int>(rpc)];
  if (action.completion.has_value()) {
    hits[0]->Increment();
    OnSaved(action.cost);
    return;
  }
  int finished = 0;
  for (const Step& step : action.steps) finished += Finished(step);
  if (finished == 0) return;
  hits[1]->Increment(finished);
  OnSaved(action.cost);
}

void ServerMetrics::OnSaved(const Cost& cost) {
  saved_input_tokens_->Increment(static_cast<double>(cost.input_tokens));
  saved_output_tokens_->Increment(static_cast<double>(cost.output_tokens));
  saved_usd_->Increment(static_cast<double>(cost.micro_usd) / 1e6);
}

void ServerMetrics::OnPrune(const PruneResult& result) {
  pruned_records_->Increment(static_cast<double>(result.records_deleted));
  pruned_entries_->Increment(static_cast<double>(result.entries_deleted));
  retained_records_->Increment(static_cast<double>(result.records_retained));
}

void ServerMetrics::OnSize(const StoreSize& size) {
  store_records_->Set(static_cast<double>(size.records));
  store_bytes_->Set(static_cast<double>(size.bytes));
  oldest_record_age_->Set(
      size.oldest_unpruned_written == absl::InfiniteFuture()
          ? 0
          : absl::ToDoubleSeconds(absl::Now() - size.oldest_unpruned_written));
}

void ServerMetrics::OnPayload(size_t sent, size_t stored) {
  payload_bytes_[0]->Observe(static_cast<double>(sent));
  payload_bytes_[1]->Observe(static_cast<double>(stored));
}

void ServerMetrics::OnSweep(const SweepResult& result) {
  swept_records_[0]->Increment(static_cast<double>(result.retention_records));
  swept_records_[1]->Increment(static_cast<double>(result.ttl_records));
  swept_entries_->Increment(static_cast<double>(result.entries));
  sweep_batches_->Increment();
}

void ServerMetrics::OnBatch(int size, absl::Duration duration,
                            const absl::Status& status) {
  (void)status;  // failures reach the callers, who count them as requests
  batch_writes_->Observe(size);
  commit_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

void ServerMetrics::OnHeldAnswerBytes(int64_t bytes) {
  held_answer_bytes_->Set(static_cast<double>(bytes));
}

void ServerMetrics::OnBusy(Rpc rpc) {
  busy_[static_cast<int>(rpc)]->Increment();
}

void ServerMetrics::OnStoreReady(bool ready) { store_ready_->Set(ready); }

void ServerMetrics::OnPool(int in_use, int idle) {
  pool_in_use_->Set(in_use);
  pool_idle_->Set(idle);
}

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> ServeMetrics(
    const std::string& address,
    const std::shared_ptr<prometheus::Registry>& registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "--metrics-listen: cannot listen on ", address, ": ", e.what()));
  }
  exposer->RegisterCollectable(registry);
  return exposer;
}

HttpServer::Handler MetricsPage(
    std::shared_ptr<prometheus::Registry> registry) {
  return [registry = std::move(registry)](const HttpRequest& r) {
    if (r.method == "GET" && r.path == "/metrics") {
      return HttpAnswer{
          200, "text/plain; version=0.0.4; charset=utf-8",
          prometheus::TextSerializer().Serialize(registry->Collect()), ""};
    }
    return HttpAnswer{404, "text/plain; charset=utf-8",
                      "only /metrics is served here\n", ""};
  };
}

int MetricsPort(const prometheus::Exposer& exposer) {
  const std::vector<int> ports = exposer.GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace actionjournal
