// Per-job credentials: who a request comes from (a bearer token or a mutual
// TLS client certificate) and what it may do to which jobs. docs/operations.md
// "Security" describes the tokens file; this is its reader.
//
// The file holds one principal per line:
//
//   # principal  credential        permissions       jobs
//   flink-a      sha256:<64 hex>   read,write,prune  job-a,job-a-*
//   tm-b         cert:tm-b.flink   read,write,prune  job-b
//   ops          sha256:<64 hex>   admin             *
//
// A credential is the SHA-256 of a bearer token (never the token) or a client
// certificate's name (its common name or a subject alternative name).
// Permissions: read (LookupAction, ReadPayload), write (BeginRecord,
// AppendAction(s), CompleteRecord), prune (Prune by keys or by time), admin
// (all of them, and Prune of a whole job). Jobs are job ids, `*` matching any
// run of characters.
#ifndef ACTIONJOURNAL_SERVER_AUTH_H_
#define ACTIONJOURNAL_SERVER_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace actionjournal {

enum class Permission { kRead = 1, kWrite = 2, kPrune = 4, kAdmin = 8 };
const char* PermissionName(Permission p);

// Who a request comes from, and what it may do. Immutable.
struct Principal {
  std::string name;
  int permissions = 0;            // Permission bits
  std::vector<std::string> jobs;  // patterns

  // OK, or PERMISSION_DENIED naming the principal, the permission and the
  // job (never a credential).
  absl::Status Allows(Permission p, const std::string& job) const;
};

// The parsed tokens file. Immutable.
struct Principals {
  absl::flat_hash_map<std::string, std::shared_ptr<const Principal>> by_digest;
  absl::flat_hash_map<std::string, std::shared_ptr<const Principal>> by_cert;

  // INVALID_ARGUMENT naming the line and the field that is wrong; the
  // message never quotes a credential, which could be a token in clear.
  static absl::StatusOr<Principals> Parse(const std::string& text);
};

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(const std::string& bytes);

// Whether `job` matches `pattern` (`*` matches any run of characters).
bool JobMatches(const std::string& pattern, const std::string& job);

// Authenticates requests against a tokens file, which it re-reads every
// `reload_interval` (Kubernetes updates a mounted Secret in place); a file
// that no longer parses is logged and the last good one kept. Thread-safe.
class Authenticator {
 public:
  // INVALID_ARGUMENT (naming `path`) when the file cannot be read or parsed.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Open(
      const std::string& path, absl::Duration reload_interval);
  ~Authenticator();

  // The principal the request's `authorization: Bearer <token>` header
  // names, else the one its client certificate names; UNAUTHENTICATED when
  // there is neither, or the token or certificate is not in the file.
  absl::StatusOr<std::shared_ptr<const Principal>> Authenticate(
      const grpc::ServerContextBase& ctx) const;

  // Re-reads the file now if it changed (what the reload thread does).
  void ReloadForTest() { Reload(); }

 private:
  Authenticator(std::string path, std::string text, Principals principals,
                absl::Duration reload_interval);
  void Reload();

  const std::string path_;
  const absl::Duration reload_interval_;
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Principals> principals_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reloader_;
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_AUTH_H_
