// End-to-end checks of issue 11 (security): TLS and mutual TLS, per-job
// tokens and client-certificate principals, reloads without a restart, the
// plaintext health port, the loopback rule, audit lines and counters, and no
// secret in a log or a metric. The real server binary and client library,
// certificates made by openssl for each run (tests/testing/make_certs.sh).
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "actionjournal/v1/journal.grpc.pb.h"
#include "client/channel.h"
#include "client/journal_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/requests.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::CompletionReq;
using ::actionjournal::testing::Eventually;
using ::actionjournal::testing::IsOk;
using ::actionjournal::testing::Rec;
using ::actionjournal::testing::ServerProcess;
using ::actionjournal::testing::StatusIs;
using ::actionjournal::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// Runs a shell command; its exit code and what it printed (stdout and
// stderr).
std::pair<int, std::string> Shell(const std::string& command) {
  return testing::RunCommand(command + " 2>&1");
}

void WriteFile(const std::string& path, const std::string& text) {
  // Written beside and renamed over, as Kubernetes swaps a Secret's files.
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

std::string Digest(const std::string& token) {
  // As docs/operations.md, "Security", says to make it.
  auto [code, out] =
      Shell("printf %s '" + token + "' | sha256sum | cut -d' ' -f1");
  EXPECT_EQ(code, 0);
  return std::string(absl::StripAsciiWhitespace(out));
}

struct Credentials {
  std::string ca;    // empty: plaintext
  std::string cert;  // with key: mutual TLS
  std::string key;
  std::string token;  // a token file
};

class SecurityE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new std::string(TempDir("certs"));
    auto [code, out] = Shell(absl::StrCat(
        ACTIONJOURNAL_SOURCE_DIR, "/tests/testing/make_certs.sh ", *certs_));
    ASSERT_EQ(code, 0) << out;
  }
  static void TearDownTestSuite() { delete certs_; }

  void SetUp() override {
    dir_ = TempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    // Random tokens, so that a grep for them means something.
    for (std::string* t : {&token_a_, &token_a_no_prune_, &token_admin_}) {
      auto [code, out] = Shell("openssl rand -hex 24");
      ASSERT_EQ(code, 0);
      *t = std::string(absl::StripAsciiWhitespace(out));
    }
    WriteToken("a", token_a_);
    WriteToken("a-no-prune", token_a_no_prune_);
    WriteToken("admin", token_admin_);
    WriteFile(Path("tokens"), Tokens());
  }

  std::string Cert(const std::string& name) const {
    return absl::StrCat(*certs_, "/", name);
  }
  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }
  void WriteToken(const std::string& name, const std::string& token) {
    WriteFile(Path("token-" + name), token + "\n");
  }

  std::string Tokens() const {
    return absl::StrCat(
        "# principal  credential  permissions  jobs\n",
        "job-a-writer sha256:", Digest(token_a_), " read,write,prune job-a\n",
        "job-a-no-prune\tsha256:", Digest(token_a_no_prune_),
        "\tread,write\tjob-a\n", "ops sha256:", Digest(token_admin_),
        " admin *\n", "tm-b cert:client-b read,write,prune job-b,job-b-*\n");
  }

  // The server with TLS (mutual unless `mutual` is false), tokens, HTTPS
  // metrics and a plaintext health port.
  std::unique_ptr<ServerProcess> StartServer(
      bool mutual = true, std::vector<std::string> more = {}) {
    // The certificates the server reads are copies, so that a test may
    // rotate them.
    EXPECT_EQ(
        Shell(absl::StrCat("cp ", Cert("server.pem"), " ", Path("tls.crt"),
                           " && cp ", Cert("server.key"), " ", Path("tls.key")))
            .first,
        0);
    std::vector<std::string> args = {
        "--store=memory:",
        "--tls-cert-file=" + Path("tls.crt"),
        "--tls-key-file=" + Path("tls.key"),
        "--metrics-tls-cert-file=" + Path("tls.crt"),
        "--metrics-tls-key-file=" + Path("tls.key"),
        "--health-listen=127.0.0.1:0",
        "--auth-tokens-file=" + Path("tokens"),
        "--reload-interval=1s"};
    if (mutual) args.push_back("--tls-client-ca-file=" + Cert("ca.pem"));
    args.insert(args.end(), more.begin(), more.end());
    auto server = ServerProcess::Start(args, Path("server.log"));
    EXPECT_THAT(server.status(), IsOk());
    return server.ok() ? *std::move(server) : nullptr;
  }

  // A client with one attempt per call, so that refusals come back at once.
  std::unique_ptr<JournalClient> Client(const ServerProcess& server,
                                        const Credentials& c,
                                        const std::string& host = "127.0.0.1") {
    ClientOptions o;
    o.target = absl::StrCat(host, ":", server.port());
    o.tls_ca_file = c.ca;
    o.tls_cert_file = c.cert;
    o.tls_key_file = c.key;
    o.token_file = c.token;
    o.deadline = absl::Seconds(5);
    o.retry.max_attempts = 1;
    o.coalesce_appends = false;
    auto client = JournalClient::Create(o);
    EXPECT_THAT(client.status(), IsOk());
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Mutual TLS as client-a (a certificate named in no line of the tokens
  // file), with `token`.
  Credentials AsClientA(const std::string& token) const {
    return {Cert("ca.pem"), Cert("client-a.pem"), Cert("client-a.key"),
            token.empty() ? "" : Path("token-" + token)};
  }
  Credentials AsClientB() const {
    return {Cert("ca.pem"), Cert("client-b.pem"), Cert("client-b.key"), ""};
  }

  static v1::LookupActionRequest Lookup(const std::string& job) {
    v1::LookupActionRequest req;
    *req.mutable_record() = Rec(job, "k", 1);
    req.set_action_key("act");
    return req;
  }

  static v1::PruneRequest PruneJob(const std::string& job, bool whole) {
    v1::PruneRequest req;
    req.set_job_id(job);
    if (whole) {
      req.set_whole_job(true);
    } else {
      auto* k = req.add_keys();
      k->set_record_key("k");
      k->set_up_to_seq_num(10);
    }
    return req;
  }

  // HTTPS /metrics with curl, trusting `ca`; the body, or "" on failure.
  std::string ScrapeHttps(int port, const std::string& ca) {
    auto [code, out] =
        Shell(absl::StrCat("curl -sS --max-time 5 --cacert ", ca,
                           " https://127.0.0.1:", port, "/metrics"));
    return code == 0 ? out : "";
  }

  static std::string* certs_;
  std::string dir_;
  std::string token_a_, token_a_no_prune_, token_admin_;
};

std::string* SecurityE2eTest::certs_ = nullptr;

TEST_F(SecurityE2eTest, PlaintextAndUntrustingClientsCannotTalkToATlsServer) {
  auto server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  Credentials token_only{Cert("ca.pem"), "", "", Path("token-a")};
  // TLS with the right CA works, by IP and by name.
  EXPECT_THAT(Client(*server, token_only)->LookupAction(Lookup("job-a")),
              IsOk());
  EXPECT_THAT(
      Client(*server, token_only, "localhost")->LookupAction(Lookup("job-a")),
      IsOk());
  // Plaintext, another CA: no connection, nothing answered.
  EXPECT_THAT(Client(*server, {"", "", "", Path("token-a")})
                  ->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Client(*server, {Cert("wrong-ca.pem"), "", "", Path("token-a")})
                  ->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(server->Log(), Not(HasSubstr("refused")));
}

TEST_F(SecurityE2eTest, ClientRefusesACertificateForAnotherName) {
  // The server presents a certificate of the right CA for other.example.
  ASSERT_EQ(
      Shell(absl::StrCat("cp ", Cert("other-name.pem"), " ", Path("o.crt"),
                         " && cp ", Cert("other-name.key"), " ", Path("o.key")))
          .first,
      0);
  auto server = ServerProcess::Start(
      {"--store=memory:", "--tls-cert-file=" + Path("o.crt"),
       "--tls-key-file=" + Path("o.key"),
       "--auth-tokens-file=" + Path("tokens")},
      Path("server.log"));
  ASSERT_THAT(server.status(), IsOk());
  EXPECT_THAT(Client(**server, {Cert("ca.pem"), "", "", Path("token-a")})
                  ->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(SecurityE2eTest, MutualTlsRefusesClientsWithoutAGoodCertificate) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  // No client certificate, or one of another CA: the handshake fails.
  EXPECT_THAT(Client(*server, {Cert("ca.pem"), "", "", Path("token-a")})
                  ->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Client(*server, {Cert("ca.pem"), Cert("wrong-client.pem"),
                               Cert("wrong-client.key"), Path("token-a")})
                  ->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnavailable));
  // A good certificate named nowhere, and no token: UNAUTHENTICATED.
  EXPECT_THAT(Client(*server, AsClientA(""))->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Client(*server, AsClientA("a"))->LookupAction(Lookup("job-a")),
              IsOk());
}

TEST_F(SecurityE2eTest, ATokenIsConfinedToItsJobsAndPermissions) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = Client(*server, AsClientA("admin"));
  auto a = Client(*server, AsClientA("a"));
  auto a_no_prune = Client(*server, AsClientA("a-no-prune"));
  // Job B holds one completed action; job A one of its own.
  ASSERT_THAT(admin->AppendAction(
                  CompletionReq(Rec("job-b", "k", 1), "act", "b-state")),
              IsOk());
  ASSERT_THAT(
      a->AppendAction(CompletionReq(Rec("job-a", "k", 1), "act", "a-state")),
      IsOk());

  // Job A's token against job B: every call PERMISSION_DENIED, naming the
  // job and the principal, never the token.
  std::vector<absl::Status> refused;
  refused.push_back(a->LookupAction(Lookup("job-b")).status());
  refused.push_back(
      a->AppendAction(CompletionReq(Rec("job-b", "k", 1), "act", "evil"))
          .status());
  refused.push_back(
      a->AppendAction(CompletionReq(Rec("job-b", "k", 2), "new", "evil"))
          .status());
  v1::BeginRecordRequest begin;
  *begin.mutable_record() = Rec("job-b", "k", 1);
  begin.set_input_fingerprint("other");
  begin.set_reset_on_mismatch(true);
  refused.push_back(a->BeginRecord(begin).status());
  v1::CompleteRecordRequest complete;
  *complete.mutable_record() = Rec("job-b", "k", 1);
  refused.push_back(a->CompleteRecord(complete).status());
  refused.push_back(a->Prune(PruneJob("job-b", false)).status());
  refused.push_back(a->Prune(PruneJob("job-b", true)).status());
  v1::ReadPayloadRequest read;
  *read.mutable_record() = Rec("job-b", "k", 1);
  read.set_action_key("act");
  read.set_completion(true);
  refused.push_back(a->ReadPayload(read).status());
  v1::GetStatsRequest stats;
  stats.set_job_id("job-b");
  refused.push_back(a->GetStats(stats).status());
  v1::IssueAttemptRequest issue;
  issue.set_job_id("job-b");
  refused.push_back(a->IssueAttempt(issue).status());
  v1::ListRecordsRequest list;
  list.set_job_id("job-b");
  refused.push_back(a->ListRecords(list).status());
  v1::GetRecordRequest show;
  *show.mutable_record() = Rec("job-b", "k", 1);
  refused.push_back(a->GetRecord(show).status());
  v1::InvalidateRequest invalidate;
  *invalidate.mutable_record() = Rec("job-b", "k", 1);
  refused.push_back(a->Invalidate(invalidate).status());
  for (const absl::Status& s : refused) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                            "principal 'job-a-writer' may not"));
    EXPECT_THAT(std::string(s.message()), HasSubstr("job 'job-b'"));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(token_a_)));
  }
  // Within job A: no prune without the prune permission; no whole-job
  // prune without admin.
  EXPECT_THAT(a_no_prune->LookupAction(Lookup("job-a")), IsOk());
  EXPECT_THAT(a_no_prune->Prune(PruneJob("job-a", false)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "may not prune job 'job-a'"));
  EXPECT_THAT(a->Prune(PruneJob("job-a", true)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "may not admin job 'job-a'"));
  // Invalidating is a deletion: the prune permission, as Prune.
  *invalidate.mutable_record() = Rec("job-a", "nobody", 1);
  EXPECT_THAT(a_no_prune->Invalidate(invalidate),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "may not prune job 'job-a'"));
  EXPECT_THAT(a->Invalidate(invalidate),
              StatusIs(absl::StatusCode::kNotFound, "record"));

  // Counting one's own job is a read; counting every job needs a principal
  // whose patterns cover any job.
  stats.set_job_id("job-a");
  EXPECT_THAT(a_no_prune->GetStats(stats), IsOk());
  stats.clear_job_id();
  EXPECT_THAT(a->GetStats(stats), StatusIs(absl::StatusCode::kPermissionDenied,
                                           "may not admin job '*'"));
  EXPECT_THAT(admin->GetStats(stats), IsOk());

  // One AppendActions with an item of each job: job B's item alone is
  // refused.
  ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", server->port());
  options.tls_ca_file = Cert("ca.pem");
  options.tls_cert_file = Cert("client-a.pem");
  options.tls_key_file = Cert("client-a.key");
  options.token_file = Path("token-a");
  auto channel = CreateJournalChannel(options, grpc::ChannelArguments());
  ASSERT_THAT(channel.status(), IsOk());
  auto stub = v1::ActionJournal::NewStub(*channel);
  v1::AppendActionsRequest batch;
  *batch.add_items() = CompletionReq(Rec("job-a", "k2", 1), "act", "ok");
  *batch.add_items() = CompletionReq(Rec("job-b", "k2", 1), "act", "evil");
  v1::AppendActionsResponse answers;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->AppendActions(&ctx, batch, &answers).ok());
  ASSERT_EQ(answers.items_size(), 2);
  EXPECT_EQ(answers.items(0).code(), 0);
  EXPECT_EQ(answers.items(1).code(),
            static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_THAT(answers.items(1).message(), HasSubstr("job 'job-b'"));

  // Nothing of job B changed.
  auto b = admin->LookupAction(Lookup("job-b"));
  ASSERT_THAT(b, IsOk());
  ASSERT_TRUE(b->found());
  EXPECT_EQ(b->action().completion().state(), "b-state");
  EXPECT_EQ(b->record_status(), v1::RECORD_STATUS_OPEN);
  v1::LookupActionRequest other = Lookup("job-b");
  other.mutable_record()->set_seq_num(2);
  other.set_action_key("new");
  EXPECT_FALSE(admin->LookupAction(other)->found());
  other = Lookup("job-b");
  other.mutable_record()->set_record_key("k2");
  EXPECT_FALSE(admin->LookupAction(other)->found());

  // What job A may do, it does; every Prune leaves an audit line.
  EXPECT_THAT(a->Prune(PruneJob("job-a", false)), IsOk());
  EXPECT_THAT(admin->Prune(PruneJob("job-b", true)), IsOk());
  const std::string log = server->Log();
  EXPECT_THAT(log, HasSubstr("prune method=Prune job=job-a "
                             "principal=job-a-writer"));
  EXPECT_THAT(log, HasSubstr("prune method=Prune job=job-b principal=ops"));
  EXPECT_THAT(log, HasSubstr("refused method=LookupAction "
                             "code=PERMISSION_DENIED job=job-b "
                             "principal=job-a-writer"));
  EXPECT_THAT(log, HasSubstr("refused method=Prune code=PERMISSION_DENIED "
                             "job=job-a principal=job-a-no-prune"));

  // Counted by method and code, over HTTPS; no token or digest anywhere.
  const std::string metrics =
      ScrapeHttps(server->metrics_port(), Cert("ca.pem"));
  EXPECT_THAT(metrics, HasSubstr("actionjournal_auth_refused_total{code="
                                 "\"PERMISSION_DENIED\",method=\"Prune\"} 4"));
  EXPECT_THAT(metrics,
              HasSubstr("actionjournal_auth_refused_total{code="
                        "\"PERMISSION_DENIED\",method=\"AppendActions\"} 1"));
  for (const std::string& t : {token_a_, token_a_no_prune_, token_admin_}) {
    EXPECT_THAT(log, Not(HasSubstr(t)));
    EXPECT_THAT(log, Not(HasSubstr(Digest(t))));
    EXPECT_THAT(metrics, Not(HasSubstr(t)));
  }
}

