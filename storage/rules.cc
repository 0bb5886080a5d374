#include "storage/rules.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace actionjournal {
namespace {

// The batch's state as the requests change it.
struct Working {
  Snapshot records;
  // Records whose entries a reset or an invalidation dropped in this batch.
  std::set<RecordId> reset;
  // Actions an invalidation dropped in this batch.
  std::set<std::pair<RecordId, std::string>> dropped;
};

Cost ActionCost(const StoredAction& a) {
  Cost c = a.completion_cost;
  for (const Step& s : a.steps) c += s.cost;
  return c;
}

ActionEntries EntriesOf(const std::string& key, const StoredAction& a) {
  ActionEntries out;
  out.action_key = key;
  out.steps = a.steps;
  out.completion = a.completion;
  out.cost = ActionCost(a);
  return out;
}

RecordStatus StatusOf(const RecordRow& row) {
  return row.completed ? RecordStatus::kCompleted : RecordStatus::kOpen;
}

// The record's row after fencing, or why the request is refused; *created
// when it does not exist yet. Changes nothing: the caller stores the row
// once the request is accepted.
// A takeover by a higher attempt is a replay of the record (its writer
// restarted): counted on the row the takeover writes anyway.
absl::StatusOr<RecordRow> Fence(const RecordSnapshot& rec, uint64_t attempt,
                                const std::string& fingerprint, absl::Time now,
                                bool* created) {
  *created = !rec.row.has_value();
  if (*created) {
    RecordRow fresh;
    fresh.attempt = attempt;
    fresh.input_fingerprint = fingerprint;
    fresh.created_at = now;
    return fresh;
  }
  RecordRow row = *rec.row;
  if (attempt != 0 && attempt < row.attempt)
    return FencedError(attempt, row.attempt);
  if (attempt > row.attempt) {
    row.attempt = attempt;
    ++row.replays;
    row.replayed_at = now;
  }
  return row;
}

// Whether fencing `rec` into `row` took it over (a replay began).
bool TookOver(const RecordSnapshot& rec, const RecordRow& row) {
  return rec.row.has_value() && row.replays != rec.row->replays;
}

absl::StatusOr<BeginResult> ApplyBegin(Working& w, const BeginRequest& req,
                                       absl::Time now) {
  RecordSnapshot& rec = w.records[req.record];
  bool created = false;
  absl::StatusOr<RecordRow> fenced =
      Fence(rec, req.attempt, req.input_fingerprint, now, &created);
  if (!fenced.ok()) return fenced.status();
  RecordRow row = *std::move(fenced);
  BeginResult result;
  result.attempt = row.attempt;
  result.replayed = TookOver(rec, row);
  if (created) {
    rec.row = row;
    result.status = RecordStatus::kNew;
    return result;
  }
  if (!req.input_fingerprint.empty()) {
    if (row.input_fingerprint.empty()) {
      row.input_fingerprint = req.input_fingerprint;
    } else if (row.input_fingerprint != req.input_fingerprint) {
      result.input_mismatch = true;
      if (req.reset_on_mismatch) {
        rec.actions.clear();
        w.reset.insert(req.record);
        row.input_fingerprint = req.input_fingerprint;
        row.completed = false;
        row.completed_at = absl::InfinitePast();
        result.reset = true;
      }
    }
  }
  rec.row = row;
  result.status = StatusOf(row);
  for (const auto& [key, action] : rec.actions) {
    result.actions.push_back(EntriesOf(key, action));
  }
  return result;
}

absl::Status RecordCompleted() {
  return absl::FailedPreconditionError(
      "record is completed; no further appends");
}

absl::StatusOr<AppendResult> ApplyAppend(Working& w, const AppendRequest& req,
                                         absl::Time now) {
  RecordSnapshot& rec = w.records[req.record];
  bool created = false;
  absl::StatusOr<RecordRow> fenced = Fence(rec, req.attempt, "", now, &created);
  if (!fenced.ok()) return fenced.status();
  const RecordRow row = *std::move(fenced);
  auto found = rec.actions.find(req.action_key);
  static const StoredAction kNone;
  const StoredAction& action =
      found == rec.actions.end() ? kNone : found->second;

  // Every refusal comes before the first change, so that a refused request
  // changes nothing; an accepted one changes the working state in place.
  AppendResult result;
  result.replayed = TookOver(rec, row);
  if (const auto* completion = std::get_if<Completion>(&req.entry)) {
    if (action.completion.has_value()) {
      result.outcome = *action.completion == *completion
                           ? AppendOutcome::kDuplicate
                           : AppendOutcome::kConflict;
      result.stored = *action.completion;
      result.stored_cost = ActionCost(action);
      rec.row = row;
      return result;
    }
    if (row.completed) return RecordCompleted();
    rec.row = row;
    StoredAction& target = rec.actions[req.action_key];
    target.completion = *completion;
    target.completion->written_at = now;
    target.completion_cost = req.cost;
    result.outcome = AppendOutcome::kAppended;
    result.stored = *completion;
    result.stored_cost = ActionCost(target);
    return result;
  }

  Step step = std::get<Step>(req.entry);
  step.cost = req.cost;
  step.written_at = now;
  const Step* stored =
      step.index < action.steps.size() ? &action.steps[step.index] : nullptr;
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
    rec.row = row;
    return result;
  }
  if (row.completed) return RecordCompleted();
  if (action.completion.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("action '", req.action_key,
                     "' is completed; its steps can no longer change"));
  }
  if (stored == nullptr && step.index > action.steps.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("step.index: gap; action '", req.action_key, "' has ",
                     action.steps.size(), " steps, so the next index is ",
                     action.steps.size(), ", not ", step.index));
  }
  rec.row = row;
  if (stored != nullptr &&
      req.conflict_policy != ConflictPolicy::kReplaceFromHere) {
    if (same_call && stored->status == StepStatus::kPending) {
      result.outcome = AppendOutcome::kUpgraded;
      result.stored = step;
      result.stored_cost = step.cost;
      rec.actions[req.action_key].steps[step.index] = std::move(step);
    } else {
      result.outcome = AppendOutcome::kConflict;
      result.stored = *stored;
      result.stored_cost = stored->cost;
    }
    return result;
  }
  StoredAction& target = rec.actions[req.action_key];
  target.steps.resize(step.index);  // a replace drops this index and later
  result.outcome = AppendOutcome::kAppended;
  result.stored = step;
  result.stored_cost = step.cost;
  target.steps.push_back(std::move(step));
  return result;
}

