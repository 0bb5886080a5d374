#include "common/log.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/text.h"

namespace actionjournal {
namespace {

LogLevel min_level = LogLevel::kInfo;
LogFormat format = LogFormat::kText;

constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};

std::vector<std::string>& Secrets() {
  static auto* secrets = new std::vector<std::string>();
  return *secrets;
}

std::string Mask(std::string line) {
  for (const std::string& secret : Secrets()) {
    for (size_t at = line.find(secret); at != std::string::npos;
         at = line.find(secret, at + 3)) {
      line.replace(at, secret.size(), "***");
    }
  }
  return line;
}

}  // namespace

void AddLogSecret(const std::string& secret) {
  if (secret.size() < 4) return;
  Secrets().push_back(secret);
  // As escaping would show it, too.
  if (EscapeForLog(secret) != secret) Secrets().push_back(EscapeForLog(secret));
  if (JsonEscape(secret) != secret) Secrets().push_back(JsonEscape(secret));
}

void SetMinLogLevel(LogLevel level) { min_level = level; }
void SetLogFormat(LogFormat f) { format = f; }
LogLevel MinLogLevel() { return min_level; }

void Log(LogLevel level, absl::string_view message,
         std::initializer_list<LogField> fields) {
  if (level < min_level) return;
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                            absl::UTCTimeZone());
  const char* name = kNames[static_cast<int>(level)];
  std::string line;
  if (format == LogFormat::kJson) {
    line = absl::StrCat("{\"time\":\"", time, "\",\"level\":\"", name,
                        "\",\"msg\":\"", JsonEscape(message), "\"");
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&line, ",\"", JsonEscape(key), "\":\"", JsonEscape(value),
                      "\"");
    }
    line += "}\n";
  } else {
    line = absl::StrCat(time, " ", name, " ", EscapeForLog(message));
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&line, " ", EscapeForLog(key), "=", EscapeForLog(value));
    }
    line += "\n";
  }
  if (!Secrets().empty()) line = Mask(std::move(line));
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace actionjournal
