#include "client/journal_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "actionjournal/v1/journal.grpc.pb.h"
#include "client/channel.h"

namespace actionjournal {
namespace {

using Stub = v1::ActionJournal::Stub;

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Whether the server marked the failed call retryable
// (proto/actionjournal/v1/journal.proto, "Retry rule").
bool MarkedRetryable(const grpc::ClientContext& ctx) {
  return ctx.GetServerTrailingMetadata().count("actionjournal-retry-after-ms") >
         0;
}

// The stored entry, which the server leaves out when it is the one sent.
void FillStored(const v1::AppendActionRequest& req,
                v1::AppendActionResponse* resp) {
  if (resp->stored_case() != v1::AppendActionResponse::STORED_NOT_SET) return;
  if (req.has_step()) {
    *resp->mutable_stored_step() = req.step();
  } else {
    *resp->mutable_stored_completion() = req.completion();
  }
}

// Spends a backoff pause. A channel that is connected (the server answered,
// busy or with its store away) simply waits it out. A channel that failed
// to connect fails calls at once until it reconnects on gRPC's own schedule,
// so the pause asks it to reconnect now and ends as soon as it is READY.
void AwaitConnection(grpc::Channel& channel, absl::Duration pause) {
  const absl::Time until_time = absl::Now() + pause;
  if (channel.GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY) {
    absl::SleepFor(pause);
    return;
  }
  const auto until = absl::ToChronoTime(until_time);
  grpc::experimental::ChannelResetConnectionBackoff(&channel);
  for (;;) {
    const grpc_connectivity_state state =
        channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return;
    if (!channel.WaitForStateChange(state, until)) return;  // the pause is over
  }
}

// The backoff of one call across its attempts.
class Backoff {
 public:
  Backoff(const RetryOptions& o, bool write)
      : o_(o),
        write_(write),
        give_up_(absl::Now() + o.budget),
        next_(o.initial_backoff) {}

  // The deadline of the next attempt.
  absl::Time AttemptDeadline(absl::Duration per_attempt) const {
    return std::min(absl::Now() + per_attempt, give_up_);
  }

  // After attempt number `attempt` failed with `status` (`marked`: the
  // server said a retry may cure it): how long to wait before the next one,
  // or nullopt when there is none.
  std::optional<absl::Duration> Next(const absl::Status& status, bool marked,
                                     int attempt) {
    const absl::StatusCode c = status.code();
    const bool retryable = c == absl::StatusCode::kUnavailable || marked ||
                           (write_ && c == absl::StatusCode::kDeadlineExceeded);
    if (!retryable || attempt >= o_.max_attempts) return std::nullopt;
    // Full jitter: anywhere in [0, backoff].
    const absl::Duration sleep = Jitter(next_);
    next_ = std::min(next_ * o_.multiplier, o_.max_backoff);
    if (absl::Now() + sleep >= give_up_) return std::nullopt;
    return sleep;
  }

 private:
  static absl::Duration Jitter(absl::Duration max) {
    static absl::Mutex mu;
    static absl::BitGen* gen = new absl::BitGen();
    absl::MutexLock lock(&mu);
    return absl::Microseconds(
        absl::Uniform<int64_t>(*gen, 0, absl::ToInt64Microseconds(max) + 1));
  }

  const RetryOptions o_;
  const bool write_;
  const absl::Time give_up_;
  absl::Duration next_;
};

bool HasOmitted(const v1::AppendActionResponse& r) {
  return (r.has_stored_step() && r.stored_step().omitted_bytes() > 0) ||
         (r.has_stored_completion() &&
          r.stored_completion().omitted_bytes() > 0);
}

// One asynchronous append through its attempts; owns what gRPC points into.
// The client waits for it (`release` runs last), so the channel outlives it.
class AsyncAppend : public std::enable_shared_from_this<AsyncAppend> {
 public:
  using Fill = std::function<absl::Status(v1::AppendActionResponse*)>;
  AsyncAppend(grpc::Channel* channel, Stub* stub, const ClientOptions& options,
              const v1::AppendActionRequest& request,
              JournalClient::AppendDone done, Fill fill,
              std::function<void()> release)
      : fill_(std::move(fill)),
        channel_(channel),
        stub_(stub),
        deadline_(options.deadline),
        backoff_(options.retry, /*write=*/true),
        request_(request),
        done_(std::move(done)),
        release_(std::move(release)) {}

