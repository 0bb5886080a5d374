// What only the SQLite backend promises: durability across reopen, and a
// refusal of a schema newer than it knows.
#include "storage/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include "gtest/gtest.h"
#include "storage/stores.h"
#include "tests/storage/store_factories.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::StatusIs;

// Schema 3 (dedup) back to schema 2's shape.
// Schema 5's read columns undone: schema 4.
#define AJ_BACK_TO_SCHEMA_FOUR                                           \
  "DROP INDEX records_created; ALTER TABLE records DROP COLUMN "         \
  "created_at_us; ALTER TABLE records DROP COLUMN replays; ALTER TABLE " \
  "records DROP COLUMN replayed_at_us; ALTER TABLE steps DROP COLUMN "   \
  "written_at_us; ALTER TABLE completions DROP COLUMN written_at_us; "
constexpr char kBackToSchemaFour[] =
    AJ_BACK_TO_SCHEMA_FOUR "PRAGMA user_version=4;";
constexpr char kBackToSchemaTwo[] = AJ_BACK_TO_SCHEMA_FOUR
    "DROP TRIGGER steps_release; DROP TRIGGER steps_overwrite; DROP "
    "TRIGGER completions_release; DROP TRIGGER completions_overwrite; "
    "DROP TABLE blobs; ALTER TABLE steps DROP COLUMN blob_digest; ALTER "
    "TABLE completions DROP COLUMN blob_digest; PRAGMA user_version=2;";
#undef AJ_BACK_TO_SCHEMA_FOUR

TEST(SqliteStoreTest, KeepsEverythingAcrossReopen) {
  SqliteStoreOptions options;
  options.path = TempSqlitePath();
  const RecordId r{"job", "key", 7};
  {
    auto store = NewSqliteJournalStore(options);
    ASSERT_THAT(store, IsOk());
    AppendRequest req;
    req.record = r;
    req.action_key = "act";
    req.entry = Completion{"state"};
    req.cost = Cost{1, 2, 3};
    ASSERT_THAT((*store)->AppendAction(req), IsOk());
    ASSERT_THAT((*store)->CompleteRecord({r, 4}), IsOk());
  }
  auto store = NewSqliteJournalStore(options);
  ASSERT_THAT(store, IsOk());
  auto found = (*store)->LookupAction(r, "act");
  ASSERT_THAT(found, IsOk());
  ASSERT_TRUE(found->action.has_value());
  EXPECT_EQ(found->action->completion->state, "state");
  EXPECT_EQ(found->action->cost, (Cost{1, 2, 3}));
  EXPECT_EQ(found->record_status, RecordStatus::kCompleted);
  EXPECT_EQ((*store)->BeginRecord({r, 0, "", false})->attempt, 4u);
}

