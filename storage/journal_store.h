// The journal's storage interface and its value types. No database and no
// gRPC here: backends live in their own files, the server converts protos.
#ifndef ACTIONJOURNAL_STORAGE_JOURNAL_STORE_H_
#define ACTIONJOURNAL_STORAGE_JOURNAL_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace actionjournal {

// (job_id, record_key, seq_num): one input event for one key.
struct RecordId {
  std::string job_id;
  std::string record_key;  // bytes
  int64_t seq_num = 0;

  friend bool operator==(const RecordId& a, const RecordId& b) {
    return a.job_id == b.job_id && a.record_key == b.record_key &&
           a.seq_num == b.seq_num;
  }
  friend bool operator<(const RecordId& a, const RecordId& b) {
    return std::tie(a.job_id, a.record_key, a.seq_num) <
           std::tie(b.job_id, b.record_key, b.seq_num);
  }
};

// What an entry cost when it ran.
struct Cost {
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t micro_usd = 0;  // millionths of a US dollar

  Cost& operator+=(const Cost& o) {
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    micro_usd += o.micro_usd;
    return *this;
  }
  friend bool operator==(const Cost& a, const Cost& b) {
    return a.input_tokens == b.input_tokens &&
           a.output_tokens == b.output_tokens && a.micro_usd == b.micro_usd;
  }
};

enum class StepStatus { kPending = 1, kSucceeded = 2, kFailed = 3 };

// One durable call inside an action.
struct Step {
  uint32_t index = 0;
  std::string function_id;
  std::string args_digest;  // bytes
  StepStatus status = StepStatus::kPending;
  std::string result;  // bytes; SUCCEEDED only
  std::string error;   // bytes; FAILED only
  // What it cost, and when it was written (set by the rules; InfinitePast
  // for rows stored before the journal kept it). Filled by reads, not part
  // of the step's identity (== and the conflict rules ignore them).
  Cost cost;
  absl::Time written_at = absl::InfinitePast();

  friend bool operator==(const Step& a, const Step& b) {
    return a.index == b.index && a.function_id == b.function_id &&
           a.args_digest == b.args_digest && a.status == b.status &&
           a.result == b.result && a.error == b.error;
  }
};

// The final state of an action; opaque bytes.
struct Completion {
  std::string state;
  // When it was written, as Step::written_at; not part of its identity.
  absl::Time written_at = absl::InfinitePast();
  friend bool operator==(const Completion& a, const Completion& b) {
    return a.state == b.state;
  }
};

// Everything journaled for one action.
struct ActionEntries {
  std::string action_key;
  std::vector<Step> steps;  // by index, contiguous from 0
  std::optional<Completion> completion;
  Cost cost;  // sum over the steps and the completion
};

enum class RecordStatus { kNew = 1, kOpen = 2, kCompleted = 3 };

struct BeginRequest {
  RecordId record;
  uint64_t attempt = 0;           // 0 = not fenced
  std::string input_fingerprint;  // empty = not checked
  bool reset_on_mismatch = false;
};

// `replayed` in the write results: this call's higher attempt took an
// existing record over, so a replay of it began (counted on the record).

struct BeginResult {
  RecordStatus status = RecordStatus::kNew;
  uint64_t attempt = 0;
  bool replayed = false;
  bool input_mismatch = false;
  bool reset = false;
  std::vector<ActionEntries> actions;  // by action_key
};

enum class ConflictPolicy { kKeepStored = 1, kReplaceFromHere = 2 };

using Entry = std::variant<Step, Completion>;

struct AppendRequest {
  RecordId record;
  std::string action_key;
  uint64_t attempt = 0;
  Entry entry;
  Cost cost;
  ConflictPolicy conflict_policy = ConflictPolicy::kKeepStored;
};

enum class AppendOutcome { kAppended = 1, kDuplicate, kUpgraded, kConflict };