  void Attempt() {
    ++attempt_;
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(absl::ToChronoTime(backoff_.AttemptDeadline(deadline_)));
    response_.Clear();
    stub_->async()->AppendAction(
        ctx_.get(), &request_, &response_,
        [self = shared_from_this()](grpc::Status s) { self->Finished(s); });
  }

 private:
  void Finished(const grpc::Status& s) {
    if (s.ok()) {
      FillStored(request_, &response_);
      if (!HasOmitted(response_)) {
        Finish(std::move(response_));
        return;
      }
      // Rare: a stored entry too large for the answer; read it off gRPC's
      // thread.
      std::thread([self = shared_from_this()] {
        absl::Status filled = self->fill_(&self->response_);
        self->Finish(filled.ok()
                         ? absl::StatusOr<v1::AppendActionResponse>(
                               std::move(self->response_))
                         : absl::StatusOr<v1::AppendActionResponse>(filled));
      }).detach();
      return;
    }
    const absl::Status status = FromGrpc(s);
    const std::optional<absl::Duration> wait =
        backoff_.Next(status, MarkedRetryable(*ctx_), attempt_);
    if (!wait.has_value()) {
      Finish(status);
      return;
    }
    // Rare: wait off gRPC's thread, then try again.
    std::thread([self = shared_from_this(), wait] {
      AwaitConnection(*self->channel_, *wait);
      self->Attempt();
    }).detach();
  }

  void Finish(absl::StatusOr<v1::AppendActionResponse> result) {
    ctx_.reset();
    done_(std::move(result));
    release_();  // last: the client may go from here on
  }

  const Fill fill_;
  grpc::Channel* const channel_;
  Stub* const stub_;
  const absl::Duration deadline_;
  Backoff backoff_;
  const v1::AppendActionRequest request_;
  const JournalClient::AppendDone done_;
  const std::function<void()> release_;
  int attempt_ = 0;
  std::unique_ptr<grpc::ClientContext> ctx_;
  v1::AppendActionResponse response_;
};

class GrpcJournalClient final : public JournalClient {
 public:
  GrpcJournalClient(const ClientOptions& options,
                    std::shared_ptr<grpc::Channel> channel)
      : options_(options),
        channel_(channel),
        stub_(v1::ActionJournal::NewStub(channel)) {}