// A TCP connection to 127.0.0.1:port, or -1.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Clients that connect to the HTTPS metrics port and say nothing (each
// held for up to 5 s) do not hold up a scrape beside them.
TEST_F(SecurityE2eTest, StalledMetricsClientsDoNotBlockAScrape) {
  auto server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  const int sockets = server->Sockets();
  std::vector<int> stalled;
  for (int i = 0; i < 3; ++i) {
    const int fd = ConnectLoopback(server->metrics_port());
    ASSERT_GE(fd, 0);
    stalled.push_back(fd);
  }
  // Accepted by the server, each waiting in its TLS handshake.
  ASSERT_TRUE(Eventually([&] { return server->Sockets() >= sockets + 3; }))
      << server->Sockets() << " sockets, " << sockets << " before";
  const absl::Time start = absl::Now();
  EXPECT_THAT(ScrapeHttps(server->metrics_port(), Cert("ca.pem")),
              HasSubstr("actionjournal_"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3))
      << "the scrape waited for the stalled connections";
  for (int fd : stalled) close(fd);
}

// A client that trickles a TLS handshake, a byte every 300 ms (each read
// alone would finish in time), is cut off when its connection's 5 s are up,
// not when its handshake would end.
TEST_F(SecurityE2eTest, ATricklingHandshakeIsCutOffInSeconds) {
  auto server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  const int fd = ConnectLoopback(server->metrics_port());
  ASSERT_GE(fd, 0);
  // A TLS record header announcing a 16 KiB handshake message.
  const unsigned char header[] = {0x16, 0x03, 0x01, 0x40, 0x00};
  ASSERT_EQ(send(fd, header, sizeof(header), MSG_NOSIGNAL), 5);
  const absl::Time start = absl::Now();
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(15)) {
    const char b = 1;
    closed = send(fd, &b, 1, MSG_NOSIGNAL) < 0;
    pollfd p{fd, POLLIN, 0};
    char r;
    if (!closed && poll(&p, 1, 300) > 0) closed = recv(fd, &r, 1, 0) <= 0;
  }
  close(fd);
  EXPECT_TRUE(closed) << "still open after 15 s";
  EXPECT_LT(absl::Now() - start, absl::Seconds(9));
}

