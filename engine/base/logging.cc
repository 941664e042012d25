#include "engine/base/logging.h"

#include <time.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/base/json.h"

namespace sockman {
namespace {

std::string& Role() {
  static std::string* role = new std::string("sockman");
  return *role;
}

int log_fd = STDERR_FILENO;
LogSeverity log_level = LogSeverity::kInfo;
LogFormat log_format = LogFormat::kText;

const char* SeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kDebug:
      return "debug";
    case LogSeverity::kInfo:
      return "info";
    case LogSeverity::kWarning:
      return "warning";
    case LogSeverity::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void SetLogRole(std::string role) { Role() = std::move(role); }
void SetLogLevel(LogSeverity level) { log_level = level; }
bool LogEnabled(LogSeverity severity) { return severity >= log_level; }
void SetLogFormat(LogFormat format) { log_format = format; }

bool ParseLogSeverity(absl::string_view name, LogSeverity* severity) {
  for (LogSeverity s :
       {LogSeverity::kDebug, LogSeverity::kInfo, LogSeverity::kWarning, LogSeverity::kError}) {
    if (absl::EqualsIgnoreCase(name, SeverityName(s))) {
      *severity = s;
      return true;
    }
  }
  return false;
}
void SetLogFd(int fd) { log_fd = fd; }
int LogFd() { return log_fd; }

void Log(LogSeverity severity, absl::string_view message) {
  if (severity < log_level) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts;
  gmtime_r(&ts.tv_sec, &parts);
  std::string time = absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                                     parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
                                     parts.tm_sec, static_cast<int>(ts.tv_nsec / 1'000'000));
  std::string line =
      log_format == LogFormat::kJson
          ? absl::StrCat("{\"time\":\"", time, "\",\"level\":\"", SeverityName(severity),
                         "\",\"role\":", JsonString(Role()), ",\"pid\":", getpid(),
                         ",\"msg\":", JsonString(message), "}\n")
          : absl::StrFormat("%s %s [%s %d] %s\n", time, SeverityName(severity), Role(), getpid(),
                            message);
  // One write per line so lines from several processes do not interleave.
  ssize_t ignored = ::write(log_fd, line.data(), line.size());
  (void)ignored;
}

void RateLimitedLog::Log(LogSeverity severity, int64_t now_ms, absl::string_view message) {
  if (now_ms - last_ms_ < interval_ms_) {
    ++suppressed_;
    return;
  }
  last_ms_ = now_ms;
  if (suppressed_ > 0) {
    sockman::Log(severity, absl::StrCat(message, " (", suppressed_, " similar suppressed)"));
    suppressed_ = 0;
  } else {
    sockman::Log(severity, message);
  }
}

}  // namespace sockman
