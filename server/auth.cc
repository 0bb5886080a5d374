#include "server/auth.h"

#include <openssl/sha.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "common/log.h"

namespace actionjournal {
namespace {

constexpr char kDigestPrefix[] = "sha256:";
constexpr char kCertPrefix[] = "cert:";

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == ':' || c == '-' || c == '@' || c == '/';
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        (c < 'a' || c > 'f')) {
      return false;
    }
  }
  return true;
}

// Job patterns: job id characters ([A-Za-z0-9._:-]) and `*`.
bool IsJobPattern(absl::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != ':' && c != '-' && c != '*') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<int> ParsePermissions(absl::string_view field) {
  int bits = 0;
  for (absl::string_view p : absl::StrSplit(field, ',')) {
    if (p == "read") {
      bits |= static_cast<int>(Permission::kRead);
    } else if (p == "write") {
      bits |= static_cast<int>(Permission::kWrite);
    } else if (p == "prune") {
      bits |= static_cast<int>(Permission::kPrune);
    } else if (p == "admin") {
      bits |= static_cast<int>(Permission::kAdmin);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "permission '", p, "' is not one of read, write, prune, admin"));
    }
  }
  return bits;
}

std::string BearerToken(const grpc::ServerContextBase& ctx, bool* present) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  *present = it != md.end();
  if (!*present) return "";
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWithIgnoreCase(value, kBearer)) return "";
  return std::string(absl::StripAsciiWhitespace(value.substr(kBearer.size())));
}

}  // namespace

const char* PermissionName(Permission p) {
  switch (p) {
    case Permission::kRead:
      return "read";
    case Permission::kWrite:
      return "write";
    case Permission::kPrune:
      return "prune";
    case Permission::kAdmin:
      return "admin";
  }
  return "?";
}

