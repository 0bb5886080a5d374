// actionjournal-cli: talks to actionjournal-server for people and scripts.
// The exit code is the gRPC status code (0 = OK); 64 is a usage error.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "client/journal_client.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace actionjournal {
namespace {

constexpr int kUsageError = 64;

constexpr const char* kUsage =
    R"(usage: actionjournal-cli [--target HOST:PORT] [--deadline 10s] [--output text|json|jsonl]
                         [--tls-ca-file F [--tls-cert-file F --tls-key-file F]]
                         [--token-file F] COMMAND [options]
       actionjournal-cli --version | --help

  begin    --job J --key K --seq N [--attempt A] [--fingerprint F] [--reset]
  append   --job J --key K --seq N --action A [--attempt A]
           (--step I --fn F [--digest D] --status pending|succeeded|failed
            [--result R] [--error E] [--replace] | --completion STATE)
           [--input-tokens N] [--output-tokens N] [--micro-usd N]
  lookup   --job J --key K --seq N --action A
  complete --job J --key K --seq N [--attempt A]
  prune    --job J [--up-to KEY=SEQ]... [--completed-before-micros T] [--whole-job]
           [--retention D]   kept, and answered, for D (e.g. 0s, 2h) before
                             deletion; default the server's --prune-retention
  stats    [--job J]          per job: records, entries, payload bytes, the
                             stored cost a replay of the job saves, replays
  records  --job J [--prefix K] [--status open|completed|retained] [--replayed]
           [--created-from T] [--created-before T] [--page-size N]
           [--page-token P | --all]
                             the job's records, newest first, as a table (T:
                             RFC 3339, e.g. 2026-12-03T10:00:00Z); --all reads
                             every page; jsonl: one record per line
  show     --job J --key K --seq N [--payloads]
                             one record whole, read without taking it over:
                             each action's steps and completion, when written,
                             and whether the last replay reused them or ran
                             them again; payloads only with --payloads
  invalidate --job J --key K --seq N [--action A] [--force]
                             drops the action's entries (or every action's),
                             so that the next replay runs it again; a
                             completed record only with --force (reopened);
                             needs the prune permission; logged
  export   --job J [--key K --seq N] [--payloads] [--page-size N] [--page-token P]
                             the job's records (or one), one JSON object a line
                             (GetRecord's answer; payloads in base64 with
                             --payloads, else left out), page by page; stderr
                             says after each page how to resume
  health   [--service NAME]   grpc.health.v1 Check: "" (default) is SERVING
           while the store answers; "liveness" while the process runs

--target defaults to $ACTIONJOURNAL_TARGET, else 127.0.0.1:7450.
--tls-ca-file (TLS: the CA of the server's certificate), --tls-cert-file and
--tls-key-file (mutual TLS: the client's certificate and key) and --token-file
(a file holding the bearer token) default to $ACTIONJOURNAL_TLS_CA_FILE,
$ACTIONJOURNAL_TLS_CERT_FILE, $ACTIONJOURNAL_TLS_KEY_FILE and
$ACTIONJOURNAL_TOKEN_FILE.
--output json prints each answer as one JSON object (protobuf's JSON mapping:
bytes in base64, 64-bit numbers as strings) and an error as
{"code":"...","message":"..."} on stderr; jsonl (records) one object a line.
Exit code: the gRPC status code (0 OK, 3 INVALID_ARGUMENT, 9 FAILED_PRECONDITION,
14 UNAVAILABLE, ...); 64 for a usage error.
)";

struct Args {
  std::string command;
  std::multimap<std::string, std::string> opts;
  bool Has(const std::string& k) const { return opts.count(k) != 0; }
  std::string Get(const std::string& k, std::string def = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "actionjournal-cli: " << why << "\n\n" << kUsage;
  std::exit(kUsageError);
}

const std::vector<std::string> kBoolFlags = {
    "--reset",    "--replace",  "--whole-job", "--help", "--version",
    "--replayed", "--payloads", "--all",       "--force"};

bool json_output = false;
bool jsonl_output = false;

// Prints `m` as JSON when asked; false when the caller prints text.
bool PrintJson(const google::protobuf::Message& m) {
  if (!json_output && !jsonl_output) return false;
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    out = "{}";
  }
  std::cout << out << "\n";
  return true;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      if (!a.command.empty()) Usage("unexpected argument '" + arg + "'");
      a.command = arg;
      continue;
    }
    std::string value;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (std::find(kBoolFlags.begin(), kBoolFlags.end(), arg) ==
               kBoolFlags.end()) {
      if (i + 1 >= argc) Usage(arg + " needs a value");
      value = argv[++i];
    }
    a.opts.emplace(arg.substr(2), value);
  }
  return a;
}

