#include "engine/base/logging.h"

#include <time.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sockman {
namespace {

std::string& Role() {
  static std::string* role = new std::string("sockman");
  return *role;
}

int log_fd = STDERR_FILENO;

const char* SeverityName(LogSeverity severity) {
  switch (severity) {
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
void SetLogFd(int fd) { log_fd = fd; }
int LogFd() { return log_fd; }

void Log(LogSeverity severity, absl::string_view message) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts;
  gmtime_r(&ts.tv_sec, &parts);
  std::string line = absl::StrFormat(
      "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s [%s %d] %s\n", parts.tm_year + 1900, parts.tm_mon + 1,
      parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
      static_cast<int>(ts.tv_nsec / 1'000'000), SeverityName(severity), Role(), getpid(), message);
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
