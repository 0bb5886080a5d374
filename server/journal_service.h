// The ActionJournal gRPC service on the callback API. Requests are checked on
// gRPC's thread (cheap). Writes go to the store's group commit, which answers
// from its own threads once they committed; reads and prunes run on the
// executor. gRPC's threads never block.
//
// The methods take and give raw bytes, parsed and serialized here, so that a
// request that does not parse (a string field that is not UTF-8, a truncated
// message) gets INVALID_ARGUMENT saying what did not parse, where gRPC's own
// parsing would answer UNIMPLEMENTED with no message.
#ifndef ACTIONJOURNAL_SERVER_JOURNAL_SERVICE_H_
#define ACTIONJOURNAL_SERVER_JOURNAL_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "actionjournal/v1/journal.grpc.pb.h"
#include "server/auth.h"
#include "server/convert.h"
#include "server/executor.h"
#include "server/metrics.h"
#include "storage/journal_store.h"

namespace actionjournal {

// The trailing metadata key that marks an error a retry may cure; its value
// is a suggested pause in milliseconds (proto/actionjournal/v1/journal.proto).
inline constexpr char kRetryAfterKey[] = "actionjournal-retry-after-ms";

// What a client is told of `status`: the same code; INTERNAL details are
// logged, not sent, and so are UNAVAILABLE ones, which may name the
// database's host.
absl::Status ForClient(const absl::Status& status);

// The one mapping from absl::Status to grpc::Status (through ForClient).
grpc::Status ToGrpcStatus(const absl::Status& status);

using RawJournalService = v1::ActionJournal::WithRawCallbackMethod_BeginRecord<
    v1::ActionJournal::WithRawCallbackMethod_AppendAction<
        v1::ActionJournal::WithRawCallbackMethod_AppendActions<
            v1::ActionJournal::WithRawCallbackMethod_LookupAction<
                v1::ActionJournal::WithRawCallbackMethod_CompleteRecord<
                    v1::ActionJournal::WithRawCallbackMethod_Prune<
                        v1::ActionJournal::WithRawCallbackMethod_ReadPayload<
                            v1::ActionJournal::WithRawCallbackMethod_GetStats<
                                v1::ActionJournal::WithRawCallbackMethod_IssueAttempt<
                                    v1::ActionJournal::WithRawCallbackMethod_ListRecords<
                                        v1::ActionJournal::
                                            WithRawCallbackMethod_GetRecord<
                                                v1::ActionJournal::
                                                    WithRawCallbackMethod_Invalidate<
                                                        v1::ActionJournal::
                                                            Service>>>>>>>>>>>>;

struct ServiceOptions {
  RequestLimits limits;
  // Bytes of serialized answers the service holds at once (answers a slow or
  // stalled client has not read yet). Past it, reads answer
  // RESOURCE_EXHAUSTED (retryable) instead of growing the process.
  int64_t max_held_answer_bytes = 256 * 1024 * 1024;
  // The same for one client connection, so that a client that stops
  // reading is refused before it crowds out the others.
  int64_t max_held_answer_bytes_per_client = 32 * 1024 * 1024;
  // A Prune's retention when it names none (PruneRequest.retention_millis).
  absl::Duration prune_retention = absl::ZeroDuration();
  // Who may do what to which job; not owned, must outlive the service.
  // Null: every request is allowed (an unauthenticated server).
  const Authenticator* authenticator = nullptr;
};

// Thread-safe. `store`, `executor` and `metrics` (which may be null) must
// outlive the service.
class JournalService final : public RawJournalService {
 public:
  JournalService(JournalStore& store, Executor& executor,
                 ServiceOptions options, ServerMetrics* metrics);

  grpc::ServerUnaryReactor* BeginRecord(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* req,
                                        grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* AppendAction(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* AppendActions(grpc::CallbackServerContext* ctx,
                                          const grpc::ByteBuffer* req,
                                          grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* LookupAction(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* CompleteRecord(grpc::CallbackServerContext* ctx,
                                           const grpc::ByteBuffer* req,
                                           grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* Prune(grpc::CallbackServerContext* ctx,
                                  const grpc::ByteBuffer* req,
                                  grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ReadPayload(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* req,
                                        grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* ctx,
                                     const grpc::ByteBuffer* req,
                                     grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* IssueAttempt(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListRecords(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* req,
                                        grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* GetRecord(grpc::CallbackServerContext* ctx,
                                      const grpc::ByteBuffer* req,
                                      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* Invalidate(grpc::CallbackServerContext* ctx,
                                       const grpc::ByteBuffer* req,
                                       grpc::ByteBuffer* resp) override;

  // Serialized answers held now, in bytes.
  int64_t held_answer_bytes() const { return held_answer_bytes_.load(); }

  // RPCs of this service not yet done (answered and released by gRPC).
  int in_flight() const { return in_flight_.load(); }

 private:
  class Answer;

  // Reads and prunes, which block: runs `work` on the executor, which
  // finishes `answer` (RESOURCE_EXHAUSTED at once when its queue is full).
  void Dispatch(Answer* answer, std::function<absl::Status()> work);

  // Logs and counts a refused request (UNAUTHENTICATED, PERMISSION_DENIED).
  void Refused(Rpc rpc, const grpc::CallbackServerContext& ctx,
               const std::string& job, const std::string& principal,
               const absl::Status& status);

  // Counts held answer bytes for `peer`; false (nothing counted) when
  // `bytes` more would pass the peer's or the process's bound.
  bool Hold(const std::string& peer, int64_t bytes);
  void Release(const std::string& peer, int64_t bytes);

  JournalStore& store_;
  Executor& executor_;
  const ServiceOptions options_;
  ServerMetrics* const metrics_;
  std::atomic<int64_t> held_answer_bytes_{0};
  std::atomic<int> in_flight_{0};
  // Bytes held per client connection (gRPC's peer string).
  absl::Mutex held_mu_;
  absl::flat_hash_map<std::string, int64_t> held_by_peer_
      ABSL_GUARDED_BY(held_mu_);
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_JOURNAL_SERVICE_H_
