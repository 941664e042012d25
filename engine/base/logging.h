// Minimal process logging: one line per event to stderr (or the log file the
// CLI installs), prefixed with time, severity and the process role.
//
//   LogInfo(absl::StrCat("worker ", id, " started"));
//
// Peer misbehaviour must not be logged unthrottled: use RateLimitedLog.
#ifndef SOCKMAN_ENGINE_BASE_LOGGING_H_
#define SOCKMAN_ENGINE_BASE_LOGGING_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sockman {

enum class LogSeverity { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

// Lines less severe than `level` are not written (default kInfo).
void SetLogLevel(LogSeverity level);
bool LogEnabled(LogSeverity severity);
// kText: "2026-12-01T14:00:00.123Z info [worker web/0 4711] message";
// kJson: {"time":"2026-12-01T14:00:00.123Z","level":"info","role":"worker
// web/0","pid":4711,"msg":"message"}
void SetLogFormat(LogFormat format);
// "debug", "info", "warning", "error" (any case) -> the severity.
bool ParseLogSeverity(absl::string_view name, LogSeverity* severity);

// Sets the role shown in every line ("master", "worker web/0"). Call after fork.
void SetLogRole(std::string role);

// Redirects logging to `fd` (which the caller keeps open). Default: stderr.
void SetLogFd(int fd);
int LogFd();

void Log(LogSeverity severity, absl::string_view message);
inline void LogDebug(absl::string_view message) { Log(LogSeverity::kDebug, message); }
inline void LogInfo(absl::string_view message) { Log(LogSeverity::kInfo, message); }
inline void LogWarning(absl::string_view message) { Log(LogSeverity::kWarning, message); }
inline void LogError(absl::string_view message) { Log(LogSeverity::kError, message); }

// Logs at most one line per `interval_ms` and reports how many were dropped.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(int64_t interval_ms = 10'000) : interval_ms_(interval_ms) {}
  void Log(LogSeverity severity, int64_t now_ms, absl::string_view message);

 private:
  int64_t interval_ms_;
  int64_t last_ms_ = INT64_MIN / 2;
  uint64_t suppressed_ = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_BASE_LOGGING_H_