struct AppendResult {
  AppendOutcome outcome = AppendOutcome::kAppended;
  Entry stored;  // the entry stored under the identity after the call
  // What a replay of `stored` saves: a step's own cost; for a completion,
  // the whole action's (steps and completion).
  Cost stored_cost;
  bool replayed = false;
};

struct LookupResult {
  std::optional<RecordStatus> record_status;  // nullopt: no such record
  std::optional<ActionEntries> action;        // nullopt: not found
};

struct CompleteRequest {
  RecordId record;
  uint64_t attempt = 0;
};

struct CompleteResult {
  bool newly_completed = false;
  bool replayed = false;
  absl::Time completed_at;
};

// Drops what is journaled for one action of a record, or for the whole
// record, so that the next replay runs it again (an operator's repair after
// a bad result was stored). The record stays, with its attempt; a completed
// record is refused unless `force`, which reopens it.
struct InvalidateRequest {
  RecordId record;
  std::string action_key;  // empty: every action of the record
  bool force = false;
};

struct InvalidateResult {
  uint64_t entries_deleted = 0;
  bool reopened = false;  // the record was completed and is open again
};

struct PruneRequest {
  std::string job_id;
  // (record_key, up_to_seq_num): records of that key with seq_num <= bound.
  std::vector<std::pair<std::string, int64_t>> keys;
  // Completed records completed strictly before this time.
  std::optional<absl::Time> completed_before;
  bool whole_job = false;
  // Zero deletes the selected records now. Otherwise they are kept, and
  // answered as before, until the retention has passed (a restore from an
  // older checkpoint replays from them); then a sweep deletes them. A record
  // already due earlier keeps its earlier time.
  absl::Duration retention = absl::ZeroDuration();
};

struct PruneResult {
  uint64_t records_deleted = 0;
  uint64_t entries_deleted = 0;   // steps + completions
  uint64_t records_retained = 0;  // kept until their retention passes
};

// What a sweep deleted: records whose prune retention passed, records
// unwritten for longer than the TTL, and their entries.
struct SweepResult {
  uint64_t retention_records = 0;
  uint64_t ttl_records = 0;
  uint64_t entries = 0;

  SweepResult& operator+=(const SweepResult& o) {
    retention_records += o.retention_records;
    ttl_records += o.ttl_records;
    entries += o.entries;
    return *this;
  }
};

// What one job's journal holds, counted from the database.
struct JobStats {
  std::string job_id;
  uint64_t records = 0;
  uint64_t retained_records = 0;  // pruned, kept until their retention passes
  uint64_t entries = 0;           // steps + completions
  // Step results and errors, states, as stored (compressed), each payload
  // stored once per job (a blob) counted once.
  uint64_t payload_bytes = 0;
  // Payloads stored once per job (storage/dedup.h) and their bytes (part of
  // payload_bytes); what storing them once saved: the bytes their further
  // references would have taken.
  uint64_t blobs = 0;
  uint64_t blob_bytes = 0;
  uint64_t deduplicated_bytes = 0;
  // The costs stored with the entries: what replaying every record instead
  // of running its actions again saves.
  Cost cost;
  // Records replayed at least once, and their replays in all.
  uint64_t replayed_records = 0;
  uint64_t replays = 0;
};

// The store's size, cheaply (estimates where exact counts would scan).
struct StoreSize {
  uint64_t records = 0;
  uint64_t bytes = 0;  // on disk, tables and indexes
  // The last write of the oldest record no Prune selected (InfiniteFuture:
  // none).
  absl::Time oldest_unpruned_written = absl::InfiniteFuture();
};

// A record as the read APIs show it (DESIGN 3, "Reading for people and
// tools"): its row and what its entries add up to.
struct RecordInfo {
  RecordId id;
  uint64_t attempt = 0;
  bool completed = false;
  absl::Time completed_at = absl::InfinitePast();
  absl::Time created_at = absl::InfinitePast();
  absl::Time written_at = absl::InfinitePast();  // to within kTouchEvery
  // Replays: how many times a writer with a higher attempt took the record
  // over (each one a replay of it after a restart), and when the last did.
  uint64_t replays = 0;
  absl::Time replayed_at = absl::InfinitePast();
  // Pruned with a retention: kept, and answered to replays, until then.
  std::optional<absl::Time> retained_until;
  uint64_t actions = 0;
  uint64_t entries = 0;        // steps + completions
  uint64_t payload_bytes = 0;  // as stored; a shared blob counted in full
  Cost cost;
};

