// The HTTP/JSON gateway (DESIGN 6): the read APIs and GetStats as GET
// routes, answered in protobuf's JSON mapping, and the web console that
// uses them (server/console/), on an address of its own (--http-listen).
//
// Every API route is one call to the server's own gRPC service over an
// in-process channel, with the request's "Authorization: Bearer <token>"
// header passed on as gRPC metadata: the same tokens, permissions, limits,
// validation and errors as gRPC, stated once. Errors answer JSON
// {"code":"INVALID_ARGUMENT","message":"..."} with the HTTP status of the
// gRPC code. HTTPS with the gRPC port's certificate when that port has TLS
// (no client certificates asked: tokens say who calls), else plain HTTP.
//
// Routes (GET but one; bytes such as record keys percent-encoded, page
// tokens as the base64 the answers carry):
//   /api/v1/stats[?job=J]
//   /api/v1/records?job=J[&prefix=K][&status=open|completed|retained]
//       [&created_from=MICROS][&created_before=MICROS][&replayed=1]
//       [&page_size=N][&page_token=T]
//   /api/v1/record?job=J&key=K&seq=N[&payloads=1]
//   /api/v1/payload?job=J&key=K&seq=N&action=A&(step=I|completion=1)
//       [&offset=O]
//   POST /api/v1/invalidate?job=J&key=K&seq=N[&action=A][&force=1]: the one
//       write (Invalidate: the prune permission, audited); it needs the
//       header X-Actionjournal-Request, which a cross-site form cannot send
//   /, /console.js, /console.css: the console
#ifndef ACTIONJOURNAL_SERVER_GATEWAY_H_
#define ACTIONJOURNAL_SERVER_GATEWAY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "actionjournal/v1/journal.grpc.pb.h"
#include "server/http_server.h"
#include "server/tls.h"

namespace actionjournal {

// Thread-safe; the destructor stops it.
class HttpGateway {
 public:
  // Serves on `address` ("host:port"; port 0 picks a free one), calling the
  // service through `channel`, over TLS when `tls` is set. UNAVAILABLE when
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(
      const std::string& address, std::shared_ptr<grpc::Channel> channel,
      std::unique_ptr<TlsServerContext> tls);

  int port() const { return http_->port(); }
  bool tls() const { return http_->tls(); }

  // One request, for the handler (gateway.cc).
  struct Request;
  using Answer = HttpAnswer;
  Answer Handle(const Request& request) const;

 private:
  Answer Invalidate(const Request& request) const;
  HttpGateway() = default;

  std::unique_ptr<v1::ActionJournal::Stub> stub_;  // thread-safe
  std::unique_ptr<HttpServer> http_;               // last: stopped first
};

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_GATEWAY_H_
