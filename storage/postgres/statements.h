// The PostgreSQL backend's SQL: every statement is prepared on each pooled
// connection, and a batch's rows travel as arrays (unnest($n::type[])), so
// that a batch costs the same round trips whatever its size. A statement
// touches one job's rows, named by its first parameter (a batch of several
// jobs sends one per job), so that on Citus, whose tables are distributed
// by job, it goes to one worker (docs/scale.md).
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_STATEMENTS_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_STATEMENTS_H_

#include <cstdint>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace actionjournal::postgres {

// A PostgreSQL array literal, built element by element, for the
// unnest($n::type[]) parameters. Elements are quoted and escaped by the
// array syntax's rules; the literal goes as one parameter value, never as
// SQL.
class ArrayLiteral {
 public:
  ArrayLiteral& Text(absl::string_view s);
  ArrayLiteral& Bytes(absl::string_view b);  // bytea, hex form
  ArrayLiteral& Int(int64_t v);
  ArrayLiteral& Null();
  std::string Done() const { return out_ + "}"; }
  bool empty() const { return size_ == 0; }
  int size() const { return size_; }  // elements

 private:
  void Separate();
  std::string out_ = "{";
  int size_ = 0;
};

// Whether the database has the citus extension (is a Citus coordinator).
bool CitusInstalled(pqxx::transaction_base& tx);

// Statement name -> SQL.
const std::map<std::string, std::string>& Statements();

// "size" on Citus, whose coordinator's catalog knows nothing of the rows
// and bytes its workers hold (unprepared: it names Citus's functions).
const char* CitusSizeSql();

// Which entries a read asks for: of (record, action) pairs, of whole
// records, or both (the arrays go in that order).
struct ReadShape {
  bool pairs = false;
  bool records = false;
};
// The columns of a read's rows, whatever their kind (a step, a completion
// or the record itself); those of another kind are NULL.
enum ReadColumn {
  kJobId,
  kRecordKey,
  kSeqNum,
  kKind,  // ReadKind
  kActionKey,
  kStepIndex,
  kFunctionId,
  kArgsDigest,
  kStatus,
  kPayload,  // a step's result or a completion's state; NULL: blob missing
  kError,
  kInputTokens,  // then output tokens and micro-USD
  kOutputTokens,
  kMicroUsd,
  kWrittenAt,
  kAttempt,  // the record's, and its fingerprint and completion time
  kInputFingerprint,
  kCompletedAt,
};
enum ReadKind { kStepRow = 0, kCompletionRow = 1, kRecordRow = 2 };
// The columns of lock_records' rows: the record's id (job, key, seq, as a
// read's), then these.
enum LockedColumn {
  kLockedAttempt = 3,  // then the fingerprint and the completion time
  kLockedWrittenAt = 6,
  kLockedCreatedAt,
  kLockedReplays,
  kLockedReplayedAt,
};

// The entries alone (inside a write transaction, after the lock), and a
// read: the entries and the records' rows.
std::string EntriesName(ReadShape shape);
std::string ReadName(ReadShape shape);

// The write statement's parts, for one job ($1).
enum WritePart {
  kInsertRecords,
  kUpdateRecords,
  kInsertSteps,
  kUpgradeSteps,  // a PENDING step's result
  kInsertCompletions,
  // Blob references the entries add; present too whenever steps are
  // upgraded, to release the references those held.
  kAddBlobReferences,
};
constexpr int kWriteKinds = 6;

// One part's rows, as arrays: a member per column, named as the table's
// column. A part's SQL and its parameters both come from its column list
// (WriteColumns), so that a column is added in one place; a part leaves
// the members it does not list empty.
struct WriteRows {
  // Every entry's record, and the records' own columns.
  ArrayLiteral record_key, seq_num;
  ArrayLiteral attempt, input_fingerprint, completed_at_us, replays,
      replayed_at_us, created_at_us;
  // Steps' and completions' columns.
  ArrayLiteral action_key, step_index, function_id, args_digest, status, result,
      error, state;
  ArrayLiteral input_tokens, output_tokens, micro_usd, blob_digest,
      written_at_us;
  // Blobs'.
  ArrayLiteral digest, bytes, refs;
};

struct WriteColumn {
  const char* name;  // the table's column, and WriteRows' member
  const char* type;  // its SQL type
  ArrayLiteral WriteRows::*values;
};
// A part's columns, in the order of its arrays; after the job ($1), each
// present part's arrays in the order of the parts, then one expected row
// count per present part but the blobs'.
const std::vector<WriteColumn>& WriteColumns(WritePart part);
std::string WriteName(unsigned parts);  // bit i: part i present
// Whether `part`'s count of changed rows is checked against an expected one
// (not the blobs': an upsert changes its rows whatever a racing writer did).
inline bool WriteCountChecked(WritePart part) {
  return part != kAddBlobReferences;
}
// ListRecords' statement for a shape (ListShapeOf).
std::string ListName(unsigned shape);

}  // namespace actionjournal::postgres

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_STATEMENTS_H_
