#include "server/convert.h"

#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/text.h"

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

// A string identity: UTF-8 without NUL on every backend (PostgreSQL's text
// cannot hold NUL, and a key cut at a NUL would alias another).
absl::Status CheckString(absl::string_view field, const std::string& v,
                         int64_t min, int64_t max) {
  RETURN_IF_ERROR(CheckBytes(field, v, min, max));
  if (v.find('\0') != std::string::npos) {
    return Invalid(field, "must not contain NUL (\\0)");
  }
  if (!IsUtf8(v)) return Invalid(field, "must be valid UTF-8");
  return absl::OkStatus();
}

absl::Status CheckPayload(absl::string_view field, const std::string& v,
                          const RequestLimits& limits) {
  if (static_cast<int64_t>(v.size()) > limits.max_payload) {
    return absl::ResourceExhaustedError(absl::StrCat(
        field, ": ", v.size(), " bytes is over the payload limit of ",
        limits.max_payload, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckJobId(absl::string_view field, const std::string& job,
                        const RequestLimits& limits) {
  const bool chars_ok = std::all_of(job.begin(), job.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
           c == '-';
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
    return Invalid("record.seq_num",
                   absl::StrCat("must be >= 0, got ", r.seq_num()));
  }
  return RecordId{r.job_id(), r.record_key(), r.seq_num()};
}

absl::Status CheckActionKey(const std::string& key,
                            const RequestLimits& limits) {
  return CheckString("action_key", key, 1, limits.max_action_key);
}

absl::StatusOr<Step> StepFromProto(const v1::Step& s,
                                   const RequestLimits& limits) {
  RETURN_IF_ERROR(CheckString("step.function_id", s.function_id(), 1,
                              limits.max_function_id));
  RETURN_IF_ERROR(
      CheckBytes("step.args_digest", s.args_digest(), 0, limits.max_digest));
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

// The bytes an answer may still spend on payloads.
class AnswerBudget {
 public:
  explicit AnswerBudget(int64_t bytes) : left_(bytes) {}
  // Spends `n` when they fit; false (nothing spent) when not.
  bool Take(int64_t n) {
    if (n > left_) return false;
    left_ -= n;
    return true;
  }
  // Spends `n` whether or not they fit (the fields around payloads).
  void Spend(int64_t n) { left_ -= n; }
  int64_t left() const { return left_; }

 private:
  int64_t left_;
};

// What an entry costs an answer besides its payload: tags, index, status,
// lengths.
constexpr int64_t kEntryOverhead = 32;

int64_t StepMetaBytes(const Step& s) {
  return kEntryOverhead + s.function_id.size() + s.args_digest.size();
}

int64_t ActionMetaBytes(const ActionEntries& a) {
  int64_t n = kEntryOverhead * 2 + a.action_key.size();
  for (const Step& s : a.steps) n += StepMetaBytes(s);
  return n;
}

void StepToProto(const Step& s, AnswerBudget& budget, v1::Step* out) {
  out->set_index(s.index);
  out->set_function_id(s.function_id);
  out->set_args_digest(s.args_digest);
  out->set_status(static_cast<v1::StepStatus>(static_cast<int>(s.status)));
  const std::string& payload =
      s.status == StepStatus::kFailed ? s.error : s.result;
  if (!budget.Take(payload.size())) {
    out->set_omitted_bytes(payload.size());
    return;
  }
  out->set_result(s.result);
  out->set_error(s.error);
}

void CompletionToProto(const Completion& c, AnswerBudget& budget,
                       v1::Completion* out) {
  if (!budget.Take(c.state.size())) {
    out->set_omitted_bytes(c.state.size());
    return;
  }
  out->set_state(c.state);
}

void CostToProto(const Cost& c, v1::Cost* out) {
  out->set_input_tokens(c.input_tokens);
  out->set_output_tokens(c.output_tokens);
  out->set_micro_usd(c.micro_usd);
}

// The action's fields are spent from `budget` first (they cannot be left
// out); then each payload in order is sent if it still fits.
void ActionToProto(const ActionEntries& a, AnswerBudget& budget,
                   v1::ActionEntries* out) {
  budget.Spend(ActionMetaBytes(a));
  out->set_action_key(a.action_key);
  for (const Step& s : a.steps) StepToProto(s, budget, out->add_steps());
  if (a.completion.has_value()) {
    CompletionToProto(*a.completion, budget, out->mutable_completion());
  }
  CostToProto(a.cost, out->mutable_cost());
}

v1::RecordStatus StatusToProto(RecordStatus s) {
  return static_cast<v1::RecordStatus>(static_cast<int>(s));
}

void SummaryToProto(const RecordInfo& in, v1::RecordSummary* out) {
  auto micros = [](absl::Time t) {
    return t == absl::InfinitePast() ? 0 : absl::ToUnixMicros(t);
  };
  v1::RecordId* id = out->mutable_record();
  id->set_job_id(in.id.job_id);
  id->set_record_key(in.id.record_key);
  id->set_seq_num(in.id.seq_num);
  out->set_status(in.completed ? v1::RECORD_STATUS_COMPLETED
                               : v1::RECORD_STATUS_OPEN);
  out->set_attempt(in.attempt);
  out->set_created_at_unix_micros(micros(in.created_at));
  out->set_written_at_unix_micros(micros(in.written_at));
  if (in.completed) out->set_completed_at_unix_micros(micros(in.completed_at));
  out->set_replays(in.replays);
  out->set_replayed_at_unix_micros(micros(in.replayed_at));
  if (in.retained_until.has_value()) {
    out->set_retained_until_unix_micros(micros(*in.retained_until));
  }
  out->set_actions(in.actions);
  out->set_entries(in.entries);
  out->set_payload_bytes(in.payload_bytes);
  CostToProto(in.cost, out->mutable_cost());
}

// ListRecords' page token: the last row's position (created_at micros, seq
// num, record key) behind a version byte.
constexpr char kListTokenVersion = 1;

std::string ListToken(const RecordInfo& last) {
  std::string out(1, kListTokenVersion);
  for (int64_t v : {absl::ToUnixMicros(last.created_at), last.id.seq_num}) {
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> shift)));
  }
  out += last.id.record_key;
  return out;
}

absl::StatusOr<ListRecordsQuery::After> FromListToken(
    const std::string& token, const RequestLimits& limits) {
  if (token.size() < 17 || token[0] != kListTokenVersion ||
      static_cast<int64_t>(token.size()) - 17 > limits.max_record_key) {
    return Invalid("page_token", "not a token this server issued");
  }
  int64_t v[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    uint64_t u = 0;
    for (int b = 0; b < 8; ++b)
      u = (u << 8) | static_cast<unsigned char>(token[1 + 8 * i + b]);
    v[i] = static_cast<int64_t>(u);
  }
  return ListRecordsQuery::After{absl::FromUnixMicros(v[0]), token.substr(17),
                                 v[1]};
}

absl::Status ExplainFields(const google::protobuf::Descriptor& descriptor,
                           const std::string& bytes, const std::string& prefix,
                           int depth) {
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix.empty() ? "request" : prefix.substr(0, prefix.size() - 1),
        ": is not a well-formed ", descriptor.full_name(),
        " (malformed or truncated)"));
  }
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& f = fields.field(i);
    const google::protobuf::FieldDescriptor* fd =
        descriptor.FindFieldByNumber(f.number());
    if (fd == nullptr ||
        f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    const std::string name = prefix + fd->name();
    if (fd->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
        !IsUtf8(f.length_delimited())) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": is not valid UTF-8 (a string field)"));
    }
    if (fd->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
        depth < 16) {
      absl::Status s = ExplainFields(*fd->message_type(), f.length_delimited(),
                                     name + ".", depth + 1);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ExplainParseFailure(const google::protobuf::Descriptor& descriptor,
                                 const std::string& bytes) {
  absl::Status s = ExplainFields(descriptor, bytes, "", 0);
  if (!s.ok()) return s;
  return absl::InvalidArgumentError(
      absl::StrCat("request: does not parse as ", descriptor.full_name()));
}

int64_t RequestLimits::MaxMessageBytes() const {
  constexpr int64_t kSlack = 64 * 1024;  // field tags, ids, costs, digests
  const int64_t append =
      max_payload + max_record_key + max_action_key + max_function_id;
  return std::min<int64_t>(append + kSlack, INT32_MAX);
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

absl::StatusOr<std::string> FromProto(const v1::GetStatsRequest& req,
                                      const RequestLimits& limits) {
  if (!req.job_id().empty()) {
    RETURN_IF_ERROR(CheckJobId("job_id", req.job_id(), limits));
  }
  return req.job_id();
}

absl::StatusOr<std::string> FromProto(const v1::IssueAttemptRequest& req,
                                      const RequestLimits& limits) {
  RETURN_IF_ERROR(CheckJobId("job_id", req.job_id(), limits));
  return req.job_id();
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
  if (req.has_retention_millis() && req.retention_millis() < 0) {
    return Invalid("retention_millis",
                   absl::StrCat("must be >= 0, got ", req.retention_millis()));
  }
  if (req.keys_size() == 0 && req.completed_before_unix_micros() == 0 &&
      !req.whole_job()) {
    return Invalid("keys",
                   "give keys, completed_before_unix_micros or whole_job");
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
    out.completed_before =
        absl::FromUnixMicros(req.completed_before_unix_micros());
  }
  out.whole_job = req.whole_job();
  if (req.has_retention_millis()) {
    out.retention = absl::Milliseconds(req.retention_millis());
  }
  return out;
}

absl::StatusOr<PayloadRequest> FromProto(const v1::ReadPayloadRequest& req,
                                         const RequestLimits& limits) {
  PayloadRequest out;
  ASSIGN_OR_RETURN(out.record, RecordOf(req, limits));
  RETURN_IF_ERROR(CheckActionKey(req.action_key(), limits));
  out.action_key = req.action_key();
  switch (req.entry_case()) {
    case v1::ReadPayloadRequest::kStepIndex:
      out.step_index = req.step_index();
      break;
    case v1::ReadPayloadRequest::kCompletion:
      if (!req.completion()) {
        return Invalid("completion", "must be true when set");
      }
      break;
    default:
      return Invalid("entry",
                     "exactly one of step_index or completion is required");
  }
  out.offset = req.offset();
  return out;
}

// Adds the page of `actions` after `page_token` (empty: the first) to
// `out`'s actions, in the keys' byte order whatever order a backend read
// them in, as far as `budget` goes; then sets next_page_token if more
// follow. `payloads` says whether payloads may be sent at all; `add` may
// mark the action it added.
template <typename Response>
void AddActionPage(
    const std::vector<ActionEntries>& actions, const std::string& page_token,
    int64_t answer_bytes, bool payloads, Response* out,
    const std::function<void(const ActionEntries&, v1::ActionEntries*)>& add) {
  std::vector<const ActionEntries*> page;
  for (const ActionEntries& a : actions) {
    if (page_token.empty() || a.action_key > page_token) page.push_back(&a);
  }
  std::sort(page.begin(), page.end(),
            [](const ActionEntries* a, const ActionEntries* b) {
              return a->action_key < b->action_key;
            });
  AnswerBudget budget(answer_bytes);
  for (const ActionEntries* a : page) {
    // Every page carries at least one action, so paging always progresses.
    if (out->actions_size() > 0 && ActionMetaBytes(*a) > budget.left()) {
      out->set_next_page_token(
          out->actions(out->actions_size() - 1).action_key());
      return;
    }
    if (payloads) {
      ActionToProto(*a, budget, out->add_actions());
    } else {
      // Every payload left out; the fields around them count as ever.
      budget.Spend(ActionMetaBytes(*a));
      AnswerBudget none(0);
      ActionToProto(*a, none, out->add_actions());
    }
    if (add) add(*a, out->mutable_actions(out->actions_size() - 1));
  }
}

void ToProto(const BeginResult& in, const std::string& page_token,
             const RequestLimits& limits, v1::BeginRecordResponse* out) {
  out->set_status(StatusToProto(in.status));
  out->set_attempt(in.attempt);
  out->set_input_mismatch(in.input_mismatch);
  out->set_reset(in.reset);
  AddActionPage(in.actions, page_token, limits.max_answer_bytes,
                /*payloads=*/true, out, nullptr);
}

bool IsPendingStep(const AppendRequest& request) {
  const auto* step = std::get_if<Step>(&request.entry);
  return step != nullptr && step->status == StepStatus::kPending;
}

namespace {

// Whether the stored entry is the one the request sent, from the outcome
// alone (so that no payload is kept to compare): APPENDED and UPGRADED
// stored it, CONFLICT is another, and a DUPLICATE is the identical entry
// unless a PENDING intent met a call already finished.
bool StoredIsSent(const AppendResult& in, bool sent_pending_step) {
  switch (in.outcome) {
    case AppendOutcome::kAppended:
    case AppendOutcome::kUpgraded:
      return true;
    case AppendOutcome::kConflict:
      return false;
    case AppendOutcome::kDuplicate:
      if (!sent_pending_step) return true;
      return std::get<Step>(in.stored).status == StepStatus::kPending;
  }
  return false;
}

void AppendToProto(const AppendResult& in, bool sent_pending_step,
                   AnswerBudget& budget, v1::AppendActionResponse* out) {
  out->set_outcome(
      static_cast<v1::AppendOutcome>(static_cast<int>(in.outcome)));
  if (StoredIsSent(in, sent_pending_step)) return;  // the caller has it
  if (const auto* step = std::get_if<Step>(&in.stored)) {
    StepToProto(*step, budget, out->mutable_stored_step());
  } else {
    CompletionToProto(std::get<Completion>(in.stored), budget,
                      out->mutable_stored_completion());
  }
}

}  // namespace

void ToProto(const AppendResult& in, bool sent_pending_step,
             const RequestLimits& limits, v1::AppendActionResponse* out) {
  AnswerBudget budget(limits.max_answer_bytes);
  AppendToProto(in, sent_pending_step, budget, out);
}

void ToProto(const std::vector<absl::StatusOr<AppendResult>>& results,
             const std::vector<bool>& sent_pending_step,
             const RequestLimits& limits, v1::AppendActionsResponse* out) {
  AnswerBudget budget(limits.max_answer_bytes);
  for (size_t i = 0; i < results.size(); ++i) {
    v1::AppendActionsResponse::Item* item = out->add_items();
    const absl::Status& status = results[i].status();
    budget.Spend(kEntryOverhead);
    if (!status.ok()) {
      item->set_code(static_cast<int>(status.code()));
      item->set_message(std::string(status.message()));
      item->set_retryable(IsRetryable(status));
      budget.Spend(item->message().size());
      continue;
    }
    AppendToProto(*results[i], sent_pending_step[i], budget,
                  item->mutable_response());
  }
}

void ToProto(const LookupResult& in, const RequestLimits& limits,
             v1::LookupActionResponse* out) {
  out->set_found(in.action.has_value());
  AnswerBudget budget(limits.max_answer_bytes);
  if (in.action.has_value()) {
    ActionToProto(*in.action, budget, out->mutable_action());
  }
  if (in.record_status.has_value()) {
    out->set_record_status(StatusToProto(*in.record_status));
  }
}

absl::Status ToProto(const LookupResult& lookup, const PayloadRequest& req,
                     const RequestLimits& limits,
                     v1::ReadPayloadResponse* out) {
  const std::string* payload = nullptr;
  if (lookup.action.has_value()) {
    const ActionEntries& a = *lookup.action;
    if (!req.step_index.has_value()) {
      if (a.completion.has_value()) payload = &a.completion->state;
    } else if (*req.step_index < a.steps.size()) {
      const Step& s = a.steps[*req.step_index];
      payload = s.status == StepStatus::kFailed ? &s.error : &s.result;
    }
  }
  if (payload == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no such entry: action '", req.action_key, "' has no ",
        req.step_index.has_value() ? absl::StrCat("step ", *req.step_index)
                                   : std::string("completion")));
  }
  if (req.offset > payload->size()) {
    return absl::OutOfRangeError(absl::StrCat("offset: ", req.offset,
                                              " is past the payload's ",
                                              payload->size(), " bytes"));
  }
  out->set_total_bytes(payload->size());
  out->set_data(payload->substr(req.offset, limits.max_answer_bytes));
  return absl::OkStatus();
}

