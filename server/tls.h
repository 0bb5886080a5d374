// TLS for the server's two ports: gRPC credentials that re-read their PEM
// files when they change (gRPC's FileWatcherCertificateProvider), and the
// same for the metrics port (civetweb, under prometheus-cpp's Exposer),
// which gets its certificate from OpenSSL's certificate callback at every
// handshake. Either way a rotated certificate is used by new connections
// and open ones carry on.
#ifndef ACTIONJOURNAL_SERVER_TLS_H_
#define ACTIONJOURNAL_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

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

// For the metrics port: civetweb's init_ssl callback, which makes an SSL_CTX
// take its certificate and key from `files` at every handshake, re-read at
// most every `refresh`. Process-wide (civetweb gives the callback no state
// of ours); call before starting the exposer.
// REQUIRES: CheckTlsFiles(files) was OK.
void SetMetricsCertificate(const TlsFiles& files, absl::Duration refresh);
int InitMetricsSsl(void* ssl_ctx, void* user_data);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_TLS_H_
