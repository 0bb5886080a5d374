// The soak's load and its check (scripts/soak.sh).
//
//   soak_tool load --target T --log FILE [--writers 8] [--identities 200]
//                  [--seconds 3600]
//     Half the writes race on a few shared identities with different values
//     (so that conflicts happen), half go to identities of their own (so
//     that many distinct rows are acknowledged): completions of actions
//     "c<i>" and SUCCEEDED steps of actions "s<i>". A value is made from a
//     seed, so the log needs only
//     the seed: every acknowledged answer appends a line "identity seed
//     length" of the entry the server says is stored. Runs until killed or
//     the time is up; calls that fail (the server killed) are counted, not
//     logged.
//   soak_tool check --target T --log FILE...
//     Every identity's acknowledgements must name one value (no identity
//     holds two results), and LookupAction must return it byte for byte.
//     Prints the counts; exits 1 when anything was lost or doubled.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/journal_client.h"

namespace actionjournal {
namespace {

// The value of `seed` and `length`: deterministic bytes, all 256 values.
std::string Expand(uint64_t seed, size_t length) {
  std::string out(length, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// The seed and length a value was made from: its first 12 bytes are a
// header (seed, length), so that a stored value names itself.
std::string MakeValue(uint64_t seed, uint32_t length) {
  std::string v(12, '\0');
  for (int i = 0; i < 8; ++i) v[i] = static_cast<char>(seed >> (8 * i));
  for (int i = 0; i < 4; ++i) v[8 + i] = static_cast<char>(length >> (8 * i));
  return v + Expand(seed, length);
}

bool ReadHeader(const std::string& v, uint64_t* seed, uint32_t* length) {
  if (v.size() < 12) return false;
  *seed = 0;
  *length = 0;
  for (int i = 0; i < 8; ++i)
    *seed |= static_cast<uint64_t>(static_cast<uint8_t>(v[i])) << (8 * i);
  for (int i = 0; i < 4; ++i) {
    *length |= static_cast<uint32_t>(static_cast<uint8_t>(v[8 + i])) << (8 * i);
  }
  return v.size() == 12 + *length;
}

std::string Flag(int argc, char** argv, const std::string& name,
                 const std::string& def) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return def;
}

v1::RecordId Record(int64_t identity) {
  v1::RecordId r;
  r.set_job_id("soak");
  r.set_record_key(absl::StrCat("r", identity % 17));
  r.set_seq_num(identity / 17);
  return r;
}

// "c<i>": a completion; "s<i>": step 0, SUCCEEDED.
v1::AppendActionRequest Request(const std::string& identity,
                                const std::string& value) {
  const int64_t n = std::atoll(identity.c_str() + 1);
  v1::AppendActionRequest req;
  *req.mutable_record() = Record(n);
  req.set_action_key(identity);
  if (identity[0] == 'c') {
    req.mutable_completion()->set_state(value);
  } else {
    v1::Step* s = req.mutable_step();
    s->set_index(0);
    s->set_function_id("soak.call");
    s->set_args_digest("d");
    s->set_status(v1::STEP_STATUS_SUCCEEDED);
    s->set_result(value);
  }
  return req;
}

int Load(int argc, char** argv) {
  ClientOptions o;
  o.target = Flag(argc, argv, "target", "");
  const std::string log_path = Flag(argc, argv, "log", "");
  const int writers = std::atoi(Flag(argc, argv, "writers", "8").c_str());
  const int identities =
      std::atoi(Flag(argc, argv, "identities", "200").c_str());
  const absl::Time until =
      absl::Now() +
      absl::Seconds(std::atoi(Flag(argc, argv, "seconds", "3600").c_str()));
  auto client = JournalClient::Create(o);
  if (!client.ok() || log_path.empty()) {
    std::fprintf(stderr, "soak_tool load: needs --target and --log\n");
    return 2;
  }
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return 2;
  std::atomic<int64_t> acked{0}, failed{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(absl::ToUnixNanos(absl::Now()) + w);
      // Identities of this writer's own: unique across runs of the load too.
      int64_t own = (absl::ToUnixMicros(absl::Now()) % 100000) * 1000000 +
                    w * 100000000000;
      while (absl::Now() < until) {
        const int64_t n = rng() % 2 ? static_cast<int64_t>(rng() % identities)
                                    : identities + (own++);
        const std::string identity = absl::StrCat(n % 2 ? "c" : "s", n);
        const uint64_t seed = rng();
        const uint32_t length = static_cast<uint32_t>(rng() % 8192);
        auto r =
            (*client)->AppendAction(Request(identity, MakeValue(seed, length)));
        if (!r.ok()) {
          ++failed;
          continue;
        }
        const std::string& stored = r->has_stored_step()
                                        ? r->stored_step().result()
                                        : r->stored_completion().state();
        uint64_t s;
        uint32_t l;
        if (!ReadHeader(stored, &s, &l)) {
          std::fprintf(stderr, "soak_tool: malformed stored value for %s\n",
                       identity.c_str());
          std::abort();
        }
        // One write per line: the kernel keeps it whatever happens next.
        const std::string line = absl::StrCat(identity, " ", s, " ", l, "\n");
        if (write(fd, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size()))
          std::abort();
        ++acked;
      }
    });
  }
  for (auto& t : threads) t.join();
  close(fd);
  std::printf("load: %lld acknowledged, %lld failed calls\n",
              static_cast<long long>(acked.load()),
              static_cast<long long>(failed.load()));
  return 0;
}

int Check(int argc, char** argv) {
  ClientOptions o;
  o.target = Flag(argc, argv, "target", "");
  auto client = JournalClient::Create(o);
  if (!client.ok()) return 2;
  std::map<std::string, std::pair<uint64_t, uint32_t>> first;
  int64_t acks = 0, two_results = 0;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::string(argv[i]) != "--log") continue;
    std::ifstream in(argv[i + 1]);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      uint64_t seed;
      uint32_t length;
      if (f.size() != 3 || !absl::SimpleAtoi(f[1], &seed) ||
          !absl::SimpleAtoi(f[2], &length)) {
        continue;  // a line cut by the end of the run
      }
      ++acks;
      auto [it, inserted] = first.emplace(f[0], std::make_pair(seed, length));
      if (!inserted && it->second != std::make_pair(seed, length)) {
        ++two_results;
        std::fprintf(stderr, "two results acknowledged for %s\n", f[0].c_str());
      }
    }
  }
  int64_t verified = 0, lost = 0;
  for (const auto& [identity, value] : first) {
    v1::LookupActionRequest req;
    *req.mutable_record() = Record(std::atoll(identity.c_str() + 1));
    req.set_action_key(identity);
    auto r = (*client)->LookupAction(req);
    const std::string want = MakeValue(value.first, value.second);
    std::string got;
    if (r.ok() && r->found()) {
      got = identity[0] == 'c'             ? r->action().completion().state()
            : r->action().steps_size() > 0 ? r->action().steps(0).result()
                                           : "";
    }
    if (got == want) {
      ++verified;
    } else {
      ++lost;
      std::fprintf(stderr, "lost: %s (%s)\n", identity.c_str(),
                   r.ok() ? "stored value differs or is missing"
                          : r.status().ToString().c_str());
    }
  }
  std::printf(
      "check: acknowledged=%lld identities=%zu verified=%lld lost=%lld "
      "two_results=%lld\n",
      static_cast<long long>(acks), first.size(),
      static_cast<long long>(verified), static_cast<long long>(lost),
      static_cast<long long>(two_results));
  return lost == 0 && two_results == 0 ? 0 : 1;
}

}  // namespace
}  // namespace actionjournal

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "load") return actionjournal::Load(argc, argv);
  if (cmd == "check") return actionjournal::Check(argc, argv);
  std::fprintf(stderr,
               "usage: soak_tool load|check --target T --log FILE ...\n");
  return 2;
}