void ToProto(const CompleteResult& in, v1::CompleteRecordResponse* out) {
  out->set_newly_completed(in.newly_completed);
  out->set_completed_at_unix_micros(absl::ToUnixMicros(in.completed_at));
}

void ToProto(const PruneResult& in, v1::PruneResponse* out) {
  out->set_records_deleted(in.records_deleted);
  out->set_entries_deleted(in.entries_deleted);
  out->set_records_retained(in.records_retained);
}

void ToProto(const std::vector<JobStats>& in, v1::GetStatsResponse* out) {
  for (const JobStats& j : in) {
    v1::JobStats* o = out->add_jobs();
    o->set_job_id(j.job_id);
    o->set_records(j.records);
    o->set_retained_records(j.retained_records);
    o->set_entries(j.entries);
    o->set_payload_bytes(j.payload_bytes);
    o->set_blobs(j.blobs);
    o->set_blob_bytes(j.blob_bytes);
    o->set_deduplicated_bytes(j.deduplicated_bytes);
    o->set_replayed_records(j.replayed_records);
    o->set_replays(j.replays);
    CostToProto(j.cost, o->mutable_cost());
  }
}

absl::StatusOr<ListRecordsCall> FromProto(const v1::ListRecordsRequest& req,
                                          const RequestLimits& limits) {
  ListRecordsCall out;
  ListRecordsQuery& q = out.query;
  RETURN_IF_ERROR(CheckJobId("job_id", req.job_id(), limits));
  q.job_id = req.job_id();
  RETURN_IF_ERROR(
      CheckBytes("key_prefix", req.key_prefix(), 0, limits.max_record_key));
  q.key_prefix = req.key_prefix();
  switch (req.status()) {
    case v1::ListRecordsRequest::STATUS_FILTER_UNSPECIFIED:
      q.status = ListRecordsQuery::Status::kAny;
      break;
    case v1::ListRecordsRequest::STATUS_FILTER_OPEN:
      q.status = ListRecordsQuery::Status::kOpen;
      break;
    case v1::ListRecordsRequest::STATUS_FILTER_COMPLETED:
      q.status = ListRecordsQuery::Status::kCompleted;
      break;
    case v1::ListRecordsRequest::STATUS_FILTER_RETAINED:
      q.status = ListRecordsQuery::Status::kRetained;
      break;
    default:
      return Invalid("status", absl::StrCat("unknown value ", req.status()));
  }
  for (auto [field, v] :
       {std::pair<const char*, int64_t>{"created_from_unix_micros",
                                        req.created_from_unix_micros()},
        {"created_before_unix_micros", req.created_before_unix_micros()}}) {
    if (v < 0) return Invalid(field, absl::StrCat("must be >= 0, got ", v));
  }
  if (req.created_from_unix_micros() > 0)
    q.created_from = absl::FromUnixMicros(req.created_from_unix_micros());
  if (req.created_before_unix_micros() > 0)
    q.created_before = absl::FromUnixMicros(req.created_before_unix_micros());
  q.replayed_only = req.replayed_only();
  if (req.page_size() < 0 || req.page_size() > kMaxListPage) {
    return Invalid("page_size", absl::StrCat("must be 0-", kMaxListPage,
                                             " (0: ", kDefaultListPage,
                                             "), got ", req.page_size()));
  }
  out.page_size = req.page_size() == 0 ? kDefaultListPage : req.page_size();
  q.limit = out.page_size + 1;
  if (!req.page_token().empty()) {
    ASSIGN_OR_RETURN(q.after, FromListToken(req.page_token(), limits));
  }
  return out;
}

