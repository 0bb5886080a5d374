// Scrapes a Prometheus text endpoint over plain HTTP, as Prometheus does.
#ifndef ACTIONJOURNAL_TESTS_TESTING_SCRAPE_H_
#define ACTIONJOURNAL_TESTS_TESTING_SCRAPE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace actionjournal::testing {

// Series ("name{label=\"v\",...}" exactly as exposed) to value. A series
// that was not exposed reads as NaN, which fails every comparison, so a test
// cannot pass on a metric that is missing (renamed, its labels changed);
// ValueOr is for one that may be absent.
class Samples {
 public:
  double operator[](const std::string& series) const {
    return ValueOr(series, std::nan(""));
  }
  double ValueOr(const std::string& series, double absent) const {
    auto it = values_.find(series);
    return it == values_.end() ? absent : it->second;
  }
  void Set(std::string series, double value) {
    values_[std::move(series)] = value;
  }
  auto begin() const { return values_.begin(); }
  auto end() const { return values_.end(); }

 private:
  std::map<std::string, double> values_;
};

// GET http://127.0.0.1:port/metrics; the samples, or why not.
inline absl::StatusOr<Samples> Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect to metrics port ", port));
  }
  const std::string request =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("write");
  }
  std::string response;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) response.append(buf, n);
  close(fd);
  if (response.rfind("HTTP/1.1 200", 0) != 0) {
    return absl::InternalError("not 200: " + response.substr(0, 200));
  }
  Samples out;
  std::istringstream body(response.substr(response.find("\r\n\r\n") + 4));
  for (std::string line; std::getline(body, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out.Set(line.substr(0, space),
            std::strtod(line.c_str() + space + 1, nullptr));
  }
  return out;
}

// after[series] - before[series]; a missing series counts as 0.
inline double Delta(const Samples& before, const Samples& after,
                    const std::string& series) {
  return after.ValueOr(series, 0) - before.ValueOr(series, 0);
}

}  // namespace actionjournal::testing

#endif  // ACTIONJOURNAL_TESTS_TESTING_SCRAPE_H_
