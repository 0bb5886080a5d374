// End-to-end checks of what trying to break the server found (issue 14):
// hostile bytes, answers a default client cannot read, retries of the
// incurable, a client that never reads, secrets in logs, slow stops, a full
// disk, and the small things a user meets first. The real server binary, on
// SQLite, over real sockets.
#include <arpa/inet.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actionjournal/v1/journal.grpc.pb.h"
#include "client/journal_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/requests.h"
#include "tests/testing/scrape.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::CompletionReq;
using ::actionjournal::testing::Delta;
using ::actionjournal::testing::Eventually;
using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::Rec;
using ::actionjournal::testing::RunCommand;
using ::actionjournal::testing::Scrape;
using ::actionjournal::testing::ServerProcess;
using ::actionjournal::testing::StatusIs;
using ::actionjournal::testing::StepReq;
using ::actionjournal::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMiB = 1024 * 1024;

// The server process's resident memory, in bytes.
int64_t RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      int64_t kb = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits += c;
      }
      if (absl::SimpleAtoi(digits, &kb)) return kb * 1024;
    }
  }
  return -1;
}

class HardeningTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra = {}) {
    if (dir_.empty()) {
      dir_ = TempDir(
          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    }
    bool has_store = false;
    for (const auto& a : extra) has_store |= a.rfind("--store=", 0) == 0;
    if (!has_store) extra.push_back("--store=sqlite://" + dir_ + "/journal.db");
    auto server = ServerProcess::Start(
        extra, absl::StrCat(dir_, "/server-", starts_++, ".log"));
    ASSERT_THAT(server, IsOk());
    server_ = std::move(server).value();
    ClientOptions options;
    options.target = server_->Target();
    client_ = std::move(JournalClient::Create(options)).value();
    // A client exactly as gRPC makes it: 4 MiB receive limit, no retries.
    default_stub_ = v1::ActionJournal::NewStub(grpc::CreateChannel(
        server_->Target(), grpc::InsecureChannelCredentials()));
  }

  // Sends `bytes` as the request of `method` (as a hostile or broken client
  // would); the status.
  grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    grpc::GenericStub stub(grpc::CreateChannel(
        server_->Target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::CompletionQueue cq;
    auto call = stub.PrepareUnaryCall(
        &ctx, "/actionjournal.v1.ActionJournal/" + method, request, &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
    return status;
  }

  std::string dir_;
  int starts_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<JournalClient> client_;
  std::unique_ptr<v1::ActionJournal::Stub> default_stub_;
};

// Item 1: on PostgreSQL a NUL cut "a\0b" to "a" (or failed the whole batch);
// every backend now refuses it, naming the field, and stores nothing.
TEST_F(HardeningTest, NulInAStringIdentityIsRefusedAndChangesNothing) {
  StartServer();
  const v1::RecordId r = Rec("nul", "k", 0);
  ASSERT_THAT(client_->AppendAction(CompletionReq(r, "a", "a's result")),
              IsOk());
  EXPECT_THAT(
      client_->AppendAction(CompletionReq(r, std::string("a\0b", 3), "x")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "action_key: must not contain NUL"));
  auto nul_fn = StepReq(r, "b", 0, v1::STEP_STATUS_PENDING);
  nul_fn.mutable_step()->set_function_id(std::string("fn\0x", 4));
  EXPECT_THAT(client_->AppendAction(nul_fn),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "step.function_id: must not contain NUL"));
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = r;
  lookup.set_action_key(std::string("a\0zzz", 5));
  EXPECT_THAT(client_->LookupAction(lookup),
              StatusIs(absl::StatusCode::kInvalidArgument, "action_key"));
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = r;
  auto after = client_->BeginRecord(begin);
  ASSERT_THAT(after, IsOk());
  ASSERT_EQ(after->actions_size(), 1);
  EXPECT_EQ(after->actions(0).action_key(), "a");
  EXPECT_EQ(after->actions(0).completion().state(), "a's result");
}

// Item 2: gRPC's own parsing answered UNIMPLEMENTED with no message.
TEST_F(HardeningTest, RequestThatDoesNotParseGetsInvalidArgumentSayingWhat) {
  StartServer();
  // BeginRecordRequest{record: RecordId{job_id: "\xff\xfe", record_key: "k"}}
  const std::string bad_job("\x0a\x07\x0a\x02\xff\xfe\x12\x01k", 9);
  grpc::Status s = RawCall("BeginRecord", bad_job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  EXPECT_THAT(s.error_message(),
              HasSubstr("record.job_id: is not valid UTF-8"));

  // AppendActionRequest{record: ok, action_key: "\xc3\x28"}
  const std::string bad_action("\x0a\x06\x0a\x01j\x12\x01k\x12\x02\xc3\x28",
                               12);
  s = RawCall("AppendAction", bad_action);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("action_key: is not valid UTF-8"));

  // A length that runs past the end: truncated.
  s = RawCall("LookupAction", std::string("\x0a\x10\x0a", 3));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("malformed or truncated"));

