// fault_proxy: a TCP proxy in user space that puts a faulty link between a
// client and a server on this machine, whose kernel has no netem qdisc.
// Every byte read from one side is written to the other when its link says
// so, each direction on its own (a round trip through the proxy costs
// 2 x delay, and bytes in flight are not held back by each other: a
// pipelined client sees the link's latency, not a serialized one).
//
// The link's faults, set by flags at start and changed while it runs by
// one-line commands on its control port (each answered "ok" or "error ..."):
//   delay US        one-way delay of every byte
//   jitter US       plus a uniform 0..US more per chunk (order is kept)
//   bandwidth BPS   bytes per second each direction may carry (0: no limit)
//   stall on|off    bytes are held (never lost) until "stall off": a
//                   partition that TCP rides out; the ends see silence
//   drop on|off     bytes are thrown away and nothing is answered: a silent
//                   partition; at "drop off" every connection that lost
//                   bytes is reset, as its peer's TCP would after giving up
//   reset           every open connection is reset (RST to both ends)
//   refuse on|off   new connections are reset as soon as they are accepted
//   stats           "connections N open N dropped_bytes N"
// Packet loss is not here: real TCP retransmits are better made by the
// kernel (iptables -m statistic in a network namespace, tests/faults).
//
// Shared by the benchmark's network profile (scripts/bench.sh --profile
// rtt0.5) and the fault tests (tests/faults/).
//
// usage: fault_proxy --target HOST:PORT [--listen 127.0.0.1:0]
//                    [--control 127.0.0.1:0] [--one-way-delay-us N]
//                    [--jitter-us N] [--bandwidth-bps N]
// Prints "listening PORT" (and " control PORT" with --control) once it
// accepts connections; runs until killed.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

// The link's state, read by every direction's threads, written by the
// control port.
struct Link {
  std::atomic<int64_t> delay_us{0};
  std::atomic<int64_t> jitter_us{0};
  std::atomic<int64_t> bandwidth_bps{0};
  std::atomic<bool> stall{false};
  std::atomic<bool> drop{false};
  std::atomic<bool> refuse{false};
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> dropped_bytes{0};
  // Wakes writers held by a stall.
  std::mutex mu;
  std::condition_variable released;
};

Link g_link;