absl::StatusOr<GetRecordCall> FromProto(const v1::GetRecordRequest& req,
                                        const RequestLimits& limits) {
  GetRecordCall out;
  ASSIGN_OR_RETURN(out.record, RecordOf(req, limits));
  out.include_payloads = req.include_payloads();
  if (!req.page_token().empty()) {
    RETURN_IF_ERROR(
        CheckString("page_token", req.page_token(), 1, limits.max_action_key));
  }
  out.page_token = req.page_token();
  return out;
}

void ToProto(const std::vector<RecordInfo>& in, const ListRecordsCall& call,
             v1::ListRecordsResponse* out) {
  const size_t n = std::min(in.size(), static_cast<size_t>(call.page_size));
  for (size_t i = 0; i < n; ++i) SummaryToProto(in[i], out->add_records());
  if (in.size() > n && n > 0) out->set_next_page_token(ListToken(in[n - 1]));
}

void ToProto(const RecordDetail& in, const GetRecordCall& call,
             const RequestLimits& limits, v1::GetRecordResponse* out) {
  SummaryToProto(in.info, out->mutable_record());
  // An entry was handed to the last replay when it was stored before that
  // replay took the record over.
  const absl::Time replayed = in.info.replayed_at;
  auto reused = [replayed](absl::Time written) {
    return replayed != absl::InfinitePast() &&
           written != absl::InfinitePast() && written < replayed;
  };
  auto micros = [](absl::Time t) {
    return t == absl::InfinitePast() ? 0 : absl::ToUnixMicros(t);
  };
  AddActionPage(
      in.actions, call.page_token, limits.max_answer_bytes,
      call.include_payloads, out,
      [&](const ActionEntries& a, v1::ActionEntries* o) {
        for (int i = 0; i < o->steps_size(); ++i) {
          const absl::Time written = a.steps[i].written_at;
          o->mutable_steps(i)->set_written_at_unix_micros(micros(written));
          o->mutable_steps(i)->set_reused(reused(written));
        }
        if (a.completion.has_value()) {
          const absl::Time written = a.completion->written_at;
          o->mutable_completion()->set_written_at_unix_micros(micros(written));
          o->mutable_completion()->set_reused(reused(written));
        }
      });
}

absl::StatusOr<InvalidateRequest> FromProto(const v1::InvalidateRequest& req,
                                            const RequestLimits& limits) {
  InvalidateRequest out;
  ASSIGN_OR_RETURN(out.record, RecordOf(req, limits));
  if (!req.action_key().empty()) {
    RETURN_IF_ERROR(CheckActionKey(req.action_key(), limits));
  }
  out.action_key = req.action_key();
  out.force = req.force();
  return out;
}

void ToProto(const InvalidateResult& in, v1::InvalidateResponse* out) {
  out->set_entries_deleted(in.entries_deleted);
  out->set_reopened(in.reopened);
}

}  // namespace actionjournal
