#include "storage/postgres/statements.h"

#include <initializer_list>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "storage/backend.h"
#include "storage/sql_text.h"

namespace actionjournal::postgres {
namespace {

// The columns every read returns (statements.h, ReadColumn), whatever the
// row's kind; a kind's columns that another's has are NULL. A payload
// stored once per job (a digest) is resolved by one probe of the blobs'
// primary key; NULL if the blob is missing, which the reader reports.
constexpr char kStepColumns[] =
    "t.job_id, t.record_key, t.seq_num, 0, t.action_key, t.step_index, "
    "t.function_id, t.args_digest, t.status, CASE WHEN t.blob_digest IS "
    "NULL THEN t.result ELSE (SELECT b.bytes FROM blobs b WHERE b.job_id = "
    "$1 AND b.digest = t.blob_digest) END, t.error, "
    "t.input_tokens, t.output_tokens, t.micro_usd, t.written_at_us, "
    "NULL::bigint, NULL::bytea, NULL::bigint";
constexpr char kCompletionColumns[] =
    "t.job_id, t.record_key, t.seq_num, 1, t.action_key, NULL::bigint, "
    "NULL::text, NULL::bytea, NULL::smallint, CASE WHEN t.blob_digest IS "
    "NULL THEN t.state ELSE (SELECT b.bytes FROM blobs b WHERE b.job_id = $1 "
    "AND b.digest = t.blob_digest) END, NULL::bytea, t.input_tokens, "
    "t.output_tokens, t.micro_usd, t.written_at_us, NULL::bigint, "
    "NULL::bytea, NULL::bigint";

// Restricts table `t` to a record of job $1 in `u`. Every statement names
// job $1 as a value, on every table it touches, so that Citus routes the
// whole statement to the one shard group holding the job (docs/scale.md).
constexpr char kOnRecord[] =
    "WHERE t.job_id = $1 AND t.record_key = u.record_key AND t.seq_num = "
    "u.seq_num";

// Entries of job $1's (record, action) pairs (3 arrays) and of its whole
// records (2 arrays), from parameter $first on; a branch only for what
// `shape` has. Each branch probes the primary key once per array element (a
// LATERAL subquery, so a nested loop whatever the planner guesses of the
// arrays' length), so that a lookup touches its own action's rows only
// (tests/storage/plan_test.cc).
std::string EntriesSql(ReadShape shape, int first) {
  const int a = first, b = first + (shape.pairs ? 3 : 0);
  const std::string pairs =
      absl::StrCat("unnest($", a, "::bytea[], $", a + 1, "::bigint[], $", a + 2,
                   "::text[]) AS u(record_key, seq_num, action_key)");
  const std::string records =
      absl::StrCat("unnest($", b, "::bytea[], $", b + 1,
                   "::bigint[]) AS u(record_key, seq_num)");
  auto branch = [&](const char* columns, const std::string& from,
                    const char* table, const char* extra) {
    // OFFSET 0 keeps the subquery from being flattened into a hash join.
    return absl::StrCat("SELECT ", columns, " FROM ", from,
                        " CROSS JOIN LATERAL (SELECT * FROM ", table, " t ",
                        kOnRecord, extra, " OFFSET 0) t");
  };
  std::vector<std::string> branches;
  if (shape.pairs) {
    branches.push_back(branch(kStepColumns, pairs, "steps",
                              " AND t.action_key = u.action_key"));
    branches.push_back(branch(kCompletionColumns, pairs, "completions",
                              " AND t.action_key = u.action_key"));
  }
  if (shape.records) {
    branches.push_back(branch(kStepColumns, records, "steps", ""));
    branches.push_back(branch(kCompletionColumns, records, "completions", ""));
  }
  return absl::StrJoin(branches, " UNION ALL ");
}

// Job $1's records' own rows for a read, from parameter $first on.
std::string RecordsSql(int first) {
  return absl::StrCat(
      "SELECT t.job_id, t.record_key, t.seq_num, 2, NULL::text, NULL::bigint, "
      "NULL::text, NULL::bytea, NULL::smallint, NULL::bytea, NULL::bytea, "
      "NULL::bigint, NULL::bigint, NULL::bigint, t.written_at_us, t.attempt, "
      "t.input_fingerprint, t.completed_at_us FROM unnest($",
      first, "::bytea[], $", first + 1,
      "::bigint[]) AS u(record_key, seq_num) CROSS JOIN LATERAL "
      "(SELECT * FROM records t ",
      kOnRecord, " OFFSET 0) t");
}

// A CTE `name` releasing the blob references of the entry rows `digests`
// (SQL yielding one column, d, of their blob digests, NULL for inline
// payloads) of job $1: one upsert adding minus the count per blob, in
// digest order, as writers add theirs ("bu"), so that releases and adds
// serialize on each blob's row and cannot deadlock. A blob at zero is
// deleted by "drop_unreferenced", a statement of its own that sees the
// decrement. (No triggers: Citus runs none on distributed tables.) On
// Citus a statement with this CTE is not one task: Citus routes no INSERT
// in a CTE as a whole, so each CTE runs as a step through the coordinator
// on the job's worker (docs/scale.md, "What each statement costs").
std::string ReleaseSql(const char* name, const std::string& digests) {
  return absl::StrCat(
      name,
      " AS (INSERT INTO blobs (job_id, digest, bytes, refs) SELECT $1::text, "
      "g.d, ''::bytea, -count(*) FROM (",
      digests,
      ") g WHERE g.d IS NOT NULL GROUP BY g.d ORDER BY g.d ON CONFLICT "
      "(job_id, digest) DO UPDATE SET refs = blobs.refs + EXCLUDED.refs "
      "RETURNING 1)");
}

// Deletes `table`'s rows of job $1 matched with `u` (the relation `from`,
// on the record and then `extra`), returning their blob digests (d) for
// ReleaseSql.
std::string DeleteSql(const char* table, const std::string& from,
                      const char* extra) {
  return absl::StrCat("DELETE FROM ", table, " t USING ", from, " ", kOnRecord,
                      extra, " RETURNING t.blob_digest AS d");
}

// `part`'s arrays from parameter $n: unnest($n::type[], ...).
std::string Unnest(WritePart part, int n) {
  std::vector<std::string> out;
  for (const WriteColumn& c : WriteColumns(part))
    out.push_back(absl::StrCat("$", n++, "::", c.type, "[]"));
  return absl::StrCat("unnest(", absl::StrJoin(out, ", "), ")");
}

std::string Names(WritePart part) {
  std::vector<std::string> out;
  for (const WriteColumn& c : WriteColumns(part)) out.push_back(c.name);
  return absl::StrJoin(out, ", ");
}

// Inserts `part`'s rows into `table` for job $1, those already there left
// as they are (the count tells).
std::string InsertSql(const char* table, WritePart part, int n) {
  return absl::StrCat("INSERT INTO ", table, " (job_id, ", Names(part),
                      ") SELECT $1::text, u.* FROM ", Unnest(part, n),
                      " AS u ON CONFLICT DO NOTHING RETURNING 1");
}

// Updates `table`'s rows of job $1 matched by the key's columns (record and
// `key`), setting every other column of `part`.
std::string UpdateSql(const char* table, WritePart part, int n, const char* key,
                      const char* more) {
  std::vector<std::string> set;
  for (const WriteColumn& c : WriteColumns(part)) {
    const std::string name = c.name;
    if (name == "record_key" || name == "seq_num" || name == "action_key" ||
        name == "step_index") {
      continue;
    }
    set.push_back(absl::StrCat(name, " = u.", name));
  }
  return absl::StrCat("UPDATE ", table, " t SET ", absl::StrJoin(set, ", "),
                      " FROM ", Unnest(part, n), " AS u(", Names(part), ")",
                      more, kOnRecord, key);
}

// The parts of a write statement, in the order their arrays come: a CTE
// name and its SQL with its arrays from parameter $n.
struct WritePartSql {
  const char* cte;
  std::string (*sql)(int n);
};

const WritePartSql kWriteParts[] = {
    {"ir", [](int n) { return InsertSql("records", kInsertRecords, n); }},
    {"ur",
     [](int n) {
       return UpdateSql("records", kUpdateRecords, n, " RETURNING 1", " ");
     }},
    {"si", [](int n) { return InsertSql("steps", kInsertSteps, n); }},
    // Returns the digest the upgraded row held (o, the row as the statement
    // found it), whose reference "bu" releases.
    {"su",
     [](int n) {
       return UpdateSql(
           "steps", kUpgradeSteps, n,
           " AND t.action_key = u.action_key AND t.step_index = u.step_index "
           "AND t.status = 1 AND o.job_id = $1 AND o.record_key = "
           "t.record_key AND o.seq_num = t.seq_num AND o.action_key = "
           "t.action_key AND o.step_index = t.step_index RETURNING "
           "o.blob_digest AS d",
           ", steps o ");
     }},
    {"ci",
     [](int n) { return InsertSql("completions", kInsertCompletions, n); }},
    // The references the entries above add to the blobs holding their
    // payloads (one row per blob), less those the upgraded rows held ("su"
    // present, its CTE already named): one upsert per blob, in digest
    // order, as ReleaseSql's.
    {"bu",
     [](int n) {
       return absl::StrCat(
           "INSERT INTO blobs (job_id, digest, bytes, refs) SELECT $1::text, "
           "d.digest, string_agg(d.bytes, ''::bytea), sum(d.refs) FROM "
           "(SELECT * FROM ",
           Unnest(kAddBlobReferences, n), " AS u(", Names(kAddBlobReferences),
           ")%RELEASED%) d GROUP BY d.digest ORDER BY d.digest ON CONFLICT "
           "(job_id, digest) DO UPDATE SET refs = blobs.refs + EXCLUDED.refs "
           "RETURNING 1");
     }},
};
// What each part does, for aj_expect's message (WriteCountChecked ones).
constexpr const char* kWhat[] = {"insert records",     "update records",
                                 "insert steps",       "upgrade steps",
                                 "insert completions", nullptr};

// The write statement of the parts in `parts` (bit i: kWriteParts[i]), for
// job $1: their CTEs, then each checked one's count against its expected
// count (after every part's arrays, in the same order) by aj_expect. On
// Citus it touches the job's worker alone, but in steps: each CTE a
// subplan, each INSERT's rows copied through the coordinator, which makes
// Citus commit with two-phase commit; about six times one PostgreSQL's
// CPU per append (docs/scale.md, "Figures").
std::string WriteSql(unsigned parts) {
  std::vector<std::string> ctes, checks;
  int n = 2;
  for (int i = 0; i < kWriteKinds; ++i) {
    if ((parts & (1u << i)) == 0) continue;
    std::string sql = kWriteParts[i].sql(n);
    absl::StrReplaceAll(
        {{"%RELEASED%", (parts & (1u << kUpgradeSteps)) != 0
                            ? " UNION ALL SELECT su.d, ''::bytea, -1 FROM su "
                              "WHERE su.d IS NOT NULL"
                            : ""}},
        &sql);
    ctes.push_back(absl::StrCat(kWriteParts[i].cte, " AS (", sql, ")"));
    n += static_cast<int>(WriteColumns(static_cast<WritePart>(i)).size());
  }
  for (int i = 0; i < kWriteKinds; ++i) {
    if ((parts & (1u << i)) == 0 ||
        !WriteCountChecked(static_cast<WritePart>(i)))
      continue;
    checks.push_back(absl::StrCat("aj_expect((SELECT count(*) FROM ",
                                  kWriteParts[i].cte, "), $", n++, ", '",
                                  kWhat[i], "')"));
  }
  if ((parts & (1u << kAddBlobReferences)) != 0) {
    checks.push_back("(SELECT count(*) FROM bu)");
  }
  return absl::StrCat("WITH ", absl::StrJoin(ctes, ", "), " SELECT ",
                      absl::StrJoin(checks, ", "));
}

// RecordInfo's columns, of the records the WHERE that follows selects
// (then "r" closes with the totals' join).
constexpr char kInfoColumns[] =
    "SELECT r.record_key, r.seq_num, r.attempt, r.completed_at_us, "
    "r.created_at_us, r.written_at_us, r.replays, r.replayed_at_us, "
    "r.expires_at_us, a.actions, a.entries, a.bytes, a.it, a.ot, a.usd FROM "
    "(SELECT r.* FROM records r ";

// The records a Prune selects (PruneSelectsSql): $1 job, $2 whole job, $3
// completed before, $4/$5 parallel arrays of record keys and bounds.
const std::string& PruneSelects() {
  static const auto* kSql = new std::string(absl::StrCat(
      "r.job_id = $1 AND ",
      PruneSelectsSql("$2", "$3::bigint",
                      "unnest($4::bytea[], $5::bigint[]) AS k(record_key, "
                      "up_to)")));
  return *kSql;
}

// Deletes the entries of job $1's records ($2, $3) that also meet
// `condition` (on `k`, the record) and releases their blobs: their count.
std::string DeleteEntriesOfSql(const char* condition) {
  const char* records =
      "unnest($2::bytea[], $3::bigint[]) AS u(record_key, "
      "seq_num)";
  return absl::StrCat(
      "WITH ds AS (", DeleteSql("steps", records, condition), "), dc AS (",
      DeleteSql("completions", records, condition), "), ",
      ReleaseSql("rel", "SELECT d FROM ds UNION ALL SELECT d FROM dc"),
      " SELECT (SELECT count(*) FROM ds) + (SELECT count(*) FROM dc), (SELECT "
      "count(*) FROM rel)");
}

// Deletes the records of `sel` (a CTE that selects and locks job $1's),
// returning their ids (and `sel.ttl`, when `sel` has it). Their entries go
// in a statement of its own ("delete_entries_of"), after this one: a
// statement's snapshot is taken when it starts, so entries a writer
// committed while this one waited for the writer's lock on their record are
// visible only to a later statement.
std::string DeleteSelectedSql(const char* extra_returning) {
  return absl::StrCat(
      "DELETE FROM records r USING sel WHERE r.job_id = $1 AND "
      "r.record_key = sel.record_key AND r.seq_num = sel.seq_num RETURNING "
      "r.job_id, r.record_key, r.seq_num",
      extra_returning);
}

// A CTE `name` deleting at most $2 of job $1's rows of `table` whose record
// is gone, by primary key (Citus plans no DELETE by ctid), returning their
// blob digests; `index` is the key's column after the action (or none).
std::string DeleteOrphansSql(const char* name, const char* table,
                             const char* index) {
  const bool steps = index[0] != '\0';
  return absl::StrCat(
      name, " AS (DELETE FROM ", table,
      " t USING (SELECT o.record_key, o.seq_num, o.action_key",
      steps ? ", o.step_index" : "", " FROM ", table,
      " o WHERE o.job_id = $1 AND NOT EXISTS (SELECT 1 FROM records r WHERE "
      "r.job_id = $1 AND r.record_key = o.record_key AND r.seq_num = "
      "o.seq_num) LIMIT $2) u ",
      kOnRecord, " AND t.action_key = u.action_key",
      steps ? " AND t.step_index = u.step_index" : "",
      " RETURNING t.blob_digest AS d)");
}

}  // namespace

bool CitusInstalled(pqxx::transaction_base& tx) {
  return tx
             .exec(
                 "SELECT count(*) FROM pg_extension WHERE extname = 'citus'")[0]
                                                                             [0]
             .as<int>() > 0;
}

const std::map<std::string, std::string>& Statements() {
  static auto* kAll = new std::map<std::string, std::string>{
      // Locks job $1's records of the batch in one order (as the ReadSet
      // sorts them), so that concurrent batches do not deadlock.
      {"lock_records",
       absl::StrCat(
           "SELECT r.job_id, r.record_key, r.seq_num, r.attempt, "
           "r.input_fingerprint, r.completed_at_us, r.written_at_us, "
           "r.created_at_us, r.replays, r.replayed_at_us FROM "
           "unnest($2::bytea[], $3::bigint[]) WITH ORDINALITY AS "
           "u(record_key, seq_num, n) CROSS JOIN LATERAL (SELECT * FROM "
           "records t ",
           kOnRecord, " FOR UPDATE) r ORDER BY u.n")},
      // A write transaction's own bounds, on Citus: there, statements of
      // an implicit transaction (a pipeline's without them) each run on
      // the worker as a transaction of its own, so that a record's lock
      // would end with the statement that took it (PruneRaceTest on Citus).
      {"begin", "BEGIN"},
      {"commit", "COMMIT"},
      // A write transaction's statement timeout ($1, milliseconds).
      // (And the isolation it runs under: postgres_store.cc checks it.)
      {"timeout",
       "SELECT set_config('statement_timeout', $1, true), "
       "current_setting('transaction_isolation')"},
      // Deletes of job $1: every entry of records ($2, $3, a reset), an
      // action's steps from an index on ($4..$7, a replace or an
      // invalidation), and actions' completions ($10..$12, an
      // invalidation); each count must be what the rules expected ($8, $9,
      // $13), or the statement fails (aj_expect). Releases the deleted
      // rows' blobs.
      {"delete_entries",
       absl::StrCat(
           "WITH r AS (SELECT * FROM unnest($2::bytea[], $3::bigint[]) AS "
           "u(record_key, seq_num)), ds AS (",
           DeleteSql("steps", "r u", ""), "), dc AS (",
           DeleteSql("completions", "r u", ""), "), df AS (",
           DeleteSql("steps",
                     "unnest($4::bytea[], $5::bigint[], $6::text[], "
                     "$7::bigint[]) AS u(record_key, seq_num, action_key, "
                     "from_index)",
                     " AND t.action_key = u.action_key AND t.step_index >= "
                     "u.from_index"),
           "), dq AS (",
           DeleteSql("completions",
                     "unnest($10::bytea[], $11::bigint[], $12::text[]) AS "
                     "u(record_key, seq_num, action_key)",
                     " AND t.action_key = u.action_key"),
           "), ",
           ReleaseSql("rel",
                      "SELECT d FROM ds UNION ALL SELECT d FROM dc UNION ALL "
                      "SELECT d FROM df UNION ALL SELECT d FROM dq"),
           " SELECT aj_expect((SELECT count(*) FROM ds) + (SELECT count(*) "
           "FROM dc), $8, 'reset'), aj_expect((SELECT count(*) FROM df), $9, "
           "'replace'), aj_expect((SELECT count(*) FROM dq), $13, "
           "'invalidate'), (SELECT count(*) FROM rel)")},
      // At most $6 of the records a prune selects, locked (waiting for
      // their writers) and deleted. $2 whole job, $3 completed-before
      // (micros, or NULL), $4/$5 parallel arrays of record keys and bounds.
      {"prune",
       absl::StrCat("WITH sel AS (SELECT r.job_id, r.record_key, r.seq_num "
                    "FROM records r WHERE ",
                    PruneSelects(), " LIMIT $6 FOR UPDATE) ",
                    DeleteSelectedSql(""))},
      // A whole-job prune's last step: the job's entries whose record is
      // gone (left by earlier versions, whose prunes could race a writer).
      // At most $2 of each table per call.
      {"delete_orphans",
       absl::StrCat(
           "WITH ", DeleteOrphansSql("ds", "steps", "step_index"), ", ",
           DeleteOrphansSql("dc", "completions", ""), ", ",
           ReleaseSql("rel", "SELECT d FROM ds UNION ALL SELECT d FROM dc"),
           " SELECT (SELECT count(*) FROM ds), (SELECT count(*) FROM "
           "dc), (SELECT count(*) FROM rel)")},
      // Entries of job $1's records ($2, $3) that do not exist (left by earlier
      // versions, whose prunes could race a writer): a write that creates
      // such a record deletes them first, or its inserts would collide
      // with them for ever. Entries whose record a concurrent writer has
      // just committed are not touched (the record exists).
      {"delete_orphans_of",
       DeleteEntriesOfSql(" AND NOT EXISTS (SELECT 1 FROM records r WHERE "
                          "r.job_id = $1 AND r.record_key = u.record_key AND "
                          "r.seq_num = u.seq_num)")},
      // The entries of job $1's records ($2, $3) deleted earlier in the
      // transaction: their count.
      {"delete_entries_of", DeleteEntriesOfSql("")},
      // A prune with a retention ($6, micros): the selected records are due
      // then, or earlier if they already were.
      {"prune_retained",
       absl::StrCat("UPDATE records r SET expires_at_us = "
                    "LEAST(COALESCE(r.expires_at_us, $6), $6) WHERE ",
                    PruneSelects())},
      // (On Citus, through the coordinator: an aggregate, then the upsert.)
      // A fresh attempt for job $1: above the last one issued and above
      // every stored record's (a client may begin records with attempts of
      // its own): one index range of the job's records, once per task start.
      // ON CONFLICT DO UPDATE locks the job's row and updates its latest
      // version, so racing callers, on one server or many, each get their
      // own number.
      {"issue_attempt",
       "INSERT INTO job_attempts AS a (job_id, last_attempt) SELECT $1, "
       "COALESCE(max(attempt), 0) + 1 FROM records WHERE job_id = $1 "
       "ON CONFLICT (job_id) DO UPDATE SET last_attempt = "
       "GREATEST(a.last_attempt + 1, EXCLUDED.last_attempt) "
       "RETURNING last_attempt"},
      {"record_info",
       absl::StrCat(kInfoColumns,
                    "WHERE r.job_id = $1 AND r.record_key = $2 AND r.seq_num "
                    "= $3) r CROSS JOIN LATERAL (",
                    RecordTotalsSql("$1", "r.record_key", "r.seq_num"), ") a")},
      // Per job: every job (on Citus, every shard), or job $1 (an index
      // range).
      {"stats_all", JobStatsSql("")},
      {"stats_job", JobStatsSql("WHERE job_id = $1")},
      // The store's size from the catalog (estimates: no scan), and the
      // oldest unpruned record's last write (the TTL index's first rows).
      {"size",
       "SELECT (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE "
       "oid = 'records'::regclass), pg_total_relation_size('records') + "
       "pg_total_relation_size('steps') + "
       "pg_total_relation_size('completions') + "
       "pg_total_relation_size('blobs'), (SELECT written_at_us FROM "
       "records WHERE expires_at_us IS NULL ORDER BY written_at_us LIMIT 1)"},
      // The jobs of records a sweep would take (sweep's two halves, at most
      // $3 rows each): a sweep goes job by job. On Citus every shard, once
      // a sweep interval.
      {"sweep_jobs",
       absl::StrCat("SELECT job_id FROM (SELECT r.job_id FROM records r WHERE ",
                    SweepRetentionSql("$1"),
                    " LIMIT $3) d UNION SELECT job_id FROM (SELECT r.job_id "
                    "FROM records r WHERE ",
                    SweepTtlSql("$1", "$2"), " LIMIT $3) o")},
      // A sweep's records of job $1: at most $4 due by $2 (micros) and $4
      // more last written before $3 (the TTL, marked ttl), skipping those
      // another transaction holds; each half driven by its own index.
      {"sweep",
       absl::StrCat(
           "WITH due AS (SELECT r.job_id, r.record_key, r.seq_num FROM records "
           "r WHERE r.job_id = $1 AND ",
           SweepRetentionSql("$2"),
           " LIMIT $4 FOR UPDATE SKIP LOCKED), old AS (SELECT r.job_id, "
           "r.record_key, r.seq_num FROM records r WHERE r.job_id = $1 AND ",
           SweepTtlSql("$2", "$3"),
           " LIMIT $4 FOR UPDATE SKIP LOCKED), sel AS (SELECT *, false AS ttl "
           "FROM due UNION ALL SELECT *, true FROM old) ",
           DeleteSelectedSql(", sel.ttl"))},
      // Job $1's blobs whose last reference a statement before this one in
      // the transaction released (an index of only those: 0009).
      {"drop_unreferenced",
       "DELETE FROM blobs WHERE job_id = $1 AND refs <= 0"},

  };
  static const bool kShapes = [] {
    // Reads and writes by shape: only the branches and parts a batch uses,
    // so that PostgreSQL starts no executor nodes for empty arrays.
    for (ReadShape shape : {ReadShape{true, false}, ReadShape{false, true},
                            ReadShape{true, true}}) {
      (*kAll)[EntriesName(shape)] = EntriesSql(shape, 2);
    }
    for (ReadShape shape : {ReadShape{false, false}, ReadShape{true, false},
                            ReadShape{false, true}, ReadShape{true, true}}) {
      const int entry_arrays = (shape.pairs ? 3 : 0) + (shape.records ? 2 : 0);
      std::string sql = RecordsSql(entry_arrays + 2);
      if (entry_arrays > 0) sql = EntriesSql(shape, 2) + " UNION ALL " + sql;
      (*kAll)[ReadName(shape)] = sql;
    }
    // ListRecords by shape, each row with its entries' totals.
    for (unsigned shape = 0; shape < kListShapes; ++shape) {
      (*kAll)[ListName(shape)] = absl::StrCat(
          kInfoColumns, "WHERE ",
          ListRecordsSql(shape, [](int i) { return absl::StrCat("$", i); }),
          ") r CROSS JOIN LATERAL (",
          RecordTotalsSql("$1", "r.record_key", "r.seq_num"),
          ") a ORDER BY r.created_at_us DESC, r.record_key DESC, r.seq_num "
          "DESC");
    }
    // Every other write of a batch in one statement; the count of rows each
    // part changed must be what the rules expected.
    for (unsigned parts = 1; parts < (1u << kWriteKinds); ++parts)
      (*kAll)[WriteName(parts)] = WriteSql(parts);
    return true;
  }();
  (void)kShapes;
  return *kAll;
}

const char* CitusSizeSql() {
  // Each shard's estimate from its worker's catalog (32 commands a table,
  // once a sweep interval); the oldest record's write, the top row of each
  // shard's TTL index merged by the coordinator.
  return "SELECT (SELECT coalesce(sum(result::bigint), 0) FROM "
         "run_command_on_shards('records', $$SELECT greatest(reltuples, "
         "0)::bigint FROM pg_class WHERE oid = '%s'::regclass$$) WHERE "
         "success), citus_total_relation_size('records') + "
         "citus_total_relation_size('steps') + "
         "citus_total_relation_size('completions') + "
         "citus_total_relation_size('blobs'), (SELECT written_at_us FROM "
         "records WHERE expires_at_us IS NULL ORDER BY written_at_us LIMIT 1)";
}

std::string EntriesName(ReadShape shape) {
  return absl::StrCat("read_entries/", shape.pairs ? "p" : "",
                      shape.records ? "r" : "");
}

std::string ReadName(ReadShape shape) {
  return absl::StrCat("read/", shape.pairs ? "p" : "",
                      shape.records ? "r" : "");
}

std::string ListName(unsigned shape) {
  return absl::StrCat("list_records/", shape);
}

const std::vector<WriteColumn>& WriteColumns(WritePart part) {
#define AJ_COLUMN(name, type) \
  WriteColumn { #name, type, &WriteRows::name }
  static const std::vector<WriteColumn>* const kColumns = [] {
    auto cat = [](std::initializer_list<std::vector<WriteColumn>> parts) {
      std::vector<WriteColumn> out;
      for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
      return out;
    };
    // An entry's record, then its own columns; a cost, then when written.
    const std::vector<WriteColumn> record = {AJ_COLUMN(record_key, "bytea"),
                                             AJ_COLUMN(seq_num, "bigint")};
    const std::vector<WriteColumn> cost = {AJ_COLUMN(input_tokens, "bigint"),
                                           AJ_COLUMN(output_tokens, "bigint"),
                                           AJ_COLUMN(micro_usd, "bigint")};
    const std::vector<WriteColumn> written = {
        AJ_COLUMN(blob_digest, "bytea"), AJ_COLUMN(written_at_us, "bigint")};
    // A record's columns an update sets (an insert adds the creation time).
    const std::vector<WriteColumn> record_row = cat(
        {record,
         {AJ_COLUMN(attempt, "bigint"), AJ_COLUMN(input_fingerprint, "bytea"),
          AJ_COLUMN(completed_at_us, "bigint"),
          AJ_COLUMN(written_at_us, "bigint"), AJ_COLUMN(replays, "bigint"),
          AJ_COLUMN(replayed_at_us, "bigint")}});
    // A step's key, and what a PENDING step's result changes.
    const std::vector<WriteColumn> step_key =
        cat({record,
             {AJ_COLUMN(action_key, "text"), AJ_COLUMN(step_index, "bigint")}});
    const std::vector<WriteColumn> step_result =
        cat({{AJ_COLUMN(status, "smallint"), AJ_COLUMN(result, "bytea"),
              AJ_COLUMN(error, "bytea")},
             cost,
             written});
    auto* out = new std::vector<WriteColumn>[kWriteKinds];
    out[kInsertRecords] =
        cat({record_row, {AJ_COLUMN(created_at_us, "bigint")}});
    out[kUpdateRecords] = record_row;
    out[kInsertSteps] =
        cat({step_key,
             {AJ_COLUMN(function_id, "text"), AJ_COLUMN(args_digest, "bytea")},
             step_result});
    out[kUpgradeSteps] = cat({step_key, step_result});
    out[kInsertCompletions] =
        cat({record,
             {AJ_COLUMN(action_key, "text"), AJ_COLUMN(state, "bytea")},
             cost,
             written});
    out[kAddBlobReferences] = {AJ_COLUMN(digest, "bytea"),
                               AJ_COLUMN(bytes, "bytea"),
                               AJ_COLUMN(refs, "bigint")};
    return out;
  }();
#undef AJ_COLUMN
  return kColumns[part];
}

std::string WriteName(unsigned parts) { return absl::StrCat("write/", parts); }

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
  if (size_++ > 0) out_ += ',';
}

}  // namespace actionjournal::postgres
