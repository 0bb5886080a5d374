#include "storage/group_commit.h"

#include <algorithm>
#include <deque>
#include <future>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/rules.h"

namespace actionjournal {

namespace {

absl::Status Stopping() {
  return absl::UnavailableError("the server is stopping; retry");
}

// Thread-safe.
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
    if (options_.sweep_every > absl::ZeroDuration()) {
      committers_.emplace_back([this] { SweepLoop(); });
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

  void BeginRecordAsync(BeginRequest req, Done<BeginResult> done,
                        CallOptions call) override {
    // Most BeginRecords of a replay change nothing: answer those from one
    // read, without a transaction.
    if (!Cancelled()) {
      ReadSet reads;
      reads.Add(req.record, nullptr);
      absl::StatusOr<Snapshot> snapshot = backend_->Read(reads);
      if (!snapshot.ok()) {
        done(snapshot.status());
        return;
      }
      std::optional<absl::StatusOr<BeginResult>> read =
          BeginWithoutWrites(*snapshot, req);
      if (read.has_value()) {
        done(*std::move(read));
        return;
      }
    }
    Submit<BeginResult>({WriteRequest(std::move(req))}, std::move(done),
                        std::move(call));
  }

  void AppendActionAsync(AppendRequest req, Done<AppendResult> done,
                         CallOptions call) override {
    Submit<AppendResult>({WriteRequest(std::move(req))}, std::move(done),
                         std::move(call));
  }

  void AppendActionsAsync(std::vector<AppendRequest> requests,
                          Done<std::vector<absl::StatusOr<AppendResult>>> done,
                          CallOptions call) override {
    const size_t n = requests.size();
    auto results = std::make_shared<std::vector<absl::StatusOr<AppendResult>>>(
        n, absl::UnknownError("not run"));
    auto left = std::make_shared<std::atomic<size_t>>(n);
    if (n == 0) {
      done(std::move(*results));
      return;
    }
    auto shared_done =
        std::make_shared<Done<std::vector<absl::StatusOr<AppendResult>>>>(
            std::move(done));
    std::vector<std::unique_ptr<Writer>> writers;
    for (size_t i = 0; i < n; ++i) {
      writers.push_back(MakeWriter<AppendResult>(
          WriteRequest(std::move(requests[i])), call,
          [results, left, shared_done, i](absl::StatusOr<AppendResult> r) {
            (*results)[i] = std::move(r);
            if (left->fetch_sub(1) == 1) (*shared_done)(std::move(*results));
          }));
    }
    Enqueue(std::move(writers));
  }

  void CompleteRecordAsync(CompleteRequest req, Done<CompleteResult> done,
                           CallOptions call) override {
    Submit<CompleteResult>({WriteRequest(std::move(req))}, std::move(done),
                           std::move(call));
  }

  absl::StatusOr<BeginResult> BeginRecord(const BeginRequest& req) override {
    return Wait<BeginResult>(
        [&](auto done) { BeginRecordAsync(req, std::move(done), {}); });
  }
  absl::StatusOr<AppendResult> AppendAction(const AppendRequest& req) override {
    return Wait<AppendResult>(
        [&](auto done) { AppendActionAsync(req, std::move(done), {}); });
  }
  absl::StatusOr<CompleteResult> CompleteRecord(
      const CompleteRequest& req) override {
    return Wait<CompleteResult>(
        [&](auto done) { CompleteRecordAsync(req, std::move(done), {}); });
  }

  absl::StatusOr<InvalidateResult> Invalidate(
      const InvalidateRequest& req) override {
    return Wait<InvalidateResult>([&](auto done) {
      Submit<InvalidateResult>(WriteRequest(req), std::move(done), {});
    });
  }

  absl::StatusOr<LookupResult> LookupAction(
      const RecordId& record, const std::string& action_key) override {
    if (Cancelled()) return Stopping();
    ReadSet reads;
    reads.Add(record, &action_key);
    ASSIGN_OR_RETURN(Snapshot snapshot, backend_->Read(reads));
    return LookupFrom(snapshot, record, action_key);
  }

  absl::StatusOr<PruneResult> Prune(const PruneRequest& req) override {
    if (Cancelled()) return Stopping();
    absl::StatusOr<PruneResult> out;
    for (int i = 0; i <= options_.max_retries; ++i) {
      out = backend_->Prune(req, options_.clock());
      if (!absl::IsAborted(out.status())) break;
    }
    return out;
  }

  absl::StatusOr<SweepResult> Sweep(absl::Time now) override {
    const absl::Time written_before = options_.record_ttl > absl::ZeroDuration()
                                          ? now - options_.record_ttl
                                          : absl::InfinitePast();
    SweepResult total;
    for (int aborted = 0;;) {
      if (Cancelled()) return Stopping();
      absl::StatusOr<SweepResult> one =
          backend_->Sweep(now, written_before, options_.sweep_batch);
      // A race lost: again, as often as a write would be redone.
      if (absl::IsAborted(one.status()) && aborted++ < options_.max_retries) {
        continue;
      }
      if (!one.ok()) return one.status();
      total += *one;
      if (observer_ != nullptr) observer_->OnSweep(*one);
      const uint64_t n = one->retention_records + one->ttl_records;
      if (n < static_cast<uint64_t>(options_.sweep_batch)) return total;
      {
        // Between batches, let a stopping server stop.
        absl::MutexLock lock(&mu_);
        if (stopping_) return total;
      }
    }
  }

  absl::StatusOr<std::vector<JobStats>> Stats(
      const std::string& job_id) override {
    if (Cancelled()) return Stopping();
    return backend_->Stats(job_id);
  }

  absl::StatusOr<uint64_t> IssueAttempt(const std::string& job_id) override {
    if (Cancelled()) return Stopping();
    return backend_->IssueAttempt(job_id);
  }

  absl::StatusOr<std::vector<RecordInfo>> ListRecords(
      const ListRecordsQuery& query) override {
    if (Cancelled()) return Stopping();
    return backend_->ListRecords(query);
  }

  // Two reads, the record's row and then its entries, each consistent;
  // a write between them shows as an entry newer than the row's counts.
  absl::StatusOr<std::optional<RecordDetail>> ShowRecord(
      const RecordId& record) override {
    if (Cancelled()) return Stopping();
    ASSIGN_OR_RETURN(std::optional<RecordInfo> info,
                     backend_->RecordInfoOf(record));
    if (!info.has_value()) return std::optional<RecordDetail>();
    ReadSet reads;
    reads.Add(record, nullptr);
    ASSIGN_OR_RETURN(Snapshot snapshot, backend_->Read(reads));
    RecordDetail out;
    out.info = *std::move(info);
    out.actions = ActionsFrom(snapshot, record);
    return std::optional<RecordDetail>(std::move(out));
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
    for (auto& w : dropped) w->finish(Stopping());
  }

 private:
  // One queued write and what to do with its answer.
  struct Writer {
    WriteRequest request;
    CallOptions call;
    std::function<void(absl::StatusOr<WriteResult>)> finish;
  };

  template <typename Result>
  std::unique_ptr<Writer> MakeWriter(WriteRequest request, CallOptions call,
                                     Done<Result> done) {
    auto w = std::make_unique<Writer>();
    w->request = std::move(request);
    w->call = std::move(call);
    w->finish = [done = std::move(done)](absl::StatusOr<WriteResult> r) {
      if (!r.ok()) {
        done(r.status());
      } else {
        done(std::get<Result>(*std::move(r)));
      }
    };
    return w;
  }

  template <typename Result>
  void Submit(WriteRequest request, Done<Result> done, CallOptions call) {
    std::vector<std::unique_ptr<Writer>> one;
    one.push_back(MakeWriter<Result>(std::move(request), std::move(call),
                                     std::move(done)));
    Enqueue(std::move(one));
  }

  // Queues `writers` together (so that they share a batch when they fit),
  // or refuses them all.
  void Enqueue(std::vector<std::unique_ptr<Writer>> writers) {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
      if (!cancelled && queue_.size() + writers.size() <=
                            static_cast<size_t>(options_.max_queued_writes)) {
        for (auto& w : writers) queue_.push_back(std::move(w));
        return;
      }
    }
    const absl::Status refusal =
        cancelled
            ? Stopping()
            : BusyError("server busy: too many writes waiting; retry later");
    for (auto& w : writers) w->finish(refusal);
  }

