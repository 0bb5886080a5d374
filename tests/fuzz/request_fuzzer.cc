// libFuzzer target over what a hostile client controls: request bytes are
// parsed as the server parses them, checked by the server's validation,
// applied to the journal on the memory backend, and answered as the server
// answers. One input is a sequence of requests on one store:
//   [rpc: 1 byte][length: 2 bytes, little-endian][request bytes]...
// Invariants (a violation aborts, which libFuzzer reports):
//   - bytes that do not parse get INVALID_ARGUMENT with a message;
//   - an answer never exceeds the answer bound;
//   - after an accepted append, LookupAction finds exactly the stored entry
//     the append answered with (one result per identity);
//   - a request refused by validation changes nothing;
//   - a list page holds at most its page size, each row of the job asked.
//
// Built with -DAJ_FUZZ_SEEDS_MAIN it is instead a program writing the seed
// corpus (the shapes of the end-to-end tests' cases) into a directory.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "actionjournal/v1/journal.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "server/convert.h"
#include "storage/memory/memory_store.h"
#include "storage/stores.h"

namespace actionjournal {
namespace {

enum Op : uint8_t {
  kBegin,
  kAppend,
  kLookup,
  kComplete,
  kPrune,
  kReadPayload,
  kListRecords,
  kGetRecord,
  kOps
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

RequestLimits Limits() {
  RequestLimits l;
  l.max_payload = 2048;  // small, so that the fuzzer reaches the limits
  l.max_record_key = 64;
  l.max_action_key = 64;
  l.max_function_id = 64;
  l.max_answer_bytes = 4096;
  l.max_prune_keys = 16;
  return l;
}

template <typename Msg>
bool Parse(const std::string& bytes, Msg* msg) {
  if (msg->ParseFromString(bytes)) return true;
  const absl::Status s = ExplainParseFailure(*Msg::descriptor(), bytes);
  Check(s.code() == absl::StatusCode::kInvalidArgument && !s.message().empty(),
        "a request that does not parse gets INVALID_ARGUMENT saying why");
  return false;
}

void CheckAnswer(const google::protobuf::Message& m,
                 const RequestLimits& limits) {
  // The fields around the payloads are small; the payloads are bounded.
  Check(static_cast<int64_t>(m.ByteSizeLong()) <=
            limits.max_answer_bytes + 64 * 1024,
        "answers stay under the answer bound");
  std::string out;
  Check(m.SerializeToString(&out), "answers serialize");
}

[[maybe_unused]] void Apply(JournalStore& store, uint8_t op,
                            const std::string& bytes) {
  static const RequestLimits limits = Limits();
  switch (op % kOps) {
    case kBegin: {
      v1::BeginRecordRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) return;
      auto out = store.BeginRecord(*r);
      if (!out.ok()) return;
      v1::BeginRecordResponse resp;
      ToProto(*out, req.page_token(), limits, &resp);
      CheckAnswer(resp, limits);
      return;
    }
    case kAppend: {
      v1::AppendActionRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) {
        // Refused by validation: nothing of it may exist afterwards that
        // did not before (checked where the record parses at all).
        return;
      }
      auto before = store.LookupAction(r->record, r->action_key);
      auto out = store.AppendAction(*r);
      if (!out.ok()) {
        auto after = store.LookupAction(r->record, r->action_key);
        Check(before.ok() && after.ok(), "lookups answer");
        Check(before->action.has_value() == after->action.has_value(),
              "a refused append changes nothing");
        return;
      }
      auto found = store.LookupAction(r->record, r->action_key);
      Check(found.ok() && found->action.has_value(),
            "an accepted append is found");
      if (const auto* step = std::get_if<Step>(&out->stored)) {
        Check(step->index < found->action->steps.size() &&
                  found->action->steps[step->index] == *step,
              "the stored step is the one answered");
      } else {
        Check(
            found->action->completion.has_value() &&
                *found->action->completion == std::get<Completion>(out->stored),
            "the stored completion is the one answered");
      }
      v1::AppendActionResponse resp;
      ToProto(*out, IsPendingStep(*r), limits, &resp);
      CheckAnswer(resp, limits);
      return;
    }
    case kLookup: {
      v1::LookupActionRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) return;
      auto out = store.LookupAction(r->first, r->second);
      Check(out.ok(), "lookups answer");
      v1::LookupActionResponse resp;
      ToProto(*out, limits, &resp);
      CheckAnswer(resp, limits);
      return;
    }
    case kComplete: {
      v1::CompleteRecordRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) return;
      auto out = store.CompleteRecord(*r);
      if (out.ok()) {
        v1::CompleteRecordResponse resp;
        ToProto(*out, &resp);
      }
      return;
    }
    case kPrune: {
      v1::PruneRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) return;
      Check(store.Prune(*r).ok(), "prunes answer");
      return;
    }
    case kReadPayload: {
      v1::ReadPayloadRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) return;
      auto lookup = store.LookupAction(r->record, r->action_key);
      Check(lookup.ok(), "lookups answer");
      v1::ReadPayloadResponse resp;
      if (ToProto(*lookup, *r, limits, &resp).ok()) CheckAnswer(resp, limits);
      return;
    }
    case kListRecords: {
      v1::ListRecordsRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) return;
      auto page = store.ListRecords(r->query);
      Check(page.ok(), "lists answer");
      v1::ListRecordsResponse resp;
      ToProto(*page, *r, &resp);
      Check(resp.records_size() <= r->page_size, "a page holds its size");
      for (const v1::RecordSummary& s : resp.records()) {
        Check(s.record().job_id() == req.job_id(), "a list keeps to its job");
      }
      CheckAnswer(resp, limits);
      return;
    }
    case kGetRecord: {
      v1::GetRecordRequest req;
      if (!Parse(bytes, &req)) return;
      auto r = FromProto(req, limits);
      if (!r.ok()) return;
      auto shown = store.ShowRecord(r->record);
      Check(shown.ok(), "shows answer");
      if (!shown->has_value()) return;
      v1::GetRecordResponse resp;
      ToProto(**shown, *r, limits, &resp);
      CheckAnswer(resp, limits);
      return;
    }
  }
}