template <typename T>
T Number(const Args& a, const std::string& key, T def) {
  if (!a.Has(key)) return def;
  T v;
  if (!absl::SimpleAtoi(a.Get(key), &v))
    Usage("--" + key + " must be a number");
  return v;
}

std::string Required(const Args& a, const std::string& key) {
  if (!a.Has(key)) Usage(a.command + " needs --" + key);
  return a.Get(key);
}

v1::RecordId Record(const Args& a) {
  v1::RecordId r;
  r.set_job_id(Required(a, "job"));
  r.set_record_key(Required(a, "key"));
  Required(a, "seq");
  r.set_seq_num(Number<int64_t>(a, "seq", 0));
  return r;
}

std::string Bytes(const std::string& b) {
  return "\"" + absl::CHexEscape(b) + "\"";
}

std::string StepLine(const v1::Step& s) {
  std::string line = absl::StrCat("step ", s.index(), " fn=", s.function_id(),
                                  " digest=", Bytes(s.args_digest()), " ",
                                  v1::StepStatus_Name(s.status()).substr(12));
  if (!s.result().empty())
    absl::StrAppend(&line, " result=", Bytes(s.result()));
  if (!s.error().empty()) absl::StrAppend(&line, " error=", Bytes(s.error()));
  return line;
}

void PrintAction(const v1::ActionEntries& a) {
  std::cout << "  action " << Bytes(a.action_key()) << ": " << a.steps_size()
            << " step(s), "
            << (a.has_completion()
                    ? "completed state=" + Bytes(a.completion().state())
                    : std::string("not completed"))
            << ", cost input_tokens=" << a.cost().input_tokens()
            << " output_tokens=" << a.cost().output_tokens()
            << " micro_usd=" << a.cost().micro_usd() << "\n";
  for (const v1::Step& s : a.steps())
    std::cout << "    " << StepLine(s) << "\n";
}

int Fail(const absl::Status& s) {
  if (json_output) {
    std::cerr << "{\"code\":\"" << absl::StatusCodeToString(s.code())
              << "\",\"message\":\"" << absl::CEscape(s.message()) << "\"}\n";
    return static_cast<int>(s.code());
  }
  std::cerr << "error: " << absl::StatusCodeToString(s.code()) << ": "
            << s.message() << "\n";
  return static_cast<int>(s.code());
}

// A time of the read APIs (microseconds since the epoch; 0: none).
std::string TimeText(int64_t micros) {
  if (micros == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

std::string Usd(uint64_t micro_usd) {
  return absl::StrFormat("%.6f", micro_usd / 1e6);
}

int64_t TimeFlag(const Args& a, const std::string& key) {
  if (!a.Has(key)) return 0;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, a.Get(key), &t, &err)) {
    Usage("--" + key +
          " takes an RFC 3339 time (2026-12-03T10:00:00Z): " + err);
  }
  return absl::ToUnixMicros(t);
}

// A page token flag: the hex a previous page printed ("" when absent).
std::string HexFlag(const Args& a, const std::string& key) {
  if (!a.Has(key)) return "";
  const std::string hex = a.Get(key);
  const bool is_hex =
      !hex.empty() && hex.size() % 2 == 0 &&
      std::all_of(hex.begin(), hex.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0;
      });
  if (!is_hex)
    Usage("--" + key + " takes the hex token a previous page printed");
  return absl::HexStringToBytes(hex);
}

