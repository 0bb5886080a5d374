#include "server/gateway.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "actionjournal/v1/journal.grpc.pb.h"
#include "server/console_assets.h"

namespace actionjournal {

struct HttpGateway::Request {
  std::string method;
  std::string path;
  std::string query;
  std::string authorization;  // the header, as sent
  // Whether X-Actionjournal-Request was sent: a header a cross-site form
  // or a simple cross-origin request cannot set, asked of the write route.
  bool intent = false;
};

namespace {

// How long one API call may take.
constexpr auto kCallDeadline = std::chrono::seconds(10);

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// The HTTP status for a gRPC code, as grpc-gateway maps them.
int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

HttpGateway::Answer Error(grpc::StatusCode code, absl::string_view message) {
  return {HttpStatusOf(code), "application/json; charset=utf-8",
          absl::StrCat(
              "{\"code\":\"",
              absl::StatusCodeToString(static_cast<absl::StatusCode>(code)),
              "\",\"message\":", JsonString(message), "}\n"),
          ""};
}

HttpGateway::Answer Invalid(absl::string_view field, absl::string_view why) {
  return Error(grpc::StatusCode::INVALID_ARGUMENT,
               absl::StrCat(field, ": ", why));
}

// `raw` from a query string: "+" is a space, "%XX" the byte XX (a "%" not
// followed by two hex digits is kept as it is).
std::string FormDecode(absl::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '+') {
      out += ' ';
    } else if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 &&
               hex(raw[i + 2]) >= 0) {
      out += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
      i += 2;
    } else {
      out += raw[i];
    }
  }
  return out;
}

// The query string's parameters, percent-decoded (a repeated name keeps
// its first value).
std::map<std::string, std::string> ParamsOf(const std::string& query) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at <= query.size() && !query.empty()) {
    size_t amp = query.find('&', at);
    if (amp == std::string::npos) amp = query.size();
    const std::string pair = query.substr(at, amp - at);
    const size_t eq = pair.find('=');
    const std::string name = pair.substr(0, eq);
    const std::string raw = eq == std::string::npos ? "" : pair.substr(eq + 1);
    if (!name.empty()) out.emplace(name, FormDecode(raw));
    at = amp + 1;
  }
  return out;
}

class Params {
 public:
  explicit Params(const std::string& query) : values_(ParamsOf(query)) {}
  bool Has(const std::string& k) const { return values_.count(k) != 0; }
  std::string Get(const std::string& k) const {
    auto it = values_.find(k);
    return it == values_.end() ? "" : it->second;
  }
  // An integer parameter (unchanged when absent); false, and *error set,
  // when not a number.
  template <typename T>
  bool Int(const std::string& k, T* out,
           std::optional<HttpGateway::Answer>* error) const {
    if (!Has(k)) return true;
    if (absl::SimpleAtoi(Get(k), out)) return true;
    *error = Invalid(k, "must be an integer");
    return false;
  }

 private:
  std::map<std::string, std::string> values_;
};

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, options).ok()) {
    return "{}";
  }
  return out + "\n";
}

template <typename Req, typename Resp>
using Method = grpc::Status (v1::ActionJournal::Stub::*)(grpc::ClientContext*,
                                                         const Req&, Resp*);

template <typename Req, typename Resp>
HttpGateway::Answer Call(v1::ActionJournal::Stub& stub,
                         const std::string& authorization,
                         Method<Req, Resp> method, const Req& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  Resp resp;
  const grpc::Status s = (stub.*method)(&ctx, req, &resp);
  if (!s.ok()) return Error(s.error_code(), s.error_message());
  return {200, "application/json; charset=utf-8", ToJson(resp), ""};
}

// The record a request names (job, key, seq), or why not.
std::optional<HttpGateway::Answer> RecordOf(const Params& p, v1::RecordId* r) {
  r->set_job_id(p.Get("job"));
  r->set_record_key(p.Get("key"));
  std::optional<HttpGateway::Answer> error;
  int64_t seq = 0;
  if (!p.Has("seq")) return Invalid("seq", "is required");
  if (!p.Int("seq", &seq, &error)) return error;
  r->set_seq_num(seq);
  return std::nullopt;
}

// What every answer carries: no caching, no sniffing, no referrer, and a
// content security policy that lets the console run its own script only.
constexpr char kAnswerHeaders[] =
    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Content-Security-Policy: default-src 'none'; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n";

}  // namespace

