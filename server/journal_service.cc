#include "server/journal_service.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/text.h"

namespace actionjournal {
namespace {

// Logs `message` unless `what` was logged less than a second ago, so that an
// outage answered to thousands of calls a second stays a few log lines.
void LogThrottled(absl::string_view what, absl::string_view message) {
  static absl::Mutex mu;
  static absl::Time last ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  {
    absl::MutexLock lock(&mu);
    const absl::Time now = absl::Now();
    if (now - last < absl::Seconds(1)) return;
    last = now;
  }
  LogWarning(what, ": ", message);
}

// The store's view of an RPC: its deadline, and whether its caller gave up
// (asked only while the RPC is unanswered, so `ctx` is alive).
JournalStore::CallOptions CallOf(grpc::CallbackServerContext* ctx) {
  JournalStore::CallOptions call;
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    call.deadline = absl::FromChrono(deadline);
  }
  call.cancelled = [ctx] { return ctx->IsCancelled(); };
  return call;
}

}  // namespace

absl::Status ForClient(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInternal ||
      status.code() == absl::StatusCode::kUnknown) {
    LogError("internal error: ", status.ToString());
    return absl::Status(status.code(), "internal error; see the server log");
  }
  if (status.code() == absl::StatusCode::kUnavailable) {
    LogThrottled("store unavailable", status.message());
    return absl::UnavailableError("the journal's store is unavailable; retry");
  }
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const absl::Status shown = ForClient(status);
  return grpc::Status(static_cast<grpc::StatusCode>(shown.code()),
                      std::string(shown.message()));
}

// One RPC being answered: owns itself until gRPC is done with it, and holds
// the bytes of its serialized answer against the service's bound until
// then. Thread-safe as gRPC requires (each method runs once).
class JournalService::Answer final : public grpc::ServerUnaryReactor {
 public:
  Answer(JournalService* service, grpc::CallbackServerContext* ctx, Rpc rpc,
         grpc::ByteBuffer* out)
      : service_(service),
        ctx_(ctx),
        rpc_(rpc),
        out_(out),
        arrived_(absl::Now()) {
    ++service_->in_flight_;
  }

  grpc::CallbackServerContext* ctx() const { return ctx_; }
  Rpc rpc() const { return rpc_; }

