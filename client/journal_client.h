// A thin C++ client for actionjournal: one typed call per RPC, each with a
// deadline and retries, answering absl::StatusOr; AppendAction also
// asynchronously. Thread-safe; share one per process.
#ifndef ACTIONJOURNAL_CLIENT_JOURNAL_CLIENT_H_
#define ACTIONJOURNAL_CLIENT_JOURNAL_CLIENT_H_

#include <functional>
#include <future>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actionjournal/v1/journal.pb.h"

namespace actionjournal {

// Retries with exponential backoff and full jitter. Every RPC is safe to
// repeat (writes are idempotent by identity), so UNAVAILABLE is retried for
// all of them, any code the server marks retryable (a full queue: the
// trailer `actionjournal-retry-after-ms`), and DEADLINE_EXCEEDED for the
// writes (a lookup that timed out is the caller's to judge). Never a request
// over a limit (RESOURCE_EXHAUSTED without the mark) or any other refusal.
struct RetryOptions {
  int max_attempts = 10;  // 1 = no retries
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  double multiplier = 2.0;
  // No attempt starts, and none runs, past this long after the call began.
  absl::Duration budget = absl::Seconds(30);
};

struct ClientOptions {
  // gRPC target: "127.0.0.1:7450" (a sidecar), "unix:///run/aj.sock",
  // "dns:///journal-headless.flink.svc:7450" (a shared journal: calls are
  // balanced round-robin over every address the name resolves to).
  std::string target = "127.0.0.1:7450";
  // TLS: the PEM CA bundle that signed the server's certificate, which must
  // name the target's host; empty: plaintext. With tls_cert_file and
  // tls_key_file (PEM) the client presents that certificate (mutual TLS).
  // The files are re-read when they change.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // A file holding the bearer token sent with every call
  // (`authorization: Bearer <token>`), re-read every few seconds; empty:
  // none. The token never appears in a status or a log line.
  std::string token_file;
  // Deadline of each attempt.
  absl::Duration deadline = absl::Seconds(10);
  RetryOptions retry;
  // HTTP/2 pings this often, answered within keepalive_timeout, or the
  // connection is dropped and made anew: a connection that died silently
  // (a partition, a NAT or load balancer that forgot it) is noticed within
  // keepalive_time + keepalive_timeout instead of when TCP gives up (many
  // minutes), and retries go to a live one. The server permits pings every
  // 5 s; zero turns them off.
  absl::Duration keepalive_time = absl::Seconds(10);
  absl::Duration keepalive_timeout = absl::Seconds(5);
  // Appends (sync and async, from any thread) travel coalesced: one goes
  // out at once when fewer than max_appends_calls_in_flight calls are in
  // flight; otherwise the next gather, up to 256 appends or 1 MiB, into one
  // AppendActions call. Each keeps its own
  // answer, error and retries. Off: one AppendAction call per append.
  bool coalesce_appends = true;
  // AppendActions calls in flight at once: two keep the server's two group
  // commits busy while each gathers the next batch.
  int max_appends_calls_in_flight = 2;
};

class JournalClient {
 public:
  virtual ~JournalClient() = default;

  // Creates a client; the channel connects lazily. INVALID_ARGUMENT for an
  // empty target, a deadline <= 0, or a TLS or token file that cannot be
  // read (naming the option).
  static absl::StatusOr<std::unique_ptr<JournalClient>> Create(
      const ClientOptions& options);

  // Each returns the server's answer, or its gRPC status as an absl::Status
  // (same code and message); DEADLINE_EXCEEDED when the deadline passed.
  // Answers come whole: the pages of a large BeginRecord are read and
  // joined, payloads the server left out of an answer (omitted_bytes) are
  // read with ReadPayload and filled in, and AppendAction's stored entry is
  // always set (the server sends it only when it differs from the one
  // sent).
  virtual absl::StatusOr<v1::BeginRecordResponse> BeginRecord(
      const v1::BeginRecordRequest& request) = 0;
  virtual absl::StatusOr<v1::AppendActionResponse> AppendAction(
      const v1::AppendActionRequest& request) = 0;
  virtual absl::StatusOr<v1::LookupActionResponse> LookupAction(
      const v1::LookupActionRequest& request) = 0;
  virtual absl::StatusOr<v1::CompleteRecordResponse> CompleteRecord(
      const v1::CompleteRecordRequest& request) = 0;
  virtual absl::StatusOr<v1::PruneResponse> Prune(
      const v1::PruneRequest& request) = 0;
  virtual absl::StatusOr<v1::GetStatsResponse> GetStats(
      const v1::GetStatsRequest& request) = 0;
  // A fresh attempt for the job; retried as a write (a retry of one that was
  // applied only skips a number).
  virtual absl::StatusOr<v1::IssueAttemptResponse> IssueAttempt(
      const v1::IssueAttemptRequest& request) = 0;
  // The read APIs: ListRecords one page as the server sends it; GetRecord
  // whole (its pages joined and, when it asks for payloads, every payload
  // the server left out read with ReadPayload).
  virtual absl::StatusOr<v1::ListRecordsResponse> ListRecords(
      const v1::ListRecordsRequest& request) = 0;
  virtual absl::StatusOr<v1::GetRecordResponse> GetRecord(
      const v1::GetRecordRequest& request) = 0;
  // Drops an action's or a record's entries; retried as a write (a retry of
  // one that was applied drops nothing more: NOT_FOUND for an action).
  virtual absl::StatusOr<v1::InvalidateResponse> Invalidate(
      const v1::InvalidateRequest& request) = 0;
  // One chunk of a stored payload, as the server sends it.
  virtual absl::StatusOr<v1::ReadPayloadResponse> ReadPayload(
      const v1::ReadPayloadRequest& request) = 0;

  // AppendAction without blocking, with the same retries: `done` runs once,
  // on a gRPC thread (it must not block), so that an operator can keep
  // several appends in flight.
  using AppendDone =
      std::function<void(absl::StatusOr<v1::AppendActionResponse>)>;
  virtual void AppendActionAsync(const v1::AppendActionRequest& request,
                                 AppendDone done) = 0;
  // The same, as a future.
  std::future<absl::StatusOr<v1::AppendActionResponse>> AppendActionAsync(
      const v1::AppendActionRequest& request);
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_CLIENT_JOURNAL_CLIENT_H_