TEST_F(SecurityE2eTest, NoCredentialsIsUnauthenticated) {
  auto server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(
      Client(*server, {Cert("ca.pem"), "", "", ""})
          ->LookupAction(Lookup("job-a")),
      StatusIs(absl::StatusCode::kUnauthenticated, "credentials required"));
  WriteToken("unknown", "not-a-known-token-0123456789");
  auto unknown =
      Client(*server, {Cert("ca.pem"), "", "", Path("token-unknown")})
          ->Prune(PruneJob("job-a", true));
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kUnauthenticated,
                                "bearer token is not known"));
  EXPECT_THAT(std::string(unknown.status().message()),
              Not(HasSubstr("not-a-known-token")));
  const std::string log = server->Log();
  EXPECT_THAT(log, HasSubstr("refused method=Prune code=UNAUTHENTICATED "
                             "job=job-a principal=-"));
  EXPECT_THAT(log, Not(HasSubstr("not-a-known-token")));
  EXPECT_THAT(ScrapeHttps(server->metrics_port(), Cert("ca.pem")),
              HasSubstr("actionjournal_auth_refused_total{code="
                        "\"UNAUTHENTICATED\",method=\"LookupAction\"} 1"));
}

TEST_F(SecurityE2eTest, AClientCertificateStandsInForAToken) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto b = Client(*server, AsClientB());
  EXPECT_THAT(
      b->AppendAction(CompletionReq(Rec("job-b-1", "k", 1), "act", "s")),
      IsOk());
  EXPECT_THAT(b->Prune(PruneJob("job-b-1", false)), IsOk());
  EXPECT_THAT(b->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "principal 'tm-b' may not read job 'job-a'"));
  EXPECT_THAT(b->Prune(PruneJob("job-b", true)),
              StatusIs(absl::StatusCode::kPermissionDenied, "may not admin"));
}

