#include "server/journal_service.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/text.h"

namespace actionjournal {
namespace {

// Logs `message` unless `what` was logged less than a second ago, so that an
// outage answered to thousands of calls a second stays a few log lines.
void LogThrottled(absl::string_view what, absl::string_view message) {
  static absl::Mutex mu;
  static absl::Time last ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  {
    absl::MutexLock lock(&mu);
    const absl::Time now = absl::Now();
    if (now - last < absl::Seconds(1)) return;
    last = now;
  }
  LogWarning(what, ": ", message);
}

// The store's view of an RPC: its deadline, and whether its caller gave up
// (asked only while the RPC is unanswered, so `ctx` is alive).
JournalStore::CallOptions CallOf(grpc::CallbackServerContext* ctx) {
  JournalStore::CallOptions call;
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    call.deadline = absl::FromChrono(deadline);
  }
  call.cancelled = [ctx] { return ctx->IsCancelled(); };
  return call;
}

}  // namespace

absl::Status ForClient(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInternal ||
      status.code() == absl::StatusCode::kUnknown) {
    LogError("internal error: ", status.ToString());
    return absl::Status(status.code(), "internal error; see the server log");
  }
  if (status.code() == absl::StatusCode::kUnavailable) {
    LogThrottled("store unavailable", status.message());
    return absl::UnavailableError("the journal's store is unavailable; retry");
  }
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const absl::Status shown = ForClient(status);
  return grpc::Status(static_cast<grpc::StatusCode>(shown.code()),
                      std::string(shown.message()));
}

// One RPC being answered: owns itself until gRPC is done with it, and holds
// the bytes of its serialized answer against the service's bound until
// then. Thread-safe as gRPC requires (each method runs once).
class JournalService::Answer final : public grpc::ServerUnaryReactor {
 public:
  Answer(JournalService* service, grpc::CallbackServerContext* ctx, Rpc rpc,
         grpc::ByteBuffer* out)
      : service_(service),
        ctx_(ctx),
        rpc_(rpc),
        out_(out),
        arrived_(absl::Now()) {
    ++service_->in_flight_;
  }

  grpc::CallbackServerContext* ctx() const { return ctx_; }
  Rpc rpc() const { return rpc_; }

