// Checks API requests against the limits and turns them into storage
// requests, and storage results back into API responses. Pure functions.
#ifndef ACTIONJOURNAL_SERVER_CONVERT_H_
#define ACTIONJOURNAL_SERVER_CONVERT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "actionjournal/v1/journal.pb.h"
#include "storage/journal_store.h"

namespace actionjournal {

// Request limits; bytes unless said otherwise.
struct RequestLimits {
  int max_job_id = 128;                  // characters
  int max_record_key = 4096;
  int max_action_key = 512;
  int max_function_id = 512;
  int max_digest = 256;                  // args_digest, input_fingerprint
  int64_t max_payload = 4 * 1024 * 1024;  // step result/error, state
  int max_prune_keys = 10000;            // pairs per Prune call

  // The gRPC receive limit that lets every request within these limits
  // through, so that an oversize field gets a clear error, not a transport
  // one.
  int64_t MaxMessageBytes() const;
};

// Each returns the storage request, or INVALID_ARGUMENT (malformed field)
// or RESOURCE_EXHAUSTED (payload or batch over its limit) with a message
// naming the field and the limit.
absl::StatusOr<BeginRequest> FromProto(const v1::BeginRecordRequest& req,
                                       const RequestLimits& limits);
absl::StatusOr<AppendRequest> FromProto(const v1::AppendActionRequest& req,
                                        const RequestLimits& limits);
absl::StatusOr<std::pair<RecordId, std::string>> FromProto(
    const v1::LookupActionRequest& req, const RequestLimits& limits);
absl::StatusOr<CompleteRequest> FromProto(const v1::CompleteRecordRequest& req,
                                          const RequestLimits& limits);
absl::StatusOr<PruneRequest> FromProto(const v1::PruneRequest& req,
                                       const RequestLimits& limits);

void ToProto(const BeginResult& in, v1::BeginRecordResponse* out);
void ToProto(const AppendResult& in, v1::AppendActionResponse* out);
void ToProto(const LookupResult& in, v1::LookupActionResponse* out);
void ToProto(const CompleteResult& in, v1::CompleteRecordResponse* out);
void ToProto(const PruneResult& in, v1::PruneResponse* out);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_CONVERT_H_