  // Waits for the asynchronous appends still under way.
  ~GrpcJournalClient() override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &async_in_flight_));
  }

  absl::StatusOr<v1::BeginRecordResponse> BeginRecord(
      const v1::BeginRecordRequest& request) override {
    auto first = Call(&Stub::BeginRecord, request, /*write=*/true);
    if (!first.ok()) return first;
    v1::BeginRecordResponse out = *std::move(first);
    v1::BeginRecordRequest next = request;
    while (!out.next_page_token().empty()) {
      next.set_page_token(out.next_page_token());
      auto page = Call(&Stub::BeginRecord, next, /*write=*/true);
      if (!page.ok()) return page.status();
      for (auto& a : *page->mutable_actions())
        *out.add_actions() = std::move(a);
      out.set_next_page_token(page->next_page_token());
    }
    for (auto& a : *out.mutable_actions()) {
      absl::Status s = FillAction(request.record(), &a);
      if (!s.ok()) return s;
    }
    return out;
  }
  absl::StatusOr<v1::AppendActionResponse> AppendAction(
      const v1::AppendActionRequest& request) override {
    if (options_.coalesce_appends) {
      // Through the coalescer, so that appends from many threads share
      // AppendActions calls.
      // Shared, not on this stack: the answering thread may still be inside
      // set_value when this one wakes and returns.
      auto answer = std::make_shared<
          std::promise<absl::StatusOr<v1::AppendActionResponse>>>();
      auto future = answer->get_future();
      AppendActionAsync(request,
                        [answer](absl::StatusOr<v1::AppendActionResponse> r) {
                          answer->set_value(std::move(r));
                        });
      return future.get();
    }
    auto r = Call(&Stub::AppendAction, request, /*write=*/true);
    if (!r.ok()) return r;
    FillStored(request, &*r);
    absl::Status s = FillAppend(request, &*r);
    if (!s.ok()) return s;
    return r;
  }
  absl::StatusOr<v1::LookupActionResponse> LookupAction(
      const v1::LookupActionRequest& request) override {
    auto r = Call(&Stub::LookupAction, request, /*write=*/false);
    if (!r.ok() || !r->found()) return r;
    absl::Status s = FillAction(request.record(), r->mutable_action());
    if (!s.ok()) return s;
    return r;
  }
  absl::StatusOr<v1::ReadPayloadResponse> ReadPayload(
      const v1::ReadPayloadRequest& request) override {
    return Call(&Stub::ReadPayload, request, /*write=*/false);
  }
  absl::StatusOr<v1::CompleteRecordResponse> CompleteRecord(
      const v1::CompleteRecordRequest& request) override {
    return Call(&Stub::CompleteRecord, request, /*write=*/true);
  }
  absl::StatusOr<v1::PruneResponse> Prune(
      const v1::PruneRequest& request) override {
    return Call(&Stub::Prune, request, /*write=*/true);
  }
  absl::StatusOr<v1::GetStatsResponse> GetStats(
      const v1::GetStatsRequest& request) override {
    return Call(&Stub::GetStats, request, /*write=*/false);
  }

  absl::StatusOr<v1::IssueAttemptResponse> IssueAttempt(
      const v1::IssueAttemptRequest& request) override {
    return Call(&Stub::IssueAttempt, request, /*write=*/true);
  }

  absl::StatusOr<v1::InvalidateResponse> Invalidate(
      const v1::InvalidateRequest& request) override {
    return Call(&Stub::Invalidate, request, /*write=*/true);
  }

  absl::StatusOr<v1::ListRecordsResponse> ListRecords(
      const v1::ListRecordsRequest& request) override {
    return Call(&Stub::ListRecords, request, /*write=*/false);
  }
  absl::StatusOr<v1::GetRecordResponse> GetRecord(
      const v1::GetRecordRequest& request) override {
    auto first = Call(&Stub::GetRecord, request, /*write=*/false);
    if (!first.ok()) return first;
    v1::GetRecordResponse out = *std::move(first);
    v1::GetRecordRequest next = request;
    while (!out.next_page_token().empty()) {
      next.set_page_token(out.next_page_token());
      auto page = Call(&Stub::GetRecord, next, /*write=*/false);
      if (!page.ok()) return page.status();
      for (auto& a : *page->mutable_actions())
        *out.add_actions() = std::move(a);
      out.set_next_page_token(page->next_page_token());
    }
    if (!request.include_payloads()) return out;
    for (auto& a : *out.mutable_actions()) {
      absl::Status s = FillAction(request.record(), &a);
      if (!s.ok()) return s;
    }
    return out;
  }

  using JournalClient::AppendActionAsync;
  void AppendActionAsync(const v1::AppendActionRequest& request,
                         AppendDone done) override {
    {
      absl::MutexLock lock(&mu_);
      ++async_in_flight_;
    }
    if (options_.coalesce_appends && !batches_unsupported_.load()) {
      auto item = std::make_shared<Item>(
          Item{request, std::move(done),
               Backoff(options_.retry, /*write=*/true), 0});
      Enqueue(std::move(item));
      return;
    }
    StartUnary(request, std::move(done));
  }

 private:
  // One append waiting in, or travelling with, a coalesced AppendActions.
  struct Item {
    v1::AppendActionRequest request;
    AppendDone done;
    Backoff backoff;
    int attempt = 0;
  };

  // Appends one at a time (AppendAction), with their own retries.
  void StartUnary(const v1::AppendActionRequest& request, AppendDone done) {
    std::make_shared<AsyncAppend>(
        channel_.get(), stub_.get(), options_, request, std::move(done),
        [this, request](v1::AppendActionResponse* r) {
          return FillAppend(request, r);
        },
        [this] {
          absl::MutexLock lock(&mu_);
          --async_in_flight_;
        })
        ->Attempt();
  }

  // Queues `item`; sends at once when no AppendActions is in flight, else
  // the one under way's completion sends what gathered meanwhile.
  void Enqueue(std::shared_ptr<Item> item) {
    std::vector<std::shared_ptr<Item>> batch;
    {
      absl::MutexLock lock(&batch_mu_);
      pending_.push_back(std::move(item));
      if (batches_in_flight_ >= options_.max_appends_calls_in_flight) return;
      ++batches_in_flight_;
      batch = TakeBatch();
    }
    SendBatch(std::move(batch));
  }

  // The next batch: up to kMaxBatchItems items and kMaxBatchBytes (one
  // larger item goes alone), well inside the server's request limit.
  std::vector<std::shared_ptr<Item>> TakeBatch()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(batch_mu_) {
    constexpr size_t kMaxBatchItems = 256;
    constexpr size_t kMaxBatchBytes = 1 << 20;
    std::vector<std::shared_ptr<Item>> batch;
    size_t bytes = 0;
    while (!pending_.empty() && batch.size() < kMaxBatchItems) {
      const size_t size = pending_.front()->request.ByteSizeLong();
      if (!batch.empty() && bytes + size > kMaxBatchBytes) break;
      bytes += size;
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    return batch;
  }

  void SendBatch(std::vector<std::shared_ptr<Item>> batch) {
    struct Call {
      std::unique_ptr<grpc::ClientContext> ctx =
          std::make_unique<grpc::ClientContext>();
      v1::AppendActionsRequest request;
      v1::AppendActionsResponse response;
      std::vector<std::shared_ptr<Item>> items;
    };
    auto call = std::make_shared<Call>();
    absl::Time deadline = absl::InfiniteFuture();
    for (auto& item : batch) {
      ++item->attempt;
      *call->request.add_items() = item->request;
      deadline =
          std::min(deadline, item->backoff.AttemptDeadline(options_.deadline));
    }
    call->items = std::move(batch);
    call->ctx->set_deadline(absl::ToChronoTime(deadline));
    stub_->async()->AppendActions(
        call->ctx.get(), &call->request, &call->response,
        [this, call](grpc::Status s) { BatchDone(*call, s); });
  }

  // On gRPC's thread: sends what gathered meanwhile, then answers each item
  // (or retries it). Answers go last: the last one may let the client be
  // destroyed, so nothing of it is touched after.
  template <typename Call>
  void BatchDone(Call& call, const grpc::Status& s) {
    // The context goes first: once the answers are out the client may be
    // destroyed, and a context outliving its channel would drop the
    // channel's last reference inside this gRPC callback.
    const bool marked = MarkedRetryable(*call.ctx);
    call.ctx.reset();
    std::vector<std::shared_ptr<Item>> next;
    {
      absl::MutexLock lock(&batch_mu_);
      next = TakeBatch();
      if (next.empty()) --batches_in_flight_;
    }
    if (!next.empty()) SendBatch(std::move(next));
    if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      // A server without AppendActions: one call per append from now on.
      // (Each keeps its count of in-flight appends: StartUnary releases it.)
      batches_unsupported_ = true;
      for (auto& item : call.items)
        StartUnary(item->request, std::move(item->done));
      return;
    }
    for (size_t i = 0; i < call.items.size(); ++i) {
      std::shared_ptr<Item> item = call.items[i];
      if (!s.ok()) {
        Settle(item, FromGrpc(s), marked);
        continue;
      }
      if (static_cast<int>(i) >= call.response.items_size()) {
        Settle(item,
               absl::InternalError("AppendActions: answer has too few items"),
               false);
        continue;
      }
      const v1::AppendActionsResponse::Item& answer = call.response.items(i);
      if (answer.code() != 0) {
        Settle(item,
               absl::Status(static_cast<absl::StatusCode>(answer.code()),
                            answer.message()),
               answer.retryable());
        continue;
      }
      v1::AppendActionResponse response = answer.response();
      FillStored(item->request, &response);
      if (HasOmitted(response)) {
        // Rare: a stored entry too large for the answer; read it off gRPC's
        // thread.
        std::thread([this, item, response]() mutable {
          absl::Status filled = FillAppend(item->request, &response);
          Deliver(item, filled.ok()
                            ? absl::StatusOr<v1::AppendActionResponse>(response)
                            : absl::StatusOr<v1::AppendActionResponse>(filled));
        }).detach();
        continue;
      }
      Deliver(item, std::move(response));
    }
  }

  // A failed item: retried after its backoff when the rule allows, else
  // answered.
  void Settle(const std::shared_ptr<Item>& item, const absl::Status& status,
              bool marked) {
    const std::optional<absl::Duration> wait =
        item->backoff.Next(status, marked, item->attempt);
    if (!wait.has_value()) {
      Deliver(item, status);
      return;
    }
    std::thread([this, item, wait] {
      AwaitConnection(*channel_, *wait);
      std::vector<std::shared_ptr<Item>> batch;
      {
        absl::MutexLock lock(&batch_mu_);
        pending_.push_back(item);
        if (batches_in_flight_ >= options_.max_appends_calls_in_flight) return;
        ++batches_in_flight_;
        batch = TakeBatch();
      }
      SendBatch(std::move(batch));
    }).detach();
  }

  void Deliver(const std::shared_ptr<Item>& item,
               absl::StatusOr<v1::AppendActionResponse> r) {
    item->done(std::move(r));
    FinishItem();
  }

  void FinishItem() {
    absl::MutexLock lock(&mu_);
    --async_in_flight_;
  }

  // Reads a payload the server left out of an answer into `out`.
  absl::Status ReadWhole(v1::ReadPayloadRequest req, uint64_t size,
                         std::string* out) {
    out->clear();
    out->reserve(size);
    while (out->size() < size) {
      req.set_offset(out->size());
      auto chunk = ReadPayload(req);
      if (!chunk.ok()) return chunk.status();
      if (chunk->data().empty()) {
        return absl::DataLossError(
            "ReadPayload: the stored payload ended early");
      }
      out->append(chunk->data());
    }
    return absl::OkStatus();
  }

  absl::Status FillStep(const v1::RecordId& record,
                        const std::string& action_key, v1::Step* step) {
    if (step->omitted_bytes() == 0) return absl::OkStatus();
    v1::ReadPayloadRequest req;
    *req.mutable_record() = record;
    req.set_action_key(action_key);
    req.set_step_index(step->index());
    std::string payload;
    absl::Status s = ReadWhole(req, step->omitted_bytes(), &payload);
    if (!s.ok()) return s;
    if (step->status() == v1::STEP_STATUS_FAILED) {
      step->set_error(std::move(payload));
    } else {
      step->set_result(std::move(payload));
    }
    step->set_omitted_bytes(0);
    return absl::OkStatus();
  }

  absl::Status FillCompletion(const v1::RecordId& record,
                              const std::string& action_key,
                              v1::Completion* c) {
    if (c->omitted_bytes() == 0) return absl::OkStatus();
    v1::ReadPayloadRequest req;
    *req.mutable_record() = record;
    req.set_action_key(action_key);
    req.set_completion(true);
    absl::Status s = ReadWhole(req, c->omitted_bytes(), c->mutable_state());
    if (s.ok()) c->set_omitted_bytes(0);
    return s;
  }

  absl::Status FillAction(const v1::RecordId& record, v1::ActionEntries* a) {
    for (v1::Step& step : *a->mutable_steps()) {
      absl::Status s = FillStep(record, a->action_key(), &step);
      if (!s.ok()) return s;
    }
    if (!a->has_completion()) return absl::OkStatus();
    return FillCompletion(record, a->action_key(), a->mutable_completion());
  }

  absl::Status FillAppend(const v1::AppendActionRequest& req,
                          v1::AppendActionResponse* r) {
    if (r->has_stored_step()) {
      return FillStep(req.record(), req.action_key(), r->mutable_stored_step());
    }
    return FillCompletion(req.record(), req.action_key(),
                          r->mutable_stored_completion());
  }

  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                         const Req&, Resp*),
                            const Req& request, bool write) {
    Backoff backoff(options_.retry, write);
    for (int attempt = 1;; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(
          absl::ToChronoTime(backoff.AttemptDeadline(options_.deadline)));
      Resp response;
      const grpc::Status s = (stub_.get()->*method)(&ctx, request, &response);
      if (s.ok()) return response;
      const absl::Status status = FromGrpc(s);
      const std::optional<absl::Duration> wait =
          backoff.Next(status, MarkedRetryable(ctx), attempt);
      if (!wait.has_value()) return status;
      AwaitConnection(*channel_, *wait);
    }
  }

  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<Stub> stub_;
  absl::Mutex mu_;
  int async_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // The coalescer: appends gathered while an AppendActions is in flight.
  absl::Mutex batch_mu_;
  std::deque<std::shared_ptr<Item>> pending_ ABSL_GUARDED_BY(batch_mu_);
  int batches_in_flight_ ABSL_GUARDED_BY(batch_mu_) = 0;
  std::atomic<bool> batches_unsupported_{false};
};

}  // namespace