// `records`: the table (or JSON) of one page, or of every page with --all.
int Records(const Args& a, JournalClient& client) {
  v1::ListRecordsRequest req;
  req.set_job_id(Required(a, "job"));
  req.set_key_prefix(a.Get("prefix"));
  const std::string status = a.Get("status", "any");
  if (status == "open") {
    req.set_status(v1::ListRecordsRequest::STATUS_FILTER_OPEN);
  } else if (status == "completed") {
    req.set_status(v1::ListRecordsRequest::STATUS_FILTER_COMPLETED);
  } else if (status == "retained") {
    req.set_status(v1::ListRecordsRequest::STATUS_FILTER_RETAINED);
  } else if (status != "any") {
    Usage("--status must be open, completed or retained");
  }
  req.set_created_from_unix_micros(TimeFlag(a, "created-from"));
  req.set_created_before_unix_micros(TimeFlag(a, "created-before"));
  req.set_replayed_only(a.Has("replayed"));
  req.set_page_size(Number<int32_t>(a, "page-size", 0));
  req.set_page_token(HexFlag(a, "page-token"));
  const bool all = a.Has("all");
  if (all && a.Has("page-token")) Usage("--all reads from the first page");
  bool header = false;
  for (;;) {
    auto r = client.ListRecords(req);
    if (!r.ok()) return Fail(r.status());
    if (jsonl_output) {
      for (const v1::RecordSummary& s : r->records()) PrintJson(s);
    } else if (json_output) {
      PrintJson(*r);
    } else {
      if (!header) {
        std::cout << absl::StrFormat(
            "%-24s %6s %-9s %7s %-24s %7s %7s %9s %10s %7s\n", "KEY", "SEQ",
            "STATUS", "ATTEMPT", "CREATED", "ACTIONS", "ENTRIES", "BYTES",
            "USD", "REPLAYS");
        header = true;
      }
      for (const v1::RecordSummary& s : r->records()) {
        std::string state =
            s.status() == v1::RECORD_STATUS_COMPLETED ? "completed" : "open";
        if (s.retained_until_unix_micros() != 0) state += "*";
        std::cout << absl::StrFormat(
            "%-24s %6d %-9s %7d %-24s %7d %7d %9d %10s %7d\n",
            Bytes(s.record().record_key()), s.record().seq_num(), state,
            s.attempt(), TimeText(s.created_at_unix_micros()), s.actions(),
            s.entries(), s.payload_bytes(), Usd(s.cost().micro_usd()),
            s.replays());
      }
    }
    if (r->next_page_token().empty()) return 0;
    if (!all) {
      if (!json_output && !jsonl_output) {
        std::cout << "more: --page-token "
                  << absl::BytesToHexString(r->next_page_token()) << "\n";
      }
      return 0;
    }
    req.set_page_token(r->next_page_token());
  }
}

// What a replay made of an entry, for `show`.
std::string ReuseText(const v1::RecordSummary& rec, int64_t written,
                      bool reused) {
  if (rec.replays() == 0) return "first run";
  if (reused) return "reused by the replay";
  if (written == 0) return "-";
  return "ran in the replay";
}

// `show`: one record as a tree.
int Show(const Args& a, JournalClient& client) {
  v1::GetRecordRequest req;
  *req.mutable_record() = Record(a);
  req.set_include_payloads(a.Has("payloads"));
  auto r = client.GetRecord(req);
  if (!r.ok()) return Fail(r.status());
  if (PrintJson(*r)) return 0;
  const v1::RecordSummary& s = r->record();
  std::cout << "record " << Bytes(s.record().record_key()) << " seq "
            << s.record().seq_num() << ": "
            << (s.status() == v1::RECORD_STATUS_COMPLETED ? "completed"
                                                          : "open")
            << ", attempt " << s.attempt() << ", created "
            << TimeText(s.created_at_unix_micros()) << "\n  " << s.replays()
            << " replay(s)"
            << (s.replays() > 0
                    ? ", the last at " + TimeText(s.replayed_at_unix_micros())
                    : "")
            << "; " << s.actions() << " action(s), " << s.entries() << " entr"
            << (s.entries() == 1 ? "y" : "ies") << ", " << s.payload_bytes()
            << " payload bytes; cost " << s.cost().input_tokens()
            << " input and " << s.cost().output_tokens()
            << " output tokens, USD " << Usd(s.cost().micro_usd());
  if (s.retained_until_unix_micros() != 0) {
    std::cout << "; pruned, kept until "
              << TimeText(s.retained_until_unix_micros());
  }
  std::cout << "\n";
  for (const v1::ActionEntries& act : r->actions()) {
    std::cout << "  action " << Bytes(act.action_key()) << ": "
              << (act.has_completion() ? "completed" : "not completed")
              << ", USD " << Usd(act.cost().micro_usd()) << "\n";
    for (const v1::Step& st : act.steps()) {
      const std::string& payload =
          st.status() == v1::STEP_STATUS_FAILED ? st.error() : st.result();
      std::cout << "    step " << st.index() << " " << st.function_id()
                << " digest=" << Bytes(st.args_digest()) << " "
                << v1::StepStatus_Name(st.status()).substr(12) << ", "
                << st.omitted_bytes() + payload.size() << " bytes, written "
                << TimeText(st.written_at_unix_micros()) << ", "
                << ReuseText(s, st.written_at_unix_micros(), st.reused());
      if (!payload.empty()) std::cout << "\n      " << Bytes(payload);
      std::cout << "\n";
    }
    if (act.has_completion()) {
      const v1::Completion& c = act.completion();
      std::cout << "    completion, " << c.omitted_bytes() + c.state().size()
                << " bytes, written " << TimeText(c.written_at_unix_micros())
                << ", " << ReuseText(s, c.written_at_unix_micros(), c.reused());
      if (!c.state().empty()) std::cout << "\n      " << Bytes(c.state());
      std::cout << "\n";
    }
  }
  return 0;
}