TEST_F(SecurityE2eTest,
       ARotatedCertificateServesNewConnectionsAndKeepsOpenOnes) {
  auto server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  auto before = Client(*server, {Cert("ca.pem"), "", "", Path("token-a")});
  ASSERT_THAT(before->LookupAction(Lookup("job-a")), IsOk());  // connected
  const std::string metrics_before =
      ScrapeHttps(server->metrics_port(), Cert("ca.pem"));
  ASSERT_THAT(metrics_before, HasSubstr("actionjournal_build_info"));

  // Kubernetes-style rotation to a certificate of another CA.
  std::ifstream crt(Cert("wrong-server.pem")), key(Cert("wrong-server.key"));
  std::stringstream crt_text, key_text;
  crt_text << crt.rdbuf();
  key_text << key.rdbuf();
  WriteFile(Path("tls.key"), key_text.str());
  WriteFile(Path("tls.crt"), crt_text.str());

  // New connections get the new certificate within a few reload intervals.
  EXPECT_TRUE(Eventually(
      [&] {
        return Client(*server, {Cert("wrong-ca.pem"), "", "", Path("token-a")})
            ->LookupAction(Lookup("job-a"))
            .ok();
      },
      absl::Seconds(20), absl::Milliseconds(200)))
      << server->Log();
  // ... and the metrics port too.
  EXPECT_THAT(ScrapeHttps(server->metrics_port(), Cert("wrong-ca.pem")),
              HasSubstr("actionjournal_build_info"));
  EXPECT_EQ(ScrapeHttps(server->metrics_port(), Cert("ca.pem")), "");
  // The connection opened before is still up: were it dropped, the client
  // (trusting the old CA only) could not reconnect.
  EXPECT_THAT(before->LookupAction(Lookup("job-a")), IsOk());
  // And no restart: the same process.
  EXPECT_EQ(kill(server->pid(), 0), 0);
}

