#include "storage/journal.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace actionjournal {

constexpr char kFencedPayload[] = "actionjournal/fenced";

absl::Status FencedError(uint64_t attempt, uint64_t stored_attempt) {
  absl::Status s = absl::FailedPreconditionError(absl::StrCat(
      "fenced: attempt ", attempt, " is below the record's attempt ",
      stored_attempt, "; a newer writer owns this record"));
  s.SetPayload(kFencedPayload, absl::Cord());
  return s;
}

bool IsFenced(const absl::Status& status) {
  return status.GetPayload(kFencedPayload).has_value();
}

constexpr char kRetryPayload[] = "actionjournal/retry";

absl::Status BusyError(absl::string_view message) {
  absl::Status s = absl::ResourceExhaustedError(message);
  s.SetPayload(kRetryPayload, absl::Cord());
  return s;
}

bool IsRetryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsAborted(status) ||
         status.GetPayload(kRetryPayload).has_value();
}

namespace {

// ---------------------------------------------------------------------------
// The rules. Each runs inside one transaction with the record locked.


// Locks the record, creating it when absent; applies fencing. Sets *created.
absl::StatusOr<RecordRow> LockOrCreate(Transaction& txn, const RecordId& id,
                                       uint64_t attempt,
                                       const std::string& fingerprint,
                                       bool* created) {
  *created = false;
  ASSIGN_OR_RETURN(std::optional<RecordRow> row, txn.LockRecord(id));
  if (!row.has_value()) {
    RecordRow fresh;
    fresh.attempt = attempt;
    fresh.input_fingerprint = fingerprint;
    ASSIGN_OR_RETURN(bool inserted, txn.InsertRecord(id, fresh));
    if (inserted) {
      *created = true;
      return fresh;
    }
    // Another transaction inserted it between our read and insert.
    return absl::AbortedError("record created concurrently; retry");
  }
  if (attempt != 0 && attempt < row->attempt) {
    return FencedError(attempt, row->attempt);
  }
  if (attempt > row->attempt) {
    row->attempt = attempt;
    RETURN_IF_ERROR(txn.UpdateRecord(id, *row));
  }
  return *row;
}

absl::StatusOr<BeginResult> ApplyBegin(Transaction& txn,
                                       const BeginRequest& req) {
  bool created = false;
  ASSIGN_OR_RETURN(RecordRow row, LockOrCreate(txn, req.record, req.attempt,
                                               req.input_fingerprint, &created));
  BeginResult result;
  result.attempt = row.attempt;
  if (created) {
    result.status = RecordStatus::kNew;
    return result;
  }
  if (!req.input_fingerprint.empty()) {
    if (row.input_fingerprint.empty()) {
      row.input_fingerprint = req.input_fingerprint;
      RETURN_IF_ERROR(txn.UpdateRecord(req.record, row));
    } else if (row.input_fingerprint != req.input_fingerprint) {
      result.input_mismatch = true;
      if (req.reset_on_mismatch) {
        RETURN_IF_ERROR(txn.DeleteEntries(req.record).status());
        row.input_fingerprint = req.input_fingerprint;
        row.completed = false;
        row.completed_at = absl::InfinitePast();
        RETURN_IF_ERROR(txn.UpdateRecord(req.record, row));
        result.reset = true;
      }
    }
  }
  result.status = row.completed ? RecordStatus::kCompleted : RecordStatus::kOpen;
  ASSIGN_OR_RETURN(result.actions, txn.ReadActions(req.record, nullptr));
  return result;
}

const Step* FindStep(const ActionEntries& action, uint32_t index) {
  // Steps are contiguous from 0, so the index is the position.
  return index < action.steps.size() ? &action.steps[index] : nullptr;
}

absl::StatusOr<AppendResult> ApplyAppend(Transaction& txn,
                                         const AppendRequest& req) {
  bool created = false;
  ASSIGN_OR_RETURN(RecordRow row,
                   LockOrCreate(txn, req.record, req.attempt, "", &created));
  ActionEntries action;
  if (!created) {
    ASSIGN_OR_RETURN(std::vector<ActionEntries> found,
                     txn.ReadActions(req.record, &req.action_key));
    if (!found.empty()) action = std::move(found.front());
  }

  AppendResult result;
  if (const auto* completion = std::get_if<Completion>(&req.entry)) {
    if (action.completion.has_value()) {
      result.outcome = *action.completion == *completion
                           ? AppendOutcome::kDuplicate
                           : AppendOutcome::kConflict;
      result.stored = *action.completion;
      result.stored_cost = action.cost;
      return result;
    }
    if (row.completed) {
      return absl::FailedPreconditionError(
          "record is completed; no further appends");
    }
    ASSIGN_OR_RETURN(bool inserted, txn.InsertCompletion(
                                        req.record, req.action_key,
                                        *completion, req.cost));
    if (!inserted) return absl::AbortedError("completion raced; retry");
    result.outcome = AppendOutcome::kAppended;
    result.stored = *completion;
    result.stored_cost = action.cost;
    result.stored_cost += req.cost;
    return result;
  }

  const Step& step = std::get<Step>(req.entry);
  const Step* stored = FindStep(action, step.index);
  const bool same_call = stored != nullptr &&
                         stored->function_id == step.function_id &&
                         stored->args_digest == step.args_digest;
  // An identical retry, or a PENDING intent for a call already journaled,
  // changes nothing and hands back what is stored.
  if (stored != nullptr &&
      (*stored == step || (same_call && step.status == StepStatus::kPending))) {
    result.outcome = AppendOutcome::kDuplicate;
    result.stored = *stored;
    result.stored_cost = stored->cost;
    return result;
  }
  if (row.completed) {
    return absl::FailedPreconditionError(
        "record is completed; no further appends");
  }
  if (action.completion.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("action '", req.action_key,
                     "' is completed; its steps can no longer change"));
  }
  if (stored != nullptr) {
    if (req.conflict_policy == ConflictPolicy::kReplaceFromHere) {
      RETURN_IF_ERROR(
          txn.DeleteStepsFrom(req.record, req.action_key, step.index).status());
      stored = nullptr;  // fall through to the insert
    } else if (same_call && stored->status == StepStatus::kPending) {
      ASSIGN_OR_RETURN(bool upgraded, txn.UpgradeStep(req.record,
                                                      req.action_key, step,
                                                      req.cost));
      if (!upgraded) return absl::AbortedError("step upgrade raced; retry");
      result.outcome = AppendOutcome::kUpgraded;
      result.stored = step;
      result.stored_cost = req.cost;
      return result;
    } else {
      result.outcome = AppendOutcome::kConflict;
      result.stored = *stored;
      result.stored_cost = stored->cost;
      return result;
    }
  }
  if (step.index > action.steps.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "step.index: gap; action '", req.action_key, "' has ",
        action.steps.size(), " steps, so the next index is ",
        action.steps.size(), ", not ", step.index));
  }
  ASSIGN_OR_RETURN(bool inserted, txn.InsertStep(req.record, req.action_key,
                                                 step, req.cost));
  if (!inserted) return absl::AbortedError("step raced; retry");
  result.outcome = AppendOutcome::kAppended;
  result.stored = step;
  result.stored_cost = req.cost;
  return result;
}