// Which of a job's records ListRecords answers, newest first (by creation
// time, then record key and sequence number, descending).
struct ListRecordsQuery {
  enum class Status { kAny, kOpen, kCompleted, kRetained };

  std::string job_id;
  std::string key_prefix;  // bytes; empty: every key
  Status status = Status::kAny;
  absl::Time created_from = absl::InfinitePast();      // inclusive
  absl::Time created_before = absl::InfiniteFuture();  // exclusive
  bool replayed_only = false;  // records replayed at least once
  // Where the page starts: strictly after this position in the order above
  // (the last row of the previous page).
  struct After {
    absl::Time created_at;
    std::string record_key;
    int64_t seq_num = 0;
  };
  std::optional<After> after;
  int limit = 50;
};

// One record whole, read without taking it over (no attempt, no write).
struct RecordDetail {
  RecordInfo info;
  std::vector<ActionEntries> actions;  // by action_key
};

// The FAILED_PRECONDITION a fenced write answers (a newer attempt owns the
// record), marked so that callers can tell it from the other preconditions.
absl::Status FencedError(uint64_t attempt, uint64_t stored_attempt);
bool IsFenced(const absl::Status& status);

// A refusal that the same request, sent again later, may get past: a full
// queue (RESOURCE_EXHAUSTED) or a race lost (ABORTED). The server tells
// clients so on the wire; a RESOURCE_EXHAUSTED without the mark (a request
// over a limit) must never be retried.
absl::Status BusyError(absl::string_view message);
// True for BusyError's, and for every UNAVAILABLE and ABORTED.
bool IsRetryable(const absl::Status& status);

// The journal. Implementations are thread-safe. Every write is atomic and
// durable when it returns OK; a failed call changed nothing.
//
// Errors shared by every method: UNAVAILABLE when the store cannot be reached
// (retry is safe), ABORTED when a transaction lost a race and may be redone,
// INTERNAL for a store fault. Requests are assumed valid (the server checks
// limits and shapes before calling).
class JournalStore {
 public:
  virtual ~JournalStore() = default;

  // Creates the record if absent, applies fencing and the fingerprint check,
  // and returns every action journaled for it. FAILED_PRECONDITION
  // ("fenced") when request.attempt is below the stored attempt.
  virtual absl::StatusOr<BeginResult> BeginRecord(
      const BeginRequest& request) = 0;

  // Journals one entry under the rules of DESIGN.md section 3 and returns
  // the outcome with the stored entry. FAILED_PRECONDITION when fenced, when
  // the record or action is completed, or when the step index leaves a gap.
  virtual absl::StatusOr<AppendResult> AppendAction(
      const AppendRequest& request) = 0;

  // Reads one action. A miss is an OK result with `action` unset.
  virtual absl::StatusOr<LookupResult> LookupAction(
      const RecordId& record, const std::string& action_key) = 0;

  // Marks the record completed (creating it if absent); idempotent.
  // FAILED_PRECONDITION when fenced.
  virtual absl::StatusOr<CompleteResult> CompleteRecord(
      const CompleteRequest& request) = 0;

  // What bounds one call: a write whose deadline passed, or whose caller
  // gave up, while it waited is not run (DEADLINE_EXCEEDED, CANCELLED); the
  // store's statements are bounded by what remains of the deadline.
  struct CallOptions {
    absl::Time deadline = absl::InfiniteFuture();
    std::function<bool()> cancelled;  // may be empty; any thread may call it
  };