  // Nothing was created by any of them.
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = Rec("j", "k", 0);
  lookup.set_action_key("x");
  auto l = client_->LookupAction(lookup);
  ASSERT_THAT(l, IsOk());
  EXPECT_EQ(l->record_status(), v1::RECORD_STATUS_UNSPECIFIED);
}

// Item 3: a 4 MiB entry was stored but its echo (4,194,316 bytes) could not
// be read by a default client, whatever it retried.
TEST_F(HardeningTest, AnEntryAtThePayloadLimitIsAcknowledgedToADefaultClient) {
  StartServer();
  const v1::RecordId r = Rec("big", "k", 0);
  const std::string state(4 * kMiB, 's');
  auto first = CompletionReq(r, "act", state);
  v1::AppendActionResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status s = default_stub_->AppendAction(&ctx, first, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.outcome(), v1::APPEND_OUTCOME_APPENDED);
    EXPECT_FALSE(resp.has_stored_completion()) << "no echo of what was sent";
  }
  {
    grpc::ClientContext ctx;  // the retry after a lost answer
    ASSERT_TRUE(default_stub_->AppendAction(&ctx, first, &resp).ok());
    EXPECT_EQ(resp.outcome(), v1::APPEND_OUTCOME_DUPLICATE);
  }
  {
    grpc::ClientContext
        ctx;  // another value: the stored one comes back, by size
    auto other = CompletionReq(r, "act", std::string(4 * kMiB, 'o'));
    grpc::Status s = default_stub_->AppendAction(&ctx, other, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.outcome(), v1::APPEND_OUTCOME_CONFLICT);
    EXPECT_EQ(resp.stored_completion().omitted_bytes(), 4 * kMiB);
  }
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = r;
  lookup.set_action_key("act");
  v1::LookupActionResponse found;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(default_stub_->LookupAction(&ctx, lookup, &found).ok());
    EXPECT_EQ(found.action().completion().omitted_bytes(), 4 * kMiB);
  }
  // ReadPayload in chunks a default client reads.
  std::string read;
  for (;;) {
    v1::ReadPayloadRequest req;
    *req.mutable_record() = r;
    req.set_action_key("act");
    req.set_completion(true);
    req.set_offset(read.size());
    v1::ReadPayloadResponse chunk;
    grpc::ClientContext ctx;
    grpc::Status s = default_stub_->ReadPayload(&ctx, req, &chunk);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_FALSE(chunk.data().empty());
    read += chunk.data();
    if (read.size() == chunk.total_bytes()) break;
  }
  EXPECT_EQ(read, state);
  // The C++ client does all of that itself.
  auto whole = client_->LookupAction(lookup);
  ASSERT_THAT(whole, IsOk());
  EXPECT_EQ(whole->action().completion().state(), state);
  auto conflict = client_->AppendAction(CompletionReq(r, "act", "x"));
  ASSERT_THAT(conflict, IsOk());
  EXPECT_EQ(conflict->stored_completion().state(), state);
}