absl::StatusOr<CompleteResult> ApplyComplete(Working& w,
                                             const CompleteRequest& req,
                                             absl::Time now) {
  RecordSnapshot& rec = w.records[req.record];
  bool created = false;
  absl::StatusOr<RecordRow> fenced = Fence(rec, req.attempt, "", now, &created);
  if (!fenced.ok()) return fenced.status();
  RecordRow row = *std::move(fenced);
  CompleteResult result;
  result.replayed = TookOver(rec, row);
  if (row.completed) {
    result.completed_at = row.completed_at;
  } else {
    row.completed = true;
    row.completed_at = now;
    result.newly_completed = true;
    result.completed_at = now;
  }
  rec.row = row;
  return result;
}

absl::StatusOr<InvalidateResult> ApplyInvalidate(Working& w,
                                                 const InvalidateRequest& req) {
  RecordSnapshot& rec = w.records[req.record];
  if (!rec.row.has_value())
    return absl::NotFoundError("record: no such record");
  RecordRow row = *rec.row;
  if (row.completed && !req.force) {
    return absl::FailedPreconditionError(
        "record is completed; invalidating it needs force");
  }
  InvalidateResult result;
  if (req.action_key.empty()) {
    for (const auto& [key, a] : rec.actions)
      result.entries_deleted += a.steps.size() + a.completion.has_value();
    rec.actions.clear();
    w.reset.insert(req.record);
  } else {
    auto a = rec.actions.find(req.action_key);
    if (a == rec.actions.end()) {
      return absl::NotFoundError(absl::StrCat(
          "action_key: the record holds no action '", req.action_key, "'"));
    }
    result.entries_deleted =
        a->second.steps.size() + a->second.completion.has_value();
    rec.actions.erase(a);
    w.dropped.insert({req.record, req.action_key});
  }
  if (row.completed) {
    row.completed = false;
    row.completed_at = absl::InfinitePast();
    result.reopened = true;
  }
  rec.row = row;
  return result;
}