struct Options {
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  std::string control_host;
  int control_port = -1;
  std::string target_host;
  int target_port = 0;
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

bool ParseCount(const std::string& v, int64_t* out) {
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 0) return false;
  *out = n;
  return true;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Die("missing value for " + a);
    const std::string v = argv[++i];
    int64_t n = 0;
    if (a == "--listen") {
      if (!SplitHostPort(v, &o.listen_host, &o.listen_port))
        Die("--listen: want HOST:PORT, got " + v);
    } else if (a == "--control") {
      if (!SplitHostPort(v, &o.control_host, &o.control_port))
        Die("--control: want HOST:PORT, got " + v);
    } else if (a == "--target") {
      if (!SplitHostPort(v, &o.target_host, &o.target_port))
        Die("--target: want HOST:PORT, got " + v);
    } else if (a == "--one-way-delay-us" || a == "--jitter-us" ||
               a == "--bandwidth-bps") {
      if (!ParseCount(v, &n)) Die(a + ": want N >= 0");
      (a == "--one-way-delay-us" ? g_link.delay_us
       : a == "--jitter-us"      ? g_link.jitter_us
                                 : g_link.bandwidth_bps) = n;
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

// Closing a socket with a zero linger time sends RST instead of FIN.
void AbortOnClose(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
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
// last direction ends (with RST when it was reset).
struct Connection {
  int client, server;
  std::atomic<bool> reset{false};
  std::atomic<bool> lost_bytes{false};

  // Wakes both directions' readers without sending anything; the sockets
  // are aborted when the last reference goes.
  void Reset() {
    if (reset.exchange(true)) return;
    AbortOnClose(client);
    AbortOnClose(server);
    shutdown(client, SHUT_RD);
    shutdown(server, SHUT_RD);
    g_link.released.notify_all();
  }
  ~Connection() {
    close(client);
    close(server);
    --g_link.connections;
  }
};

// Open connections, for "reset" and "drop off".
std::mutex g_conns_mu;
std::list<std::weak_ptr<Connection>> g_conns;

void ResetConnections(bool only_lossy) {
  std::lock_guard<std::mutex> l(g_conns_mu);
  for (auto it = g_conns.begin(); it != g_conns.end();) {
    std::shared_ptr<Connection> c = it->lock();
    if (c == nullptr) {
      it = g_conns.erase(it);
      continue;
    }
    if (!only_lossy || c->lost_bytes) c->Reset();
    ++it;
  }
}

// One direction: a reader stamps each chunk with when it is due, a writer
// delivers chunks in order at their due time, unless the link stalls.
class Direction {
 public:
  Direction(std::shared_ptr<Connection> c, int from, int to, uint64_t seed)
      : conn_(std::move(c)), from_(from), to_(to), rng_(seed) {}

  void Start(std::shared_ptr<Direction> self) {
    std::thread([self] { self->Read(); }).detach();
    std::thread([self] { self->Write(); }).detach();
  }

 private:
  struct Chunk {
    Clock::time_point due;
    std::string bytes;
  };

  Clock::time_point DueOf(size_t n) {
    Clock::time_point due =
        Clock::now() + std::chrono::microseconds(g_link.delay_us.load());
    if (const int64_t j = g_link.jitter_us.load(); j > 0) {
      due += std::chrono::microseconds(rng_() % (j + 1));
    }
    if (const int64_t bps = g_link.bandwidth_bps.load(); bps > 0) {
      // The link carries one chunk after the other at its rate.
      const auto on_wire =
          std::chrono::microseconds(static_cast<int64_t>(n) * 1000000 / bps);
      due = std::max(due, last_due_ + on_wire);
    }
    due = std::max(due, last_due_);  // jitter never reorders
    last_due_ = due;
    return due;
  }

  void Read() {
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = recv(from_, buf, sizeof buf, 0);
      std::lock_guard<std::mutex> l(mu_);
      if (n <= 0 || failed_ || conn_->reset) {
        eof_ = true;
        cv_.notify_one();
        return;
      }
      if (g_link.drop) {
        conn_->lost_bytes = true;
        g_link.dropped_bytes += n;
        continue;
      }
      queue_.push_back({DueOf(static_cast<size_t>(n)), std::string(buf, n)});
      cv_.notify_one();
    }
  }

  // Until the link is not stalled (or the connection is reset).
  void WaitWhileStalled() {
    // A reset notifies without the lock; the timeout bounds a missed wake.
    std::unique_lock<std::mutex> l(g_link.mu);
    while (g_link.stall && !conn_->reset) {
      g_link.released.wait_for(l, std::chrono::milliseconds(50));
    }
  }

  void Write() {
    for (;;) {
      Chunk c;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return !queue_.empty() || eof_; });
        if (queue_.empty() || conn_->reset) break;  // all delivered, or reset
        c = std::move(queue_.front());
        queue_.pop_front();
      }
      std::this_thread::sleep_until(c.due);
      WaitWhileStalled();
      if (conn_->reset || !WriteAll(to_, c.bytes.data(), c.bytes.size())) {
        std::lock_guard<std::mutex> l(mu_);
        failed_ = true;
        shutdown(from_, SHUT_RD);  // wakes the reader
        break;
      }
    }
    if (!conn_->reset) shutdown(to_, SHUT_WR);
  }

  std::shared_ptr<Connection> conn_;
  const int from_, to_;
  std::mt19937_64 rng_;
  Clock::time_point last_due_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
  bool eof_ = false;
  bool failed_ = false;
};