bool JobMatches(const std::string& pattern, const std::string& job) {
  // Iterative glob with backtracking to the last `*`.
  size_t p = 0, j = 0, star = std::string::npos, mark = 0;
  while (j < job.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = j;
    } else if (p < pattern.size() && pattern[p] == job[j]) {
      ++p;
      ++j;
    } else if (star != std::string::npos) {
      p = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

absl::Status Principal::Allows(Permission p, const std::string& job) const {
  const int admin = static_cast<int>(Permission::kAdmin);
  if ((permissions & (static_cast<int>(p) | admin)) != 0) {
    for (const std::string& pattern : jobs) {
      if (JobMatches(pattern, job)) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat("principal '", name, "' may not ", PermissionName(p),
                   " job '", job, "'"));
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

absl::StatusOr<Principals> Principals::Parse(const std::string& text) {
  Principals out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto bad = [line_number](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", why));
    };
    if (fields.size() != 4) {
      return bad("expected 4 fields: principal, credential, permissions, jobs");
    }
    auto principal = std::make_shared<Principal>();
    principal->name = std::string(fields[0]);
    for (char c : principal->name) {
      if (!IsNameChar(c)) {
        return bad("principal: only letters, digits and ._:-@/ are allowed");
      }
    }
    auto permissions = ParsePermissions(fields[2]);
    if (!permissions.ok()) return bad(permissions.status().message());
    principal->permissions = *permissions;
    for (absl::string_view job : absl::StrSplit(fields[3], ',')) {
      if (!IsJobPattern(job)) {
        return bad(absl::StrCat("job pattern '", job,
                                "': 1-128 characters of [A-Za-z0-9._:-*]"));
      }
      principal->jobs.emplace_back(job);
    }
    // The credential is never quoted: it could be a token pasted in clear.
    const absl::string_view credential = fields[1];
    if (absl::StartsWith(credential, kDigestPrefix)) {
      const absl::string_view hex =
          credential.substr(sizeof(kDigestPrefix) - 1);
      if (hex.size() != 64 || !IsLowerHex(hex)) {
        return bad("credential: sha256: needs 64 lowercase hex digits");
      }
      if (!out.by_digest.emplace(std::string(hex), principal).second) {
        return bad("credential: the same token digest is on an earlier line");
      }
    } else if (absl::StartsWith(credential, kCertPrefix) &&
               credential.size() > sizeof(kCertPrefix) - 1) {
      const std::string cert(credential.substr(sizeof(kCertPrefix) - 1));
      if (!out.by_cert.emplace(cert, principal).second) {
        return bad(
            "credential: the same certificate name is on an earlier "
            "line");
      }
    } else {
      return bad(
          "credential: must be sha256:<the token's SHA-256, 64 hex digits> "
          "(never the token itself) or cert:<client certificate name>");
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Open(
    const std::string& path, absl::Duration reload_interval) {
  std::string text;
  if (!ReadFile(path, &text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth-tokens-file: cannot read ", path));
  }
  absl::StatusOr<Principals> principals = Principals::Parse(text);
  if (!principals.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--auth-tokens-file ", path, ": ", principals.status().message()));
  }
  return std::unique_ptr<Authenticator>(new Authenticator(
      path, std::move(text), *std::move(principals), reload_interval));
}

Authenticator::Authenticator(std::string path, std::string text,
                             Principals principals,
                             absl::Duration reload_interval)
    : path_(std::move(path)),
      reload_interval_(reload_interval),
      text_(std::move(text)),
      principals_(std::make_shared<const Principals>(std::move(principals))) {
  reloader_ = std::thread([this] {
    absl::MutexLock lock(&mu_);
    while (
        !mu_.AwaitWithTimeout(absl::Condition(&stopping_), reload_interval_)) {
      mu_.Unlock();
      Reload();
      mu_.Lock();
    }
  });
}

Authenticator::~Authenticator() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  reloader_.join();
}

void Authenticator::Reload() {
  std::string text;
  if (!ReadFile(path_, &text)) {
    LogError("--auth-tokens-file: cannot read ", path_,
             "; keeping the tokens read before");
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (text == text_) return;
    text_ = text;  // a bad file is reported once, not every interval
  }
  absl::StatusOr<Principals> principals = Principals::Parse(text);
  if (!principals.ok()) {
    LogError("--auth-tokens-file ", path_, ": ", principals.status().message(),
             "; keeping the tokens read before");
    return;
  }
  const size_t count =
      principals->by_digest.size() + principals->by_cert.size();
  {
    absl::MutexLock lock(&mu_);
    principals_ = std::make_shared<const Principals>(*std::move(principals));
  }
  LogInfo("--auth-tokens-file ", path_, " reloaded: ", count, " credential(s)");
}

absl::StatusOr<std::shared_ptr<const Principal>> Authenticator::Authenticate(
    const grpc::ServerContextBase& ctx) const {
  std::shared_ptr<const Principals> principals;
  {
    absl::MutexLock lock(&mu_);
    principals = principals_;
  }
  bool has_header = false;
  const std::string token = BearerToken(ctx, &has_header);
  if (has_header) {
    if (token.empty()) {
      return absl::UnauthenticatedError(
          "authorization: expected 'Bearer <token>'");
    }
    auto it = principals->by_digest.find(Sha256Hex(token));
    if (it == principals->by_digest.end()) {
      return absl::UnauthenticatedError(
          "authorization: the bearer token is not known to this server");
    }
    return it->second;
  }
  // Only a certificate the handshake verified (mutual TLS) names anyone.
  const std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const char* property :
         {"x509_common_name", "x509_subject_alternative_name"}) {
      for (const grpc::string_ref& name : auth->FindPropertyValues(property)) {
        auto it =
            principals->by_cert.find(std::string(name.data(), name.size()));
        if (it != principals->by_cert.end()) return it->second;
      }
    }
    return absl::UnauthenticatedError(
        "the client certificate's names are not in the tokens file, and no "
        "'authorization: Bearer <token>' was sent");
  }
  return absl::UnauthenticatedError(
      "credentials required: send 'authorization: Bearer <token>' or a "
      "client certificate named in the server's tokens file");
}

}  // namespace actionjournal
