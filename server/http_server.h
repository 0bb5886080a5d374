// The server's own small HTTP/1.1 server, for its web ports: the HTTP/JSON
// gateway and the console (--http-listen), and /metrics over HTTPS. One
// request per connection (answered "Connection: close"), headers only (no
// request body is read), a fixed pool of workers with a short queue (a
// connection beyond them is closed at once), each connection (handshake,
// request and answer) ended after 5 s however slowly its client sends: a
// client that stalls holds one worker for seconds at most. TLS when given a
// context (server/tls.h), through OpenSSL directly: Debian 12's civetweb looks
// up SSL_get_peer_certificate, which OpenSSL 3 no longer exports, and calls the
// null pointer on every HTTPS connection. (Plain /metrics stays with
// prometheus-cpp's civetweb, which is fine without TLS.)
#ifndef ACTIONJOURNAL_SERVER_HTTP_SERVER_H_
#define ACTIONJOURNAL_SERVER_HTTP_SERVER_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/tls.h"

namespace actionjournal {

// A request as read: the request line and the headers.
struct HttpRequest {
  std::string method;
  std::string path;   // before '?', as sent (percent-encoded)
  std::string query;  // after '?', as sent
  std::map<std::string, std::string> headers;  // names lower-cased

  // The header's value ("" when absent); `lower_name` lower-case.
  std::string Header(const std::string& lower_name) const;
  bool HasHeader(const std::string& lower_name) const {
    return headers.count(lower_name) != 0;
  }
};

struct HttpAnswer {
  int status = 200;
  std::string content_type;
  std::string body;
  // More header lines, each ending in "\r\n".
  std::string headers;
};

// Thread-safe; the destructor stops it: connections being served finish
// (within their 5 s), those still waiting are closed.
class HttpServer {
 public:
  using Handler = std::function<HttpAnswer(const HttpRequest&)>;

  // Serves `handler` on `address` ("host:port"; port 0 picks a free one),
  // over TLS when `tls` is set. `flag` names the address in errors
  // ("--http-listen"). UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& flag, const std::string& address, Handler handler,
      std::unique_ptr<TlsServerContext> tls);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }

 private:
  static constexpr int kWorkers = 4;
  static constexpr size_t kMaxWaiting = 16;

  HttpServer() = default;
  void AcceptLoop();
  void WorkLoop();
  void Serve(int fd);

  Handler handler_;
  std::unique_ptr<TlsServerContext> tls_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::deque<int> waiting_ ABSL_GUARDED_BY(mu_);  // accepted, not served
  std::vector<std::thread> workers_;
  std::thread thread_;  // accepts
};

// The reason phrase of an HTTP status ("Not Found").
const char* HttpReason(int status);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_HTTP_SERVER_H_
