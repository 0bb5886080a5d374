#include "server/journal_service.h"

#include <chrono>
#include <memory>
#include <utility>

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
                               RequestLimits limits)
    : store_(store), executor_(executor), limits_(limits) {}

grpc::ServerUnaryReactor* JournalService::Dispatch(
    grpc::CallbackServerContext* ctx, const char* method,
    const absl::Status& checked, std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!checked.ok()) {
    reactor->Finish(ToGrpcStatus(checked));
    return reactor;
  }
  auto task = [ctx, reactor, work = std::move(work)] {
    // Skip work whose caller gave up while it waited in the queue.
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (ctx->deadline() < std::chrono::system_clock::now()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                   "deadline passed while queued"));
      return;
    }
    reactor->Finish(ToGrpcStatus(work()));
  };
  if (!executor_.TrySchedule(std::move(task))) {
    LogWarning(method, ": executor queue full; answering RESOURCE_EXHAUSTED");
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "server busy: work queue is full; retry later"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* JournalService::BeginRecord(
    grpc::CallbackServerContext* ctx, const v1::BeginRecordRequest* req,
    v1::BeginRecordResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<BeginRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, "BeginRecord", parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(BeginResult r, store_.BeginRecord(**parsed));
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JournalService::AppendAction(
    grpc::CallbackServerContext* ctx, const v1::AppendActionRequest* req,
    v1::AppendActionResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<AppendRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, "AppendAction", parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(AppendResult r, store_.AppendAction(**parsed));
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JournalService::LookupAction(
    grpc::CallbackServerContext* ctx, const v1::LookupActionRequest* req,
    v1::LookupActionResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<std::pair<RecordId, std::string>>>(
      FromProto(*req, limits_));
  return Dispatch(ctx, "LookupAction", parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(LookupResult r,
                     store_.LookupAction((*parsed)->first, (*parsed)->second));
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JournalService::CompleteRecord(
    grpc::CallbackServerContext* ctx, const v1::CompleteRecordRequest* req,
    v1::CompleteRecordResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<CompleteRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, "CompleteRecord", parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(CompleteResult r, store_.CompleteRecord(**parsed));
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JournalService::Prune(grpc::CallbackServerContext* ctx,
                                                const v1::PruneRequest* req,
                                                v1::PruneResponse* resp) {
  auto parsed = std::make_shared<absl::StatusOr<PruneRequest>>(FromProto(*req, limits_));
  return Dispatch(ctx, "Prune", parsed->status(), [this, parsed, resp] {
    ASSIGN_OR_RETURN(PruneResult r, store_.Prune(**parsed));
    ToProto(r, resp);
    return absl::OkStatus();
  });
}

}  // namespace actionjournal