// Prints one exported record: GetRecord's whole answer, one JSON line.
void PrintJsonLine(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    out = "{}";
  }
  std::cout << out << "\n";
}

// `export`: a job's records (or one), one JSON line each, page by page;
// after each page stderr says how to resume from there.
int Export(const Args& a, JournalClient& client) {
  const bool payloads = a.Has("payloads");
  if (a.Has("key") || a.Has("seq")) {
    v1::GetRecordRequest req;
    *req.mutable_record() = Record(a);
    req.set_include_payloads(payloads);
    auto r = client.GetRecord(req);
    if (!r.ok()) return Fail(r.status());
    PrintJsonLine(*r);
    return 0;
  }
  v1::ListRecordsRequest list;
  list.set_job_id(Required(a, "job"));
  list.set_page_size(Number<int32_t>(a, "page-size", 100));
  list.set_page_token(HexFlag(a, "page-token"));
  uint64_t n = 0;
  for (;;) {
    auto page = client.ListRecords(list);
    if (!page.ok()) return Fail(page.status());
    for (const v1::RecordSummary& s : page->records()) {
      v1::GetRecordRequest req;
      *req.mutable_record() = s.record();
      req.set_include_payloads(payloads);
      auto r = client.GetRecord(req);
      // A record pruned since the page was read is no longer there.
      if (r.status().code() == absl::StatusCode::kNotFound) continue;
      if (!r.ok()) return Fail(r.status());
      PrintJsonLine(*r);
      ++n;
    }
    std::cout.flush();
    if (page->next_page_token().empty()) break;
    list.set_page_token(page->next_page_token());
    std::cerr << "export: " << n << " record(s); resume with --page-token "
              << absl::BytesToHexString(page->next_page_token()) << "\n";
  }
  std::cerr << "export: " << n << " record(s), done\n";
  return 0;
}

