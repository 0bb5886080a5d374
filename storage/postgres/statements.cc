#include "storage/postgres/statements.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace actionjournal::postgres {
namespace {

// The columns every read returns, whatever the row's kind: 0 a step, 1 a
// completion, 2 the record itself (attempt in step_index, fingerprint in
// args_digest, completion time in the first cost column).
constexpr char kStepColumns[] =
    "t.job_id, t.record_key, t.seq_num, 0, t.action_key, t.step_index, "
    "t.function_id, t.args_digest, t.status, t.result, t.error, "
    "t.input_tokens, t.output_tokens, t.micro_usd";
constexpr char kCompletionColumns[] =
    "t.job_id, t.record_key, t.seq_num, 1, t.action_key, 0::bigint, ''::text, "
    "''::bytea, 0::smallint, t.state, ''::bytea, t.input_tokens, "
    "t.output_tokens, t.micro_usd";

// Entries of (record, action) pairs ($a..$a+3) and of whole records
// ($b..$b+2). Each branch probes the primary key once per array element (a
// LATERAL subquery, so a nested loop whatever the planner guesses of the
// arrays' length), so that a lookup touches its own action's rows only
// (tests/storage/plan_test.cc).
std::string EntriesSql(int a, int b) {
  const std::string pairs =
      absl::StrCat("unnest($", a, "::text[], $", a + 1, "::bytea[], $", a + 2,
                   "::bigint[], $", a + 3,
                   "::text[]) AS u(job_id, record_key, seq_num, action_key)");
  const std::string records =
      absl::StrCat("unnest($", b, "::text[], $", b + 1, "::bytea[], $", b + 2,
                   "::bigint[]) AS u(job_id, record_key, seq_num)");
  const char* on_record =
      "t.job_id = u.job_id AND t.record_key = u.record_key AND t.seq_num = "
      "u.seq_num";
  auto branch = [&](const char* columns, const std::string& from,
                    const char* table, const char* extra) {
    // OFFSET 0 keeps the subquery from being flattened into a hash join.
    return absl::StrCat("SELECT ", columns, " FROM ", from,
                        " CROSS JOIN LATERAL (SELECT * FROM ", table,
                        " t WHERE ", on_record, extra, " OFFSET 0) t");
  };
  return absl::StrCat(
      branch(kStepColumns, pairs, "steps", " AND t.action_key = u.action_key"),
      " UNION ALL ", branch(kStepColumns, records, "steps", ""), " UNION ALL ",
      branch(kCompletionColumns, pairs, "completions",
             " AND t.action_key = u.action_key"),
      " UNION ALL ", branch(kCompletionColumns, records, "completions", ""));
}

}  // namespace

