#include "server/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "common/log.h"

namespace actionjournal {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

Bio MemBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// A certificate chain and its key, parsed. Immutable once built.
class KeyPair {
 public:
  ~KeyPair() {
    X509_free(cert_);
    EVP_PKEY_free(key_);
    sk_X509_pop_free(chain_, X509_free);
  }

  // The pair in `cert_pem` and `key_pem`, or an error saying which part is
  // wrong (never quoting it).
  static absl::StatusOr<std::shared_ptr<KeyPair>> Parse(
      const std::string& cert_pem, const std::string& key_pem) {
    auto pair = std::make_shared<KeyPair>();
    Bio certs = MemBio(cert_pem);
    pair->cert_ = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
    if (pair->cert_ == nullptr) {
      return absl::InvalidArgumentError("holds no PEM certificate");
    }
    pair->chain_ = sk_X509_new_null();
    while (X509* more =
               PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
      sk_X509_push(pair->chain_, more);
    }
    ERR_clear_error();  // the end of the chain is an "error"
    Bio key = MemBio(key_pem);
    pair->key_ = PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr);
    if (pair->key_ == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError("holds no PEM private key");
    }
    if (X509_check_private_key(pair->cert_, pair->key_) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("is not the certificate's key");
    }
    return pair;
  }

  // Makes `ssl` present this pair.
  bool Use(SSL* ssl) const {
    return SSL_use_cert_and_key(ssl, cert_, key_, chain_, /*override=*/1) == 1;
  }

 private:
  X509* cert_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
};

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files,
                           const std::string& flag_prefix) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag_prefix, "-cert-file and ", flag_prefix,
                     "-key-file go together: give both or neither"));
  }
  if (!files.enabled()) {
    if (!files.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag_prefix, "-client-ca-file needs ", flag_prefix,
                       "-cert-file and ", flag_prefix, "-key-file"));
    }
    return absl::OkStatus();
  }
  std::string cert, key;
  if (!ReadFile(files.cert_file, &cert)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag_prefix, "-cert-file: cannot read ", files.cert_file));
  }
  if (!ReadFile(files.key_file, &key)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag_prefix, "-key-file: cannot read ", files.key_file));
  }
  auto pair = KeyPair::Parse(cert, key);
  if (!pair.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag_prefix, "-cert-file ", files.cert_file, " / ", flag_prefix,
        "-key-file ", files.key_file, ": ", pair.status().message()));
  }
  if (!files.client_ca_file.empty()) {
    std::string ca;
    if (!ReadFile(files.client_ca_file, &ca)) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag_prefix, "-client-ca-file: cannot read ", files.client_ca_file));
    }
    Bio bio = MemBio(ca);
    X509* first = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    ERR_clear_error();
    if (first == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag_prefix, "-client-ca-file ", files.client_ca_file,
                       ": holds no PEM certificate"));
    }
    X509_free(first);
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> WatchedServerCredentials(
    const TlsFiles& files, absl::Duration refresh) {
  const auto seconds = static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(refresh)));
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key_file, files.cert_file, files.client_ca_file, seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

// The metrics port's certificate, re-read when its files change.
// Thread-safe.
class HttpsMetricsServer::Certificate {
 public:
  Certificate(const TlsFiles& files, absl::Duration refresh)
      : files_(files), refresh_(refresh) {}

  // The pair to present now; null when none could ever be read.
  std::shared_ptr<KeyPair> Current() {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - checked_ < refresh_ && pair_ != nullptr) return pair_;
    checked_ = now;
    std::string cert, key;
    if (!ReadFile(files_.cert_file, &cert) ||
        !ReadFile(files_.key_file, &key)) {
      LogError("--metrics-tls: cannot read ", files_.cert_file, " or ",
               files_.key_file, "; keeping the certificate read before");
      return pair_;
    }
    if (pair_ != nullptr && cert == cert_pem_ && key == key_pem_) return pair_;
    cert_pem_ = cert;
    key_pem_ = key;
    auto pair = KeyPair::Parse(cert, key);
    if (!pair.ok()) {
      // Kubernetes swaps both files at once; a half-written pair is
      // reported and the old one kept until the next look.
      LogError("--metrics-tls: ", files_.cert_file, " / ", files_.key_file, " ",
               pair.status().message(),
               "; keeping the certificate read before");
      return pair_;
    }
    if (pair_ != nullptr) LogInfo("metrics TLS certificate reloaded");
    pair_ = *std::move(pair);
    return pair_;
  }

 private:
  const TlsFiles files_;
  const absl::Duration refresh_;
  absl::Mutex mu_;
  absl::Time checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string cert_pem_ ABSL_GUARDED_BY(mu_);
  std::string key_pem_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<KeyPair> pair_ ABSL_GUARDED_BY(mu_);
};

