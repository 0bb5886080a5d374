// journal_example TARGET: journals one action of one record, as an operator
// would, then replays the record from a single BeginRecord.
#include <iostream>

#include "client/journal_client.h"
#include "client/record_session.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: journal_example HOST:PORT\n";
    return 2;
  }
  actionjournal::ClientOptions options;
  options.target = argv[1];
  auto client = actionjournal::JournalClient::Create(options);
  if (!client.ok()) return 1;

  actionjournal::v1::BeginRecordRequest begin;
  begin.mutable_record()->set_job_id("example");
  begin.mutable_record()->set_record_key("user-1");
  begin.mutable_record()->set_seq_num(1);
  begin.set_attempt(1);
  for (int run = 1; run <= 2; ++run) {
    auto session = actionjournal::RecordSession::Begin(**client, begin);
    if (!session.ok()) {
      std::cerr << session.status() << "\n";
      return 1;
    }
    if (auto done = (*session)->Lookup("greet");
        done && done->has_completion()) {
      std::cout << "run " << run << ": replayed " << done->completion().state()
                << "\n";
      continue;
    }
    actionjournal::v1::AppendActionRequest append;
    append.set_action_key("greet");
    append.mutable_completion()->set_state("hello");
    auto r = (*session)->AppendAsync(append).get();
    if (!r.ok()) {
      std::cerr << r.status() << "\n";
      return 1;
    }
    std::cout << "run " << run << ": ran greet\n";
  }
  return 0;
}
