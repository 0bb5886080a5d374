#include "server/http_server.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace actionjournal {
namespace {

// Bounds on a request's head: what is read before giving up on it.
constexpr size_t kMaxHead = 16384;
constexpr absl::Duration kConnectionTime = absl::Seconds(5);

// Waits until `fd` is ready for `events` or `deadline` passes; false then.
bool WaitFor(int fd, short events, absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (ms <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000))) >= 0 &&
         absl::Now() < deadline;
}

// One connection's handshake, reads and writes, over TLS or not, on a
// non-blocking socket: every one of them ends by the connection's deadline,
// however slowly the client trickles its bytes.
class Connection {
 public:
  Connection(int fd, SSL* ssl, absl::Time deadline)
      : fd_(fd), ssl_(ssl), deadline_(deadline) {}

  // The TLS handshake (true at once without TLS).
  bool Handshake() {
    if (ssl_ == nullptr) return true;
    for (;;) {
      const int r = SSL_accept(ssl_);
      if (r == 1) return true;
      if (!Wait(SSL_get_error(ssl_, r))) return false;
    }
  }

  // Up to `n` bytes; <= 0 at the end, on an error or past the deadline.
  int Read(char* buf, int n) {
    for (;;) {
      if (ssl_ != nullptr) {
        const int r = SSL_read(ssl_, buf, n);
        if (r > 0) return r;
        if (!Wait(SSL_get_error(ssl_, r))) return -1;
      } else {
        const ssize_t r = read(fd_, buf, static_cast<size_t>(n));
        if (r >= 0) return static_cast<int>(r);
        if (errno != EAGAIN && errno != EINTR) return -1;
        if (!WaitFor(fd_, POLLIN, deadline_)) return -1;
      }
    }
  }

  void WriteAll(absl::string_view data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const int want = static_cast<int>(data.size() - sent);
      if (ssl_ != nullptr) {
        const int n = SSL_write(ssl_, data.data() + sent, want);
        if (n > 0) {
          sent += static_cast<size_t>(n);
        } else if (!Wait(SSL_get_error(ssl_, n))) {
          return;
        }
      } else {
        const ssize_t n = write(fd_, data.data() + sent, want);
        if (n > 0) {
          sent += static_cast<size_t>(n);
        } else if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
                   !WaitFor(fd_, POLLOUT, deadline_)) {
          return;
        }
      }
    }
  }

 private:
  // After an SSL call that did not finish: waits for what it wants.
  bool Wait(int ssl_error) {
    if (ssl_error == SSL_ERROR_WANT_READ) {
      return WaitFor(fd_, POLLIN, deadline_);
    }
    if (ssl_error == SSL_ERROR_WANT_WRITE) {
      return WaitFor(fd_, POLLOUT, deadline_);
    }
    return false;
  }

  const int fd_;
  SSL* const ssl_;
  const absl::Time deadline_;
};

// The request line and headers of `head` (up to the blank line); false
// when the request line is not "METHOD TARGET HTTP/1.x".
bool ParseHead(absl::string_view head, HttpRequest* r) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::vector<absl::string_view> first = absl::StrSplit(lines[0], ' ');
  if (first.size() != 3 || first[0].empty() || first[1].empty() ||
      first[1][0] != '/' || !absl::StartsWith(first[2], "HTTP/1.")) {
    return false;
  }
  r->method = std::string(first[0]);
  const size_t q = first[1].find('?');
  r->path = std::string(first[1].substr(0, q));
  r->query =
      q == absl::string_view::npos ? "" : std::string(first[1].substr(q + 1));
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos || colon == 0) continue;
    r->headers.emplace(
        absl::AsciiStrToLower(lines[i].substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  return true;
}

std::string Response(const HttpAnswer& a) {
  return absl::StrCat("HTTP/1.1 ", a.status, " ", HttpReason(a.status),
                      "\r\nContent-Type: ", a.content_type,
                      "\r\nContent-Length: ", a.body.size(), "\r\n", a.headers,
                      "Connection: close\r\n\r\n", a.body);
}

}  // namespace

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

