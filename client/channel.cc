#include "client/channel.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/client_interceptor.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace actionjournal {
namespace {

// How often certificates and the token file are re-read (Kubernetes
// updates a mounted Secret in place).
constexpr int kRefreshSeconds = 5;

// common/file.h's, which this library, installed on its own, does not link.
bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

// The token in `path`: its one line, surrounding whitespace dropped.
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  std::string text;
  if (!ReadFile(path, &text)) {
    return absl::InvalidArgumentError("token_file: cannot read " + path);
  }
  std::string token(absl::StripAsciiWhitespace(text));
  if (token.empty()) {
    return absl::InvalidArgumentError("token_file: " + path + " is empty");
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          "token_file: " + path +
          " must hold one token of visible ASCII characters");
    }
  }
  return token;
}

// The bearer token, re-read from its file every kRefreshSeconds; a file
// that became unreadable keeps the last token. Thread-safe.
class TokenSource {
 public:
  TokenSource(std::string path, std::string token)
      : path_(std::move(path)), header_("Bearer " + token) {}

  std::string Header() {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - read_ >= absl::Seconds(kRefreshSeconds)) {
      read_ = now;
      absl::StatusOr<std::string> token = ReadToken(path_);
      if (token.ok()) header_ = "Bearer " + *token;
    }
    return header_;
  }

 private:
  const std::string path_;
  absl::Mutex mu_;
  std::string header_ ABSL_GUARDED_BY(mu_);
  absl::Time read_ ABSL_GUARDED_BY(mu_) = absl::Now();
};

// Adds `authorization: Bearer <token>` to every call of the channel.
class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(TokenSource* token) : token_(token) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization",
                                                 token_->Header());
    }
    methods->Proceed();
  }

 private:
  TokenSource* const token_;
};

class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::shared_ptr<TokenSource> token)
      : token_(std::move(token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(token_.get());
  }

 private:
  // Shared with every interceptor through the factory, which the channel
  // keeps as long as it lives.
  const std::shared_ptr<TokenSource> token_;
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ClientOptions& o) {
  if (o.tls_ca_file.empty()) {
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "tls_cert_file, tls_key_file: need tls_ca_file (TLS)");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert_file and tls_key_file go together: give both or neither");
  }
  std::string unused;
  for (const auto& [name, path] :
       std::vector<std::pair<const char*, std::string>>{
           {"tls_ca_file", o.tls_ca_file},
           {"tls_cert_file", o.tls_cert_file},
           {"tls_key_file", o.tls_key_file}}) {
    if (!path.empty() && !ReadFile(path, &unused)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": cannot read ", path));
    }
  }
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          o.tls_key_file, o.tls_cert_file, o.tls_ca_file, kRefreshSeconds);
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(provider);
  tls.watch_root_certs();
  if (!o.tls_cert_file.empty()) tls.watch_identity_key_cert_pairs();
  // The server's certificate must name the host the target names.
  tls.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(tls);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateJournalChannel(
    const ClientOptions& options, const grpc::ChannelArguments& args) {
  auto credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(options.token_file);
    if (!token.ok()) return token.status();
    interceptors.push_back(std::make_unique<BearerInterceptorFactory>(
        std::make_shared<TokenSource>(options.token_file, *token)));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      options.target, *credentials, args, std::move(interceptors));
}

}  // namespace actionjournal
