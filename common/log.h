// Minimal logging: one line per event to stderr. Thread-safe (each line is
// written with one write call).
//
// Two formats (SetLogFormat): text, "TIME LEVEL message key=value ...", and
// json, one object per line: {"time":..,"level":..,"msg":..,key:value..}.
// Either way every message and value is escaped (common/text.h), so that
// bytes a client sent can neither break a line nor forge a field.
#ifndef ACTIONJOURNAL_COMMON_LOG_H_
#define ACTIONJOURNAL_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace actionjournal {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// Not thread-safe: set once at start-up, before other threads log.
void SetMinLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
LogLevel MinLogLevel();

// Every later line shows `secret` (a password, say) as "***" wherever it
// appears. Secrets shorter than 4 bytes are ignored: masking them would
// mangle ordinary words.
void AddLogSecret(const std::string& secret);

// A named value of a structured log line.
using LogField = std::pair<absl::string_view, absl::string_view>;

void Log(LogLevel level, absl::string_view message,
         std::initializer_list<LogField> fields = {});

template <typename... Args>
void LogDebug(const Args&... args) {
  if (MinLogLevel() > LogLevel::kDebug) return;
  Log(LogLevel::kDebug, absl::StrCat(args...));
}
template <typename... Args>
void LogInfo(const Args&... args) {
  Log(LogLevel::kInfo, absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  Log(LogLevel::kWarning, absl::StrCat(args...));
}
template <typename... Args>
void LogError(const Args&... args) {
  Log(LogLevel::kError, absl::StrCat(args...));
}

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_COMMON_LOG_H_