std::future<absl::StatusOr<v1::AppendActionResponse>>
JournalClient::AppendActionAsync(const v1::AppendActionRequest& request) {
  auto promise = std::make_shared<
      std::promise<absl::StatusOr<v1::AppendActionResponse>>>();
  auto future = promise->get_future();
  AppendActionAsync(request,
                    [promise](absl::StatusOr<v1::AppendActionResponse> r) {
                      promise->set_value(std::move(r));
                    });
  return future;
}

absl::StatusOr<std::unique_ptr<JournalClient>> JournalClient::Create(
    const ClientOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("target: must not be empty");
  }
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline: must be > 0");
  }
  const RetryOptions& r = options.retry;
  if (r.max_attempts < 1 || r.initial_backoff < absl::ZeroDuration() ||
      r.max_backoff < r.initial_backoff || r.multiplier < 1 ||
      r.budget <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "retry: needs max_attempts >= 1, 0 <= initial_backoff <= max_backoff, "
        "multiplier >= 1 and budget > 0");
  }
  grpc::ChannelArguments args;
  // gRPC's default receive limit (4 MiB) fits every answer: the server
  // bounds them (max_answer_bytes) and the client reads the rest.
  args.SetMaxSendMessageSize(-1);  // the server enforces the limits
  // Between calls, reconnect to a restarted sidecar within seconds, not
  // gRPC's default of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Every address the target resolves to serves a share (a headless
  // Service's pods, "ipv4:a:p,b:p"); gRPC's default, pick_first, would pin
  // the client to one replica.
  // Only replicas whose health says SERVING get calls (gRPC's client-side
  // health checking, a Watch on each): one that lost its store is left
  // within its --health-timeout, not found out by a deadline per call.
  args.SetServiceConfigJSON(
      R"({"loadBalancingConfig": [{"round_robin": {}}],)"
      R"( "healthCheckConfig": {"serviceName": "actionjournal.v1.ActionJournal"}})");
  if (options.keepalive_time > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                absl::ToInt64Milliseconds(options.keepalive_time));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                absl::ToInt64Milliseconds(options.keepalive_timeout));
    // Between calls too: the next call must not be the one that finds out.
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  auto channel = CreateJournalChannel(options, args);
  if (!channel.ok()) return channel.status();
  return std::make_unique<GrpcJournalClient>(options, *std::move(channel));
}

}  // namespace actionjournal