// A file of schema 1 (before retention) opens, gains the retention
// columns, and its records count as written at the upgrade: nothing is
// swept at once, and the TTL counts from then.
TEST(SqliteStoreTest, UpgradesASchemaOneFileWithoutExpiringIt) {
  SqliteStoreOptions options;
  options.path = TempSqlitePath();
  const RecordId r{"job", "key", 1};
  {
    auto store = NewSqliteJournalStore(options);
    ASSERT_THAT(store, IsOk());
    AppendRequest req;
    req.record = r;
    req.action_key = "act";
    req.entry = Completion{"state"};
    ASSERT_THAT((*store)->AppendAction(req), IsOk());
  }
  {
    // Back to schema 1's shape.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db,
                           (std::string(kBackToSchemaTwo) +
                            "DROP INDEX records_expires; DROP INDEX "
                            "records_written; ALTER TABLE records DROP COLUMN "
                            "written_at_us; ALTER TABLE records DROP COLUMN "
                            "expires_at_us; PRAGMA user_version=1")
                               .c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  const absl::Time upgrade = absl::Now();
  JournalOptions journal;
  journal.record_ttl = absl::Hours(24);
  auto store = NewSqliteJournalStore(options, journal);
  ASSERT_THAT(store, IsOk());
  auto found = (*store)->LookupAction(r, "act");
  ASSERT_THAT(found, IsOk());
  EXPECT_TRUE(found->action.has_value());
  auto swept = (*store)->Sweep(upgrade + absl::Hours(23));
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(swept->ttl_records, 0u);
  EXPECT_TRUE((*store)->LookupAction(r, "act")->action.has_value());
  swept = (*store)->Sweep(upgrade + absl::Hours(25));
  ASSERT_THAT(swept, IsOk());
  EXPECT_EQ(swept->ttl_records, 1u);
}

// A file of schema 4 (before the read APIs) opens with its records counted
// as created at the upgrade, no replays, and its entries' times unknown.
TEST(SqliteStoreTest, UpgradesASchemaFourFileForTheReadApis) {
  SqliteStoreOptions options;
  options.path = TempSqlitePath();
  const RecordId r{"job", "key", 1};
  {
    auto store = NewSqliteJournalStore(options);
    ASSERT_THAT(store, IsOk());
    AppendRequest req;
    req.record = r;
    req.action_key = "act";
    req.entry = Completion{"state"};
    ASSERT_THAT((*store)->AppendAction(req), IsOk());
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, kBackToSchemaFour, nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  const absl::Time upgrade =
      absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  auto store = NewSqliteJournalStore(options);
  ASSERT_THAT(store, IsOk());
  auto shown = (*store)->ShowRecord(r);
  ASSERT_THAT(shown, IsOk());
  ASSERT_TRUE(shown->has_value());
  EXPECT_GE((*shown)->info.created_at, upgrade);
  EXPECT_EQ((*shown)->info.replays, 0u);
  ASSERT_EQ((*shown)->actions.size(), 1u);
  EXPECT_EQ((*shown)->actions[0].completion->state, "state");
  EXPECT_EQ((*shown)->actions[0].completion->written_at, absl::InfinitePast());
  ListRecordsQuery q;
  q.job_id = "job";
  auto listed = (*store)->ListRecords(q);
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->size(), 1u);
}

// A file of schema 2 (before dedup) opens with its payloads inline; the
// same bytes written since are stored once, and both forms read back.
TEST(SqliteStoreTest, UpgradesASchemaTwoFileKeepingPayloadsInline) {
  SqliteStoreOptions options;
  options.path = TempSqlitePath();
  const std::string big = Incompressible(8192, 1);
  AppendRequest req;
  req.action_key = "act";
  req.entry = Completion{big};
  req.record = RecordId{"job", "old", 1};
  {
    JournalOptions inline_only;
    inline_only.dedup.min_bytes = 0;
    auto store = NewSqliteJournalStore(options, inline_only);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->AppendAction(req), IsOk());
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, kBackToSchemaTwo, nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto store = NewSqliteJournalStore(options);
  ASSERT_THAT(store, IsOk());
  req.record = RecordId{"job", "new", 1};
  ASSERT_THAT((*store)->AppendAction(req), IsOk());
  for (const char* key : {"old", "new"}) {
    auto found = (*store)->LookupAction(RecordId{"job", key, 1}, "act");
    ASSERT_THAT(found, IsOk());
    ASSERT_TRUE(found->action.has_value()) << key;
    EXPECT_EQ(found->action->completion->state, big) << key;
  }
  auto stats = (*store)->Stats("job");
  ASSERT_THAT(stats, IsOk());
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].blobs, 1u);
  EXPECT_EQ((*stats)[0].payload_bytes, 2 * big.size());
  // The inline one goes without touching the blob.
  PruneRequest prune;
  prune.job_id = "job";
  prune.keys = {{"old", 1}};
  ASSERT_THAT((*store)->Prune(prune), IsOk());
  auto found = (*store)->LookupAction(RecordId{"job", "new", 1}, "act");
  ASSERT_THAT(found, IsOk());
  ASSERT_TRUE(found->action.has_value());
  EXPECT_EQ(found->action->completion->state, big);
  EXPECT_EQ((*(*store)->Stats("job"))[0].blobs, 1u);
}

TEST(SqliteStoreTest, RefusesNewerSchema) {
  SqliteStoreOptions options;
  options.path = TempSqlitePath();
  ASSERT_THAT(NewSqliteJournalStore(options), IsOk());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THAT(NewSqliteJournalStore(options),
              StatusIs(absl::StatusCode::kFailedPrecondition, "newer"));
}

TEST(SqliteStoreTest, UnopenablePathIsUnavailable) {
  SqliteStoreOptions options;
  options.path = "/proc/definitely/not/writable/journal.db";
  EXPECT_THAT(NewSqliteJournalStore(options),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace actionjournal