TEST_F(HardeningTest, ARecordOfTenLargeEntriesReplaysToADefaultClientInPages) {
  StartServer();
  const v1::RecordId r = Rec("big", "ten", 0);
  std::vector<std::string> states;
  for (int i = 0; i < 10; ++i) {
    states.push_back(std::string(4 * kMiB, static_cast<char>('a' + i)));
    ASSERT_THAT(client_->AppendAction(
                    CompletionReq(r, absl::StrCat("act", i), states.back())),
                IsOk());
  }
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = r;
  int pages = 0;
  std::vector<std::string> keys;
  for (;;) {
    v1::BeginRecordResponse page;
    grpc::ClientContext ctx;
    grpc::Status s = default_stub_->BeginRecord(&ctx, begin, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ++pages;
    for (const auto& a : page.actions()) keys.push_back(a.action_key());
    if (page.next_page_token().empty()) break;
    begin.set_page_token(page.next_page_token());
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(keys.size(), 10u);
  EXPECT_GE(pages, 1);
  begin.clear_page_token();
  auto all = client_->BeginRecord(begin);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->actions_size(), 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(all->actions(i).completion().state(), states[i]) << i;
  }
}

// Item 4: the client sent an oversize payload ten times.
TEST_F(HardeningTest, ARequestOverALimitIsSentOnce) {
  StartServer();
  ClientOptions unary;
  unary.target = server_->Target();
  unary.coalesce_appends = false;
  auto one_by_one = std::move(JournalClient::Create(unary)).value();
  auto before = Scrape(server_->metrics_port());
  ASSERT_THAT(before, IsOk());
  for (JournalClient* c : {client_.get(), one_by_one.get()}) {
    for (int i = 0; i < 2; ++i) {
      EXPECT_THAT(c->AppendAction(CompletionReq(
                      Rec("o", "k", 0), "a", std::string(4 * kMiB + 1, 'x'))),
                  StatusIs(absl::StatusCode::kResourceExhausted,
                           "over the payload limit"));
    }
  }
  auto after = Scrape(server_->metrics_port());
  ASSERT_THAT(after, IsOk());
  // Coalesced: two AppendActions calls, whose one item each was refused.
  EXPECT_EQ(
      Delta(
          *before, *after,
          "actionjournal_requests_total{code=\"OK\",method=\"AppendActions\"}"),
      2);
  // One by one: two AppendAction calls.
  EXPECT_EQ(Delta(*before, *after,
                  "actionjournal_requests_total{code=\"RESOURCE_EXHAUSTED\","
                  "method=\"AppendAction\"}"),
            2);
}

// A client that opens streams and never lets their data flow: HTTP/2 by
// hand, with an initial stream window of 0, reading (and discarding) what
// the server sends so that only flow control holds the answers back.
class StalledClient {
 public:
  explicit StalledClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    // SETTINGS: INITIAL_WINDOW_SIZE (4) = 0.
    Write(Frame(4, 0, 0, std::string("\x00\x04\x00\x00\x00\x00", 6)));
    reader_ = std::thread([this] { Read(); });
  }
  ~StalledClient() { Close(); }

  bool connected() const { return connected_; }
  // The server's MAX_CONCURRENT_STREAMS, once its SETTINGS arrived (-1 if
  // absent).
  int max_streams() const { return max_streams_.load(); }
  bool got_settings() const { return got_settings_.load(); }

  // Opens stream `id` (odd) calling `method` with one message.
  void Call(uint32_t id, const std::string& method,
            const std::string& message) {
    std::string h;
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{
             {":method", "POST"},
             {":scheme", "http"},
             {":path", "/actionjournal.v1.ActionJournal/" + method},
             {":authority", "localhost"},
             {"content-type", "application/grpc"},
             {"te", "trailers"}}) {
      // HPACK literal without indexing, new name; every length < 127.
      h += '\0';
      h += static_cast<char>(name.size());
      h += name;
      h += static_cast<char>(value.size());
      h += value;
    }
    Write(Frame(1, /*END_HEADERS=*/4, id, h));
    std::string body(5, '\0');
    body[1] = static_cast<char>(message.size() >> 24);
    body[2] = static_cast<char>(message.size() >> 16);
    body[3] = static_cast<char>(message.size() >> 8);
    body[4] = static_cast<char>(message.size());
    Write(Frame(0, /*END_STREAM=*/1, id, body + message));
  }

  void Close() {
    if (fd_ < 0) return;
    shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    close(fd_);
    fd_ = -1;
  }

 private:
  static std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                           const std::string& payload) {
    std::string f;
    f += static_cast<char>(payload.size() >> 16);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size());
    f += static_cast<char>(type);
    f += static_cast<char>(flags);
    f += static_cast<char>(stream >> 24);
    f += static_cast<char>(stream >> 16);
    f += static_cast<char>(stream >> 8);
    f += static_cast<char>(stream);
    return f + payload;
  }

  void Write(const std::string& bytes) {
    absl::MutexLock lock(&write_mu_);
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n =
          send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += n;
    }
  }

  void Read() {
    std::string buf;
    char chunk[65536];
    for (;;) {
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buf.append(chunk, n);
      while (buf.size() >= 9) {
        const size_t len = (static_cast<uint8_t>(buf[0]) << 16) |
                           (static_cast<uint8_t>(buf[1]) << 8) |
                           static_cast<uint8_t>(buf[2]);
        if (buf.size() < 9 + len) break;
        const uint8_t type = buf[3], flags = buf[4];
        const std::string payload = buf.substr(9, len);
        buf.erase(0, 9 + len);
        if (type == 4 && (flags & 1) == 0) {  // SETTINGS: read, then ACK
          for (size_t i = 0; i + 6 <= payload.size(); i += 6) {
            const int id = (static_cast<uint8_t>(payload[i]) << 8) |
                           static_cast<uint8_t>(payload[i + 1]);
            const uint32_t v = (static_cast<uint8_t>(payload[i + 2]) << 24) |
                               (static_cast<uint8_t>(payload[i + 3]) << 16) |
                               (static_cast<uint8_t>(payload[i + 4]) << 8) |
                               static_cast<uint8_t>(payload[i + 5]);
            if (id == 3) max_streams_ = static_cast<int>(v);
          }
          // ACKed before the streams open (the server counts streams against
          // the settings the client acknowledged).
          Write(Frame(4, 1, 0, ""));
          got_settings_ = true;
        } else if (type == 6 && (flags & 1) == 0) {  // PING: ACK
          Write(Frame(6, 1, 0, payload));
        } else if (type == 7 && payload.size() >= 8) {  // GOAWAY: its code
          goaway_ = static_cast<uint8_t>(payload[7]);
        } else if (type == 3 && payload.size() >= 4) {  // RST_STREAM
          ++resets_;
          rst_code_ = static_cast<uint8_t>(payload[3]);
        }
      }
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  std::atomic<int> max_streams_{-1};
  std::atomic<bool> got_settings_{false};

 public:
  std::atomic<int> goaway_{-1};
  std::atomic<int> resets_{0};
  std::atomic<int> rst_code_{-1};

 private:
  absl::Mutex write_mu_;
  std::thread reader_;
};

// Item 5: 300 streams of a 1 MiB answer on one stalled connection took the
// server from 23 MB to 634 MB, and it kept 500 MB after the disconnect. Now
// a connection gets 100 streams at once, and a client's unread answers are
// bounded (16 MiB here).
TEST_F(HardeningTest, AClientThatDoesNotReadCannotGrowTheServer) {
  StartServer({"--max-held-answer-bytes-per-client=16777216"});
  const v1::RecordId r = Rec("slow", "k", 0);
  ASSERT_THAT(
      client_->AppendAction(CompletionReq(r, "act", std::string(kMiB, 'm'))),
      IsOk());
  v1::LookupActionRequest lookup;
  *lookup.mutable_record() = r;
  lookup.set_action_key("act");
  const std::string message = lookup.SerializeAsString();
  const int64_t rss_before = RssBytes(server_->pid());
  ASSERT_GT(rss_before, 0);

  StalledClient stalled(server_->port());
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(
      Eventually([&] { return stalled.got_settings(); }, absl::Seconds(10)));
  ASSERT_EQ(stalled.max_streams(), 100);
  // As many streams as the server allows at once (a client that ignores the
  // limit has the rest reset), each a 1 MiB answer.
  for (int i = 0; i < stalled.max_streams(); ++i) {
    stalled.Call(2 * i + 1, "LookupAction", message);
  }

  // Wait for the server to have answered what it will.
  const std::string held = "actionjournal_answer_bytes_held";
  const std::string busy =
      "actionjournal_requests_total{code=\"RESOURCE_EXHAUSTED\",method="
      "\"LookupAction\"}";
  const std::string busy_total =
      "actionjournal_busy_total{method=\"LookupAction\"}";
  double held_bytes = 0, refused = 0, busy_counted = 0;
  // Scrapes the three figures; false when the scrape failed.
  auto scrape = [&] {
    auto m = Scrape(server_->metrics_port());
    EXPECT_THAT(m, IsOk());
    if (!m.ok()) return false;
    held_bytes = (*m)[held];
    refused = (*m)[busy];
    busy_counted = (*m)[busy_total];
    return true;
  };
  Eventually([&] { return scrape() && refused > 0 && held_bytes > 0; },
             absl::Seconds(20), absl::Milliseconds(50));
  EXPECT_GT(refused, 0) << "reads past the bound are refused; held "
                        << held_bytes << " bytes; goaway "
                        << stalled.goaway_.load() << ", resets "
                        << stalled.resets_.load() << " (code "
                        << stalled.rst_code_.load() << ")"
                        << " bytes; server log: " << server_->Log();
  // Counted as busy too (OnBusy runs before the answer is counted).
  EXPECT_GE(busy_counted, refused);
  EXPECT_LE(held_bytes, 17 * kMiB);
  const int64_t rss_stalled = RssBytes(server_->pid());
#ifndef ACTIONJOURNAL_SANITIZED
  // (A sanitizer's shadow memory and quarantine would count too.)
  EXPECT_LT(rss_stalled - rss_before, 120 * kMiB)
      << "before: " << rss_before << ", stalled: " << rss_stalled;
#else
  (void)rss_stalled;
#endif

  // Answers to another client still flow, and everything is given back
  // when the stalled client goes.
  EXPECT_THAT(client_->LookupAction(lookup), IsOk());
  stalled.Close();
  Eventually([&] { return scrape() && held_bytes == 0; }, absl::Seconds(20),
             absl::Milliseconds(50));
  EXPECT_EQ(held_bytes, 0);
}

// Item 6: a password given as ?password= reached the log.
TEST_F(HardeningTest, NoStoreSecretReachesTheLog) {
  dir_ = TempDir("secrets");
  for (const std::string& url :
       {std::string("postgresql://aj:sekrit-in-userinfo@127.0.0.1:1/db"),
        std::string(
            "postgresql://127.0.0.1:1/db?user=aj&password=sekrit-in-query"),
        std::string("postgresql://127.0.0.1:1/"
                    "db?sslpassword=sekrit-ssl&password=sekrit-p")}) {
    const std::string log = dir_ + "/log";
    auto s = ServerProcess::Start({"--store=" + url}, log, absl::Seconds(20));
    EXPECT_FALSE(s.ok());  // nothing listens on port 1
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_THAT(ss.str(), HasSubstr("password=***")) << ss.str();
    EXPECT_THAT(ss.str(), Not(HasSubstr("sekrit"))) << ss.str();
    EXPECT_THAT(ss.str(), HasSubstr("cannot open store"));
  }
}

// Item 7 (the part without a database): SIGTERM with nothing in flight took
// 1.9 s, a second of it stopping the metrics server.
TEST_F(HardeningTest, SigtermWithNothingInFlightIsPrompt) {
  StartServer();
  ASSERT_THAT(client_->AppendAction(CompletionReq(Rec("t", "k", 0), "a", "s")),
              IsOk());
  const absl::Time start = absl::Now();
  auto code = server_->Stop(SIGTERM);
  const absl::Duration took = absl::Now() - start;
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0);
  EXPECT_LT(took, absl::Milliseconds(500)) << took;
}