  // Parses the request into `msg`; false (and answered) when it does not
  // parse.
  template <typename Msg>
  bool Parse(const grpc::ByteBuffer* in, Msg* msg) {
    grpc::ByteBuffer copy(*in);  // shares the slices
    grpc::ProtoBufferReader reader(&copy);
    if (msg->ParseFromZeroCopyStream(&reader)) return true;
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (in->Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    Fail(ExplainParseFailure(*Msg::descriptor(), bytes));
    return false;
  }

  // Parses the request into `msg` and checks it against `limits`: the
  // storage request, or nullopt (and answered) when either fails.
  template <typename Msg>
  auto Check(const grpc::ByteBuffer* in, Msg* msg, const RequestLimits& limits)
      -> std::optional<typename decltype(FromProto(*msg, limits))::value_type> {
    if (!Parse(in, msg)) return std::nullopt;
    auto parsed = FromProto(*msg, limits);
    if (!parsed.ok()) {
      Fail(parsed.status());
      return std::nullopt;
    }
    return *std::move(parsed);
  }

  // What the store said, for the outcome metrics.
  void Stored(const absl::Status& status) {
    if (service_->metrics_ != nullptr)
      service_->metrics_->OnStoreCall(rpc_, status);
  }

  // Answers OK with `response`, or RESOURCE_EXHAUSTED (retryable) when the
  // answers already held leave no room for it.
  void Reply(const google::protobuf::Message& response) {
    const int64_t size = static_cast<int64_t>(response.ByteSizeLong());
    peer_ = ctx_->peer();
    if (!service_->Hold(peer_, size)) {
      Fail(BusyError(
          "server busy: answers not yet read by their clients fill the "
          "answer memory; read them, or retry later"));
      return;
    }
    held_ = size;
    bool own_buffer = false;
    grpc::Status s =
        grpc::SerializationTraits<google::protobuf::Message>::Serialize(
            response, out_, &own_buffer);
    Done(s);
  }

  void Fail(const absl::Status& status) {
    if (IsRetryable(status)) {
      ctx_->AddTrailingMetadata(kRetryAfterKey, "100");
      if (status.code() == absl::StatusCode::kResourceExhausted &&
          service_->metrics_ != nullptr) {
        service_->metrics_->OnBusy(rpc_);
      }
    }
    Done(ToGrpcStatus(status));
  }

  void OnDone() override {
    service_->Release(peer_, held_);
    --service_->in_flight_;
    delete this;
  }

 private:
  void Done(const grpc::Status& status) {
    if (service_->metrics_ != nullptr) {
      service_->metrics_->OnRequest(rpc_, status.error_code(),
                                    absl::Now() - arrived_);
    }
    Finish(status);
  }

  JournalService* const service_;
  grpc::CallbackServerContext* const ctx_;
  const Rpc rpc_;
  grpc::ByteBuffer* const out_;
  const absl::Time arrived_;
  std::string peer_;
  int64_t held_ = 0;
};

JournalService::JournalService(JournalStore& store, Executor& executor,
                               ServiceOptions options, ServerMetrics* metrics)
    : store_(store),
      executor_(executor),
      options_(options),
      metrics_(metrics) {}

bool JournalService::Hold(const std::string& peer, int64_t bytes) {
  int64_t total;
  {
    absl::MutexLock lock(&held_mu_);
    int64_t& mine = held_by_peer_[peer];
    total = held_answer_bytes_.load();
    // One answer always fits, so that a single large one cannot wedge reads.
    if ((mine > 0 &&
         mine + bytes > options_.max_held_answer_bytes_per_client) ||
        (total > 0 && total + bytes > options_.max_held_answer_bytes)) {
      if (mine == 0) held_by_peer_.erase(peer);
      return false;
    }
    mine += bytes;
    total = held_answer_bytes_ += bytes;
  }
  if (metrics_ != nullptr) metrics_->OnHeldAnswerBytes(total);
  return true;
}

void JournalService::Release(const std::string& peer, int64_t bytes) {
  if (bytes == 0) return;
  int64_t total;
  {
    absl::MutexLock lock(&held_mu_);
    auto it = held_by_peer_.find(peer);
    if (it != held_by_peer_.end() && (it->second -= bytes) <= 0) {
      held_by_peer_.erase(it);
    }
    total = held_answer_bytes_ -= bytes;
  }
  if (metrics_ != nullptr) metrics_->OnHeldAnswerBytes(total);
}

void JournalService::Dispatch(Answer* answer,
                              std::function<absl::Status()> work) {
  if (held_answer_bytes_.load() >= options_.max_held_answer_bytes) {
    answer->Fail(BusyError(
        "server busy: answers not yet read by their clients fill the answer "
        "memory; retry later"));
    return;
  }
  auto task = [answer, work = std::move(work)] {
    grpc::CallbackServerContext* ctx = answer->ctx();
    // Skip work whose caller gave up while it waited in the queue.
    if (ctx->IsCancelled()) {
      answer->Fail(absl::CancelledError("cancelled"));
      return;
    }
    if (ctx->deadline() < std::chrono::system_clock::now()) {
      answer->Fail(absl::DeadlineExceededError("deadline passed while queued"));
      return;
    }
    absl::Status s = work();
    if (!s.ok()) answer->Fail(s);
  };
  if (!executor_.TrySchedule(std::move(task))) {
    LogWarning(RpcName(answer->rpc()),
               ": executor queue full; answering RESOURCE_EXHAUSTED");
    answer->Fail(BusyError("server busy: work queue is full; retry later"));
  }
}

grpc::ServerUnaryReactor* JournalService::BeginRecord(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kBeginRecord, out);
  v1::BeginRecordRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed) return answer;
  // On the executor: a BeginRecord that changes nothing is answered from a
  // read, which blocks.
  Dispatch(answer, [this, answer, ctx, token = req.page_token(),
                    parsed = *std::move(parsed)]() mutable {
    store_.BeginRecordAsync(
        std::move(parsed),
        [this, answer, token](auto r) {
          answer->Stored(r.status());
          if (!r.ok()) {
            answer->Fail(r.status());
            return;
          }
          // Later pages repeat the call; count what it replays once.
          if (metrics_ != nullptr && token.empty()) metrics_->OnBegin(*r);
          v1::BeginRecordResponse resp;
          ToProto(*r, token, options_.limits, &resp);
          answer->Reply(resp);
        },
        CallOf(ctx));
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::AppendAction(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kAppendAction, out);
  v1::AppendActionRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed) return answer;
  const ConflictPolicy policy = parsed->conflict_policy;
  const bool pending = IsPendingStep(*parsed);
  store_.AppendActionAsync(
      *std::move(parsed),
      [this, answer, policy, pending](auto r) {
        answer->Stored(r.status());
        if (!r.ok()) {
          answer->Fail(r.status());
          return;
        }
        if (metrics_ != nullptr) metrics_->OnAppend(policy, *r);
        v1::AppendActionResponse resp;
        ToProto(*r, pending, options_.limits, &resp);
        answer->Reply(resp);
      },
      CallOf(ctx));
  return answer;
}

