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
#include <string>

#include "absl/strings/string_view.h"

namespace actionjournal::postgres {

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
// The entries alone (inside a write transaction, after the lock), and a
// read: the entries and the records' rows.
std::string EntriesName(ReadShape shape);
std::string ReadName(ReadShape shape);

// The write statement's parts, for one job ($1), in the order of their
// arrays from $2 on: records inserted (9 arrays), records updated (8), steps
// inserted (14: the blob digest and the write time last), steps upgraded
// (12), completions inserted (9), blob references added (3: digest, bytes,
// count; present too whenever steps are upgraded, to release the
// references those held); then one expected count per part but the last.
constexpr int kWriteKinds = 6;
std::string WriteName(unsigned parts);  // bit i: part i present
// ListRecords' statement for a shape (ListShapeOf).
std::string ListName(unsigned shape);

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
  bool empty() const { return out_.size() == 1; }

 private:
  void Separate();
  std::string out_ = "{";
};

}  // namespace actionjournal::postgres

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_STATEMENTS_H_
