// A thin C++ client for actionjournal: one typed call per RPC, each with a
// deadline, answering absl::StatusOr. Thread-safe; share one per process.
#ifndef ACTIONJOURNAL_CLIENT_JOURNAL_CLIENT_H_
#define ACTIONJOURNAL_CLIENT_JOURNAL_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actionjournal/v1/journal.pb.h"

namespace actionjournal {

struct ClientOptions {
  // gRPC target: "127.0.0.1:7450", "dns:///journal:7450", "unix:///path".
  std::string target = "127.0.0.1:7450";
  // Deadline of every call.
  absl::Duration deadline = absl::Seconds(10);
};

class JournalClient {
 public:
  virtual ~JournalClient() = default;

  // Creates a client; the channel connects lazily. INVALID_ARGUMENT for an
  // empty target or a deadline <= 0.
  static absl::StatusOr<std::unique_ptr<JournalClient>> Create(
      const ClientOptions& options);

  // Each returns the server's answer, or its gRPC status as an absl::Status
  // (same code and message); DEADLINE_EXCEEDED when the deadline passed.
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
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_CLIENT_JOURNAL_CLIENT_H_
