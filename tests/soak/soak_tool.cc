// soak_tool: the load and the check behind scripts/soak.sh.
//
//   soak_tool load  --target=H:P --job=J --ack_log=F [--writers=6]
//                   [--seconds=0] [--identity_window=12] [--seed=0]
//                   [--deadline_seconds=5 | --deadline_ms=N]
//                   [--retry_budget_seconds=20]
//                   [--max_attempts=1000] [--keepalive_seconds=10]
//                   [--error_log=F]
//     Appends steps and completions with random payloads of varied sizes
//     until SIGTERM/SIGINT (or --seconds). Writers pick identities from a
//     small sliding window, so that several race on the SAME identity with
//     DIFFERENT values and conflicts happen. Every acknowledged answer (an
//     outcome plus the entry the server says it stores) is one line of the
//     ack log, written before the writer sends its next request.
//   soak_tool check --target=H:P --job=J ACK_LOG...
//     Verifies that every identity's acknowledgements agree on one entry and
//     that LookupAction returns that entry byte for byte. Prints the counts;
//     exits 1 when anything acknowledged is lost or an identity holds two
//     results.
//   soak_tool begin --target=H:P --job=J --key_hex=K --seq=N [--attempt=1]
//     One BeginRecord (a takeover by a higher attempt), no retry; prints
//     how long it waited for the record.
//   soak_tool forge IN OUT
//     Writes IN plus two forged acknowledgements (one for an identity never
//     written, one with another value for an acknowledged identity), so that
//     soak.sh can prove `check` fails when it must.
//
// Ack log line (tab-separated): outcome, hex(record_key), seq_num,
// action_key, "s<index>" or "c", hex(deterministic serialization of the
// stored Step or Completion). The server is what gets killed, not this
// tool, so a write(2) per line is enough for the line to survive.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "actionjournal/v1/journal.pb.h"
#include "client/journal_client.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace actionjournal {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// --name=value flags and positional arguments; deliberately tiny, since the
// only caller is soak.sh.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;

  std::string Get(const std::string& name, const std::string& def) const {
    auto it = flags.find(name);
    return it == flags.end() ? def : it->second;
  }
  int64_t GetInt(const std::string& name, int64_t def) const {
    int64_t v = def;
    auto it = flags.find(name);
    if (it != flags.end() && !absl::SimpleAtoi(it->second, &v)) {
      std::cerr << "soak_tool: --" << name << " wants an integer\n";
      std::exit(2);
    }
    return v;
  }
};

