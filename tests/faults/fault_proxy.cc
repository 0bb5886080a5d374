// fault_proxy: a TCP proxy in user space that puts a link's delay between a
// client and a server on this machine, whose kernel has no netem qdisc.
// Every byte read from one side is written to the other DELAY later (each
// direction on its own, so a round trip through the proxy costs 2 x DELAY,
// and bytes in flight are not held back by each other: a pipelined client
// sees the link's latency, not a serialized one).
//
// Shared by the benchmark's network profile (scripts/bench.sh --profile
// rtt0.5) and the fault tests.
//
// usage: fault_proxy --target HOST:PORT [--listen 127.0.0.1:0]
//                    [--one-way-delay-us N]
// Prints "listening PORT" once it accepts connections; runs until killed.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  std::string target_host;
  int target_port = 0;
  std::chrono::microseconds delay{0};
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fault_proxy: %s\n", what.c_str());
  std::exit(2);
}

bool SplitHostPort(const std::string& s, std::string* host, int* port) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  char* end = nullptr;
  const long p = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) return false;
  *port = static_cast<int>(p);
  return true;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Die("missing value for " + a);
    const std::string v = argv[++i];
    if (a == "--listen") {
      if (!SplitHostPort(v, &o.listen_host, &o.listen_port))
        Die("--listen: want HOST:PORT, got " + v);
    } else if (a == "--target") {
      if (!SplitHostPort(v, &o.target_host, &o.target_port))
        Die("--target: want HOST:PORT, got " + v);
    } else if (a == "--one-way-delay-us") {
      char* end = nullptr;
      const long us = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || us < 0) Die("--one-way-delay-us: want N >= 0");
      o.delay = std::chrono::microseconds(us);
    } else {
      Die("unknown flag " + a);
    }
  }
  if (o.target_host.empty()) Die("--target is required");
  return o;
}

sockaddr_in Address(const std::string& host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    Die("not an IPv4 address: " + host);
  return a;
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Both directions of one proxied connection; closes its sockets when the
// last direction ends.
struct Connection {
  int client, server;
  ~Connection() {
    close(client);
    close(server);
  }
};

// One direction: a reader stamps each chunk with when it is due, a writer
// delivers chunks in order at their due time.
class Direction {
 public:
  Direction(std::shared_ptr<Connection> c, int from, int to,
            std::chrono::microseconds delay)
      : conn_(std::move(c)), from_(from), to_(to), delay_(delay) {}

  void Start(std::shared_ptr<Direction> self) {
    std::thread([self] { self->Read(); }).detach();
    std::thread([self] { self->Write(); }).detach();
  }

 private:
  struct Chunk {
    Clock::time_point due;
    std::string bytes;
  };

  void Read() {
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = recv(from_, buf, sizeof buf, 0);
      std::lock_guard<std::mutex> l(mu_);
      if (n <= 0 || failed_) {
        eof_ = true;
        cv_.notify_one();
        return;
      }
      queue_.push_back({Clock::now() + delay_, std::string(buf, n)});
      cv_.notify_one();
    }
  }

  void Write() {
    for (;;) {
      Chunk c;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return !queue_.empty() || eof_; });
        if (queue_.empty()) break;  // eof and all delivered
        c = std::move(queue_.front());
        queue_.pop_front();
      }
      std::this_thread::sleep_until(c.due);
      if (!WriteAll(to_, c.bytes.data(), c.bytes.size())) {
        std::lock_guard<std::mutex> l(mu_);
        failed_ = true;
        shutdown(from_, SHUT_RD);  // wakes the reader
        break;
      }
    }
    shutdown(to_, SHUT_WR);
  }

  std::shared_ptr<Connection> conn_;
  const int from_, to_;
  const std::chrono::microseconds delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
  bool eof_ = false;
  bool failed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const Options o = Parse(argc, argv);
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in la = Address(o.listen_host, o.listen_port);
  if (bind(listener, reinterpret_cast<sockaddr*>(&la), sizeof la) != 0)
    Die(std::string("bind: ") + std::strerror(errno));
  if (listen(listener, 512) != 0)
    Die(std::string("listen: ") + std::strerror(errno));
  socklen_t len = sizeof la;
  getsockname(listener, reinterpret_cast<sockaddr*>(&la), &len);
  std::printf("listening %d\n", ntohs(la.sin_port));
  std::fflush(stdout);
  const sockaddr_in target = Address(o.target_host, o.target_port);
  for (;;) {
    const int client = accept(listener, nullptr, nullptr);
    if (client < 0) continue;
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(server, reinterpret_cast<const sockaddr*>(&target),
                sizeof target) != 0) {
      close(client);  // the client sees the refusal as a reset
      close(server);
      continue;
    }
    NoDelay(client);
    NoDelay(server);
    std::shared_ptr<Connection> conn(new Connection{client, server});
    auto up = std::make_shared<Direction>(conn, client, server, o.delay);
    auto down = std::make_shared<Direction>(conn, server, client, o.delay);
    up->Start(up);
    down->Start(down);
  }
}
