#include "storage/sql_text.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace actionjournal {

std::string SweepRetentionSql(const std::string& now) {
  return absl::StrCat("r.expires_at_us <= ", now);
}

std::string SweepTtlSql(const std::string& now, const std::string& before) {
  return absl::StrCat("r.written_at_us < ", before,
                      " AND (r.expires_at_us IS NULL OR r.expires_at_us > ",
                      now, ")");
}

std::string PruneSelectsSql(const std::string& whole, const std::string& before,
                            const std::string& keys) {
  return absl::StrCat("(", whole, " OR r.completed_at_us < ", before,
                      " OR EXISTS (SELECT 1 FROM ", keys,
                      " WHERE k.record_key = r.record_key AND r.seq_num <= "
                      "k.up_to))");
}

// Per job: records (and those retained), entries, payload bytes, stored
// costs, the blobs (counted once, with what their further references
// would have taken), then the records replayed and their replays. `where`
// filters each table on job_id.
std::string JobStatsSql(const std::string& where) {
  return absl::StrCat(
      "SELECT r.job_id, r.n, r.retained, coalesce(s.n, 0) + coalesce(c.n, "
      "0), coalesce(s.b, 0) + coalesce(c.b, 0) + coalesce(bl.b, 0), "
      "coalesce(s.it, 0) + coalesce(c.it, 0), coalesce(s.ot, 0) + "
      "coalesce(c.ot, 0), coalesce(s.usd, 0) + coalesce(c.usd, 0), "
      "coalesce(bl.n, 0), coalesce(bl.b, 0), coalesce(bl.saved, 0), "
      "r.replayed, r.replays FROM "
      "(SELECT job_id, count(*) AS n, sum(CASE WHEN expires_at_us IS NULL "
      "THEN 0 ELSE 1 END) AS retained, sum(CASE WHEN replays > 0 THEN 1 "
      "ELSE 0 END) AS replayed, sum(replays) AS replays FROM records ",
      where,
      " GROUP BY job_id) r LEFT JOIN (SELECT job_id, count(*) AS n, "
      "sum(length(result) + length(error)) AS b, sum(input_tokens) AS it, "
      "sum(output_tokens) AS ot, sum(micro_usd) AS usd FROM steps ",
      where,
      " GROUP BY job_id) s ON s.job_id = r.job_id LEFT JOIN (SELECT job_id, "
      "count(*) AS n, sum(length(state)) AS b, sum(input_tokens) AS it, "
      "sum(output_tokens) AS ot, sum(micro_usd) AS usd FROM completions ",
      where,
      " GROUP BY job_id) c ON c.job_id = r.job_id LEFT JOIN (SELECT job_id, "
      "count(*) AS n, sum(length(bytes)) AS b, sum((refs - 1) * "
      "length(bytes)) AS saved FROM blobs ",
      where, " GROUP BY job_id) bl ON bl.job_id = r.job_id ORDER BY r.job_id");
}

// One record's entry totals (RecordInfo): actions, entries, payload bytes as
// stored (a blob's in full), the three costs; `job`, `key` and `seq` are
// the SQL that names the record (parameters, or an outer query's columns).
std::string RecordTotalsSql(const std::string& job, const std::string& key,
                            const std::string& seq) {
  const std::string on =
      absl::StrCat("t.job_id = ", job, " AND t.record_key = ", key,
                   " AND t.seq_num = ", seq);
  auto payload = [&job](const char* column) {
    return absl::StrCat(
        "CASE WHEN t.blob_digest IS NULL THEN length(t.", column,
        ") ELSE (SELECT length(b.bytes) FROM blobs b WHERE b.job_id = ", job,
        " AND b.digest = t.blob_digest) END");
  };
  return absl::StrCat(
      "SELECT count(DISTINCT e.action_key) AS actions, count(*) AS entries, "
      "coalesce(sum(e.b), 0) AS bytes, coalesce(sum(e.it), 0) AS it, "
      "coalesce(sum(e.ot), 0) AS ot, coalesce(sum(e.usd), 0) AS usd FROM "
      "(SELECT t.action_key, ",
      payload("result"),
      " + length(t.error) AS b, t.input_tokens AS it, t.output_tokens AS ot, "
      "t.micro_usd AS usd FROM steps t WHERE ",
      on, " UNION ALL SELECT t.action_key, ", payload("state"),
      ", t.input_tokens, t.output_tokens, t.micro_usd FROM completions t "
      "WHERE ",
      on, ") e");
}

// Shape bits: the status (2 bits), then whether there is a key prefix, a
// replayed-only filter and a page position.
unsigned ListShapeOf(const ListRecordsQuery& q) {
  return static_cast<unsigned>(q.status) | (q.key_prefix.empty() ? 0u : 4u) |
         (q.replayed_only ? 8u : 0u) | (q.after.has_value() ? 16u : 0u);
}

absl::Time ListCreatedBefore(const ListRecordsQuery& q) {
  if (!q.after.has_value()) return q.created_before;
  return std::min(q.created_before,
                  q.after->created_at + absl::Microseconds(1));
}

std::string ListRecordsSql(unsigned shape,
                           const std::function<std::string(int)>& param) {
  int n = 1;
  std::string sql = absl::StrCat("r.job_id = ", param(n++));
  if (shape & 4u) {
    // The range lets the planner estimate the prefix; the substring makes
    // it exact.
    const std::string p = param(n++);
    absl::StrAppend(&sql, " AND r.record_key >= ", p,
                    " AND substr(r.record_key, 1, length(", p, ")) = ", p);
  }
  switch (static_cast<ListRecordsQuery::Status>(shape & 3u)) {
    case ListRecordsQuery::Status::kAny:
      break;
    case ListRecordsQuery::Status::kOpen:
      sql += " AND r.completed_at_us IS NULL";
      break;
    case ListRecordsQuery::Status::kCompleted:
      sql += " AND r.completed_at_us IS NOT NULL";
      break;
    case ListRecordsQuery::Status::kRetained:
      sql += " AND r.expires_at_us IS NOT NULL";
      break;
  }
  const std::string from = param(n++), before = param(n++);
  absl::StrAppend(&sql, " AND r.created_at_us >= ", from,
                  " AND r.created_at_us < ", before);
  if (shape & 8u) sql += " AND r.replays > 0";
  if (shape & 16u) {
    // The position's time bounds the index range through `before`
    // (ListCreatedBefore); past it within that time by key and seq.
    const std::string c = param(n++), k = param(n++), s = param(n++);
    absl::StrAppend(&sql, " AND (r.created_at_us < ", c, " OR r.record_key < ",
                    k, " OR (r.record_key = ", k, " AND r.seq_num < ", s, "))");
  }
  absl::StrAppend(&sql,
                  " ORDER BY r.created_at_us DESC, r.record_key DESC, "
                  "r.seq_num DESC LIMIT ",
                  param(n));
  return sql;
}

}  // namespace actionjournal
