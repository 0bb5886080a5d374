// Runs the real actionjournal-server binary as a child process for
// end-to-end tests: free port, log to a file, real signals.
#ifndef ACTIONJOURNAL_TESTS_TESTING_SERVER_PROCESS_H_
#define ACTIONJOURNAL_TESTS_TESTING_SERVER_PROCESS_H_

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace actionjournal::testing {

// The build tree's binaries (CTest sets AJ_BIN_DIR).
inline std::string BinDir() {
  const char* d = std::getenv("AJ_BIN_DIR");
  return d ? d : ".";
}
inline std::string ServerBinary() {
  return BinDir() + "/server/actionjournal-server";
}
inline std::string CliBinary() {
  return BinDir() + "/client/actionjournal-cli";
}

// Not thread-safe. Kills the child (SIGKILL) when destroyed if still running.
class ServerProcess {
 public:
  // Starts the server with `args` plus --listen=127.0.0.1:0 and
  // --metrics-listen=127.0.0.1:0 (flags in `args` win) and waits up to
  // `timeout` for it to log its ports.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      std::vector<std::string> args, const std::string& log_path,
      absl::Duration timeout = absl::Seconds(20)) {
    std::unique_ptr<ServerProcess> p(new ServerProcess());
    p->log_path_ = log_path;
    args.insert(args.begin(), "--metrics-listen=127.0.0.1:0");
    args.insert(args.begin(), "--listen=127.0.0.1:0");
    args.insert(args.begin(), ServerBinary());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    p->pid_ = fork();
    if (p->pid_ == 0) {
      FILE* log = std::fopen(log_path.c_str(), "w");
      if (log == nullptr) _exit(127);
      dup2(fileno(log), STDERR_FILENO);
      dup2(fileno(log), STDOUT_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      const std::string log = p->Log();
      const size_t json = log.find("\"grpc\":\"127.0.0.1:");
      if (json != std::string::npos) {  // --log-format=json
        p->port_ = std::atoi(log.c_str() + json + 18);
        const size_t m = log.find("\"metrics\":\"127.0.0.1:", json);
        if (m != std::string::npos)
          p->metrics_port_ = std::atoi(log.c_str() + m + 21);
        return p;
      }
      const size_t at = log.find("listening grpc=");
      if (at != std::string::npos) {
        // 127.0.0.1:PORT, or unix:PATH (port stays 0).
        if (log.compare(at + 15, 10, "127.0.0.1:") == 0) {
          p->port_ = std::atoi(log.c_str() + at + 25);
        }
        const size_t m = log.find("metrics=127.0.0.1:", at);
        if (m != std::string::npos)
          p->metrics_port_ = std::atoi(log.c_str() + m + 18);
        return p;
      }
      int status = 0;
      if (waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
        p->pid_ = -1;
        return absl::InternalError("server exited at start: " + log);
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError("server did not start: " + p->Log());
  }

  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The /metrics port; 0 when metrics are off.
  int metrics_port() const { return metrics_port_; }
  std::string Target() const { return absl::StrCat("127.0.0.1:", port_); }

  // Sockets the server holds now (its listeners, the connections it
  // accepted, its store's): /proc/PID/fd entries that are sockets.
  int Sockets() const {
    int n = 0;
    const std::string dir = absl::StrCat("/proc/", pid_, "/fd");
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return -1;
    while (const dirent* e = readdir(d)) {
      char target[64];
      const ssize_t len =
          readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
      if (len > 0 && std::string(target, len).rfind("socket:", 0) == 0) ++n;
    }
    closedir(d);
    return n;
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Sends `sig` and waits (up to `timeout`) for the exit; returns the exit
  // code, or 128 + the signal that killed it.
  absl::StatusOr<int> Stop(int sig,
                           absl::Duration timeout = absl::Seconds(30)) {
    kill(pid_, sig);
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return absl::DeadlineExceededError("server did not exit");
  }

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  std::string log_path_;
};

// Runs a shell command; its exit code and what it printed on stdout.
inline std::pair<int, std::string> RunCommand(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A fresh directory under the test temp dir.
inline std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir =
      absl::StrCat(base ? base : "/tmp", "/aj-", getpid(), "-", name);
  std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) std::abort();
  return dir;
}

}  // namespace actionjournal::testing

#endif  // ACTIONJOURNAL_TESTS_TESTING_SERVER_PROCESS_H_
