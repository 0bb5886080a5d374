// Checks API requests against the limits and turns them into storage
// requests, and storage results back into API responses. Pure functions.
#ifndef ACTIONJOURNAL_SERVER_CONVERT_H_
#define ACTIONJOURNAL_SERVER_CONVERT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actionjournal/v1/journal.pb.h"
#include "storage/journal_store.h"

namespace actionjournal {

// Request limits; bytes unless said otherwise.
struct RequestLimits {
  int max_job_id = 128;  // characters
  int max_record_key = 4096;
  int max_action_key = 512;
  int max_function_id = 512;
  int max_digest = 256;                   // args_digest, input_fingerprint
  int64_t max_payload = 4 * 1024 * 1024;  // step result/error, state
  int max_prune_keys = 10000;             // pairs per Prune call
  int max_batch_items = 1000;             // items per AppendActions call
  // Largest answer: 3 MiB leaves room under gRPC's default 4 MiB receive
  // limit for the fields around the payloads, so that a client with
  // default settings reads every answer. Payloads that do not fit are left
  // out (omitted_bytes) and read with ReadPayload in chunks of this size.
  int64_t max_answer_bytes = 3 * 1024 * 1024;

  // The gRPC receive limit: one append whose every field is at its limit
  // (one payload, the keys), so that an oversize field gets a clear error,
  // not a transport one. Every other request, a Prune included, is bounded
  // by it too.
  int64_t MaxMessageBytes() const;
};

// Which stored payload a ReadPayload wants.
struct PayloadRequest {
  RecordId record;
  std::string action_key;
  std::optional<uint32_t> step_index;  // nullopt: the completion
  uint64_t offset = 0;
};

// A ListRecords call: the store's query (its limit one more than the
// page, to learn whether another follows) and the page's size.
struct ListRecordsCall {
  ListRecordsQuery query;
  int page_size = 50;
};
inline constexpr int kDefaultListPage = 50;
inline constexpr int kMaxListPage = 500;

// A GetRecord call.
struct GetRecordCall {
  RecordId record;
  bool include_payloads = false;
  std::string page_token;  // the last action key of the previous page
};

// Why `bytes` did not parse as `descriptor`'s message: INVALID_ARGUMENT
// naming the first string field that is not UTF-8, or saying that the
// message is malformed or truncated.
absl::Status ExplainParseFailure(const google::protobuf::Descriptor& descriptor,
                                 const std::string& bytes);

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
// The job to issue an attempt for.
absl::StatusOr<std::string> FromProto(const v1::IssueAttemptRequest& req,
                                      const RequestLimits& limits);
// Without retention_millis, the request's retention is zero: the caller
// applies its default.
// The job to count ("" for every job).
absl::StatusOr<std::string> FromProto(const v1::GetStatsRequest& req,
                                      const RequestLimits& limits);
absl::StatusOr<PruneRequest> FromProto(const v1::PruneRequest& req,
                                       const RequestLimits& limits);
absl::StatusOr<PayloadRequest> FromProto(const v1::ReadPayloadRequest& req,
                                         const RequestLimits& limits);
absl::StatusOr<ListRecordsCall> FromProto(const v1::ListRecordsRequest& req,
                                          const RequestLimits& limits);
absl::StatusOr<GetRecordCall> FromProto(const v1::GetRecordRequest& req,
                                        const RequestLimits& limits);
absl::StatusOr<InvalidateRequest> FromProto(const v1::InvalidateRequest& req,
                                            const RequestLimits& limits);

// Answers, bounded by limits.max_answer_bytes: payloads that do not fit are
// left out (omitted_bytes), and BeginRecord's actions are paged: the page
// after `page_token` (empty: the first), ordered by key bytewise.
void ToProto(const BeginResult& in, const std::string& page_token,
             const RequestLimits& limits, v1::BeginRecordResponse* out);
// Whether a request sends a PENDING step (the one case where a DUPLICATE's
// stored entry may differ from the one sent).
bool IsPendingStep(const AppendRequest& request);

// The stored entry is sent only when it differs from the one the request
// sent; `sent_pending_step` is IsPendingStep of that request.
void ToProto(const AppendResult& in, bool sent_pending_step,
             const RequestLimits& limits, v1::AppendActionResponse* out);
// AppendActions' answer: one item per request, `results[i]` its answer or
// its refusal (as it may be shown to the client). The answer bound is
// shared by the items.
void ToProto(const std::vector<absl::StatusOr<AppendResult>>& results,
             const std::vector<bool>& sent_pending_step,
             const RequestLimits& limits, v1::AppendActionsResponse* out);
void ToProto(const LookupResult& in, const RequestLimits& limits,
             v1::LookupActionResponse* out);
// The chunk of the payload `req` names, from the action `lookup` read.
// NOT_FOUND when there is no such entry, OUT_OF_RANGE when the offset is
// past its end.
absl::Status ToProto(const LookupResult& lookup, const PayloadRequest& req,
                     const RequestLimits& limits, v1::ReadPayloadResponse* out);
void ToProto(const CompleteResult& in, v1::CompleteRecordResponse* out);
void ToProto(const PruneResult& in, v1::PruneResponse* out);
void ToProto(const InvalidateResult& in, v1::InvalidateResponse* out);
void ToProto(const std::vector<JobStats>& in, v1::GetStatsResponse* out);
// A ListRecords page from what the store answered for `call` (up to one
// record more than the page, which only sets next_page_token).
void ToProto(const std::vector<RecordInfo>& in, const ListRecordsCall& call,
             v1::ListRecordsResponse* out);
// GetRecord's answer: payloads only when asked for and within the answer
// bound; actions paged as BeginRecord's.
void ToProto(const RecordDetail& in, const GetRecordCall& call,
             const RequestLimits& limits, v1::GetRecordResponse* out);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_CONVERT_H_
