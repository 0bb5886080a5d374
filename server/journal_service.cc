#include "server/journal_service.h"

#include <chrono>
#include <memory>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace actionjournal {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  if (status.code() == absl::StatusCode::kInternal ||
      status.code() == absl::StatusCode::kUnknown) {
    LogError("internal error: ", status.ToString());
    return grpc::Status(code, "internal error; see the server log");
  }
  return grpc::Status(code, std::string(status.message()));
}

JournalService::JournalService(JournalStore& store, Executor& executor,
                               RequestLimits limits, ServerMetrics* metrics)
    : store_(store), executor_(executor), limits_(limits), metrics_(metrics) {}

JournalService::Call JournalService::Start(grpc::CallbackServerContext* ctx,
                                           Rpc rpc) {
  return Call{ctx->DefaultReactor(), rpc, absl::Now()};
}

void JournalService::Finish(const Call& call, const grpc::Status& status) {
  if (metrics_ != nullptr) {
    metrics_->OnRequest(call.rpc, status.error_code(), absl::Now() - call.arrived);
  }
  call.reactor->Finish(status);
}

void JournalService::FinishStore(const Call& call, const absl::Status& status) {
  if (metrics_ != nullptr) metrics_->OnStoreCall(call.rpc, status);
  Finish(call, ToGrpcStatus(status));
}

grpc::ServerUnaryReactor* JournalService::Dispatch(
    grpc::CallbackServerContext* ctx, Rpc rpc, const absl::Status& checked,
    std::function<absl::Status()> work) {
  const Call call = Start(ctx, rpc);
  if (!checked.ok()) {
    Finish(call, ToGrpcStatus(checked));
    return call.reactor;
  }
  auto task = [this, ctx, call, work = std::move(work)] {
    // Skip work whose caller gave up while it waited in the queue.
    if (ctx->IsCancelled()) {
      Finish(call, grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (ctx->deadline() < std::chrono::system_clock::now()) {
      Finish(call, grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                "deadline passed while queued"));
      return;
    }
    FinishStore(call, work());
  };
  if (!executor_.TrySchedule(std::move(task))) {
    LogWarning(RpcName(rpc), ": executor queue full; answering RESOURCE_EXHAUSTED");
    Finish(call, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "server busy: work queue is full; retry later"));
  }
  return call.reactor;
}

grpc::ServerUnaryReactor* JournalService::BeginRecord(
    grpc::CallbackServerContext* ctx, const v1::BeginRecordRequest* req,
    v1::BeginRecordResponse* resp) {
  const Call call = Start(ctx, Rpc::kBeginRecord);
  absl::StatusOr<BeginRequest> parsed = FromProto(*req, limits_);
  if (!parsed.ok()) {
    Finish(call, ToGrpcStatus(parsed.status()));
    return call.reactor;
  }
  store_.BeginRecordAsync(*std::move(parsed), [this, call, resp](auto r) {
    if (r.ok()) {
      if (metrics_ != nullptr) metrics_->OnBegin(*r);
      ToProto(*r, resp);
    }
    FinishStore(call, r.status());
  });
  return call.reactor;
}

grpc::ServerUnaryReactor* JournalService::AppendAction(
    grpc::CallbackServerContext* ctx, const v1::AppendActionRequest* req,
    v1::AppendActionResponse* resp) {
  const Call call = Start(ctx, Rpc::kAppendAction);
  absl::StatusOr<AppendRequest> parsed = FromProto(*req, limits_);
  if (!parsed.ok()) {
    Finish(call, ToGrpcStatus(parsed.status()));
    return call.reactor;
  }
  const ConflictPolicy policy = parsed->conflict_policy;
  store_.AppendActionAsync(*std::move(parsed), [this, call, resp, policy](auto r) {
    if (r.ok()) {
      if (metrics_ != nullptr) metrics_->OnAppend(policy, *r);
      ToProto(*r, resp);
    }
    FinishStore(call, r.status());
  });
  return call.reactor;
}

grpc::ServerUnaryReactor* JournalService::LookupAction(
    grpc::CallbackServerContext* ctx, const v1::LookupActionRequest* req,
    v1::LookupActionResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<std::pair<RecordId, std::string>>>(
      FromProto(*req, limits_));
  return Dispatch(ctx, Rpc::kLookupAction, parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(LookupResult r,
                     store_.LookupAction((*parsed)->first, (*parsed)->second));
    if (metrics_ != nullptr) metrics_->OnLookup(r);
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JournalService::CompleteRecord(
    grpc::CallbackServerContext* ctx, const v1::CompleteRecordRequest* req,
    v1::CompleteRecordResponse* resp) {
  const Call call = Start(ctx, Rpc::kCompleteRecord);
  absl::StatusOr<CompleteRequest> parsed = FromProto(*req, limits_);
  if (!parsed.ok()) {
    Finish(call, ToGrpcStatus(parsed.status()));
    return call.reactor;
  }
  store_.CompleteRecordAsync(*std::move(parsed), [this, call, resp](auto r) {
    if (r.ok()) ToProto(*r, resp);
    FinishStore(call, r.status());
  });
  return call.reactor;
}

grpc::ServerUnaryReactor* JournalService::Prune(grpc::CallbackServerContext* ctx,
                                                const v1::PruneRequest* req,
                                                v1::PruneResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<PruneRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, Rpc::kPrune, parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(PruneResult r, store_.Prune(**parsed));
    if (metrics_ != nullptr) metrics_->OnPrune(r);
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

}  // namespace actionjournal
