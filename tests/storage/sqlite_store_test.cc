// What only the SQLite backend promises: durability across reopen, and a
// refusal of a schema newer than it knows.
#include "storage/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include "gtest/gtest.h"
#include "tests/storage/store_factories.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::StatusIs;

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