// Whether `to` is `from` upgraded in place: a PENDING step become terminal
// for the same call.
bool IsUpgrade(const Step& from, const Step& to) {
  return from.status == StepStatus::kPending &&
         to.status != StepStatus::kPending &&
         from.function_id == to.function_id &&
         from.args_digest == to.args_digest;
}

bool SameRow(const Step& a, const Step& b) {
  return a == b && a.cost == b.cost;
}

uint64_t EntryCount(const RecordSnapshot& rec) {
  uint64_t n = 0;
  for (const auto& [key, a] : rec.actions)
    n += a.steps.size() + a.completion.has_value();
  return n;
}

// How many entry rows `w` writes or deletes so far.
size_t EntryWrites(const WriteSet& w) {
  return w.entry_deletes.size() + w.step_deletes.size() + w.steps.size() +
         w.completions.size();
}

// The rows that turn one action's stored state into its new one.
void DiffAction(const RecordId& id, const std::string& key,
                const StoredAction& before, const StoredAction& after,
                WriteSet* out) {
  const size_t n = before.steps.size(), m = after.steps.size();
  size_t i = 0;
  for (; i < std::min(n, m); ++i) {
    const Step& b = before.steps[i];
    const Step& a = after.steps[i];
    if (SameRow(b, a)) continue;
    if (!IsUpgrade(b, a)) break;
    out->steps.push_back({id, key, a, /*upgrade=*/true});
  }
  if (i < n)
    out->step_deletes.push_back({id, key, static_cast<uint32_t>(i), n - i});
  for (; i < m; ++i)
    out->steps.push_back({id, key, after.steps[i], /*upgrade=*/false});
  if (!before.completion.has_value() && after.completion.has_value()) {
    out->completions.push_back(
        {id, key, *after.completion, after.completion_cost});
  }
}

WriteSet Diff(const Snapshot& before, const Working& after, absl::Time now) {
  WriteSet out;
  static const RecordSnapshot kAbsent;
  static const StoredAction kEmpty;
  for (const auto& [id, rec] : after.records) {
    auto it = before.find(id);
    const RecordSnapshot& old = it == before.end() ? kAbsent : it->second;
    const size_t entry_writes = EntryWrites(out);
    const bool reset = after.reset.count(id) != 0;
    if (reset) {
      const uint64_t n = EntryCount(old);
      if (n > 0) out.entry_deletes.push_back({id, n});
    }
    // Without a reset only an invalidation drops an action's rows; a
    // replace always writes its own step, so the actions present after
    // cover every other change.
    if (!reset) {
      for (const auto& [key, action] : old.actions) {
        if (after.dropped.count({id, key}) == 0) continue;
        if (!action.steps.empty()) {
          out.step_deletes.push_back({id, key, 0, action.steps.size()});
        }
        if (action.completion.has_value()) {
          out.completion_deletes.push_back({id, key});
        }
      }
    }
    for (const auto& [key, action] : rec.actions) {
      auto o = old.actions.find(key);
      const StoredAction& prior =
          reset || o == old.actions.end() ? kEmpty : o->second;
      DiffAction(id, key, prior, action, &out);
    }
    if (!rec.row.has_value()) continue;
    RecordRow row = *rec.row;
    const bool changed = !old.row.has_value() || !(row == *old.row);
    const bool touched = EntryWrites(out) != entry_writes;
    if (changed || (touched && now - row.written_at >= kTouchEvery)) {
      row.written_at = now;
      out.records.push_back({id, std::move(row), !old.row.has_value()});
    }
  }
  return out;
}

}  // namespace

void AddReads(const WriteRequest& request, ReadSet* reads) {
  if (const auto* b = std::get_if<BeginRequest>(&request)) {
    reads->Add(b->record, nullptr);
  } else if (const auto* a = std::get_if<AppendRequest>(&request)) {
    reads->Add(a->record, &a->action_key);
  } else if (const auto* i = std::get_if<InvalidateRequest>(&request)) {
    reads->Add(i->record, i->action_key.empty() ? nullptr : &i->action_key);
  } else {
    reads->AddRecord(std::get<CompleteRequest>(request).record);
  }
}