  // The three writes, asynchronous: `done` runs exactly once with what the
  // synchronous call would return, after the write committed (or failed),
  // on a thread of the store's; it must not block. RESOURCE_EXHAUSTED when
  // too many writes wait. BeginRecordAsync may read on the caller's thread
  // first (a BeginRecord that changes nothing is a read), so call it where
  // blocking is allowed. These defaults run the synchronous call on the
  // caller's thread.
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;
  virtual void BeginRecordAsync(BeginRequest request, Done<BeginResult> done,
                                CallOptions call) {
    (void)call;
    done(BeginRecord(request));
  }
  virtual void AppendActionAsync(AppendRequest request, Done<AppendResult> done,
                                 CallOptions call) {
    (void)call;
    done(AppendAction(request));
  }
  // Several appends that enter group commit together (AppendActions):
  // `done` runs once with one answer per request, in order; each request is
  // decided on its own.
  virtual void AppendActionsAsync(
      std::vector<AppendRequest> requests,
      Done<std::vector<absl::StatusOr<AppendResult>>> done, CallOptions call) {
    (void)call;
    std::vector<absl::StatusOr<AppendResult>> out;
    for (const AppendRequest& r : requests) out.push_back(AppendAction(r));
    done(absl::StatusOr<std::vector<absl::StatusOr<AppendResult>>>(
        std::move(out)));
  }
  virtual void CompleteRecordAsync(CompleteRequest request,
                                   Done<CompleteResult> done,
                                   CallOptions call) {
    (void)call;
    done(CompleteRecord(request));
  }

  // Deletes the records the request selects, with all their entries.
  virtual absl::StatusOr<PruneResult> Prune(const PruneRequest& request) = 0;

  // Drops an action's or a record's entries (InvalidateRequest). NOT_FOUND
  // when the record, or the action, does not exist; FAILED_PRECONDITION
  // when the record is completed and the request does not force it.
  virtual absl::StatusOr<InvalidateResult> Invalidate(
      const InvalidateRequest& request) {
    (void)request;
    return absl::UnimplementedError("invalidate");
  }

  // Deletes, in bounded transactions, every record due at `now`: pruned
  // ones whose retention has passed and, with a record TTL, those last
  // written more than the TTL before `now`. The store also sweeps by itself
  // when configured to (JournalOptions); this is for tests and tools.
  virtual absl::StatusOr<SweepResult> Sweep(absl::Time now) {
    (void)now;
    return absl::UnimplementedError("sweep");
  }

  // Per job (every job when `job_id` is empty, by job id), from the
  // database: reads the job's rows, so an operator's call, not a hot path.
  virtual absl::StatusOr<std::vector<JobStats>> Stats(
      const std::string& job_id) {
    (void)job_id;
    return absl::UnimplementedError("stats");
  }

  // The read APIs: read-only, never take a record over. ListRecords answers
  // at most query.limit records; ShowRecord's nullopt: no such record.
  virtual absl::StatusOr<std::vector<RecordInfo>> ListRecords(
      const ListRecordsQuery& query) {
    (void)query;
    return absl::UnimplementedError("list records");
  }
  virtual absl::StatusOr<std::optional<RecordDetail>> ShowRecord(
      const RecordId& record) {
    (void)record;
    return absl::UnimplementedError("show record");
  }

  // A fresh attempt for the job (DESIGN 3): >= 1, above every attempt issued
  // for it before and, the first time, above every record's stored attempt.
  // The counter is the store's, never deleted by Prune, sweeps or TTL.
  virtual absl::StatusOr<uint64_t> IssueAttempt(const std::string& job_id) {
    (void)job_id;
    return absl::UnimplementedError("issue attempt");
  }

  // OK when the store answers a trivial query and its last write did not
  // fail for want of the store (a full disk, say) in the last few seconds.
  virtual absl::Status Ping() = 0;

  // For a stopping server whose grace has passed: every queued write and
  // every call under way ends soon with UNAVAILABLE, nothing of theirs
  // committed; later calls are refused. Thread-safe.
  virtual void Cancel() {}
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_JOURNAL_STORE_H_