  // Parses the request into `msg`; false (and answered) when it does not
  // parse.
  template <typename Msg>
  bool Parse(const grpc::ByteBuffer* in, Msg* msg) {
    grpc::ByteBuffer copy(*in);  // shares the slices
    grpc::ProtoBufferReader reader(&copy);
    if (msg->ParseFromZeroCopyStream(&reader)) return true;
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (in->Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    Fail(ExplainParseFailure(*Msg::descriptor(), bytes));
    return false;
  }

  // Parses the request into `msg` and checks it against `limits`: the
  // storage request, or nullopt (and answered) when either fails.
  template <typename Msg>
  auto Check(const grpc::ByteBuffer* in, Msg* msg, const RequestLimits& limits)
      -> std::optional<typename decltype(FromProto(*msg, limits))::value_type> {
    if (!Parse(in, msg)) return std::nullopt;
    auto parsed = FromProto(*msg, limits);
    if (!parsed.ok()) {
      Fail(parsed.status());
      return std::nullopt;
    }
    return *std::move(parsed);
  }

  // Authenticates the caller once per call; false (answered, logged and
  // counted) when it cannot be. `job` is only for the log.
  bool Authenticated(const std::string& job) {
    const Authenticator* auth = service_->options_.authenticator;
    if (auth == nullptr || principal_ != nullptr) return true;
    auto principal = auth->Authenticate(*ctx_);
    if (!principal.ok()) {
      service_->Refused(rpc_, *ctx_, job, "", principal.status());
      Fail(principal.status());
      return false;
    }
    principal_ = *std::move(principal);
    return true;
  }

  // Whether the caller may do `p` to `job`: OK, or PERMISSION_DENIED
  // (logged and counted), which the caller answers.
  absl::Status Authorize(Permission p, const std::string& job) {
    if (principal_ == nullptr) return absl::OkStatus();
    absl::Status s = principal_->Allows(p, job);
    if (!s.ok()) service_->Refused(rpc_, *ctx_, job, principal_->name, s);
    return s;
  }

  // Authenticated() and Authorize() for one job; false when answered.
  bool Allowed(Permission p, const std::string& job) {
    if (!Authenticated(job)) return false;
    absl::Status s = Authorize(p, job);
    if (!s.ok()) Fail(s);
    return s.ok();
  }

  // Who the caller is, for the audit log.
  std::string principal() const {
    return principal_ != nullptr ? principal_->name : "unauthenticated";
  }

  // What the store said, for the outcome metrics.
  void Stored(const absl::Status& status) {
    if (service_->metrics_ != nullptr)
      service_->metrics_->OnStoreCall(rpc_, status);
  }

  // Answers OK with `response`, or RESOURCE_EXHAUSTED (retryable) when the
  // answers already held leave no room for it.
  void Reply(const google::protobuf::Message& response) {
    const int64_t size = static_cast<int64_t>(response.ByteSizeLong());
    peer_ = ctx_->peer();
    if (!service_->Hold(peer_, size)) {
      Fail(BusyError(
          "server busy: answers not yet read by their clients fill the "
          "answer memory; read them, or retry later"));
      return;
    }
    held_ = size;
    bool own_buffer = false;
    grpc::Status s =
        grpc::SerializationTraits<google::protobuf::Message>::Serialize(
            response, out_, &own_buffer);
    Done(s);
  }

  void Fail(const absl::Status& status) {
    if (IsRetryable(status)) {
      ctx_->AddTrailingMetadata(kRetryAfterKey, "100");
      if (status.code() == absl::StatusCode::kResourceExhausted &&
          service_->metrics_ != nullptr) {
        service_->metrics_->OnBusy(rpc_);
      }
    }
    Done(ToGrpcStatus(status));
  }

  void OnDone() override {
    service_->Release(peer_, held_);
    --service_->in_flight_;
    delete this;
  }

 private:
  void Done(const grpc::Status& status) {
    if (service_->metrics_ != nullptr) {
      service_->metrics_->OnRequest(rpc_, status.error_code(),
                                    absl::Now() - arrived_);
    }
    Finish(status);
  }

  JournalService* const service_;
  grpc::CallbackServerContext* const ctx_;
  const Rpc rpc_;
  grpc::ByteBuffer* const out_;
  const absl::Time arrived_;
  std::shared_ptr<const Principal> principal_;
  std::string peer_;
  int64_t held_ = 0;
};

JournalService::JournalService(JournalStore& store, Executor& executor,
                               ServiceOptions options, ServerMetrics* metrics)
    : store_(store),
      executor_(executor),
      options_(options),
      metrics_(metrics) {}

bool JournalService::Hold(const std::string& peer, int64_t bytes) {
  int64_t total;
  {
    absl::MutexLock lock(&held_mu_);
    int64_t& mine = held_by_peer_[peer];
    total = held_answer_bytes_.load();
    // One answer always fits, so that a single large one cannot wedge reads.
    if ((mine > 0 &&
         mine + bytes > options_.max_held_answer_bytes_per_client) ||
        (total > 0 && total + bytes > options_.max_held_answer_bytes)) {
      if (mine == 0) held_by_peer_.erase(peer);
      return false;
    }
    mine += bytes;
    total = held_answer_bytes_ += bytes;
  }
  if (metrics_ != nullptr) metrics_->OnHeldAnswerBytes(total);
  return true;
}

void JournalService::Refused(Rpc rpc, const grpc::CallbackServerContext& ctx,
                             const std::string& job,
                             const std::string& principal,
                             const absl::Status& status) {
  const std::string code = absl::StatusCodeToString(status.code());
  Log(LogLevel::kWarning, "refused",
      {{"method", RpcName(rpc)},
       {"code", code},
       {"job", job},
       {"principal", principal.empty() ? "-" : principal},
       {"peer", ctx.peer()},
       {"reason", status.message()}});
  if (metrics_ != nullptr) metrics_->OnAuthRefused(rpc, status.code());
}

void JournalService::Release(const std::string& peer, int64_t bytes) {
  if (bytes == 0) return;
  int64_t total;
  {
    absl::MutexLock lock(&held_mu_);
    auto it = held_by_peer_.find(peer);
    if (it != held_by_peer_.end() && (it->second -= bytes) <= 0) {
      held_by_peer_.erase(it);
    }
    total = held_answer_bytes_ -= bytes;
  }
  if (metrics_ != nullptr) metrics_->OnHeldAnswerBytes(total);
}

void JournalService::Dispatch(Answer* answer,
                              std::function<absl::Status()> work) {
  if (held_answer_bytes_.load() >= options_.max_held_answer_bytes) {
    answer->Fail(BusyError(
        "server busy: answers not yet read by their clients fill the answer "
        "memory; retry later"));
    return;
  }
  auto task = [answer, work = std::move(work)] {
    grpc::CallbackServerContext* ctx = answer->ctx();
    // Skip work whose caller gave up while it waited in the queue.
    if (ctx->IsCancelled()) {
      answer->Fail(absl::CancelledError("cancelled"));
      return;
    }
    if (ctx->deadline() < std::chrono::system_clock::now()) {
      answer->Fail(absl::DeadlineExceededError("deadline passed while queued"));
      return;
    }
    absl::Status s = work();
    if (!s.ok()) answer->Fail(s);
  };
  if (!executor_.TrySchedule(std::move(task))) {
    LogWarning(RpcName(answer->rpc()),
               ": executor queue full; answering RESOURCE_EXHAUSTED");
    answer->Fail(BusyError("server busy: work queue is full; retry later"));
  }
}

grpc::ServerUnaryReactor* JournalService::BeginRecord(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kBeginRecord, out);
  v1::BeginRecordRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kWrite, req.record().job_id())) {
    return answer;
  }
  // On the executor: a BeginRecord that changes nothing is answered from a
  // read, which blocks.
  Dispatch(answer, [this, answer, ctx, token = req.page_token(),
                    parsed = *std::move(parsed)]() mutable {
    store_.BeginRecordAsync(
        std::move(parsed),
        [this, answer, token](auto r) {
          answer->Stored(r.status());
          if (!r.ok()) {
            answer->Fail(r.status());
            return;
          }
          // Later pages repeat the call; count what it replays once.
          if (metrics_ != nullptr && token.empty()) metrics_->OnBegin(*r);
          v1::BeginRecordResponse resp;
          ToProto(*r, token, options_.limits, &resp);
          answer->Reply(resp);
        },
        CallOf(ctx));
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::AppendAction(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kAppendAction, out);
  v1::AppendActionRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kWrite, req.record().job_id())) {
    return answer;
  }
  const ConflictPolicy policy = parsed->conflict_policy;
  const bool pending = IsPendingStep(*parsed);
  store_.AppendActionAsync(
      *std::move(parsed),
      [this, answer, policy, pending](auto r) {
        answer->Stored(r.status());
        if (!r.ok()) {
          answer->Fail(r.status());
          return;
        }
        if (metrics_ != nullptr) metrics_->OnAppend(policy, *r);
        v1::AppendActionResponse resp;
        ToProto(*r, pending, options_.limits, &resp);
        answer->Reply(resp);
      },
      CallOf(ctx));
  return answer;
}

