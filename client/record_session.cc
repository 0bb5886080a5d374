#include "client/record_session.h"

#include <utility>

namespace actionjournal {

absl::StatusOr<std::unique_ptr<RecordSession>> RecordSession::Begin(
    JournalClient& client, const v1::BeginRecordRequest& request) {
  absl::StatusOr<v1::BeginRecordResponse> begun = client.BeginRecord(request);
  if (!begun.ok()) return begun.status();
  return std::unique_ptr<RecordSession>(
      new RecordSession(client, request, *std::move(begun)));
}

RecordSession::RecordSession(JournalClient& client,
                             const v1::BeginRecordRequest& request,
                             v1::BeginRecordResponse begun)
    : client_(client),
      record_(request.record()),
      attempt_(request.attempt()),
      begun_(std::move(begun)) {
  for (const v1::ActionEntries& a : begun_.actions())
    actions_[a.action_key()] = a;
}

RecordSession::~RecordSession() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &async_in_flight_));
}

std::optional<v1::ActionEntries> RecordSession::Lookup(
    const std::string& action_key) const {
  absl::MutexLock lock(&mu_);
  auto it = actions_.find(action_key);
  if (it == actions_.end()) return std::nullopt;
  return it->second;
}

void RecordSession::Prepare(v1::AppendActionRequest& request) const {
  *request.mutable_record() = record_;
  request.set_attempt(attempt_);
}

void RecordSession::Remember(const v1::AppendActionRequest& request,
                             const v1::AppendActionResponse& response) {
  absl::MutexLock lock(&mu_);
  v1::ActionEntries& a = actions_[request.action_key()];
  a.set_action_key(request.action_key());
  const bool stored_now = response.outcome() == v1::APPEND_OUTCOME_APPENDED ||
                          response.outcome() == v1::APPEND_OUTCOME_UPGRADED;
  if (response.has_stored_completion()) {
    *a.mutable_completion() = response.stored_completion();
  } else if (response.has_stored_step()) {
    const v1::Step& step = response.stored_step();
    auto* steps = a.mutable_steps();
    if (stored_now &&
        request.conflict_policy() == v1::CONFLICT_POLICY_REPLACE_FROM_HERE) {
      while (steps->size() > static_cast<int>(step.index()))
        steps->RemoveLast();
    }
    if (static_cast<int>(step.index()) < steps->size()) {
      *steps->Mutable(static_cast<int>(step.index())) = step;
    } else {
      *steps->Add() = step;
    }
  }
  if (stored_now) {
    v1::Cost* cost = a.mutable_cost();
    cost->set_input_tokens(cost->input_tokens() +
                           request.cost().input_tokens());
    cost->set_output_tokens(cost->output_tokens() +
                            request.cost().output_tokens());
    cost->set_micro_usd(cost->micro_usd() + request.cost().micro_usd());
  }
}

absl::StatusOr<v1::AppendActionResponse> RecordSession::Append(
    v1::AppendActionRequest request) {
  Prepare(request);
  absl::StatusOr<v1::AppendActionResponse> r = client_.AppendAction(request);
  if (r.ok()) Remember(request, *r);
  return r;
}

std::future<absl::StatusOr<v1::AppendActionResponse>>
RecordSession::AppendAsync(v1::AppendActionRequest request) {
  Prepare(request);
  auto promise = std::make_shared<
      std::promise<absl::StatusOr<v1::AppendActionResponse>>>();
  auto future = promise->get_future();
  {
    absl::MutexLock lock(&mu_);
    ++async_in_flight_;
  }
  client_.AppendActionAsync(
      request,
      [this, request, promise](absl::StatusOr<v1::AppendActionResponse> r) {
        if (r.ok()) Remember(request, *r);
        promise->set_value(std::move(r));
        absl::MutexLock lock(&mu_);
        --async_in_flight_;  // last: the session may go from here on
      });
  return future;
}

absl::StatusOr<v1::CompleteRecordResponse> RecordSession::Complete() {
  v1::CompleteRecordRequest request;
  *request.mutable_record() = record_;
  request.set_attempt(attempt_);
  return client_.CompleteRecord(request);
}

}  // namespace actionjournal
