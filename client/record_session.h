// One record's journal as an operator processing (or replaying) it needs it:
// BeginRecord once, then every lookup answered from what it returned and
// from this session's own appends, so that replaying a record costs one
// round trip however many actions it has.
#ifndef ACTIONJOURNAL_CLIENT_RECORD_SESSION_H_
#define ACTIONJOURNAL_CLIENT_RECORD_SESSION_H_

#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "actionjournal/v1/journal.pb.h"
#include "client/journal_client.h"

namespace actionjournal {

// Thread-safe. `client` must outlive the session; the session waits for its
// asynchronous appends before it goes.
class RecordSession {
 public:
  ~RecordSession();
  // Calls BeginRecord; the session then writes with the request's record
  // and attempt.
  static absl::StatusOr<std::unique_ptr<RecordSession>> Begin(
      JournalClient& client, const v1::BeginRecordRequest& request);

  // What BeginRecord answered (status, attempt, mismatch, the actions then).
  const v1::BeginRecordResponse& begun() const { return begun_; }

  // The action as journaled: at Begin, plus this session's appends. nullopt
  // when nothing is journaled for it. No RPC.
  std::optional<v1::ActionEntries> Lookup(const std::string& action_key) const;

  // AppendAction for this record (record and attempt are filled in); the
  // stored entry the server answers (the first writer's, on a conflict)
  // joins the local view.
  absl::StatusOr<v1::AppendActionResponse> Append(
      v1::AppendActionRequest request);
  // The same without blocking.
  std::future<absl::StatusOr<v1::AppendActionResponse>> AppendAsync(
      v1::AppendActionRequest request);

  // CompleteRecord for this record.
  absl::StatusOr<v1::CompleteRecordResponse> Complete();

 private:
  RecordSession(JournalClient& client, const v1::BeginRecordRequest& request,
                v1::BeginRecordResponse begun);
  void Prepare(v1::AppendActionRequest& request) const;
  void Remember(const v1::AppendActionRequest& request,
                const v1::AppendActionResponse& response);

  JournalClient& client_;
  const v1::RecordId record_;
  const uint64_t attempt_;
  const v1::BeginRecordResponse begun_;
  mutable absl::Mutex mu_;
  std::map<std::string, v1::ActionEntries> actions_ ABSL_GUARDED_BY(mu_);
  int async_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_CLIENT_RECORD_SESSION_H_