const char* HttpReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 400   ? "OK"
             : status < 500 ? "Bad Request"
                            : "Internal Server Error";
  }
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& flag, const std::string& address, Handler handler,
    std::unique_ptr<TlsServerContext> tls) {
  // A client that hangs up mid-answer must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->handler_ = std::move(handler);
  s->tls_ = std::move(tls);
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const std::string port =
      colon == std::string::npos ? "" : address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  auto cannot = [&](absl::string_view why) {
    return absl::UnavailableError(
        absl::StrCat(flag, ": cannot listen on ", address, ": ", why));
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints,
                  &found) != 0 ||
      found == nullptr) {
    return cannot("not a host:port");
  }
  s->listen_fd_ =
      socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  const int one = 1;
  const bool bound =
      s->listen_fd_ >= 0 &&
      setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
          0 &&
      bind(s->listen_fd_, found->ai_addr, found->ai_addrlen) == 0 &&
      listen(s->listen_fd_, 16) == 0;
  const int error = errno;
  freeaddrinfo(found);
  if (!bound) return cannot(strerror(error));
  sockaddr_storage bound_to{};
  socklen_t len = sizeof(bound_to);
  getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&bound_to), &len);
  s->port_ = ntohs(bound_to.ss_family == AF_INET6
                       ? reinterpret_cast<sockaddr_in6*>(&bound_to)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&bound_to)->sin_port);
  for (int i = 0; i < kWorkers; ++i) {
    s->workers_.emplace_back([p = s.get()] { p->WorkLoop(); });
  }
  s->thread_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

HttpServer::~HttpServer() {
  {
    absl::MutexLock lock(&mu_);  // the workers wait on it
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  for (std::thread& w : workers_) w.join();
  absl::MutexLock lock(&mu_);
  for (int fd : waiting_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
}

void HttpServer::WorkLoop() {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !waiting_.empty() || stopping_.load();
  };
  for (;;) {
    int fd;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;  // the destructor closes what waits
      fd = waiting_.front();
      waiting_.pop_front();
    }
    Serve(fd);
    close(fd);
  }
}

void HttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, /*timeout_ms=*/100) <= 0) continue;
    // Non-blocking: a connection's every wait is bounded by its deadline
    // (Connection), so a client that stalls holds a worker for seconds.
    const int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu_);
    if (waiting_.size() >= kMaxWaiting) {
      close(fd);  // every worker busy and a queue waiting: come back later
      continue;
    }
    waiting_.push_back(fd);
  }
}

void HttpServer::Serve(int fd) {
  SSL* ssl = nullptr;
  if (tls_ != nullptr) {
    ssl = SSL_new(tls_->get());
    if (ssl == nullptr) return;
    SSL_set_fd(ssl, fd);
  }
  Connection c(fd, ssl, absl::Now() + kConnectionTime);
  if (c.Handshake()) {
    std::string head;
    char buf[4096];
    size_t end = std::string::npos;
    while ((end = head.find("\r\n\r\n")) == std::string::npos &&
           head.size() <= kMaxHead) {
      const int n = c.Read(buf, sizeof(buf));
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    if (end != std::string::npos && end <= kMaxHead) {
      HttpRequest request;
      HttpAnswer answer;
      if (ParseHead(absl::string_view(head).substr(0, end), &request)) {
        answer = handler_(request);
      } else {
        answer = {400, "text/plain; charset=utf-8", "not an HTTP request\n",
                  ""};
      }
      c.WriteAll(Response(answer));
    } else if (head.size() > kMaxHead) {  // with or without its end
      c.WriteAll(Response({431, "text/plain; charset=utf-8",
                           "the request's head is over 16 KiB\n", ""}));
    }
    if (ssl != nullptr) SSL_shutdown(ssl);
  }
  if (ssl != nullptr) {
    ERR_clear_error();
    SSL_free(ssl);
  }
}

}  // namespace actionjournal
