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

grpc::ServerUnaryReactor* JournalService::Dispatch(
    grpc::CallbackServerContext* ctx, Rpc rpc, const absl::Status& checked,
    std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time arrived = absl::Now();
  auto finish = [this, reactor, rpc, arrived](const grpc::Status& status) {
    if (metrics_ != nullptr) {
      metrics_->OnRequest(rpc, status.error_code(), absl::Now() - arrived);
    }
    reactor->Finish(status);
  };
  if (!checked.ok()) {
    finish(ToGrpcStatus(checked));
    return reactor;
  }
  auto task = [this, ctx, rpc, finish, work = std::move(work)] {
    // Skip work whose caller gave up while it waited in the queue.
    if (ctx->IsCancelled()) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (ctx->deadline() < std::chrono::system_clock::now()) {
      finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "deadline passed while queued"));
      return;
    }
    const absl::Status status = work();
    if (metrics_ != nullptr) metrics_->OnStoreCall(rpc, status);
    finish(ToGrpcStatus(status));
  };
  if (!executor_.TrySchedule(std::move(task))) {
    LogWarning(RpcName(rpc), ": executor queue full; answering RESOURCE_EXHAUSTED");
    finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "server busy: work queue is full; retry later"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* JournalService::BeginRecord(
    grpc::CallbackServerContext* ctx, const v1::BeginRecordRequest* req,
    v1::BeginRecordResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<BeginRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, Rpc::kBeginRecord, parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(BeginResult r, store_.BeginRecord(**parsed));
    if (metrics_ != nullptr) metrics_->OnBegin(r);
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JournalService::AppendAction(
    grpc::CallbackServerContext* ctx, const v1::AppendActionRequest* req,
    v1::AppendActionResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<AppendRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, Rpc::kAppendAction, parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(AppendResult r, store_.AppendAction(**parsed));
    if (metrics_ != nullptr) metrics_->OnAppend(**parsed, r);
    ToProto(r, resp);
    return absl::OkStatus();
  });
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
  auto parsed = std::make_shared<absl::StatusOr<CompleteRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, Rpc::kCompleteRecord, parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(CompleteResult r, store_.CompleteRecord(**parsed));
    ToProto(r, resp);
    return absl::OkStatus();
  });
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