int Run(const Args& a, JournalClient& client) {
  if (a.command == "records") return Records(a, client);
  if (a.command == "show") return Show(a, client);
  if (a.command == "export") return Export(a, client);
  if (a.command == "invalidate") {
    v1::InvalidateRequest req;
    *req.mutable_record() = Record(a);
    if (a.Has("action") && a.Get("action").empty())
      Usage("--action needs an action key (leave it out for the record)");
    req.set_action_key(a.Get("action"));
    req.set_force(a.Has("force"));
    auto r = client.Invalidate(req);
    if (!r.ok()) return Fail(r.status());
    if (PrintJson(*r)) return 0;
    std::cout << "invalidated "
              << (req.action_key().empty()
                      ? std::string("the record")
                      : "action " + Bytes(req.action_key()))
              << ": " << r->entries_deleted() << " entr"
              << (r->entries_deleted() == 1 ? "y" : "ies") << " dropped"
              << (r->reopened() ? "; the record is open again" : "")
              << "; the next replay runs "
              << (req.action_key().empty() ? "its actions" : "it")
              << " again\n";
    return 0;
  }
  if (a.command == "begin") {
    v1::BeginRecordRequest req;
    *req.mutable_record() = Record(a);
    req.set_attempt(Number<uint64_t>(a, "attempt", 0));
    req.set_input_fingerprint(a.Get("fingerprint"));
    req.set_reset_on_mismatch(a.Has("reset"));
    auto r = client.BeginRecord(req);
    if (!r.ok()) return Fail(r.status());
    if (PrintJson(*r)) return 0;
    std::cout << "record " << v1::RecordStatus_Name(r->status()).substr(14)
              << ", attempt " << r->attempt() << ", " << r->actions_size()
              << " action(s) journaled"
              << (r->input_mismatch() ? ", INPUT MISMATCH" : "")
              << (r->reset() ? ", reset" : "") << "\n";
    for (const auto& act : r->actions()) PrintAction(act);
    return 0;
  }
  if (a.command == "append") {
    v1::AppendActionRequest req;
    *req.mutable_record() = Record(a);
    req.set_action_key(Required(a, "action"));
    req.set_attempt(Number<uint64_t>(a, "attempt", 0));
    if (a.Has("completion") == a.Has("step")) {
      Usage("append needs exactly one of --step or --completion");
    }
    if (a.Has("completion")) {
      req.mutable_completion()->set_state(a.Get("completion"));
    } else {
      v1::Step* s = req.mutable_step();
      s->set_index(Number<uint32_t>(a, "step", 0));
      s->set_function_id(Required(a, "fn"));
      s->set_args_digest(a.Get("digest"));
      const std::string status = Required(a, "status");
      if (status == "pending") {
        s->set_status(v1::STEP_STATUS_PENDING);
      } else if (status == "succeeded") {
        s->set_status(v1::STEP_STATUS_SUCCEEDED);
      } else if (status == "failed") {
        s->set_status(v1::STEP_STATUS_FAILED);
      } else {
        Usage("--status must be pending, succeeded or failed");
      }
      s->set_result(a.Get("result"));
      s->set_error(a.Get("error"));
      if (a.Has("replace")) {
        req.set_conflict_policy(v1::CONFLICT_POLICY_REPLACE_FROM_HERE);
      }
    }
    req.mutable_cost()->set_input_tokens(
        Number<uint64_t>(a, "input-tokens", 0));
    req.mutable_cost()->set_output_tokens(
        Number<uint64_t>(a, "output-tokens", 0));
    req.mutable_cost()->set_micro_usd(Number<uint64_t>(a, "micro-usd", 0));
    auto r = client.AppendAction(req);
    if (!r.ok()) return Fail(r.status());
    if (PrintJson(*r)) return 0;
    std::cout << v1::AppendOutcome_Name(r->outcome()).substr(15) << "; stored: "
              << (r->has_stored_step()
                      ? StepLine(r->stored_step())
                      : "completion state=" +
                            Bytes(r->stored_completion().state()))
              << "\n";
    return 0;
  }
  if (a.command == "lookup") {
    v1::LookupActionRequest req;
    *req.mutable_record() = Record(a);
    req.set_action_key(Required(a, "action"));
    auto r = client.LookupAction(req);
    if (!r.ok()) return Fail(r.status());
    if (PrintJson(*r)) return 0;
    if (!r->found()) {
      std::cout << "not found"
                << (r->record_status() == v1::RECORD_STATUS_UNSPECIFIED
                        ? " (no such record)"
                        : "")
                << "\n";
      return 0;
    }
    std::cout << "found; record "
              << v1::RecordStatus_Name(r->record_status()).substr(14) << "\n";
    PrintAction(r->action());
    return 0;
  }
  if (a.command == "complete") {
    v1::CompleteRecordRequest req;
    *req.mutable_record() = Record(a);
    req.set_attempt(Number<uint64_t>(a, "attempt", 0));
    auto r = client.CompleteRecord(req);
    if (!r.ok()) return Fail(r.status());
    if (PrintJson(*r)) return 0;
    std::cout << (r->newly_completed() ? "completed" : "already completed")
              << " at "
              << absl::FormatTime(
                     absl::RFC3339_sec,
                     absl::FromUnixMicros(r->completed_at_unix_micros()),
                     absl::UTCTimeZone())
              << "\n";
    return 0;
  }
  if (a.command == "prune") {
    v1::PruneRequest req;
    req.set_job_id(Required(a, "job"));
    auto range = a.opts.equal_range("up-to");
    for (auto it = range.first; it != range.second; ++it) {
      const size_t eq = it->second.rfind('=');
      int64_t seq = 0;
      if (eq == std::string::npos ||
          !absl::SimpleAtoi(it->second.substr(eq + 1), &seq)) {
        Usage("--up-to takes KEY=SEQ");
      }
      auto* k = req.add_keys();
      k->set_record_key(it->second.substr(0, eq));
      k->set_up_to_seq_num(seq);
    }
    req.set_completed_before_unix_micros(
        Number<int64_t>(a, "completed-before-micros", 0));
    req.set_whole_job(a.Has("whole-job"));
    if (a.Has("retention")) {
      absl::Duration d;
      if (!absl::ParseDuration(a.Get("retention"), &d) ||
          d < absl::ZeroDuration()) {
        Usage("--retention takes a duration >= 0 (0s, 90m, 24h)");
      }
      req.set_retention_millis(absl::ToInt64Milliseconds(d));
    }
    auto r = client.Prune(req);
    if (!r.ok()) return Fail(r.status());
    if (PrintJson(*r)) return 0;
    std::cout << "pruned " << r->records_deleted() << " record(s), "
              << r->entries_deleted() << " entr"
              << (r->entries_deleted() == 1 ? "y" : "ies");
    if (r->records_retained() > 0) {
      std::cout << "; " << r->records_retained()
                << " record(s) kept until their retention passes";
    }
    std::cout << "\n";
    return 0;
  }
  if (a.command == "stats") {
    v1::GetStatsRequest req;
    req.set_job_id(a.Get("job"));
    auto r = client.GetStats(req);
    if (!r.ok()) return Fail(r.status());
    if (PrintJson(*r)) return 0;
    if (r->jobs().empty()) std::cout << "no records\n";
    for (const v1::JobStats& j : r->jobs()) {
      std::cout << "job " << j.job_id() << ": " << j.records() << " record(s) ("
                << j.retained_records() << " kept after a prune, "
                << j.replayed_records() << " replayed, " << j.replays()
                << " replay(s) in all), " << j.entries() << " entr"
                << (j.entries() == 1 ? "y" : "ies") << ", " << j.payload_bytes()
                << " payload bytes (" << j.blobs()
                << " stored once: " << j.blob_bytes() << " bytes, saving "
                << j.deduplicated_bytes() << "); a replay saves "
                << j.cost().input_tokens() << " input and "
                << j.cost().output_tokens() << " output tokens, USD "
                << absl::StrFormat("%.6f", j.cost().micro_usd() / 1e6) << "\n";
    }
    return 0;
  }
  Usage(a.command.empty() ? "no command"
                          : "unknown command '" + a.command + "'");
}

