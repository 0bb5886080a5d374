#include "server/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>

#include "absl/status/statusor.h"
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

// An HTTP port's certificate, re-read when its files change. Thread-safe.
class TlsServerContext::Certificate {
 public:
  Certificate(const TlsFiles& files, absl::Duration refresh,
              std::string flag_prefix)
      : files_(files), refresh_(refresh), flag_(std::move(flag_prefix)) {}

  // The pair to present now; null when none could ever be read.
  std::shared_ptr<KeyPair> Current() {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - checked_ < refresh_ && pair_ != nullptr) return pair_;
    checked_ = now;
    std::string cert, key;
    if (!ReadFile(files_.cert_file, &cert) ||
        !ReadFile(files_.key_file, &key)) {
      LogError(flag_, ": cannot read ", files_.cert_file, " or ",
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
      LogError(flag_, ": ", files_.cert_file, " / ", files_.key_file, " ",
               pair.status().message(),
               "; keeping the certificate read before");
      return pair_;
    }
    if (pair_ != nullptr) LogInfo(flag_, ": certificate reloaded");
    pair_ = *std::move(pair);
    return pair_;
  }

 private:
  const TlsFiles files_;
  const absl::Duration refresh_;
  const std::string flag_;
  absl::Mutex mu_;
  absl::Time checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string cert_pem_ ABSL_GUARDED_BY(mu_);
  std::string key_pem_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<KeyPair> pair_ ABSL_GUARDED_BY(mu_);
};

namespace {

int UseCertificate(SSL* ssl, void* certificate) {
  std::shared_ptr<KeyPair> pair =
      static_cast<TlsServerContext::Certificate*>(certificate)->Current();
  return pair != nullptr && pair->Use(ssl) ? 1 : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsServerContext>> TlsServerContext::Make(
    const TlsFiles& files, absl::Duration refresh, std::string flag_prefix) {
  std::unique_ptr<TlsServerContext> c(new TlsServerContext());
  c->certificate_ =
      std::make_unique<Certificate>(files, refresh, std::move(flag_prefix));
  c->ctx_ = SSL_CTX_new(TLS_server_method());
  if (c->ctx_ == nullptr) {
    return absl::InternalError("OpenSSL cannot make a context");
  }
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_cert_cb(c->ctx_, UseCertificate, c->certificate_.get());
  return c;
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

}  // namespace actionjournal