namespace {

int UseCertificate(SSL* ssl, void* certificate) {
  std::shared_ptr<KeyPair> pair =
      static_cast<HttpsMetricsServer::Certificate*>(certificate)->Current();
  return pair != nullptr && pair->Use(ssl) ? 1 : 0;
}

void Reply(SSL* ssl, absl::string_view status, absl::string_view body) {
  const std::string out =
      absl::StrCat("HTTP/1.1 ", status,
                   "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"
                   "\r\nContent-Length: ",
                   body.size(), "\r\nConnection: close\r\n\r\n", body);
  size_t sent = 0;
  while (sent < out.size()) {
    const int n =
        SSL_write(ssl, out.data() + sent, static_cast<int>(out.size() - sent));
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpsMetricsServer>> HttpsMetricsServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    const TlsFiles& files, absl::Duration refresh) {
  // A client that hangs up mid-answer must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<HttpsMetricsServer> s(new HttpsMetricsServer());
  s->registry_ = std::move(registry);
  s->certificate_ = std::make_unique<Certificate>(files, refresh);
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const std::string port =
      colon == std::string::npos ? "" : address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  auto cannot = [&address](absl::string_view why) {
    return absl::UnavailableError(absl::StrCat(
        "--metrics-listen: cannot listen on ", address, ": ", why));
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints,
                  &found) != 0 ||
      found == nullptr) {
    return cannot("not a host:port");
  }
  s->listen_fd_ =
      socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool bound =
      s->listen_fd_ >= 0 &&
      bind(s->listen_fd_, found->ai_addr, found->ai_addrlen) == 0 &&
      listen(s->listen_fd_, 16) == 0;
  freeaddrinfo(found);
  if (!bound) return cannot(strerror(errno));
  sockaddr_storage bound_to{};
  socklen_t len = sizeof(bound_to);
  getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&bound_to), &len);
  s->port_ = ntohs(bound_to.ss_family == AF_INET6
                       ? reinterpret_cast<sockaddr_in6*>(&bound_to)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&bound_to)->sin_port);
  s->ctx_ = SSL_CTX_new(TLS_server_method());
  if (s->ctx_ == nullptr) return cannot("OpenSSL cannot make a context");
  SSL_CTX_set_min_proto_version(s->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_cert_cb(s->ctx_, UseCertificate, s->certificate_.get());
  for (int i = 0; i < kWorkers; ++i)
    s->workers_.emplace_back([p = s.get()] { p->WorkLoop(); });
  s->thread_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

HttpsMetricsServer::~HttpsMetricsServer() {
  {
    absl::MutexLock lock(&mu_);  // the workers wait on it
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  for (std::thread& w : workers_) w.join();
  absl::MutexLock lock(&mu_);
  for (int fd : waiting_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
  SSL_CTX_free(ctx_);
}

void HttpsMetricsServer::WorkLoop() {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !waiting_.empty() || stopping_.load();
  };
  for (;;) {
    int fd;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&ready));
      if (waiting_.empty()) return;  // stopping
      fd = waiting_.front();
      waiting_.pop_front();
    }
    Serve(fd);
    close(fd);
  }
}

void HttpsMetricsServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, /*timeout_ms=*/100) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // Every read and write of a connection is bounded, so that a client
    // that stalls holds the port for seconds, not for ever.
    const timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    absl::MutexLock lock(&mu_);
    if (waiting_.size() >= kMaxWaiting) {
      close(fd);  // every worker busy and a queue waiting: come back later
      continue;
    }
    waiting_.push_back(fd);
  }
}

void HttpsMetricsServer::Serve(int fd) {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return;
  SSL_set_fd(ssl, fd);
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  if (SSL_accept(ssl) == 1) {
    std::string request;
    char buf[2048];
    while (request.find("\r\n\r\n") == std::string::npos &&
           request.size() < 8192 && absl::Now() < give_up) {
      const int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    if (request.find("\r\n\r\n") != std::string::npos) {
      const absl::string_view line(request.data(), request.find("\r\n"));
      if (absl::StartsWith(line, "GET /metrics ") ||
          absl::StartsWith(line, "GET /metrics?")) {
        Reply(ssl, "200 OK",
              prometheus::TextSerializer().Serialize(registry_->Collect()));
      } else {
        Reply(ssl, "404 Not Found", "only /metrics is served here\n");
      }
    }
    SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
}

}  // namespace actionjournal