const std::map<std::string, std::string>& Statements() {
  static const auto* kAll = new std::map<std::string, std::string>{
      // Locks the batch's records in one order (as the ReadSet sorts them),
      // so that concurrent batches do not deadlock.
      {"lock_records",
       "SELECT r.job_id, r.record_key, r.seq_num, r.attempt, "
       "r.input_fingerprint, r.completed_at_us FROM unnest($1::text[], "
       "$2::bytea[], $3::bigint[]) WITH ORDINALITY AS u(job_id, record_key, "
       "seq_num, n) CROSS JOIN LATERAL (SELECT * FROM records r WHERE "
       "r.job_id = u.job_id AND r.record_key = u.record_key AND r.seq_num = "
       "u.seq_num FOR UPDATE) r ORDER BY u.n"},
      {"read_entries", EntriesSql(1, 5)},
      // A read: the records ($8..$10) and their entries in one statement,
      // one snapshot, no transaction.
      {"read",
       absl::StrCat(
           EntriesSql(1, 5),
           " UNION ALL SELECT t.job_id, t.record_key, t.seq_num, 2, ''::text, "
           "t.attempt, ''::text, t.input_fingerprint, 0::smallint, ''::bytea, "
           "''::bytea, t.completed_at_us, 0::bigint, 0::bigint FROM "
           "unnest($8::text[], $9::bytea[], $10::bigint[]) AS u(job_id, "
           "record_key, seq_num) CROSS JOIN LATERAL (SELECT * FROM records t "
           "WHERE t.job_id = u.job_id AND t.record_key = u.record_key AND "
           "t.seq_num = u.seq_num OFFSET 0) t")},
      // Deletes: every entry of records ($1..$3, a reset), and an action's
      // steps from an index on ($4..$8, a replace). Counts, to be checked.
      {"delete_entries",
       "WITH r AS (SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[]) "
       "AS u(job_id, record_key, seq_num)), "
       "ds AS (DELETE FROM steps t USING r WHERE t.job_id = r.job_id AND "
       "t.record_key = r.record_key AND t.seq_num = r.seq_num RETURNING 1), "
       "dc AS (DELETE FROM completions t USING r WHERE t.job_id = r.job_id AND "
       "t.record_key = r.record_key AND t.seq_num = r.seq_num RETURNING 1), "
       "df AS (DELETE FROM steps t USING unnest($4::text[], $5::bytea[], "
       "$6::bigint[], $7::text[], $8::bigint[]) AS u(job_id, record_key, "
       "seq_num, "
       "action_key, from_index) WHERE t.job_id = u.job_id AND t.record_key = "
       "u.record_key AND t.seq_num = u.seq_num AND t.action_key = u.action_key "
       "AND t.step_index >= u.from_index RETURNING 1) "
       "SELECT (SELECT count(*) FROM ds) + (SELECT count(*) FROM dc), "
       "(SELECT count(*) FROM df)"},
      // Every other write of a batch in one statement; the counts of rows
      // each part changed, to be checked against what was expected.
      {"write",
       "WITH ir AS (INSERT INTO records (job_id, record_key, seq_num, attempt, "
       "input_fingerprint, completed_at_us) SELECT * FROM unnest($1::text[], "
       "$2::bytea[], $3::bigint[], $4::bigint[], $5::bytea[], $6::bigint[]) "
       "ON CONFLICT DO NOTHING RETURNING 1), "
       "ur AS (UPDATE records t SET attempt = u.attempt, input_fingerprint = "
       "u.input_fingerprint, completed_at_us = u.completed_at_us FROM "
       "unnest($7::text[], $8::bytea[], $9::bigint[], $10::bigint[], "
       "$11::bytea[], $12::bigint[]) AS u(job_id, record_key, seq_num, "
       "attempt, "
       "input_fingerprint, completed_at_us) WHERE t.job_id = u.job_id AND "
       "t.record_key = u.record_key AND t.seq_num = u.seq_num RETURNING 1), "
       "si AS (INSERT INTO steps (job_id, record_key, seq_num, action_key, "
       "step_index, function_id, args_digest, status, result, error, "
       "input_tokens, output_tokens, micro_usd) SELECT * FROM "
       "unnest($13::text[], $14::bytea[], $15::bigint[], $16::text[], "
       "$17::bigint[], $18::text[], $19::bytea[], $20::smallint[], "
       "$21::bytea[], "
       "$22::bytea[], $23::bigint[], $24::bigint[], $25::bigint[]) "
       "ON CONFLICT DO NOTHING RETURNING 1), "
       "su AS (UPDATE steps t SET status = u.status, result = u.result, error "
       "= "
       "u.error, input_tokens = u.input_tokens, output_tokens = "
       "u.output_tokens, micro_usd = u.micro_usd FROM unnest($26::text[], "
       "$27::bytea[], $28::bigint[], $29::text[], $30::bigint[], "
       "$31::smallint[], "
       "$32::bytea[], $33::bytea[], $34::bigint[], $35::bigint[], "
       "$36::bigint[]) "
       "AS u(job_id, record_key, seq_num, action_key, step_index, status, "
       "result, error, input_tokens, output_tokens, micro_usd) WHERE "
       "t.job_id = u.job_id AND t.record_key = u.record_key AND t.seq_num = "
       "u.seq_num AND t.action_key = u.action_key AND t.step_index = "
       "u.step_index AND t.status = 1 RETURNING 1), "
       "ci AS (INSERT INTO completions (job_id, record_key, seq_num, "
       "action_key, "
       "state, input_tokens, output_tokens, micro_usd) SELECT * FROM "
       "unnest($37::text[], $38::bytea[], $39::bigint[], $40::text[], "
       "$41::bytea[], $42::bigint[], $43::bigint[], $44::bigint[]) "
       "ON CONFLICT DO NOTHING RETURNING 1) "
       "SELECT (SELECT count(*) FROM ir), (SELECT count(*) FROM ur), "
       "(SELECT count(*) FROM si), (SELECT count(*) FROM su), "
       "(SELECT count(*) FROM ci)"},
      // One set-based statement: select the records, delete their entries
      // and them. $2 whole job, $3 completed-before (micros, or NULL),
      // $4/$5 parallel arrays of record keys and bounds.
      {"prune",
       "WITH sel AS (SELECT r.job_id, r.record_key, r.seq_num FROM records r "
       "  WHERE r.job_id = $1 AND ($2 OR r.completed_at_us < $3::bigint OR "
       "  EXISTS (SELECT 1 FROM unnest($4::bytea[], $5::bigint[]) AS "
       "  k(record_key, up_to) WHERE k.record_key = r.record_key "
       "  AND r.seq_num <= k.up_to))), "
       "ds AS (DELETE FROM steps s USING sel WHERE s.job_id = sel.job_id AND "
       "  s.record_key = sel.record_key AND s.seq_num = sel.seq_num RETURNING "
       "1), "
       "dc AS (DELETE FROM completions c USING sel WHERE c.job_id = sel.job_id "
       "  AND c.record_key = sel.record_key AND c.seq_num = sel.seq_num "
       "  RETURNING 1), "
       "dr AS (DELETE FROM records r USING sel WHERE r.job_id = sel.job_id AND "
       "  r.record_key = sel.record_key AND r.seq_num = sel.seq_num RETURNING "
       "1) "
       "SELECT (SELECT count(*) FROM dr), "
       "  (SELECT count(*) FROM ds) + (SELECT count(*) FROM dc)"},
  };
  return *kAll;
}

ArrayLiteral& ArrayLiteral::Text(absl::string_view s) {
  Separate();
  out_ += '"';
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out_ += '\\';
    out_ += ch;
  }
  out_ += '"';
  return *this;
}

ArrayLiteral& ArrayLiteral::Bytes(absl::string_view b) {
  return Text(absl::StrCat("\\x", absl::BytesToHexString(b)));
}

ArrayLiteral& ArrayLiteral::Int(int64_t v) {
  Separate();
  absl::StrAppend(&out_, v);
  return *this;
}

ArrayLiteral& ArrayLiteral::Null() {
  Separate();
  out_ += "NULL";
  return *this;
}

void ArrayLiteral::Separate() {
  if (out_.size() > 1) out_ += ',';
}

}  // namespace actionjournal::postgres
