// fault_proxy as a process between a client and an echo server on loopback:
// it carries every byte unchanged and in order, it delays each direction by
// what it is told, and bytes in flight are not serialized behind each other;
// its control port stalls (holds), drops (loses, then resets) and resets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/testing/server_process.h"

namespace actionjournal {
namespace {

using Clock = std::chrono::steady_clock;

int Listen(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  EXPECT_EQ(listen(fd, 16), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool ReadExactly(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t r = recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// An echo server on its own thread for one connection.
class Echo {
 public:
  Echo() : listener_(Listen(&port_)) {
    thread_ = std::thread([this] {
      const int c = accept(listener_, nullptr, nullptr);
      char buf[16384];
      for (ssize_t n; (n = recv(c, buf, sizeof buf, 0)) > 0;) {
        if (send(c, buf, n, MSG_NOSIGNAL) != n) break;
      }
      close(c);
    });
  }
  ~Echo() {
    thread_.join();
    close(listener_);
  }
  int port() const { return port_; }

 private:
  int port_ = 0;
  int listener_;
  std::thread thread_;
};

// fault_proxy in front of `target_port`, as a child process, with its
// control port.
class Proxy {
 public:
  Proxy(int target_port, int one_way_us) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      const std::string bin = testing::BinDir() + "/tests/fault_proxy";
      const std::string target = "127.0.0.1:" + std::to_string(target_port);
      const std::string delay = std::to_string(one_way_us);
      execl(bin.c_str(), bin.c_str(), "--target", target.c_str(),
            "--one-way-delay-us", delay.c_str(), "--control", "127.0.0.1:0",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    if (std::fscanf(f, "listening %d control %d", &port_, &control_) != 2) {
      port_ = -1;
    }
    std::fclose(f);
  }
  ~Proxy() {
    if (control_fd_ >= 0) close(control_fd_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }

  // Sends one control command; its answer.
  std::string Command(const std::string& line) {
    if (control_fd_ < 0) control_fd_ = Connect(control_);
    const std::string sent = line + "\n";
    if (send(control_fd_, sent.data(), sent.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(sent.size())) {
      return "send failed";
    }
    std::string answer;
    char c;
    while (recv(control_fd_, &c, 1, 0) == 1 && c != '\n') answer += c;
    return answer;
  }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  int control_ = -1;
  int control_fd_ = -1;
};

// Waits up to `ms` for one byte; true when it came.
bool ByteWithin(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char b;
  return recv(fd, &b, 1, 0) == 1;
}

TEST(FaultProxy, CarriesEveryByteInOrder) {
  Echo echo;
  Proxy proxy(echo.port(), 0);
  ASSERT_GT(proxy.port(), 0) << "the proxy did not start";
  const int fd = Connect(proxy.port());
  ASSERT_GE(fd, 0);
  std::string sent(4 << 20, '\0');
  std::mt19937 rng(7);
  for (char& c : sent) c = static_cast<char>(rng());
  std::thread writer([&] {
    ASSERT_EQ(send(fd, sent.data(), sent.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(sent.size()));
  });
  std::string got(sent.size(), '\0');
  ASSERT_TRUE(ReadExactly(fd, got.data(), got.size()));
  writer.join();
  EXPECT_TRUE(got == sent) << "the bytes came back changed or reordered";
  shutdown(fd, SHUT_WR);
  char extra;
  EXPECT_EQ(recv(fd, &extra, 1, 0), 0) << "the close did not reach the client";
  close(fd);
}

TEST(FaultProxy, DelaysEachDirectionAndKeepsBytesInFlight) {
  Echo echo;
  constexpr int kOneWayUs = 20000;  // a round trip through it: >= 40 ms
  Proxy proxy(echo.port(), kOneWayUs);
  ASSERT_GT(proxy.port(), 0) << "the proxy did not start";
  const int fd = Connect(proxy.port());
  ASSERT_GE(fd, 0);
  char b = 'x';
  const auto t0 = Clock::now();
  ASSERT_EQ(send(fd, &b, 1, 0), 1);
  ASSERT_TRUE(ReadExactly(fd, &b, 1));
  const auto rtt = Clock::now() - t0;
  EXPECT_GE(rtt, std::chrono::microseconds(2 * kOneWayUs));
  // Ten messages sent 2 ms apart come back about one round trip after the
  // last was sent, not ten round trips (a proxy that delays per message in
  // turn would take >= 400 ms).
  const auto t1 = Clock::now();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(send(fd, &b, 1, 0), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  char ten[10];
  ASSERT_TRUE(ReadExactly(fd, ten, sizeof ten));
  const auto burst = Clock::now() - t1;
  EXPECT_GE(burst, std::chrono::microseconds(2 * kOneWayUs));
  EXPECT_LT(burst, std::chrono::milliseconds(200));
  close(fd);
}

TEST(FaultProxy, AStallHoldsBytesAndDeliversThemAfter) {
  Echo echo;
  Proxy proxy(echo.port(), 0);
  ASSERT_GT(proxy.port(), 0) << "the proxy did not start";
  const int fd = Connect(proxy.port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(proxy.Command("stall on"), "ok");
  char b = 'x';
  ASSERT_EQ(send(fd, &b, 1, 0), 1);
  EXPECT_FALSE(ByteWithin(fd, 300)) << "a byte crossed a stalled link";
  ASSERT_EQ(proxy.Command("stall off"), "ok");
  EXPECT_TRUE(ByteWithin(fd, 2000)) << "the held byte was lost";
  close(fd);
}

TEST(FaultProxy, ADropLosesBytesSilentlyThenResetsTheConnection) {
  Echo echo;
  Proxy proxy(echo.port(), 0);
  ASSERT_GT(proxy.port(), 0) << "the proxy did not start";
  const int fd = Connect(proxy.port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(proxy.Command("drop on"), "ok");
  char b = 'x';
  ASSERT_EQ(send(fd, &b, 1, 0), 1);
  EXPECT_FALSE(ByteWithin(fd, 300)) << "a byte crossed a dropping link";
  EXPECT_NE(proxy.Command("stats").find("dropped_bytes 1"), std::string::npos);
  ASSERT_EQ(proxy.Command("drop off"), "ok");
  // The connection that lost a byte is reset, not healed with a hole in it.
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  errno = 0;
  EXPECT_EQ(recv(fd, &b, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  close(fd);
}

TEST(FaultProxy, AResetAbortsEveryConnectionAndRefusesUnknownCommands) {
  Echo echo;
  Proxy proxy(echo.port(), 0);
  ASSERT_GT(proxy.port(), 0) << "the proxy did not start";
  const int fd = Connect(proxy.port());
  ASSERT_GE(fd, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // A byte echoed through the proxy: it has taken the connection (the
  // kernel completes a connect before the proxy accepts it, and a reset
  // aborts the connections the proxy holds).
  char b = 'x';
  ASSERT_EQ(send(fd, &b, 1, 0), 1);
  ASSERT_EQ(recv(fd, &b, 1, 0), 1);
  EXPECT_EQ(proxy.Command("reset"), "ok");
  errno = 0;
  EXPECT_EQ(recv(fd, &b, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(proxy.Command("delay lots").rfind("error", 0), 0u);
  close(fd);
}

}  // namespace
}  // namespace actionjournal