HttpGateway::Answer HttpGateway::Handle(const Request& r) const {
  if (r.method == "POST" && r.path == "/api/v1/invalidate") {
    return Invalidate(r);
  }
  if (r.method != "GET") {
    Answer a = Error(grpc::StatusCode::UNIMPLEMENTED,
                     "only GET routes are served, and POST /api/v1/invalidate");
    a.status = 405;
    return a;
  }
  for (const ConsoleAsset& asset : ConsoleAssets()) {
    if (r.path == asset.path) return {200, asset.content_type, asset.body, ""};
  }
  v1::ActionJournal::Stub* const stub = stub_.get();
  const Params p(r.query);
  std::optional<Answer> error;
  if (r.path == "/api/v1/stats") {
    v1::GetStatsRequest req;
    req.set_job_id(p.Get("job"));
    return Call(*stub, r.authorization, &v1::ActionJournal::Stub::GetStats,
                req);
  }
  if (r.path == "/api/v1/records") {
    v1::ListRecordsRequest req;
    req.set_job_id(p.Get("job"));
    req.set_key_prefix(p.Get("prefix"));
    const std::string status = p.Get("status");
    if (status == "open") {
      req.set_status(v1::ListRecordsRequest::STATUS_FILTER_OPEN);
    } else if (status == "completed") {
      req.set_status(v1::ListRecordsRequest::STATUS_FILTER_COMPLETED);
    } else if (status == "retained") {
      req.set_status(v1::ListRecordsRequest::STATUS_FILTER_RETAINED);
    } else if (!status.empty() && status != "any") {
      return Invalid("status", "must be open, completed, retained or any");
    }
    int64_t from = 0, before = 0;
    int32_t page_size = 0;
    if (!p.Int("created_from", &from, &error) ||
        !p.Int("created_before", &before, &error) ||
        !p.Int("page_size", &page_size, &error)) {
      return *error;
    }
    req.set_created_from_unix_micros(from);
    req.set_created_before_unix_micros(before);
    req.set_page_size(page_size);
    req.set_replayed_only(p.Get("replayed") == "1" ||
                          p.Get("replayed") == "true");
    std::string token;
    if (p.Has("page_token") &&
        !absl::Base64Unescape(p.Get("page_token"), &token)) {
      return Invalid("page_token", "must be the base64 an answer carried");
    }
    req.set_page_token(token);
    return Call(*stub, r.authorization, &v1::ActionJournal::Stub::ListRecords,
                req);
  }
  if (r.path == "/api/v1/record") {
    v1::GetRecordRequest req;
    if (auto bad = RecordOf(p, req.mutable_record())) return *bad;
    req.set_include_payloads(p.Get("payloads") == "1" ||
                             p.Get("payloads") == "true");
    return Call(*stub, r.authorization, &v1::ActionJournal::Stub::GetRecord,
                req);
  }
  if (r.path == "/api/v1/payload") {
    v1::ReadPayloadRequest req;
    if (auto bad = RecordOf(p, req.mutable_record())) return *bad;
    req.set_action_key(p.Get("action"));
    uint32_t step = 0;
    uint64_t offset = 0;
    if (!p.Int("step", &step, &error) || !p.Int("offset", &offset, &error)) {
      return *error;
    }
    if (p.Has("step") == p.Has("completion")) {
      return Invalid("step", "give exactly one of step or completion=1");
    }
    if (p.Has("step")) {
      req.set_step_index(step);
    } else {
      req.set_completion(true);
    }
    req.set_offset(offset);
    return Call(*stub, r.authorization, &v1::ActionJournal::Stub::ReadPayload,
                req);
  }
  return Error(grpc::StatusCode::NOT_FOUND, absl::StrCat("no route ", r.path));
}

// The one write route: Invalidate (the prune permission, audited by the
// service as over gRPC), named by the query as the read routes are: job,
// key, seq, action (empty: the whole record), force=1.
HttpGateway::Answer HttpGateway::Invalidate(const Request& r) const {
  if (!r.intent) {
    Answer a = Error(grpc::StatusCode::PERMISSION_DENIED,
                     "X-Actionjournal-Request: the header is required on "
                     "POST (a cross-site form cannot send it)");
    a.status = 403;
    return a;
  }
  const Params p(r.query);
  v1::InvalidateRequest req;
  if (auto bad = RecordOf(p, req.mutable_record())) return *bad;
  req.set_action_key(p.Get("action"));
  req.set_force(p.Get("force") == "1" || p.Get("force") == "true");
  return Call(*stub_, r.authorization, &v1::ActionJournal::Stub::Invalidate,
              req);
}

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(
    const std::string& address, std::shared_ptr<grpc::Channel> channel,
    std::unique_ptr<TlsServerContext> tls) {
  std::unique_ptr<HttpGateway> g(new HttpGateway());
  g->stub_ = v1::ActionJournal::NewStub(channel);
  auto http = HttpServer::Start(
      "--http-listen", address,
      [gateway = g.get()](const HttpRequest& http) {
        Request r;
        r.method = http.method;
        r.path = http.path;
        r.query = http.query;
        r.authorization = http.Header("authorization");
        r.intent = http.HasHeader("x-actionjournal-request");
        Answer a = gateway->Handle(r);
        a.headers += kAnswerHeaders;
        return a;
      },
      std::move(tls));
  if (!http.ok()) return http.status();
  g->http_ = *std::move(http);
  return g;
}

}  // namespace actionjournal