absl::StatusOr<CompleteResult> ApplyComplete(Transaction& txn,
                                             const CompleteRequest& req,
                                             absl::Time now) {
  bool created = false;
  ASSIGN_OR_RETURN(RecordRow row,
                   LockOrCreate(txn, req.record, req.attempt, "", &created));
  CompleteResult result;
  if (row.completed) {
    result.completed_at = row.completed_at;
    return result;
  }
  row.completed = true;
  row.completed_at = now;
  RETURN_IF_ERROR(txn.UpdateRecord(req.record, row));
  result.newly_completed = true;
  result.completed_at = now;
  return result;
}

// ---------------------------------------------------------------------------
// Group commit. Thread-safe.

class Journal final : public JournalStore {
 public:
  Journal(std::unique_ptr<Backend> backend, JournalOptions options,
          JournalObserver* observer)
      : backend_(std::move(backend)),
        options_(std::move(options)),
        observer_(observer) {
    const int committers = std::max(1, backend_->MaxConcurrentWriters());
    for (int i = 0; i < committers; ++i) {
      committers_.emplace_back([this] { CommitLoop(); });
    }
  }

  // Commits every queued write, then stops.
  ~Journal() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& t : committers_) t.join();
  }

  void BeginRecordAsync(BeginRequest req, Done<BeginResult> done) override {
    Submit(
        std::move(req),
        [](const BeginRequest& r) { return Touch{&r.record, nullptr, true}; },
        [](Transaction& txn, const BeginRequest& r) { return ApplyBegin(txn, r); },
        std::move(done));
  }

  void AppendActionAsync(AppendRequest req, Done<AppendResult> done) override {
    Submit(
        std::move(req),
        [](const AppendRequest& r) { return Touch{&r.record, &r.action_key}; },
        [](Transaction& txn, const AppendRequest& r) { return ApplyAppend(txn, r); },
        std::move(done));
  }

  void CompleteRecordAsync(CompleteRequest req, Done<CompleteResult> done) override {
    const absl::Time now = options_.clock();
    Submit(
        std::move(req), [](const CompleteRequest& r) { return Touch{&r.record}; },
        [now](Transaction& txn, const CompleteRequest& r) {
          return ApplyComplete(txn, r, now);
        },
        std::move(done));
  }

  absl::StatusOr<BeginResult> BeginRecord(const BeginRequest& req) override {
    return Wait<BeginResult>([&](auto done) { BeginRecordAsync(req, std::move(done)); });
  }

  absl::StatusOr<AppendResult> AppendAction(const AppendRequest& req) override {
    return Wait<AppendResult>([&](auto done) { AppendActionAsync(req, std::move(done)); });
  }

  absl::StatusOr<CompleteResult> CompleteRecord(const CompleteRequest& req) override {
    return Wait<CompleteResult>(
        [&](auto done) { CompleteRecordAsync(req, std::move(done)); });
  }

  absl::StatusOr<LookupResult> LookupAction(
      const RecordId& record, const std::string& action_key) override {
    if (Cancelled()) return absl::UnavailableError("the server is stopping; retry");
    LookupResult out;
    RETURN_IF_ERROR(WithRetries([&] {
      return backend_->Run(/*read_only=*/true, [&](Transaction& txn) {
        out = LookupResult();
        ASSIGN_OR_RETURN(std::optional<RecordRow> row, txn.LockRecord(record));
        if (!row.has_value()) return absl::OkStatus();
        out.record_status =
            row->completed ? RecordStatus::kCompleted : RecordStatus::kOpen;
        ASSIGN_OR_RETURN(std::vector<ActionEntries> found,
                         txn.ReadActions(record, &action_key));
        if (!found.empty()) out.action = std::move(found.front());
        return absl::OkStatus();
      });
    }));
    return out;
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req) override {
    if (Cancelled()) return absl::UnavailableError("the server is stopping; retry");
    PruneResult out;
    RETURN_IF_ERROR(WithRetries([&] {
      return backend_->Run(/*read_only=*/false, [&](Transaction& txn) {
        ASSIGN_OR_RETURN(out, txn.Prune(req));
        return absl::OkStatus();
      });
    }));
    return out;
  }

  absl::Status Ping() override {
    {
      absl::MutexLock lock(&mu_);
      // A store that answers reads but cannot take writes (a full disk) is
      // not ready either; a few seconds after its last such failure (or at
      // its next good write) it is tried again.
      if (!last_write_failure_.ok() &&
          absl::Now() - last_write_failure_at_ < kWriteFailureMemory) {
        return last_write_failure_;
      }
    }
    return backend_->Ping();
  }

  void Cancel() override {
    std::deque<std::unique_ptr<Writer>> dropped;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      dropped.swap(queue_);
    }
    backend_->Cancel();
    for (auto& w : dropped) {
      w->finish(absl::UnavailableError("the server is stopping; retry"));
    }
  }

 private:
  // One queued write: what it touches, the rules to run inside a
  // transaction (perhaps several times, as batches are redone), and what to
  // do with its final status.
  struct Writer {
    const RecordId& record() const { return *touch.record; }
    Touch touch;  // points into the request `op` owns
    std::function<absl::Status(Transaction&)> op;
    std::function<void(const absl::Status&)> finish;
    absl::Status status;
  };

  template <typename Result, typename Request, typename TouchOf, typename Apply>
  void Submit(Request request, TouchOf touch_of, Apply apply, Done<Result> done) {
    struct State {
      Request request;
      absl::StatusOr<Result> out;
    };
    auto state = std::make_shared<State>(
        State{std::move(request), absl::UnknownError("not run")});
    auto w = std::make_unique<Writer>();
    w->touch = touch_of(state->request);
    w->op = [state, apply](Transaction& txn) {
      state->out = apply(txn, state->request);
      return state->out.status();
    };
    w->finish = [state, done = std::move(done)](const absl::Status& status) {
      done(status.ok() ? std::move(state->out) : absl::StatusOr<Result>(status));
    };
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
      if (!cancelled &&
          static_cast<int>(queue_.size()) < options_.max_queued_writes) {
        queue_.push_back(std::move(w));
        return;
      }
    }
    if (cancelled) {
      w->finish(absl::UnavailableError("the server is stopping; retry"));
      return;
    }
    w->finish(BusyError("server busy: too many writes waiting; retry later"));
  }

  template <typename Result, typename Start>
  static absl::StatusOr<Result> Wait(Start start) {
    absl::Notification finished;
    absl::StatusOr<Result> out = absl::UnknownError("not run");
    start([&](absl::StatusOr<Result> r) {
      out = std::move(r);
      finished.Notify();
    });
    finished.WaitForNotification();
    return out;
  }

  template <typename F>
  absl::Status WithRetries(F&& f) {
    absl::Status s;
    for (int i = 0; i <= options_.max_retries; ++i) {
      s = f();
      if (!absl::IsAborted(s) || Cancelled()) break;
    }
    return s;
  }

  // Each committer thread takes the queued writes (up to a batch) whenever
  // it is free, runs them in one transaction and finishes them; so batches
  // grow while the others' commits are under way.
  void CommitLoop() {
    std::vector<std::unique_ptr<Writer>> batch;
    absl::MutexLock lock(&mu_);
    for (;;) {
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and every write is done
      while (!queue_.empty() &&
             static_cast<int>(batch.size()) < options_.max_batch_size) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      mu_.Unlock();
      RunBatch(batch);
      for (auto& w : batch) w->finish(w->status);
      batch.clear();
      mu_.Lock();
    }
  }

  // Runs every writer's op in one transaction. First optimistically, with no
  // savepoints (each costs a round trip): when every op succeeds, that
  // transaction is the answer. When one fails, the batch is redone with each
  // op behind its own savepoint, so that one op's refusal leaves its
  // neighbours' writes standing.
  void RunBatch(std::vector<std::unique_ptr<Writer>>& batch) {
    // Lock records in one global order so concurrent batches cannot deadlock.
    std::stable_sort(batch.begin(), batch.end(),
                     [](const std::unique_ptr<Writer>& a,
                        const std::unique_ptr<Writer>& b) {
                       return a->record() < b->record();
                     });
    std::vector<Touch> touches;
    touches.reserve(batch.size());
    for (auto& w : batch) touches.push_back(w->touch);
    const absl::Time start = absl::Now();
    absl::Status status = WithRetries([&] {
      return backend_->Run(/*read_only=*/false, [&](Transaction& txn) {
        RETURN_IF_ERROR(txn.Prefetch(touches));
        for (auto& w : batch) RETURN_IF_ERROR(w->op(txn));
        return absl::OkStatus();
      });
    });
    if (status.ok()) {
      for (auto& w : batch) w->status = absl::OkStatus();
    } else if (Cancelled()) {
      for (auto& w : batch) w->status = status;
    } else {
      status = WithRetries([&] {
        return backend_->Run(/*read_only=*/false, [&](Transaction& txn) {
          RETURN_IF_ERROR(txn.Prefetch(touches));
          for (auto& w : batch) {
            absl::Status s;
            for (int i = 0; i <= options_.max_retries; ++i) {
              RETURN_IF_ERROR(txn.Savepoint());
              s = w->op(txn);
              if (s.ok()) break;
              RETURN_IF_ERROR(txn.RollbackToSavepoint());
              if (!absl::IsAborted(s)) break;
            }
            w->status = s;
          }
          return absl::OkStatus();
        });
      });
      if (!status.ok() && !absl::IsUnavailable(status) && !Cancelled() &&
          batch.size() > 1) {
        // A statement failed for the batch as a whole (a value the store
        // refuses, say). Each write alone finds out whose it was, so that
        // one bad write never fails its neighbours.
        for (auto& w : batch) {
          const std::vector<Touch> one = {w->touch};
          w->status = WithRetries([&] {
            return backend_->Run(/*read_only=*/false, [&](Transaction& txn) {
              RETURN_IF_ERROR(txn.Prefetch(one));
              return w->op(txn);
            });
          });
        }
        status = absl::OkStatus();
      } else if (!status.ok()) {
        for (auto& w : batch) w->status = status;
      }
    }
    NoteWrite(status);
    if (observer_ != nullptr) {
      observer_->OnBatch(static_cast<int>(batch.size()), absl::Now() - start,
                         status);
    }
  }

  bool Cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  // Remembers a transaction that failed because the store could not take
  // it (UNAVAILABLE), for Ping; logs it once, not once per batch.
  void NoteWrite(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (absl::IsUnavailable(status)) {
      if (last_write_failure_.ok()) {
        LogError("store: writes fail: ", status.message(),
                 "; readiness is NOT_SERVING until a write succeeds");
      }
      last_write_failure_ = status;
      last_write_failure_at_ = absl::Now();
    } else if (status.ok() && !last_write_failure_.ok()) {
      LogInfo("store: writes succeed again");
      last_write_failure_ = absl::OkStatus();
    }
  }

  const std::unique_ptr<Backend> backend_;
  const JournalOptions options_;
  JournalObserver* const observer_;

  absl::Mutex mu_;
  std::deque<std::unique_ptr<Writer>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_write_failure_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_failure_at_ ABSL_GUARDED_BY(mu_);
  static constexpr absl::Duration kWriteFailureMemory = absl::Seconds(5);
  std::vector<std::thread> committers_;  // last: started once all is set
};

}  // namespace

std::unique_ptr<JournalStore> NewJournal(std::unique_ptr<Backend> backend,
                                         JournalOptions options,
                                         JournalObserver* observer) {
  return std::make_unique<Journal>(std::move(backend), std::move(options),
                                   observer);
}

}  // namespace actionjournal