  // Runs an asynchronous call and waits for its answer. The answer's state
  // is shared, not on this stack: the answering thread may still be inside
  // set_value when this one wakes and returns.
  template <typename Result, typename Start>
  static absl::StatusOr<Result> Wait(Start start) {
    auto answer = std::make_shared<std::promise<absl::StatusOr<Result>>>();
    auto future = answer->get_future();
    start([answer](absl::StatusOr<Result> r) {
      answer->set_value(std::move(r));
    });
    return future.get();
  }

  bool Cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  // Each committer thread takes the queued writes (up to a batch) whenever
  // it is free, runs them in one transaction and answers them; so batches
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
      batch.clear();
      mu_.Lock();
    }
  }

  // Sweeps, and measures the store, every sweep_every until the store
  // stops; a failed sweep is logged and tried again at the next.
  void SweepLoop() {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        auto stop = [this]()
                        ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
        if (mu_.AwaitWithTimeout(absl::Condition(&stop),
                                 options_.sweep_every)) {
          return;
        }
      }
      absl::StatusOr<SweepResult> r = Sweep(options_.clock());
      if (!r.ok()) {
        LogWarning(absl::StrCat("sweep failed (tried again in ",
                                absl::FormatDuration(options_.sweep_every),
                                "): ", r.status().ToString()));
      }
      absl::StatusOr<StoreSize> size = backend_->Size();
      if (size.ok() && observer_ != nullptr) observer_->OnSize(*size);
    }
  }

  // Decides and writes `writers` in one transaction; the answers, in order,
  // or the transaction's failure.
  absl::StatusOr<std::vector<absl::StatusOr<WriteResult>>> Commit(
      const std::vector<Writer*>& writers) {
    ReadSet reads;
    std::vector<const WriteRequest*> requests;
    absl::Time deadline = absl::InfiniteFuture();
    for (Writer* w : writers) {
      AddReads(w->request, &reads);
      requests.push_back(&w->request);
      deadline = std::min(deadline, w->call.deadline);
    }
    const absl::Time now = options_.clock();
    Decision decision;
    absl::Status s;
    for (int i = 0; i <= options_.max_retries; ++i) {
      s = backend_->Write(
          reads,
          [&](const Snapshot& snapshot) {
            decision = Decide(snapshot, requests, now);
            return decision.writes;
          },
          deadline);
      if (!absl::IsAborted(s) || Cancelled()) break;
    }
    if (!s.ok()) return s;
    return std::move(decision.results);
  }

  void RunBatch(std::vector<std::unique_ptr<Writer>>& batch) {
    // A write whose caller gave up, or whose deadline passed, while it
    // waited is not run.
    std::vector<Writer*> live;
    const absl::Time start = absl::Now();
    for (auto& w : batch) {
      if (w->call.cancelled && w->call.cancelled()) {
        w->finish(absl::CancelledError("cancelled while queued"));
      } else if (w->call.deadline <= start) {
        w->finish(absl::DeadlineExceededError("deadline passed while queued"));
      } else {
        live.push_back(w.get());
      }
    }
    if (live.empty()) return;
    absl::StatusOr<std::vector<absl::StatusOr<WriteResult>>> results =
        Commit(live);
    absl::Status status = results.status();
    if (!status.ok() && !absl::IsUnavailable(status) && !Cancelled() &&
        live.size() > 1) {
      // A statement failed for the batch as a whole (a value the store
      // refuses, say). Each write alone finds out whose it was, so that one
      // bad write never fails its neighbours.
      std::vector<absl::StatusOr<WriteResult>> each;
      for (Writer* w : live) {
        auto one = Commit({w});
        each.push_back(one.ok() ? std::move((*one)[0])
                                : absl::StatusOr<WriteResult>(one.status()));
      }
      results = std::move(each);
      status = absl::OkStatus();
    }
    NoteWrite(status);
    // Observed before the answers, so that what a caller sees next (a
    // metric, a test's hold) already counts its batch.
    if (observer_ != nullptr) {
      observer_->OnBatch(static_cast<int>(live.size()), absl::Now() - start,
                         status);
    }
    for (size_t i = 0; i < live.size(); ++i) {
      live[i]->finish(results.ok() ? std::move((*results)[i])
                                   : absl::StatusOr<WriteResult>(status));
    }
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

  static constexpr absl::Duration kWriteFailureMemory = absl::Seconds(5);

  const std::unique_ptr<Backend> backend_;
  const JournalOptions options_;
  JournalObserver* const observer_;

  absl::Mutex mu_;
  std::deque<std::unique_ptr<Writer>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_write_failure_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_failure_at_ ABSL_GUARDED_BY(mu_);
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
