// TLS for the server's two ports: gRPC credentials that re-read their PEM
// files when they change (gRPC's FileWatcherCertificateProvider), and an
// HTTPS /metrics server that takes its certificate from OpenSSL's
// certificate callback at every handshake. Either way a rotated certificate
// is used by new connections and open ones carry on.
//
// Why a server of our own for HTTPS metrics: prometheus-cpp serves through
// civetweb, and Debian 12's civetweb 1.15 looks up SSL_get_peer_certificate,
// which OpenSSL 3 no longer exports, and calls the null pointer on every
// HTTPS connection (a crash). Plaintext metrics keep using prometheus-cpp.
#ifndef ACTIONJOURNAL_SERVER_TLS_H_
#define ACTIONJOURNAL_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct ssl_ctx_st;
namespace prometheus {
class Registry;
}  // namespace prometheus

namespace actionjournal {

struct TlsFiles {
  // PEM certificate chain and private key; both empty: no TLS.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle; set: clients must present a certificate it signed
  // (mutual TLS).
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
};

// OK when the files can be read, parse, and the key is the certificate's;
// else INVALID_ARGUMENT naming `flag_prefix` ("--tls", "--metrics-tls") and
// the file. Never quotes a file's contents.
absl::Status CheckTlsFiles(const TlsFiles& files,
                           const std::string& flag_prefix);

// Server credentials over `files`, re-read every `refresh` (at least 1 s).
// REQUIRES: CheckTlsFiles(files) was OK.
std::shared_ptr<grpc::ServerCredentials> WatchedServerCredentials(
    const TlsFiles& files, absl::Duration refresh);

// Serves `registry` at https://`address`/metrics ("host:port"; port 0
// picks a free one), up to kMetricsWorkers connections at once, each
// bounded to 5 s, so that a client that stalls (or a slow handshake) does
// not hold up a scrape; connections beyond those and a short queue are
// closed at once. No client certificates (the deploy/ NetworkPolicy says
// who may connect).
// Thread-safe; the destructor stops it.
class HttpsMetricsServer {
 public:
  // UNAVAILABLE when the address cannot be bound.
  // REQUIRES: CheckTlsFiles(files) was OK.
  static absl::StatusOr<std::unique_ptr<HttpsMetricsServer>> Start(
      const std::string& address,
      std::shared_ptr<prometheus::Registry> registry, const TlsFiles& files,
      absl::Duration refresh);
  ~HttpsMetricsServer();

  int port() const { return port_; }

  // The certificate and key, re-read when the files change (tls.cc).
  class Certificate;

 private:
  static constexpr int kWorkers = 4;
  static constexpr size_t kMaxWaiting = 16;

  HttpsMetricsServer() = default;
  void AcceptLoop();
  void WorkLoop();
  void Serve(int fd);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Certificate> certificate_;
  ssl_ctx_st* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::deque<int> waiting_ ABSL_GUARDED_BY(mu_);  // accepted, not served
  std::vector<std::thread> workers_;
  std::thread thread_;  // accepts
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_TLS_H_
