// The ActionJournal gRPC service on the callback API. Requests are checked on
// gRPC's thread (cheap). Writes go to the store's group commit, which answers
// from its own threads once they committed; reads and prunes run on the
// executor. gRPC's threads never block.
#ifndef ACTIONJOURNAL_SERVER_JOURNAL_SERVICE_H_
#define ACTIONJOURNAL_SERVER_JOURNAL_SERVICE_H_

#include <functional>

#include "absl/time/time.h"

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "actionjournal/v1/journal.grpc.pb.h"
#include "server/convert.h"
#include "server/executor.h"
#include "server/metrics.h"
#include "storage/journal_store.h"

namespace actionjournal {

// The one mapping from absl::Status to grpc::Status. INTERNAL details are
// logged, not sent.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Thread-safe. `store`, `executor` and `metrics` (which may be null) must
// outlive the service.
class JournalService final : public v1::ActionJournal::CallbackService {
 public:
  JournalService(JournalStore& store, Executor& executor, RequestLimits limits,
                 ServerMetrics* metrics);

  grpc::ServerUnaryReactor* BeginRecord(grpc::CallbackServerContext* ctx,
                                        const v1::BeginRecordRequest* req,
                                        v1::BeginRecordResponse* resp) override;
  grpc::ServerUnaryReactor* AppendAction(grpc::CallbackServerContext* ctx,
                                         const v1::AppendActionRequest* req,
                                         v1::AppendActionResponse* resp) override;
  grpc::ServerUnaryReactor* LookupAction(grpc::CallbackServerContext* ctx,
                                         const v1::LookupActionRequest* req,
                                         v1::LookupActionResponse* resp) override;
  grpc::ServerUnaryReactor* CompleteRecord(
      grpc::CallbackServerContext* ctx, const v1::CompleteRecordRequest* req,
      v1::CompleteRecordResponse* resp) override;
  grpc::ServerUnaryReactor* Prune(grpc::CallbackServerContext* ctx,
                                  const v1::PruneRequest* req,
                                  v1::PruneResponse* resp) override;

 private:
  // One RPC being answered.
  struct Call {
    grpc::ServerUnaryReactor* reactor;
    Rpc rpc;
    absl::Time arrived;
  };
  Call Start(grpc::CallbackServerContext* ctx, Rpc rpc);
  // Answers, counting the answer in the metrics.
  void Finish(const Call& call, const grpc::Status& status);
  // Answers with what the store said.
  void FinishStore(const Call& call, const absl::Status& status);

  // Reads and prunes, which block: finishes at once with `checked` when it
  // failed; otherwise runs `work` on the executor (RESOURCE_EXHAUSTED when
  // its queue is full).
  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx, Rpc rpc,
                                     const absl::Status& checked,
                                     std::function<absl::Status()> work);

  JournalStore& store_;
  Executor& executor_;
  const RequestLimits limits_;
  ServerMetrics* const metrics_;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_JOURNAL_SERVICE_H_