// Item 8: a full disk on SQLite answered UNAVAILABLE while health stayed
// SERVING and nothing was logged. Needs a small tmpfs, so root.
TEST_F(HardeningTest, AFullDiskIsUnavailableAndNotReadyAndLogged) {
  dir_ = TempDir("diskfull");
  const std::string mnt = dir_ + "/tiny";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): "
                 << strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  StartServer(
      {"--store=sqlite://" + mnt + "/journal.db", "--health-interval=100ms"});
  ClientOptions once;
  once.target = server_->Target();
  once.retry.max_attempts = 1;
  auto impatient = std::move(JournalClient::Create(once)).value();
  absl::Status failed;
  int stored = 0;
  for (int i = 0; i < 200 && failed.ok(); ++i) {
    auto r = impatient->AppendAction(
        CompletionReq(Rec("full", "k", i), "a", std::string(64 * 1024, 'f')));
    if (r.ok()) {
      ++stored;
    } else {
      failed = r.status();
    }
  }
  ASSERT_FALSE(failed.ok()) << "2 MiB never filled";
  EXPECT_GT(stored, 0);
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;

  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      server_->Target(), grpc::InsecureChannelCredentials()));
  auto status_of = [&](const std::string& service) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    health->Check(&ctx, req, &resp);
    return resp.status();
  };
  grpc::health::v1::HealthCheckResponse::ServingStatus ready;
  Eventually(
      [&] {
        ready = status_of("");
        return ready != grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(5), absl::Milliseconds(50));
  EXPECT_EQ(ready, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(status_of("liveness"),
            grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_THAT(server_->Log(), HasSubstr("writes fail"));
}

// Item 9: the small things.
TEST_F(HardeningTest, VersionHelpAndJsonOutput) {
  const std::string server = actionjournal::testing::ServerBinary();
  const std::string cli = actionjournal::testing::CliBinary();
  auto [code, out] = RunCommand(server + " --version 2>&1");
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, ::testing::MatchesRegex(
                       "actionjournal-server [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  std::tie(code, out) = RunCommand(server + " --help 2>&1");
  EXPECT_THAT(out, HasSubstr("--listen"));
  EXPECT_THAT(out, HasSubstr("--store"));
  EXPECT_THAT(out, Not(HasSubstr("No flags matched")));
  std::tie(code, out) = RunCommand(cli + " --version");
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, ::testing::MatchesRegex(
                       "actionjournal-cli [0-9]+\\.[0-9]+\\.[0-9]+\n"));

  StartServer({"--log-format=json"});
  std::tie(code, out) =
      RunCommand(absl::StrCat(cli, " --target ", server_->Target(),
                              " --output json append --job j --key k --seq 0",
                              " --action a --completion done"));
  ASSERT_EQ(code, 0);
  v1::AppendActionResponse appended;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &appended).ok())
      << out;
  EXPECT_EQ(appended.outcome(), v1::APPEND_OUTCOME_APPENDED);
  EXPECT_EQ(appended.stored_completion().state(), "done");
  std::tie(code, out) = RunCommand(absl::StrCat(
      cli, " --target ", server_->Target(),
      " --output json lookup --job j --key k --seq 0", " --action a"));
  ASSERT_EQ(code, 0);
  v1::LookupActionResponse looked;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &looked).ok())
      << out;
  EXPECT_TRUE(looked.found());

  // A request that makes protobuf itself log (a string that is not UTF-8),
  // then every log line, the libraries' too, is one object.
  RawCall("BeginRecord", std::string("\x0a\x07\x0a\x02\xff\xfe\x12\x01k", 9));
  auto s = server_->Stop(SIGTERM);
  ASSERT_THAT(s, IsOk());
  int lines = 0;
  for (absl::string_view line :
       absl::StrSplit(server_->Log(), '\n', absl::SkipEmpty())) {
    google::protobuf::Struct object;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(std::string(line), &object)
            .ok())
        << line;
    EXPECT_TRUE(object.fields().contains("level")) << line;
    EXPECT_TRUE(object.fields().contains("msg")) << line;
    ++lines;
  }
  EXPECT_GE(lines, 3);  // listening, stopping, stopped
}

}  // namespace
}  // namespace actionjournal
