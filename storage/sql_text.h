// The SQL the two SQL backends (SQLite, PostgreSQL) share: the same text in
// both dialects, with the dialect's parameters put in. Rules stated here in
// SQL are stated in C++ in storage/rules.h (the memory backend's); the two
// are kept side by side by name.
#ifndef ACTIONJOURNAL_STORAGE_SQL_TEXT_H_
#define ACTIONJOURNAL_STORAGE_SQL_TEXT_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "storage/journal_store.h"

namespace actionjournal {

// PruneSelects (storage/rules.h) in SQL, on records `r` (with r.job_id
// already the request's): `whole` is the SQL of the whole-job flag,
// `before` of the completed-before bound (micros; a bound below every time
// when none), `keys` the SQL of a relation k(record_key, up_to) of the
// request's key bounds.
std::string PruneSelectsSql(const std::string& whole, const std::string& before,
                            const std::string& keys);

// The SQL backends' per-job statistics query (the same in both dialects):
// job_id, records, retained records, entries, payload bytes, the three
// cost sums, blobs, blob bytes and deduplicated bytes; `where` filters every
// table on job_id ("" for every job).
std::string JobStatsSql(const std::string& where);

// SweepReasonOf (storage/rules.h) in SQL, on records `r`: due by its
// retention at `now` (micros), or, not so, last written before `before` (the
// TTL; micros).
std::string SweepRetentionSql(const std::string& now);
std::string SweepTtlSql(const std::string& now, const std::string& before);

// ListRecords' SQL (the same in both dialects) is one statement per shape
// of query, with only the filters it has, so that each plan is an index
// range of records_created (job_id, created_at_us) read backwards:
// kListShapes shapes, numbered by ListShapeOf.
inline constexpr unsigned kListShapes = 32;
unsigned ListShapeOf(const ListRecordsQuery& query);
// The query's upper bound on creation time, the page's position's included,
// so that one bound ends the index range (a planner uses one).
absl::Time ListCreatedBefore(const ListRecordsQuery& query);
// The WHERE (on records `r`), ORDER BY and LIMIT of `shape`; `param(i)` is
// the dialect's i-th parameter. Parameters, in order: the job, the key
// prefix (if any), created from and ListCreatedBefore (always; micros), the
// position a page starts after (created micros, key, seq; if any), the
// limit.
std::string ListRecordsSql(unsigned shape,
                           const std::function<std::string(int)>& param);

// The SQL backends' totals of one record's entries for RecordInfo (the same
// in both dialects): actions, entries, payload bytes, the three cost sums;
// `job`, `key` and `seq` are the SQL that names the record.
std::string RecordTotalsSql(const std::string& job, const std::string& key,
                            const std::string& seq);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_SQL_TEXT_H_
