// The server's Prometheus metrics (docs/operations.md, "Metrics", lists each
// one). The service reports every answer here; the journal reports its batches
// and connections through JournalObserver.
#ifndef ACTIONJOURNAL_SERVER_METRICS_H_
#define ACTIONJOURNAL_SERVER_METRICS_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/http_server.h"
#include "storage/journal_store.h"
#include "storage/observer.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace actionjournal {

enum class Rpc {
  kBeginRecord,
  kAppendAction,
  kLookupAction,
  kCompleteRecord,
  kPrune,
  kReadPayload,
  kAppendActions,
  kGetStats,
  kIssueAttempt,
  kListRecords,
  kGetRecord,
  kInvalidate
};
inline constexpr int kRpcCount = 12;
const char* RpcName(Rpc rpc);

// Thread-safe.
class ServerMetrics final : public JournalObserver {
 public:
  // `store_kind` ("postgresql", "sqlite", "memory") goes into build_info.
  explicit ServerMetrics(const std::string& store_kind);
  ~ServerMetrics() override;

  // One answered RPC: its final code and how long it took from arrival.
  void OnRequest(Rpc rpc, grpc::StatusCode code, absl::Duration latency);
  // What the store answered, for the outcome counters. `status` is the store
  // call's own (not a check of the request).
  void OnStoreCall(Rpc rpc, const absl::Status& status);
  // A request, or an AppendActions item, refused for its credentials:
  // UNAUTHENTICATED or PERMISSION_DENIED.
  void OnAuthRefused(Rpc rpc, absl::StatusCode code);
  void OnBegin(const BeginResult& result);
  void OnAppend(ConflictPolicy policy, const AppendResult& result);
  void OnLookup(const LookupResult& result);
  void OnPrune(const PruneResult& result);
  // A write that took a record over (a replay began): BeginRecord's,
  // AppendAction's and CompleteRecord's `replayed`.
  void OnReplayStarted();
  // Bytes of answers held for clients now.
  void OnHeldAnswerBytes(int64_t bytes);
  // A call refused because the server is busy (a full queue, the answer
  // memory full): RESOURCE_EXHAUSTED that the client may retry.
  void OnBusy(Rpc rpc);
  // Whether the store answers (readiness), after each health check.
  void OnStoreReady(bool ready);

  // JournalObserver.
  void OnBatch(int size, absl::Duration duration,
               const absl::Status& status) override;
  void OnPool(int in_use, int idle) override;
  void OnSweep(const SweepResult& result) override;
  void OnSize(const StoreSize& size) override;
  void OnPayload(size_t sent, size_t stored) override;

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  // Counts the entries `action` hands back instead of letting them run.
  void OnActionReplayed(Rpc rpc, const ActionEntries& action);
  void OnSaved(const Cost& cost);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  // requests_ children, made on first use: [rpc][grpc code].
  std::array<std::array<std::atomic<prometheus::Counter*>, 17>, kRpcCount>
      request_counters_{};
  std::array<prometheus::Histogram*, kRpcCount> latency_{};
  std::array<prometheus::Counter*, 4> appends_{};    // by AppendOutcome - 1
  std::array<prometheus::Counter*, 2> conflicts_{};  // by ConflictPolicy - 1
  std::array<std::array<prometheus::Counter*, 2>, kRpcCount> replay_hits_{};
  prometheus::Counter* saved_input_tokens_;
  prometheus::Counter* saved_output_tokens_;
  prometheus::Counter* saved_usd_;
  prometheus::Counter* replayed_records_;
  std::array<prometheus::Counter*, kRpcCount> fenced_{};
  // [rpc][0: UNAUTHENTICATED, 1: PERMISSION_DENIED]
  std::array<std::array<prometheus::Counter*, 2>, kRpcCount> auth_refused_{};
  std::array<prometheus::Counter*, kRpcCount> busy_{};
  prometheus::Gauge* store_ready_;
  prometheus::Counter* mismatches_kept_;
  prometheus::Counter* mismatches_reset_;
  prometheus::Family<prometheus::Counter>* store_errors_;
  prometheus::Histogram* batch_writes_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Gauge* pool_in_use_;
  prometheus::Gauge* pool_idle_;
  prometheus::Gauge* held_answer_bytes_;
  prometheus::Counter* pruned_records_;
  prometheus::Counter* pruned_entries_;
  prometheus::Counter* retained_records_;
  std::array<prometheus::Counter*, 2> swept_records_{};  // retention, ttl
  prometheus::Counter* swept_entries_;
  prometheus::Counter* sweep_batches_;
  std::array<prometheus::Histogram*, 2> payload_bytes_{};  // sent, stored
  prometheus::Gauge* store_records_;
  prometheus::Gauge* store_bytes_;
  prometheus::Gauge* oldest_record_age_;
};

// Serves `registry` at http://`address`/metrics ("host:port"; port 0 picks
// a free one); HTTPS is an HttpServer (server/http_server.h) serving
// MetricsPage. UNAVAILABLE when the address cannot be bound.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> ServeMetrics(
    const std::string& address,
    const std::shared_ptr<prometheus::Registry>& registry);

// GET /metrics: `registry` in Prometheus' text format (for HttpServer).
HttpServer::Handler MetricsPage(std::shared_ptr<prometheus::Registry> registry);

// The port an exposer is bound to.
int MetricsPort(const prometheus::Exposer& exposer);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_METRICS_H_