TEST_F(SecurityE2eTest, AChangedTokensFileTakesEffectWithoutARestart) {
  auto server = StartServer(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  const std::string fresh = "fresh-token-for-the-reload-test-42";
  WriteToken("fresh", fresh);
  auto a = Client(*server, {Cert("ca.pem"), "", "", Path("token-a")});
  auto f = Client(*server, {Cert("ca.pem"), "", "", Path("token-fresh")});
  ASSERT_THAT(a->LookupAction(Lookup("job-a")), IsOk());
  ASSERT_THAT(f->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnauthenticated));

  // Token A leaves, the fresh one comes in.
  WriteFile(Path("tokens"),
            absl::StrCat("fresh sha256:", Digest(fresh), " read job-a\n"));
  EXPECT_TRUE(Eventually([&] { return f->LookupAction(Lookup("job-a")).ok(); },
                         absl::Seconds(20), absl::Milliseconds(200)))
      << server->Log();
  EXPECT_THAT(a->LookupAction(Lookup("job-a")),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(f->Prune(PruneJob("job-a", false)),
              StatusIs(absl::StatusCode::kPermissionDenied));

  // A broken file is reported and the last good one kept.
  WriteFile(Path("tokens"), "fresh " + fresh + " read job-a\n");
  Eventually(
      [&] {
        return server->Log().find("keeping the tokens read before") !=
               std::string::npos;
      },
      absl::Seconds(20), absl::Milliseconds(100));
  EXPECT_THAT(server->Log(), HasSubstr("line 1: credential: must be sha256:"));
  EXPECT_THAT(server->Log(), Not(HasSubstr(fresh)));
  EXPECT_THAT(f->LookupAction(Lookup("job-a")), IsOk());
}

TEST_F(SecurityE2eTest, TheHealthPortIsPlaintextAndServesOnlyHealth) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string log = server->Log();
  const size_t at = log.find("health=127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string target =
      absl::StrCat("127.0.0.1:", std::atoi(log.c_str() + at + 17));
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  for (const char* service : {"", "liveness"}) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)
                    ->Check(&ctx, req, &resp)
                    .ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  // The journal is not there, with or without a token.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token_admin_);
  v1::LookupActionResponse resp;
  EXPECT_EQ(v1::ActionJournal::NewStub(channel)
                ->LookupAction(&ctx, Lookup("job-a"), &resp)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(SecurityE2eTest, AnUnauthenticatedServerStaysOnLoopback) {
  const std::string server = testing::ServerBinary();
  auto [code, out] = Shell(server +
                           " --store=memory: --listen=0.0.0.0:0 "
                           "--metrics-listen=");
  EXPECT_EQ(code, 2);
  EXPECT_THAT(out, HasSubstr("refusing to serve unauthenticated on "
                             "0.0.0.0:0"));
  EXPECT_THAT(out, HasSubstr("--insecure-allow-unauthenticated"));
  // Accepted when asked for, and said so.
  std::tie(code, out) =
      Shell("timeout -s TERM 2 " + server +
            " --store=memory: --listen=0.0.0.0:0 --metrics-listen= "
            "--insecure-allow-unauthenticated");
  EXPECT_THAT(out, HasSubstr("auth=unauthenticated"));
  EXPECT_THAT(out, HasSubstr("WARN unauthenticated: every caller"));
  // Loopback needs no flag, and says it is unauthenticated too.
  auto local = ServerProcess::Start({"--store=memory:"}, Path("local.log"));
  ASSERT_THAT(local.status(), IsOk());
  EXPECT_THAT((*local)->Log(), HasSubstr("auth=unauthenticated"));
}

TEST_F(SecurityE2eTest, BadSettingsStopTheStartNamingTheFlagNotTheSecret) {
  const std::string server = testing::ServerBinary() + " --store=memory: ";
  // A token pasted in clear.
  WriteFile(Path("clear"), "ops s3cret-pasted-in-clear admin *\n");
  auto [code, out] = Shell(server + "--auth-tokens-file=" + Path("clear"));
  EXPECT_EQ(code, 2);
  EXPECT_THAT(out, HasSubstr("line 1: credential: must be sha256:"));
  EXPECT_THAT(out, Not(HasSubstr("s3cret-pasted-in-clear")));
  struct Case {
    std::string flags, says;
  };
  for (const Case& c : std::vector<Case>{
           {"--auth-tokens-file=" + Path("missing"),
            "--auth-tokens-file: cannot read"},
           {"--tls-cert-file=" + Cert("server.pem"), "go together"},
           {"--tls-cert-file=" + Cert("server.pem") +
                " --tls-key-file=" + Cert("client-a.key"),
            "is not the certificate's key"},
           {"--tls-cert-file=" + Cert("server.key") +
                " --tls-key-file=" + Cert("server.key"),
            "holds no PEM certificate"},
           {"--tls-client-ca-file=" + Cert("ca.pem"),
            "--tls-client-ca-file needs"},
           {"--metrics-tls-cert-file=" + Cert("server.pem"),
            "--metrics-tls-cert-file and --metrics-tls-key-file go together"},
       }) {
    std::tie(code, out) = Shell(server + c.flags);
    EXPECT_EQ(code, 2) << c.flags;
    EXPECT_THAT(out, HasSubstr(c.says)) << c.flags;
    EXPECT_THAT(out, Not(HasSubstr("PRIVATE KEY"))) << c.flags;
  }
}

}  // namespace
}  // namespace actionjournal
