// The journal's rules (DESIGN.md section 3) as pure decisions: given a
// snapshot of the records a batch touches and the batch's requests in
// order, decide each request's answer and the rows to write. No I/O, no
// locks, no clock (the caller passes `now`); the same on every backend, and
// tested without one (tests/storage/rules_test.cc).
#ifndef ACTIONJOURNAL_STORAGE_RULES_H_
#define ACTIONJOURNAL_STORAGE_RULES_H_

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/backend.h"
#include "storage/journal_store.h"

namespace actionjournal {

using WriteRequest = std::variant<BeginRequest, AppendRequest, CompleteRequest,
                                  InvalidateRequest>;
using WriteResult =
    std::variant<BeginResult, AppendResult, CompleteResult, InvalidateResult>;

// Adds to `reads` what deciding `request` needs: its record, with every
// action (BeginRecord, an invalidation of the record) or its own action's
// entries only (AppendAction, an invalidation of the action), so
// that an append costs the same in a record of ten thousand steps as in an
// empty one.
void AddReads(const WriteRequest& request, ReadSet* reads);

// A record whose entries change is marked written (RecordRow::written_at,
// what the record TTL counts from) when its row changes anyway, or when its
// mark is older than this: an append into a live record costs no extra row
// write, and the TTL counts from the last write to within a minute.
inline constexpr absl::Duration kTouchEvery = absl::Minutes(1);

struct Decision {
  // One per request, in order: its answer, or why it was refused (a refused
  // request writes nothing).
  std::vector<absl::StatusOr<WriteResult>> results;
  // Every row the batch changes: the difference between `snapshot` and the
  // state after the accepted requests, each write stating the rows it
  // expects to change.
  WriteSet writes;
};

// Decides `requests` in order against `snapshot`, which must hold what
// AddReads asked for each; later requests see earlier ones' effects.
// Completion and write times are `now`.
Decision Decide(const Snapshot& snapshot,
                const std::vector<const WriteRequest*>& requests,
                absl::Time now);

// LookupAction's answer from a snapshot of the record with the action.
LookupResult LookupFrom(const Snapshot& snapshot, const RecordId& record,
                        const std::string& action_key);

// Every action of `record` in a snapshot of it with every action, by key.
std::vector<ActionEntries> ActionsFrom(const Snapshot& snapshot,
                                       const RecordId& record);

// BeginRecord's answer from a snapshot of the record with every action,
// when the request changes nothing (the record exists, the attempt does not
// rise, no fingerprint to store, no reset): then it needs no transaction.
// nullopt when it must go through a write.
std::optional<absl::StatusOr<BeginResult>> BeginWithoutWrites(
    const Snapshot& snapshot, const BeginRequest& request);

// Whether a Prune takes the record `id` (whose row is `row`): the request's
// job, and the whole job, or completed before the request's bound, or at or
// below its key's bound. The SQL backends state it as PruneSelectsSql
// (storage/sql_text.h).
bool PruneSelects(const PruneRequest& req, const RecordId& id,
                  const RecordRow& row);

// Why a sweep at `now` deletes a record, if it does: a Prune's retention
// set it to expire (`expires_at`) by now, or, not so, it was last written
// before `written_before` (the TTL). The SQL backends state it as
// SweepRetentionSql and SweepTtlSql (storage/sql_text.h).
enum class SweepReason { kKeep, kRetention, kTtl };
SweepReason SweepReasonOf(std::optional<absl::Time> expires_at,
                          absl::Time written_at, absl::Time now,
                          absl::Time written_before);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_RULES_H_
