#include "server/convert.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace actionjournal {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status CheckBytes(absl::string_view field, const std::string& v,
                        int64_t min, int64_t max) {
  if (static_cast<int64_t>(v.size()) < min ||
      static_cast<int64_t>(v.size()) > max) {
    return Invalid(field, absl::StrCat("must be ", min, "-", max,
                                       " bytes, got ", v.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckPayload(absl::string_view field, const std::string& v,
                          const RequestLimits& limits) {
  if (static_cast<int64_t>(v.size()) > limits.max_payload) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": ", v.size(), " bytes is over the payload limit of ",
                     limits.max_payload, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckJobId(absl::string_view field, const std::string& job,
                        const RequestLimits& limits) {
  const bool chars_ok = std::all_of(job.begin(), job.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
  });
  if (job.empty() || static_cast<int>(job.size()) > limits.max_job_id ||
      !chars_ok) {
    return Invalid(field, absl::StrCat("must be 1-", limits.max_job_id,
                                       " characters of [A-Za-z0-9._:-]"));
  }
  return absl::OkStatus();
}

template <typename Req>
absl::StatusOr<RecordId> RecordOf(const Req& req, const RequestLimits& limits) {
  if (!req.has_record()) return Invalid("record", "is required");
  const v1::RecordId& r = req.record();
  RETURN_IF_ERROR(CheckJobId("record.job_id", r.job_id(), limits));
  RETURN_IF_ERROR(CheckBytes("record.record_key", r.record_key(), 1,
                             limits.max_record_key));
  if (r.seq_num() < 0) {
    return Invalid("record.seq_num", absl::StrCat("must be >= 0, got ", r.seq_num()));
  }
  return RecordId{r.job_id(), r.record_key(), r.seq_num()};
}

absl::Status CheckActionKey(const std::string& key, const RequestLimits& limits) {
  return CheckBytes("action_key", key, 1, limits.max_action_key);
}

absl::StatusOr<Step> StepFromProto(const v1::Step& s,
                                   const RequestLimits& limits) {
  RETURN_IF_ERROR(CheckBytes("step.function_id", s.function_id(), 1,
                             limits.max_function_id));
  RETURN_IF_ERROR(CheckBytes("step.args_digest", s.args_digest(), 0,
                             limits.max_digest));
  Step out;
  out.index = s.index();
  out.function_id = s.function_id();
  out.args_digest = s.args_digest();
  switch (s.status()) {
    case v1::STEP_STATUS_PENDING:
      out.status = StepStatus::kPending;
      break;
    case v1::STEP_STATUS_SUCCEEDED:
      out.status = StepStatus::kSucceeded;
      break;
    case v1::STEP_STATUS_FAILED:
      out.status = StepStatus::kFailed;
      break;
    default:
      return Invalid("step.status",
                     absl::StrCat("must be PENDING, SUCCEEDED or FAILED, got ",
                                  static_cast<int>(s.status())));
  }
  RETURN_IF_ERROR(CheckPayload("step.result", s.result(), limits));
  RETURN_IF_ERROR(CheckPayload("step.error", s.error(), limits));
  if (!s.result().empty() && out.status != StepStatus::kSucceeded) {
    return Invalid("step.result", "only a SUCCEEDED step carries a result");
  }
  if (!s.error().empty() && out.status != StepStatus::kFailed) {
    return Invalid("step.error", "only a FAILED step carries an error");
  }
  out.result = s.result();
  out.error = s.error();
  return out;
}

void StepToProto(const Step& s, v1::Step* out) {
  out->set_index(s.index);
  out->set_function_id(s.function_id);
  out->set_args_digest(s.args_digest);
  out->set_status(static_cast<v1::StepStatus>(static_cast<int>(s.status)));
  out->set_result(s.result);
  out->set_error(s.error);
}

void CostToProto(const Cost& c, v1::Cost* out) {
  out->set_input_tokens(c.input_tokens);
  out->set_output_tokens(c.output_tokens);
  out->set_micro_usd(c.micro_usd);
}

void ActionToProto(const ActionEntries& a, v1::ActionEntries* out) {
  out->set_action_key(a.action_key);
  for (const Step& s : a.steps) StepToProto(s, out->add_steps());
  if (a.completion.has_value()) {
    out->mutable_completion()->set_state(a.completion->state);
  }
  CostToProto(a.cost, out->mutable_cost());
}

v1::RecordStatus StatusToProto(RecordStatus s) {
  return static_cast<v1::RecordStatus>(static_cast<int>(s));
}

}  // namespace

int64_t RequestLimits::MaxMessageBytes() const {
  constexpr int64_t kSlack = 64 * 1024;  // field tags, ids, costs
  const int64_t append = 2 * max_payload + max_record_key + max_action_key +
                         max_function_id + max_digest;
  const int64_t prune = static_cast<int64_t>(max_prune_keys) * (max_record_key + 16);
  return std::min<int64_t>(std::max(append, prune) + kSlack, INT32_MAX);
}

absl::StatusOr<BeginRequest> FromProto(const v1::BeginRecordRequest& req,
                                       const RequestLimits& limits) {
  BeginRequest out;
  ASSIGN_OR_RETURN(out.record, RecordOf(req, limits));
  RETURN_IF_ERROR(CheckBytes("input_fingerprint", req.input_fingerprint(), 0,
                             limits.max_digest));
  out.attempt = req.attempt();
  out.input_fingerprint = req.input_fingerprint();
  out.reset_on_mismatch = req.reset_on_mismatch();
  return out;
}

absl::StatusOr<AppendRequest> FromProto(const v1::AppendActionRequest& req,
                                        const RequestLimits& limits) {
  AppendRequest out;
  ASSIGN_OR_RETURN(out.record, RecordOf(req, limits));
  RETURN_IF_ERROR(CheckActionKey(req.action_key(), limits));
  out.action_key = req.action_key();
  out.attempt = req.attempt();
  switch (req.conflict_policy()) {
    case v1::CONFLICT_POLICY_UNSPECIFIED:
    case v1::CONFLICT_POLICY_KEEP_STORED:
      out.conflict_policy = ConflictPolicy::kKeepStored;
      break;
    case v1::CONFLICT_POLICY_REPLACE_FROM_HERE:
      out.conflict_policy = ConflictPolicy::kReplaceFromHere;
      break;
    default:
      return Invalid("conflict_policy",
                     absl::StrCat("unknown value ",
                                  static_cast<int>(req.conflict_policy())));
  }
  switch (req.entry_case()) {
    case v1::AppendActionRequest::kStep: {
      ASSIGN_OR_RETURN(out.entry, StepFromProto(req.step(), limits));
      break;
    }
    case v1::AppendActionRequest::kCompletion:
      RETURN_IF_ERROR(
          CheckPayload("completion.state", req.completion().state(), limits));
      if (out.conflict_policy == ConflictPolicy::kReplaceFromHere) {
        return Invalid("conflict_policy",
                       "REPLACE_FROM_HERE applies to steps, not completions");
      }
      out.entry = Completion{req.completion().state()};
      break;
    default:
      return Invalid("entry", "exactly one of step or completion is required");
  }
  out.cost = Cost{req.cost().input_tokens(), req.cost().output_tokens(),
                  req.cost().micro_usd()};
  return out;
}

absl::StatusOr<std::pair<RecordId, std::string>> FromProto(
    const v1::LookupActionRequest& req, const RequestLimits& limits) {
  ASSIGN_OR_RETURN(RecordId record, RecordOf(req, limits));
  RETURN_IF_ERROR(CheckActionKey(req.action_key(), limits));
  return std::make_pair(std::move(record), req.action_key());
}

absl::StatusOr<CompleteRequest> FromProto(const v1::CompleteRecordRequest& req,
                                          const RequestLimits& limits) {
  CompleteRequest out;
  ASSIGN_OR_RETURN(out.record, RecordOf(req, limits));
  out.attempt = req.attempt();
  return out;
}

absl::StatusOr<PruneRequest> FromProto(const v1::PruneRequest& req,
                                       const RequestLimits& limits) {
  RETURN_IF_ERROR(CheckJobId("job_id", req.job_id(), limits));
  if (req.keys_size() > limits.max_prune_keys) {
    return absl::ResourceExhaustedError(
        absl::StrCat("keys: ", req.keys_size(), " pairs is over the limit of ",
                     limits.max_prune_keys, " per call"));
  }
  if (req.completed_before_unix_micros() < 0) {
    return Invalid("completed_before_unix_micros", "must be >= 0");
  }
  if (req.keys_size() == 0 && req.completed_before_unix_micros() == 0 &&
      !req.whole_job()) {
    return Invalid("keys", "give keys, completed_before_unix_micros or whole_job");
  }
  PruneRequest out;
  out.job_id = req.job_id();
  for (int i = 0; i < req.keys_size(); ++i) {
    const auto& k = req.keys(i);
    const std::string field = absl::StrCat("keys[", i, "]");
    RETURN_IF_ERROR(CheckBytes(field + ".record_key", k.record_key(), 1,
                               limits.max_record_key));
    if (k.up_to_seq_num() < 0) {
      return Invalid(field + ".up_to_seq_num",
                     absl::StrCat("must be >= 0, got ", k.up_to_seq_num()));
    }
    out.keys.emplace_back(k.record_key(), k.up_to_seq_num());
  }
  if (req.completed_before_unix_micros() > 0) {
    out.completed_before = absl::FromUnixMicros(req.completed_before_unix_micros());
  }
  out.whole_job = req.whole_job();
  return out;
}

void ToProto(const BeginResult& in, v1::BeginRecordResponse* out) {
  out->set_status(StatusToProto(in.status));
  out->set_attempt(in.attempt);
  out->set_input_mismatch(in.input_mismatch);
  out->set_reset(in.reset);
  for (const ActionEntries& a : in.actions) ActionToProto(a, out->add_actions());
}

void ToProto(const AppendResult& in, v1::AppendActionResponse* out) {
  out->set_outcome(static_cast<v1::AppendOutcome>(static_cast<int>(in.outcome)));
  if (const auto* step = std::get_if<Step>(&in.stored)) {
    StepToProto(*step, out->mutable_stored_step());
  } else {
    out->mutable_stored_completion()->set_state(std::get<Completion>(in.stored).state);
  }
}

void ToProto(const LookupResult& in, v1::LookupActionResponse* out) {
  out->set_found(in.action.has_value());
  if (in.action.has_value()) ActionToProto(*in.action, out->mutable_action());
  if (in.record_status.has_value()) {
    out->set_record_status(StatusToProto(*in.record_status));
  }
}

void ToProto(const CompleteResult& in, v1::CompleteRecordResponse* out) {
  out->set_newly_completed(in.newly_completed);
  out->set_completed_at_unix_micros(absl::ToUnixMicros(in.completed_at));
}

void ToProto(const PruneResult& in, v1::PruneResponse* out) {
  out->set_records_deleted(in.records_deleted);
  out->set_entries_deleted(in.entries_deleted);
}

}  // namespace actionjournal