Args ParseArgs(int argc, char** argv, int from) {
  Args args;
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    if (absl::StartsWith(a, "--")) {
      std::vector<std::string> kv =
          absl::StrSplit(a.substr(2), absl::MaxSplits('=', 1));
      std::replace(kv[0].begin(), kv[0].end(), '-', '_');
      args.flags[kv[0]] = kv.size() > 1 ? kv[1] : "";
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

// Byte-exact form of an entry: protobuf's deterministic serialization, so
// that equal messages give equal bytes.
template <typename Message>
std::string Canonical(const Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

// One appendable identity: step `index` of an action, or its completion.
struct Identity {
  std::string record_key;
  int64_t seq_num = 0;
  std::string action_key;
  std::string slot;  // "s<index>" or "c"

  std::string Key() const {
    return absl::StrCat(absl::BytesToHexString(record_key), "\t", seq_num, "\t",
                        action_key, "\t", slot);
  }
};

// Identity number n -> identity. Even numbers are step 0 of a "steps"
// action, odd ones the completion of a "done" action of the same record;
// record keys are binary, since record_key is any bytes.
Identity IdentityOf(uint64_t n) {
  Identity id;
  id.record_key = absl::StrCat(std::string("k\0\xff", 3), n / 2);
  id.seq_num = static_cast<int64_t>(n % 7);
  if (n % 2 == 0) {
    id.action_key = "steps";
    id.slot = "s0";
  } else {
    id.action_key = "done";
    id.slot = "c";
  }
  return id;
}

// Mostly small payloads, sometimes KiBs, rarely up to 128 KiB: varied
// enough to cross SQLite pages and PostgreSQL's TOAST threshold, small
// enough that a long run's ack logs stay in the hundreds of MB.
std::string RandomPayload(std::mt19937_64& rng) {
  size_t size;
  uint64_t r = rng() % 100;
  if (r < 80) {
    size = rng() % 512;
  } else if (r < 99) {
    size = rng() % (16 * 1024);
  } else {
    size = rng() % (128 * 1024);
  }
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

const char* OutcomeName(v1::AppendOutcome o) {
  switch (o) {
    case v1::APPEND_OUTCOME_APPENDED:
      return "APPENDED";
    case v1::APPEND_OUTCOME_DUPLICATE:
      return "DUPLICATE";
    case v1::APPEND_OUTCOME_UPGRADED:
      return "UPGRADED";
    case v1::APPEND_OUTCOME_CONFLICT:
      return "CONFLICT";
    default:
      return "UNSPECIFIED";
  }
}

// Thread-safe: one write(2) per line under a lock, so lines never interleave.
class AckLog {
 public:
  explicit AckLog(const std::string& path)
      : fd_(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                 0644)) {
    if (fd_ < 0) {
      perror(path.c_str());
      std::exit(2);
    }
  }
  ~AckLog() { close(fd_); }

  void Write(const std::string& line) {
    absl::MutexLock lock(&mu_);
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = write(fd_, line.data() + done, line.size() - done);
      if (n < 0) {
        perror("ack log");
        std::exit(2);
      }
      done += static_cast<size_t>(n);
    }
  }

 private:
  absl::Mutex mu_;
  const int fd_;
};

struct LoadCounts {
  std::atomic<int64_t> acks{0}, appended{0}, duplicate{0}, conflict{0};
  std::atomic<int64_t> errors{0};
  // The longest call, retries included: a fault must never hang a call
  // past its deadline and retry budget.
  std::atomic<int64_t> max_call_ms{0};
  // With --error_log: one line per call given up on, "unix_ms<TAB>code".
  std::unique_ptr<AckLog> error_log;
  // An APPENDED answer whose stored entry is not what was sent: a server bug.
  std::atomic<int64_t> wrong_echo{0};
  absl::Mutex mu;
  std::map<std::string, int64_t> error_codes ABSL_GUARDED_BY(mu);
};

void Writer(JournalClient& client, const std::string& job, uint64_t seed,
            uint64_t window, std::atomic<uint64_t>& cursor, AckLog& log,
            LoadCounts& counts, absl::Time end) {
  std::mt19937_64 rng(seed);
  while (!g_stop && absl::Now() < end) {
    // Half the writes open a new identity; the rest land on the `window`
    // newest, where other writers are writing other values.
    uint64_t top = (rng() % 2 == 0) ? cursor.fetch_add(1) + 1 : cursor.load();
    uint64_t n = top - std::min<uint64_t>(top, rng() % window);
    Identity id = IdentityOf(n);

    v1::AppendActionRequest req;
    req.mutable_record()->set_job_id(job);
    req.mutable_record()->set_record_key(id.record_key);
    req.mutable_record()->set_seq_num(id.seq_num);
    req.set_action_key(id.action_key);
    std::string sent;
    if (id.slot == "c") {
      req.mutable_completion()->set_state(RandomPayload(rng));
      sent = Canonical(req.completion());
    } else {
      v1::Step* step = req.mutable_step();
      step->set_index(0);
      step->set_function_id("soak.call");
      step->set_args_digest("d");
      if (rng() % 4 == 0) {
        step->set_status(v1::STEP_STATUS_FAILED);
        step->set_error(RandomPayload(rng));
      } else {
        step->set_status(v1::STEP_STATUS_SUCCEEDED);
        step->set_result(RandomPayload(rng));
      }
      sent = Canonical(req.step());
    }
    req.mutable_cost()->set_input_tokens(rng() % 1000);

    const absl::Time started = absl::Now();
    absl::StatusOr<v1::AppendActionResponse> resp = client.AppendAction(req);
    const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - started);
    for (int64_t m = counts.max_call_ms; ms > m;) {
      if (counts.max_call_ms.compare_exchange_weak(m, ms)) break;
    }
    if (!resp.ok()) {
      // Not an acknowledgement: the server was down past the retry budget,
      // or the action is in a state that refuses the write.
      if (counts.errors++ < 5)
        std::cerr << "load: not acknowledged: " << resp.status() << "\n";
      if (counts.error_log != nullptr) {
        counts.error_log->Write(
            absl::StrCat(absl::ToUnixMillis(absl::Now()), "\t",
                         absl::StatusCodeToString(resp.status().code()), "\n"));
      }
      {
        absl::MutexLock lock(&counts.mu);
        counts.error_codes[absl::StatusCodeToString(resp.status().code())]++;
      }
      // A client without retries is answered at once while no replica is
      // SERVING; it must not spin.
      absl::SleepFor(absl::Milliseconds(10));
      continue;
    }
    // The client always fills in the stored entry (the server sends it only
    // when it differs from the request); without it there is nothing to
    // check against, which is itself a defect to report.
    std::string stored;
    if (resp->has_stored_step()) {
      stored = Canonical(resp->stored_step());
    } else if (resp->has_stored_completion()) {
      stored = Canonical(resp->stored_completion());
    } else {
      counts.wrong_echo++;
      continue;
    }
    log.Write(absl::StrCat(OutcomeName(resp->outcome()), "\t", id.Key(), "\t",
                           absl::BytesToHexString(stored), "\n"));
    counts.acks++;
    switch (resp->outcome()) {
      case v1::APPEND_OUTCOME_APPENDED:
        counts.appended++;
        if (stored != sent) counts.wrong_echo++;
        break;
      case v1::APPEND_OUTCOME_DUPLICATE:
        counts.duplicate++;
        if (stored != sent) counts.wrong_echo++;
        break;
      case v1::APPEND_OUTCOME_CONFLICT:
        counts.conflict++;
        break;
      default:
        break;
    }
  }
}

std::unique_ptr<JournalClient> Connect(const Args& args) {
  ClientOptions options;
  options.target = args.Get("target", "127.0.0.1:7450");
  options.deadline = absl::Milliseconds(
      args.GetInt("deadline_ms", 1000 * args.GetInt("deadline_seconds", 5)));
  // Outlasts a SIGKILL and restart, or a PostgreSQL restart.
  options.retry.max_attempts =
      static_cast<int>(args.GetInt("max_attempts", 1000));  // or the budget
  options.retry.max_backoff = absl::Milliseconds(500);
  options.retry.budget = absl::Seconds(args.GetInt("retry_budget_seconds", 20));
  // 0 turns the client's keepalive pings off (a fault test's control).
  options.keepalive_time = absl::Seconds(args.GetInt("keepalive_seconds", 10));
  auto client = JournalClient::Create(options);
  if (!client.ok()) {
    std::cerr << "soak_tool: " << client.status() << "\n";
    std::exit(2);
  }
  return std::move(*client);
}

int Load(const Args& args) {
  const std::string job = args.Get("job", "soak");
  const std::string path = args.Get("ack_log", "");
  if (path.empty()) {
    std::cerr << "soak_tool load: --ack_log is required\n";
    return 2;
  }
  const int writers = static_cast<int>(args.GetInt("writers", 6));
  const int64_t seconds = args.GetInt("seconds", 0);
  const uint64_t window = static_cast<uint64_t>(
      std::max<int64_t>(1, args.GetInt("identity_window", 12)));
  const uint64_t seed = static_cast<uint64_t>(args.GetInt("seed", 0)) ^
                        static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);

  std::unique_ptr<JournalClient> client = Connect(args);
  AckLog log(path);
  LoadCounts counts;
  if (const std::string errors = args.Get("error_log", ""); !errors.empty()) {
    counts.error_log = std::make_unique<AckLog>(errors);
  }
  std::atomic<uint64_t> cursor{0};
  const absl::Time end = seconds > 0 ? absl::Now() + absl::Seconds(seconds)
                                     : absl::InfiniteFuture();
  std::vector<std::thread> threads;
  for (int i = 0; i < writers; ++i) {
    threads.emplace_back([&, i] {
      Writer(*client, job, seed + static_cast<uint64_t>(i) * 7919, window,
             cursor, log, counts, end);
    });
  }
  for (auto& t : threads) t.join();

  std::string codes;
  {
    absl::MutexLock lock(&counts.mu);
    for (const auto& [code, n] : counts.error_codes)
      absl::StrAppend(&codes, " ", code, "=", n);
  }
  std::cout << "load: acknowledged=" << counts.acks
            << " appended=" << counts.appended
            << " duplicate=" << counts.duplicate
            << " conflict=" << counts.conflict
            << " identities_opened=" << cursor.load()
            << " errors=" << counts.errors << (codes.empty() ? "" : " (")
            << codes << (codes.empty() ? "" : " )")
            << " wrong_echo=" << counts.wrong_echo
            << " max_call_ms=" << counts.max_call_ms << std::endl;
  return counts.wrong_echo > 0 ? 1 : 0;
}

