// Reads stay index-driven on both SQL backends: an append or a lookup
// touches its own action's rows only, however large its record (issue 15:
// an append into a record of 10,000 steps cost three times one into an empty
// record, because reads filtered the whole record).
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/stores.h"
#include "tests/storage/store_factories.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(PlanTest, SqliteReadsSearchThePrimaryKey) {
  SqliteStoreOptions o;
  o.path = TempSqlitePath();
  auto plans = ExplainSqliteReadsForTest(o);
  ASSERT_THAT(plans, IsOk());
  EXPECT_THAT(*plans, Not(HasSubstr("SCAN"))) << *plans;
  // The two one-action reads search by the key through action_key.
  int by_action = 0;
  for (absl::string_view line : absl::StrSplit(*plans, '\n')) {
    if (absl::StrContains(line, "SEARCH") &&
        absl::StrContains(line, "seq_num=? AND action_key=?")) {
      ++by_action;
    }
  }
  EXPECT_EQ(by_action, 2) << *plans;
  // A payload stored once is found through the blobs' key.
  EXPECT_THAT(*plans,
              HasSubstr("SEARCH b USING INDEX sqlite_autoindex_blobs_1"))
      << *plans;
}

TEST(PlanTest, PostgresReadsOfOneActionUseTheIndexInABigRecord) {
  const char* dsn = std::getenv("ACTIONJOURNAL_TEST_POSTGRES_DSN");
  if (dsn == nullptr) GTEST_SKIP() << kNoPostgres;
  // The schema, then a record of 10,000 steps of one action and 3 of
  // another, among 5,000 ordinary records (as a real journal holds: with
  // one record alone, PostgreSQL rightly expects any lookup to return half
  // the table), with statistics.
  {
    PostgresStoreOptions po;
    po.dsn = dsn;
    ASSERT_THAT(NewPostgresJournalStore(po), IsOk());
  }
  const std::string psql =
      absl::StrCat("psql -q -v ON_ERROR_STOP=1 -d '", dsn, "' -c ");
  const std::string seed = absl::StrCat(
      psql,
      "\"DELETE FROM steps WHERE job_id = 'plan-test'; "
      "INSERT INTO steps SELECT 'plan-test', 'big'::bytea, 1, "
      "CASE WHEN i < 10000 THEN 'other' ELSE 'mine' END, "
      "CASE WHEN i < 10000 THEN i ELSE i - 10000 END, 'fn', ''::bytea, 2, "
      "'result'::bytea, ''::bytea, 0, 0, 0 FROM generate_series(0, 10002) i; "
      "INSERT INTO steps SELECT 'plan-test', ('r' || (i / 4))::bytea, 1, 'a', "
      "i % 4, "
      "'fn', ''::bytea, 2, 'result'::bytea, ''::bytea, 0, 0, 0 "
      "FROM generate_series(0, 19999) i; "
      // The action's results stored once (a blob), as a large one would be.
      "DELETE FROM blobs WHERE job_id = 'plan-test'; "
      "INSERT INTO blobs VALUES ('plan-test', 'digest', 'blob', 3); "
      "INSERT INTO blobs SELECT 'plan-test', ('other' || i)::bytea, 'blob', 1 "
      "FROM generate_series(0, 4999) i; "
      "UPDATE steps SET result = '', blob_digest = 'digest' WHERE job_id = "
      "'plan-test' AND action_key = 'mine'; "
      "ANALYZE blobs; ANALYZE steps; ANALYZE completions; ANALYZE records\" "
      ">/dev/null");
  ASSERT_EQ(std::system(seed.c_str()), 0);
  auto plans =
      ExplainPostgresReadsForTest(dsn, RecordId{"plan-test", "big", 1}, "mine");
  ASSERT_THAT(plans, IsOk());
  const std::string one = plans->substr(0, plans->find("-- whole record"));
  EXPECT_THAT(one, Not(HasSubstr("Seq Scan on steps"))) << *plans;
  EXPECT_THAT(one, HasSubstr("steps_pkey")) << *plans;
  // Only the action's own three rows are read from steps.
  EXPECT_THAT(one, Not(HasSubstr("rows=10000"))) << *plans;
  EXPECT_THAT(one, HasSubstr("rows=3 ")) << *plans;
  // A result stored once is one probe of the blobs' key per row.
  EXPECT_THAT(*plans, Not(HasSubstr("Seq Scan on blobs"))) << *plans;
  EXPECT_THAT(one, HasSubstr("Index Scan using blobs_pkey")) << *plans;
  EXPECT_EQ(std::system((psql + "\"DELETE FROM steps WHERE job_id = "
                                "'plan-test'; DELETE FROM blobs WHERE job_id "
                                "= 'plan-test'\"")
                            .c_str()),
            0);
}

}  // namespace
}  // namespace actionjournal