grpc::ServerUnaryReactor* JournalService::AppendActions(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kAppendActions, out);
  v1::AppendActionsRequest req;
  if (!answer->Parse(in, &req)) return answer;
  if (!answer->Authenticated(
          req.items_size() > 0 ? req.items(0).record().job_id() : "")) {
    return answer;
  }
  if (req.items_size() > options_.limits.max_batch_items) {
    answer->Fail(absl::ResourceExhaustedError(
        absl::StrCat("items: ", req.items_size(), " is over the limit of ",
                     options_.limits.max_batch_items, " per call")));
    return answer;
  }
  // Each item is checked on its own; the valid ones go to group commit
  // together, moved, and each item keeps only what its answer needs.
  struct Item {
    absl::Status check;
    ConflictPolicy policy = ConflictPolicy::kKeepStored;
    bool pending = false;
  };
  auto items = std::make_shared<std::vector<Item>>();
  std::vector<AppendRequest> valid;
  for (const v1::AppendActionRequest& proto : req.items()) {
    absl::StatusOr<AppendRequest> checked = FromProto(proto, options_.limits);
    if (checked.ok()) {
      // Each item is refused on its own, like any other bad item.
      absl::Status allowed =
          answer->Authorize(Permission::kWrite, proto.record().job_id());
      if (!allowed.ok()) checked = allowed;
    }
    if (!checked.ok()) {
      items->push_back({checked.status()});
      continue;
    }
    items->push_back(
        {absl::OkStatus(), checked->conflict_policy, IsPendingStep(*checked)});
    valid.push_back(*std::move(checked));
  }
  store_.AppendActionsAsync(
      std::move(valid),
      [this, answer, items](auto r) {
        answer->Stored(r.status());
        if (!r.ok()) {
          answer->Fail(r.status());
          return;
        }
        // The store's answers, spread back over the items that were valid.
        std::vector<absl::StatusOr<AppendResult>> results;
        std::vector<bool> pending;
        size_t next = 0;
        for (const Item& item : *items) {
          pending.push_back(item.pending);
          if (!item.check.ok()) {
            results.push_back(item.check);
            continue;
          }
          results.push_back(std::move((*r)[next++]));
          if (!results.back().ok()) {
            // Each item's own refusal counts as a single call's would
            // (fenced, store errors): clients coalesce most appends.
            answer->Stored(results.back().status());
            // An item refused because the server was busy counts as a busy
            // call would (a full write queue refuses a batch item by item).
            if (absl::IsResourceExhausted(results.back().status()) &&
                metrics_ != nullptr) {
              metrics_->OnBusy(Rpc::kAppendActions);
            }
            results.back() = ForClient(results.back().status());
          } else if (metrics_ != nullptr) {
            metrics_->OnAppend(item.policy, *results.back());
          }
        }
        v1::AppendActionsResponse resp;
        ToProto(results, pending, options_.limits, &resp);
        answer->Reply(resp);
      },
      CallOf(ctx));
  return answer;
}