int Listen(const std::string& host, int port, int* bound) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Address(host, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    Die(std::string("bind: ") + std::strerror(errno));
  if (listen(fd, 512) != 0) Die(std::string("listen: ") + std::strerror(errno));
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *bound = ntohs(a.sin_port);
  return fd;
}

bool OnOff(const std::string& v, bool* out) {
  if (v != "on" && v != "off") return false;
  *out = v == "on";
  return true;
}

std::string Command(const std::string& line) {
  std::istringstream in(line);
  std::string verb, arg;
  in >> verb >> arg;
  int64_t n = 0;
  bool b = false;
  if (verb == "delay" && ParseCount(arg, &n)) {
    g_link.delay_us = n;
  } else if (verb == "jitter" && ParseCount(arg, &n)) {
    g_link.jitter_us = n;
  } else if (verb == "bandwidth" && ParseCount(arg, &n)) {
    g_link.bandwidth_bps = n;
  } else if (verb == "stall" && OnOff(arg, &b)) {
    {
      std::lock_guard<std::mutex> l(g_link.mu);
      g_link.stall = b;
    }
    g_link.released.notify_all();
  } else if (verb == "drop" && OnOff(arg, &b)) {
    g_link.drop = b;
    if (!b) ResetConnections(/*only_lossy=*/true);
  } else if (verb == "refuse" && OnOff(arg, &b)) {
    g_link.refuse = b;
  } else if (verb == "reset" && arg.empty()) {
    ResetConnections(/*only_lossy=*/false);
  } else if (verb == "stats" && arg.empty()) {
    std::lock_guard<std::mutex> l(g_conns_mu);
    return "connections " + std::to_string(g_conns.size()) + " open " +
           std::to_string(g_link.connections.load()) + " dropped_bytes " +
           std::to_string(g_link.dropped_bytes.load());
  } else {
    return "error: unknown command '" + line + "'";
  }
  return "ok";
}

// One command per line, one answer per line, for as long as the peer stays.
void Control(int listener) {
  for (;;) {
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    std::thread([fd] {
      std::string pending;
      char buf[512];
      for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) {
        pending.append(buf, static_cast<size_t>(n));
        for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
          std::string line = pending.substr(0, eol);
          pending.erase(0, eol + 1);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          const std::string answer = Command(line) + "\n";
          if (!WriteAll(fd, answer.data(), answer.size())) break;
        }
      }
      close(fd);
    }).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const Options o = Parse(argc, argv);
  int port = 0, control_port = 0;
  const int listener = Listen(o.listen_host, o.listen_port, &port);
  if (o.control_port >= 0) {
    const int control = Listen(o.control_host, o.control_port, &control_port);
    std::thread([control] { Control(control); }).detach();
    std::printf("listening %d control %d\n", port, control_port);
  } else {
    std::printf("listening %d\n", port);
  }
  std::fflush(stdout);
  const sockaddr_in target = Address(o.target_host, o.target_port);
  uint64_t seed = 1;
  for (;;) {
    const int client = accept(listener, nullptr, nullptr);
    if (client < 0) continue;
    if (g_link.refuse) {
      AbortOnClose(client);
      close(client);
      continue;
    }
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(server, reinterpret_cast<const sockaddr*>(&target),
                sizeof target) != 0) {
      AbortOnClose(client);  // the client sees the refusal as a reset
      close(client);
      close(server);
      continue;
    }
    NoDelay(client);
    NoDelay(server);
    ++g_link.connections;
    std::shared_ptr<Connection> conn(new Connection{client, server});
    {
      std::lock_guard<std::mutex> l(g_conns_mu);
      g_conns.push_back(conn);
    }
    auto up = std::make_shared<Direction>(conn, client, server, seed++);
    auto down = std::make_shared<Direction>(conn, server, client, seed++);
    up->Start(up);
    down->Start(down);
  }
}