grpc::ServerUnaryReactor* JournalService::AppendActions(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kAppendActions, out);
  v1::AppendActionsRequest req;
  if (!answer->Parse(in, &req)) return answer;
  if (req.items_size() > options_.limits.max_batch_items) {
    answer->Fail(absl::ResourceExhaustedError(
        absl::StrCat("items: ", req.items_size(), " is over the limit of ",
                     options_.limits.max_batch_items, " per call")));
    return answer;
  }
  // Each item is checked on its own; the valid ones go to group commit
  // together, moved, and each item keeps only what its answer needs.
  struct Item {
    absl::Status check;
    ConflictPolicy policy = ConflictPolicy::kKeepStored;
    bool pending = false;
  };
  auto items = std::make_shared<std::vector<Item>>();
  std::vector<AppendRequest> valid;
  for (const v1::AppendActionRequest& proto : req.items()) {
    absl::StatusOr<AppendRequest> checked = FromProto(proto, options_.limits);
    if (!checked.ok()) {
      items->push_back({checked.status()});
      continue;
    }
    items->push_back(
        {absl::OkStatus(), checked->conflict_policy, IsPendingStep(*checked)});
    valid.push_back(*std::move(checked));
  }
  store_.AppendActionsAsync(
      std::move(valid),
      [this, answer, items](auto r) {
        answer->Stored(r.status());
        if (!r.ok()) {
          answer->Fail(r.status());
          return;
        }
        // The store's answers, spread back over the items that were valid.
        std::vector<absl::StatusOr<AppendResult>> results;
        std::vector<bool> pending;
        size_t next = 0;
        for (const Item& item : *items) {
          pending.push_back(item.pending);
          if (!item.check.ok()) {
            results.push_back(item.check);
            continue;
          }
          results.push_back(std::move((*r)[next++]));
          if (!results.back().ok()) {
            // Each item's own refusal counts as a single call's would
            // (fenced, store errors): clients coalesce most appends.
            answer->Stored(results.back().status());
            results.back() = ForClient(results.back().status());
          } else if (metrics_ != nullptr) {
            metrics_->OnAppend(item.policy, *results.back());
          }
        }
        v1::AppendActionsResponse resp;
        ToProto(results, pending, options_.limits, &resp);
        answer->Reply(resp);
      },
      CallOf(ctx));
  return answer;
}

grpc::ServerUnaryReactor* JournalService::LookupAction(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kLookupAction, out);
  v1::LookupActionRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed) return answer;
  Dispatch(answer, [this, answer, parsed = *std::move(parsed)] {
    absl::StatusOr<LookupResult> r =
        store_.LookupAction(parsed.first, parsed.second);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    if (metrics_ != nullptr) metrics_->OnLookup(*r);
    v1::LookupActionResponse resp;
    ToProto(*r, options_.limits, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::CompleteRecord(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kCompleteRecord, out);
  v1::CompleteRecordRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed) return answer;
  store_.CompleteRecordAsync(
      *std::move(parsed),
      [answer](auto r) {
        answer->Stored(r.status());
        if (!r.ok()) {
          answer->Fail(r.status());
          return;
        }
        v1::CompleteRecordResponse resp;
        ToProto(*r, &resp);
        answer->Reply(resp);
      },
      CallOf(ctx));
  return answer;
}

grpc::ServerUnaryReactor* JournalService::Prune(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kPrune, out);
  v1::PruneRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed) return answer;
  Dispatch(answer, [this, answer, parsed = *std::move(parsed)] {
    absl::StatusOr<PruneResult> r = store_.Prune(parsed);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    if (metrics_ != nullptr) metrics_->OnPrune(*r);
    v1::PruneResponse resp;
    ToProto(*r, &resp);
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

grpc::ServerUnaryReactor* JournalService::ReadPayload(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  auto* answer = new Answer(this, ctx, Rpc::kReadPayload, out);
  v1::ReadPayloadRequest req;
  auto parsed = answer->Check(in, &req, options_.limits);
  if (!parsed) return answer;
  Dispatch(answer, [this, answer, parsed = *std::move(parsed)] {
    absl::StatusOr<LookupResult> r =
        store_.LookupAction(parsed.record, parsed.action_key);
    answer->Stored(r.status());
    if (!r.ok()) return r.status();
    v1::ReadPayloadResponse resp;
    absl::Status s = ToProto(*r, parsed, options_.limits, &resp);
    if (!s.ok()) return s;
    answer->Reply(resp);
    return absl::OkStatus();
  });
  return answer;
}

}  // namespace actionjournal