struct AckLine {
  std::string outcome;
  Identity id;
  std::string stored;  // canonical bytes
};

bool ParseLine(const std::string& line, AckLine* out) {
  std::vector<std::string> f = absl::StrSplit(line, '\t');
  if (f.size() != 6) return false;
  out->outcome = f[0];
  out->id.record_key = absl::HexStringToBytes(f[1]);
  out->id.action_key = f[3];
  out->id.slot = f[4];
  out->stored = absl::HexStringToBytes(f[5]);
  return absl::SimpleAtoi(f[2], &out->id.seq_num) &&
         (out->id.slot == "c" || absl::StartsWith(out->id.slot, "s"));
}

// A lookup that outlives a server that is still coming up.
absl::StatusOr<v1::LookupActionResponse> LookupWithRetry(
    JournalClient& client, const v1::LookupActionRequest& req) {
  absl::StatusOr<v1::LookupActionResponse> resp;
  for (int i = 0; i < 20; ++i) {
    resp = client.LookupAction(req);
    if (resp.ok() ||
        (resp.status().code() != absl::StatusCode::kUnavailable &&
         resp.status().code() != absl::StatusCode::kDeadlineExceeded)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  return resp;
}

int Check(const Args& args) {
  const std::string job = args.Get("job", "soak");
  if (args.positional.empty()) {
    std::cerr << "soak_tool check: name at least one ack log\n";
    return 2;
  }
  // Identity key -> the acknowledged entries (canonical bytes) seen for it.
  std::map<std::string, std::vector<AckLine>> by_identity;
  int64_t acks = 0;
  for (const std::string& path : args.positional) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "soak_tool check: cannot read " << path << "\n";
      return 2;
    }
    std::string line;
    while (std::getline(in, line)) {
      AckLine ack;
      if (!ParseLine(line, &ack)) {
        std::cerr << "soak_tool check: bad line in " << path << "\n";
        return 2;
      }
      ++acks;
      by_identity[ack.id.Key()].push_back(std::move(ack));
    }
  }

  std::unique_ptr<JournalClient> client = Connect(args);
  int64_t verified = 0, lost = 0, two_results = 0, errors = 0;
  int reported = 0;
  auto report = [&](const std::string& what, const Identity& id) {
    if (++reported <= 10) {
      std::cerr << "check: " << what
                << ": record_key=" << absl::BytesToHexString(id.record_key)
                << " seq=" << id.seq_num << " action=" << id.action_key << " "
                << id.slot << "\n";
    }
  };
  for (const auto& [key, list] : by_identity) {
    const Identity& id = list.front().id;
    const std::string& first = list.front().stored;
    bool agree = std::all_of(list.begin(), list.end(), [&](const AckLine& a) {
      return a.stored == first;
    });
    if (!agree) {
      ++two_results;
      report("acknowledgements disagree (two results)", id);
    }
    v1::LookupActionRequest req;
    req.mutable_record()->set_job_id(job);
    req.mutable_record()->set_record_key(id.record_key);
    req.mutable_record()->set_seq_num(id.seq_num);
    req.set_action_key(id.action_key);
    absl::StatusOr<v1::LookupActionResponse> resp =
        LookupWithRetry(*client, req);
    if (!resp.ok()) {
      ++errors;
      std::cerr << "check: lookup failed: " << resp.status() << "\n";
      continue;
    }
    std::string stored;
    bool present = false;
    if (resp->found()) {
      if (id.slot == "c") {
        present = resp->action().has_completion();
        if (present) stored = Canonical(resp->action().completion());
      } else {
        uint32_t index = 0;
        if (!absl::SimpleAtoi(id.slot.substr(1), &index)) return 2;
        for (const v1::Step& s : resp->action().steps()) {
          if (s.index() == index) {
            present = true;
            stored = Canonical(s);
          }
        }
      }
    }
    // Every acknowledgement must be what the store holds now; with two
    // disagreeing ones, at least one is lost.
    bool all_there =
        present && std::all_of(list.begin(), list.end(), [&](const AckLine& a) {
          return a.stored == stored;
        });
    if (all_there) {
      ++verified;
    } else {
      ++lost;
      report(present ? "stored entry differs from the acknowledged one"
                     : "acknowledged entry missing",
             id);
    }
  }
  std::cout << "check: acknowledged=" << acks
            << " identities=" << by_identity.size() << " verified=" << verified
            << " lost=" << lost << " two_results=" << two_results
            << " lookup_errors=" << errors << std::endl;
  return (lost > 0 || two_results > 0 || errors > 0) ? 1 : 0;
}