// grpc.health.v1 Check, as Kubernetes' gRPC probes call it; exit 0 only when
// SERVING.
int Health(const Args& a, const ClientOptions& options) {
  auto channel = CreateJournalChannel(options, grpc::ChannelArguments());
  if (!channel.ok()) Usage(std::string(channel.status().message()));
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(options.deadline));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(a.Get("service"));
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) {
    return Fail(absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                             s.error_message()));
  }
  if (!PrintJson(resp)) {
    std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                     resp.status())
              << "\n";
  }
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : static_cast<int>(absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace actionjournal

int main(int argc, char** argv) {
  using namespace actionjournal;
  Args args = Parse(argc, argv);
  if (args.Has("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (args.Has("version")) {
    std::cout << "actionjournal-cli " << ACTIONJOURNAL_VERSION << "\n";
    return 0;
  }
  const std::string output = args.Get("output", "text");
  if (output != "text" && output != "json" && output != "jsonl")
    Usage("--output must be text, json or jsonl");
  json_output = output == "json";
  jsonl_output = output == "jsonl";
  ClientOptions options;
  auto flag_or_env = [&args](const std::string& flag, const char* env,
                             const std::string& fallback) {
    const char* value = std::getenv(env);
    return args.Get(flag, value ? value : fallback);
  };
  options.target =
      flag_or_env("target", "ACTIONJOURNAL_TARGET", options.target);
  options.tls_ca_file =
      flag_or_env("tls-ca-file", "ACTIONJOURNAL_TLS_CA_FILE", "");
  options.tls_cert_file =
      flag_or_env("tls-cert-file", "ACTIONJOURNAL_TLS_CERT_FILE", "");
  options.tls_key_file =
      flag_or_env("tls-key-file", "ACTIONJOURNAL_TLS_KEY_FILE", "");
  options.token_file =
      flag_or_env("token-file", "ACTIONJOURNAL_TOKEN_FILE", "");
  if (args.Has("deadline") &&
      !absl::ParseDuration(args.Get("deadline"), &options.deadline)) {
    Usage("--deadline takes a duration such as 10s");
  }
  if (args.command == "health") return Health(args, options);
  auto client = JournalClient::Create(options);
  if (!client.ok()) Usage(std::string(client.status().message()));
  return Run(args, **client);
}
