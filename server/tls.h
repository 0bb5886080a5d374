// TLS for the server's ports: gRPC credentials that re-read their PEM files
// when they change (gRPC's FileWatcherCertificateProvider), and an OpenSSL
// context for the HTTP ports (HTTPS /metrics and the gateway, served by
// server/http_server.h) that takes its certificate from OpenSSL's
// certificate callback at every handshake. Either way a rotated certificate
// is used by new connections and open ones carry on.
#ifndef ACTIONJOURNAL_SERVER_TLS_H_
#define ACTIONJOURNAL_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct ssl_ctx_st;

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

// An OpenSSL server context for the server's HTTP ports (HttpServer,
// server/http_server.h) that presents, at every handshake, the certificate
// and key of `files` as they are now: re-read at most every `refresh` when
// they change; a half-written pair keeps the one read before. TLS 1.2 and
// up; no client certificates. Thread-safe; the destructor frees it.
class TlsServerContext {
 public:
  // `flag_prefix` names the files in logs ("--metrics-tls", "--tls").
  // REQUIRES: CheckTlsFiles(files) was OK.
  static absl::StatusOr<std::unique_ptr<TlsServerContext>> Make(
      const TlsFiles& files, absl::Duration refresh, std::string flag_prefix);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  ssl_ctx_st* get() const { return ctx_; }

  // The certificate and key, re-read when the files change (tls.cc).
  class Certificate;

 private:
  TlsServerContext() = default;
  std::unique_ptr<Certificate> certificate_;
  ssl_ctx_st* ctx_ = nullptr;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_TLS_H_