Decision Decide(const Snapshot& snapshot,
                const std::vector<const WriteRequest*>& requests,
                absl::Time now) {
  Working w{snapshot, {}, {}};
  Decision d;
  d.results.reserve(requests.size());
  for (const WriteRequest* r : requests) {
    if (const auto* b = std::get_if<BeginRequest>(r)) {
      auto out = ApplyBegin(w, *b, now);
      d.results.push_back(out.ok()
                              ? absl::StatusOr<WriteResult>(*std::move(out))
                              : out.status());
    } else if (const auto* a = std::get_if<AppendRequest>(r)) {
      auto out = ApplyAppend(w, *a, now);
      d.results.push_back(out.ok()
                              ? absl::StatusOr<WriteResult>(*std::move(out))
                              : out.status());
    } else if (const auto* i = std::get_if<InvalidateRequest>(r)) {
      auto out = ApplyInvalidate(w, *i);
      d.results.push_back(out.ok()
                              ? absl::StatusOr<WriteResult>(*std::move(out))
                              : out.status());
    } else {
      auto out = ApplyComplete(w, std::get<CompleteRequest>(*r), now);
      d.results.push_back(out.ok()
                              ? absl::StatusOr<WriteResult>(*std::move(out))
                              : out.status());
    }
  }
  d.writes = Diff(snapshot, w, now);
  return d;
}

LookupResult LookupFrom(const Snapshot& snapshot, const RecordId& record,
                        const std::string& action_key) {
  LookupResult out;
  auto it = snapshot.find(record);
  if (it == snapshot.end() || !it->second.row.has_value()) return out;
  out.record_status = StatusOf(*it->second.row);
  auto a = it->second.actions.find(action_key);
  if (a != it->second.actions.end())
    out.action = EntriesOf(action_key, a->second);
  return out;
}

std::vector<ActionEntries> ActionsFrom(const Snapshot& snapshot,
                                       const RecordId& record) {
  std::vector<ActionEntries> out;
  auto it = snapshot.find(record);
  if (it == snapshot.end()) return out;
  for (const auto& [key, action] : it->second.actions) {
    out.push_back(EntriesOf(key, action));
  }
  return out;
}

std::optional<absl::StatusOr<BeginResult>> BeginWithoutWrites(
    const Snapshot& snapshot, const BeginRequest& req) {
  auto it = snapshot.find(req.record);
  if (it == snapshot.end() || !it->second.row.has_value()) return std::nullopt;
  const RecordSnapshot& rec = it->second;
  const RecordRow& row = *rec.row;
  if (req.attempt != 0 && req.attempt < row.attempt) {
    return absl::StatusOr<BeginResult>(FencedError(req.attempt, row.attempt));
  }
  if (req.attempt > row.attempt) return std::nullopt;
  BeginResult result;
  if (!req.input_fingerprint.empty()) {
    if (row.input_fingerprint.empty()) return std::nullopt;  // to be stored
    if (row.input_fingerprint != req.input_fingerprint) {
      if (req.reset_on_mismatch) return std::nullopt;
      result.input_mismatch = true;
    }
  }
  result.attempt = row.attempt;
  result.status = StatusOf(row);
  for (const auto& [key, action] : rec.actions) {
    result.actions.push_back(EntriesOf(key, action));
  }
  return absl::StatusOr<BeginResult>(std::move(result));
}

bool PruneSelects(const PruneRequest& req, const RecordId& id,
                  const RecordRow& row) {
  if (id.job_id != req.job_id) return false;
  if (req.whole_job) return true;
  if (req.completed_before.has_value() && row.completed &&
      row.completed_at < *req.completed_before) {
    return true;
  }
  for (const auto& [key, up_to] : req.keys) {
    if (key == id.record_key && id.seq_num <= up_to) return true;
  }
  return false;
}

SweepReason SweepReasonOf(std::optional<absl::Time> expires_at,
                          absl::Time written_at, absl::Time now,
                          absl::Time written_before) {
  if (expires_at.has_value() && *expires_at <= now) {
    return SweepReason::kRetention;
  }
  return written_at < written_before ? SweepReason::kTtl : SweepReason::kKeep;
}

}  // namespace actionjournal