grpc::ServerUnaryReactor* JournalService::LookupAction(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kLookupAction, out);
  v1::LookupActionRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kRead, req.record().job_id())) {
    return answer;
  }
  Dispatch(answer, [this, answer, parsed = *std::move(parsed)] {
    absl::StatusOr<LookupResult> r =
        store_.LookupAction(parsed.first, parsed.second);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    if (metrics_ != nullptr) metrics_->OnLookup(*r);
    v1::LookupActionResponse resp;
    ToProto(*r, options_.limits, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::CompleteRecord(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kCompleteRecord, out);
  v1::CompleteRecordRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kWrite, req.record().job_id())) {
    return answer;
  }
  store_.CompleteRecordAsync(
      *std::move(parsed),
      [this, answer](auto r) {
        answer->Stored(r.status());
        if (!r.ok()) {
          answer->Fail(r.status());
          return;
        }
        if (metrics_ != nullptr && r->replayed) metrics_->OnReplayStarted();
        v1::CompleteRecordResponse resp;
        ToProto(*r, &resp);
        answer->Reply(resp);
      },
      CallOf(ctx));
  return answer;
}

grpc::ServerUnaryReactor* JournalService::Prune(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kPrune, out);
  v1::PruneRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  // Deleting a whole job is an administrator's act.
  if (!parsed || !answer->Allowed(
                     req.whole_job() ? Permission::kAdmin : Permission::kPrune,
                     req.job_id())) {
    return answer;
  }
  if (!req.has_retention_millis()) parsed->retention = options_.prune_retention;
  Dispatch(answer, [this, answer, whole_job = req.whole_job(),
                    keys = req.keys_size(),
                    before = req.completed_before_unix_micros(),
                    parsed = *std::move(parsed)] {
    absl::StatusOr<PruneResult> r = store_.Prune(parsed);
    answer->Stored(r.status());
    // The audit trail: every Prune that reached the store, who asked, what
    // went.
    Log(LogLevel::kInfo, "prune",
        {{"method", "Prune"},
         {"job", parsed.job_id},
         {"principal", answer->principal()},
         {"peer", answer->ctx()->peer()},
         {"whole_job", whole_job ? "true" : "false"},
         {"keys", absl::StrCat(keys)},
         {"completed_before_unix_micros", absl::StrCat(before)},
         {"records_deleted", r.ok() ? absl::StrCat(r->records_deleted) : "-"},
         {"entries_deleted", r.ok() ? absl::StrCat(r->entries_deleted) : "-"},
         {"retention", absl::FormatDuration(parsed.retention)},
         {"records_retained", r.ok() ? absl::StrCat(r->records_retained) : "-"},
         {"code", absl::StatusCodeToString(r.status().code())}});
    if (!r.ok()) return r.status();
    if (metrics_ != nullptr) metrics_->OnPrune(*r);
    v1::PruneResponse resp;
    ToProto(*r, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::ReadPayload(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kReadPayload, out);
  v1::ReadPayloadRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kRead, req.record().job_id())) {
    return answer;
  }
  Dispatch(answer, [this, answer, parsed = *std::move(parsed)] {
    absl::StatusOr<LookupResult> r =
        store_.LookupAction(parsed.record, parsed.action_key);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    v1::ReadPayloadResponse resp;
    absl::Status s = ToProto(*r, parsed, options_.limits, &resp);
    if (!s.ok()) return s;
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::GetStats(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kGetStats, out);
  v1::GetStatsRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  // One job's counts are a read of it; every job's need a principal whose
  // patterns cover any job ("*").
  if (!parsed ||
      !answer->Allowed(parsed->empty() ? Permission::kAdmin : Permission::kRead,
                       parsed->empty() ? "*" : *parsed)) {
    return answer;
  }
  Dispatch(answer, [this, answer, job = *std::move(parsed)] {
    absl::StatusOr<std::vector<JobStats>> r = store_.Stats(job);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    v1::GetStatsResponse resp;
    ToProto(*r, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::IssueAttempt(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kIssueAttempt, out);
  v1::IssueAttemptRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kWrite, *parsed)) return answer;
  Dispatch(answer, [this, answer, job = *std::move(parsed)] {
    absl::StatusOr<uint64_t> r = store_.IssueAttempt(job);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    v1::IssueAttemptResponse resp;
    resp.set_attempt(*r);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::ListRecords(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kListRecords, out);
  v1::ListRecordsRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kRead, req.job_id())) {
    return answer;
  }
  Dispatch(answer, [this, answer, call = *std::move(parsed)] {
    absl::StatusOr<std::vector<RecordInfo>> r = store_.ListRecords(call.query);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    v1::ListRecordsResponse resp;
    ToProto(*r, call, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::GetRecord(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kGetRecord, out);
  v1::GetRecordRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed || !answer->Allowed(Permission::kRead, req.record().job_id())) {
    return answer;
  }
  Dispatch(answer, [this, answer, call = *std::move(parsed)] {
    absl::StatusOr<std::optional<RecordDetail>> r =
        store_.ShowRecord(call.record);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    if (!r->has_value()) {
      return absl::NotFoundError("record: no such record");
    }
    v1::GetRecordResponse resp;
    ToProto(**r, call, options_.limits, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::Invalidate(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kInvalidate, out);
  v1::InvalidateRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  // Dropping journaled results is a deletion, as a Prune is.
  if (!parsed || !answer->Allowed(Permission::kPrune, req.record().job_id())) {
    return answer;
  }
  Dispatch(answer, [this, answer, parsed = *std::move(parsed)] {
    absl::StatusOr<InvalidateResult> r = store_.Invalidate(parsed);
    answer->Stored(r.status());
    // The audit trail, as Prune's.
    Log(LogLevel::kInfo, "invalidate",
        {{"method", "Invalidate"},
         {"job", parsed.record.job_id},
         {"record_key", absl::CHexEscape(parsed.record.record_key)},
         {"seq_num", absl::StrCat(parsed.record.seq_num)},
         {"action_key", parsed.action_key.empty() ? "*" : parsed.action_key},
         {"force", parsed.force ? "true" : "false"},
         {"principal", answer->principal()},
         {"peer", answer->ctx()->peer()},
         {"entries_deleted", r.ok() ? absl::StrCat(r->entries_deleted) : "-"},
         {"code", absl::StatusCodeToString(r.status().code())}});
    if (!r.ok()) return r.status();
    v1::InvalidateResponse resp;
    ToProto(*r, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

}  // namespace actionjournal