int Forge(const Args& args) {
  if (args.positional.size() != 2) {
    std::cerr << "usage: soak_tool forge IN OUT\n";
    return 2;
  }
  std::ifstream in(args.positional[0]);
  std::ofstream out(args.positional[1]);
  std::string line, first;
  while (std::getline(in, line)) {
    if (first.empty()) first = line;
    out << line << "\n";
  }
  AckLine ack;
  if (first.empty() || !ParseLine(first, &ack)) {
    std::cerr << "soak_tool forge: no acknowledgement to start from\n";
    return 2;
  }
  // Another value for an acknowledged identity: one more byte.
  v1::Completion other;
  other.set_state(ack.stored + "x");
  out << "APPENDED\t" << ack.id.Key() << "\t"
      << absl::BytesToHexString(Canonical(other)) << "\n";
  // An identity nobody wrote.
  Identity never = IdentityOf(1);
  never.record_key = "never-written";
  out << "APPENDED\t" << never.Key() << "\t"
      << absl::BytesToHexString(Canonical(other)) << "\n";
  return out.good() ? 0 : 2;
}

// Takes one record over (BeginRecord by a higher attempt, one call, no
// retry) and says how long it waited: the fault tests' second server
// taking over the records a vanished one had locked.
int Begin(const Args& args) {
  ClientOptions options;
  options.target = args.Get("target", "127.0.0.1:7450");
  options.deadline = absl::Seconds(args.GetInt("deadline_seconds", 60));
  options.retry.max_attempts = 1;
  auto client = JournalClient::Create(options);
  if (!client.ok()) {
    std::cerr << "soak_tool: " << client.status() << "\n";
    return 2;
  }
  v1::BeginRecordRequest req;
  req.mutable_record()->set_job_id(args.Get("job", "soak"));
  req.mutable_record()->set_record_key(
      absl::HexStringToBytes(args.Get("key_hex", "")));
  req.mutable_record()->set_seq_num(args.GetInt("seq", 0));
  req.set_attempt(static_cast<uint64_t>(args.GetInt("attempt", 1)));
  const absl::Time started = absl::Now();
  absl::StatusOr<v1::BeginRecordResponse> resp = (*client)->BeginRecord(req);
  const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - started);
  if (!resp.ok()) {
    std::cout << "begin: " << resp.status() << " after " << ms << " ms\n";
    return 1;
  }
  std::cout << "begin: OK after " << ms << " ms\n";
  return 0;
}

}  // namespace
}  // namespace actionjournal

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  actionjournal::Args args = actionjournal::ParseArgs(argc, argv, 2);
  if (cmd == "load") return actionjournal::Load(args);
  if (cmd == "check") return actionjournal::Check(args);
  if (cmd == "forge") return actionjournal::Forge(args);
  if (cmd == "begin") return actionjournal::Begin(args);
  std::cerr << "usage: soak_tool load|check|forge|begin ... (see "
               "tests/soak/soak_tool.cc)\n";
  return 2;
}