// Seeds: one request per case, in the input format.
void AddSeed(std::vector<std::string>& seeds, Op op,
             const google::protobuf::Message& m) {
  const std::string bytes = m.SerializeAsString();
  std::string s;
  s += static_cast<char>(op);
  s += static_cast<char>(bytes.size() & 0xff);
  s += static_cast<char>((bytes.size() >> 8) & 0xff);
  seeds.push_back(s + bytes);
}

[[maybe_unused]] std::vector<std::string> Seeds() {
  std::vector<std::string> seeds;
  v1::RecordId rec;
  rec.set_job_id("job");
  rec.set_record_key("k");
  rec.set_seq_num(1);
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = rec;
  begin.set_attempt(2);
  begin.set_input_fingerprint("fp");
  AddSeed(seeds, kBegin, begin);
  v1::AppendActionRequest step;
  *step.mutable_record() = rec;
  step.set_action_key("act");
  step.mutable_step()->set_function_id("llm.chat");
  step.mutable_step()->set_args_digest("d");
  step.mutable_step()->set_status(v1::STEP_STATUS_PENDING);
  AddSeed(seeds, kAppend, step);
  step.mutable_step()->set_status(v1::STEP_STATUS_SUCCEEDED);
  step.mutable_step()->set_result(std::string(3000, 'r'));  // over the limit
  AddSeed(seeds, kAppend, step);
  step.mutable_step()->set_result("r");
  step.set_conflict_policy(v1::CONFLICT_POLICY_REPLACE_FROM_HERE);
  AddSeed(seeds, kAppend, step);
  step.set_action_key(std::string("a\0b", 3));  // NUL in an identity
  AddSeed(seeds, kAppend, step);
  v1::AppendActionRequest completion;
  *completion.mutable_record() = rec;
  completion.set_action_key("act");
  completion.mutable_completion()->set_state(std::string(2048, 's'));
  AddSeed(seeds, kAppend, completion);
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = rec;
  lookup.set_action_key("act");
  AddSeed(seeds, kLookup, lookup);
  v1::ReadPayloadRequest read;
  *read.mutable_record() = rec;
  read.set_action_key("act");
  read.set_completion(true);
  AddSeed(seeds, kReadPayload, read);
  v1::CompleteRecordRequest complete;
  *complete.mutable_record() = rec;
  AddSeed(seeds, kComplete, complete);
  v1::ListRecordsRequest list;
  list.set_job_id("job");
  list.set_page_size(1);
  AddSeed(seeds, kListRecords, list);
  v1::GetRecordRequest show;
  *show.mutable_record() = rec;
  show.set_include_payloads(true);
  AddSeed(seeds, kGetRecord, show);
  v1::PruneRequest prune;
  prune.set_job_id("job");
  auto* k = prune.add_keys();
  k->set_record_key("k");
  k->set_up_to_seq_num(1);
  AddSeed(seeds, kPrune, prune);
  // Bytes that do not parse: a job_id that is not UTF-8, a truncated
  // message.
  seeds.push_back(
      std::string("\x00\x09\x00\x0a\x07\x0a\x02\xff\xfe\x12\x01k", 12));
  seeds.push_back(std::string("\x02\x03\x00\x0a\x10\x0a", 6));
  // A whole session in one input.
  std::string session;
  for (const std::string& s : seeds) session += s;
  seeds.push_back(session);
  return seeds;
}

}  // namespace
}  // namespace actionjournal

#ifdef AJ_FUZZ_SEEDS_MAIN
int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  int n = 0;
  for (const std::string& seed : actionjournal::Seeds()) {
    std::ofstream(std::string(argv[1]) + "/seed-" + std::to_string(n++),
                  std::ios::binary)
        << seed;
  }
  return 0;
}
#else
// protobuf logs every string field that is not UTF-8; the fuzzer makes
// millions.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto store = actionjournal::NewMemoryJournalStore();
  size_t at = 0;
  int requests = 0;
  while (at + 3 <= size && requests++ < 64) {
    const uint8_t op = data[at];
    const size_t len = data[at + 1] | (static_cast<size_t>(data[at + 2]) << 8);
    at += 3;
    const size_t n = std::min(len, size - at);
    actionjournal::Apply(
        *store, op, std::string(reinterpret_cast<const char*>(data + at), n));
    at += n;
  }
  return 0;
}
#endif
