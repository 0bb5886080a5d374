// Minimal logging: one line per event to stderr, with time and level.
// Thread-safe (each line is written with one write call).
#ifndef ACTIONJOURNAL_COMMON_LOG_H_
#define ACTIONJOURNAL_COMMON_LOG_H_

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace actionjournal {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

inline LogLevel& MinLogLevel() {
  static LogLevel level = LogLevel::kInfo;
  return level;
}

inline void Log(LogLevel level, absl::string_view message) {
  if (level < MinLogLevel()) return;
  static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      " ", kNames[static_cast<int>(level)], " ", message, "\n");
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

template <typename... Args>
void LogInfo(const Args&... args) { Log(LogLevel::kInfo, absl::StrCat(args...)); }
template <typename... Args>
void LogWarning(const Args&... args) { Log(LogLevel::kWarning, absl::StrCat(args...)); }
template <typename... Args>
void LogError(const Args&... args) { Log(LogLevel::kError, absl::StrCat(args...)); }

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_COMMON_LOG_H_
