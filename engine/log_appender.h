// LogAppender buffers lines for an append-only file (an access log) and
// writes them in batches: when 32 KiB are pending, on Flush(), and on
// destruction. The owner flushes it from a timer so lines appear within a
// second. One per worker per file; O_APPEND keeps workers' batches whole.
//
//   LogAppender log(UniqueFd(open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)));
//   log.Append("one line\n");
#ifndef SOCKMAN_ENGINE_LOG_APPENDER_H_
#define SOCKMAN_ENGINE_LOG_APPENDER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "engine/base/unique_fd.h"

namespace sockman {

class LogAppender {
 public:
  static constexpr size_t kFlushBytes = 32 * 1024;

  explicit LogAppender(UniqueFd fd) : fd_(std::move(fd)) {}
  ~LogAppender() { Flush(); }

  void Append(absl::string_view line) {
    pending_.append(line.data(), line.size());
    Appended();
  }
  // For writers that format a line in place (no copy of their own): append
  // it to buffer(), then call Appended().
  std::string& buffer() { return pending_; }
  void Appended() {
    if (pending_.size() >= kFlushBytes) Flush();
  }
  // Writes what is pending. A failed write drops the batch (logging must not
  // stall serving) and is counted.
  void Flush();

  uint64_t write_failures() const { return write_failures_; }

 private:
  UniqueFd fd_;
  std::string pending_;
  uint64_t write_failures_ = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_LOG_APPENDER_H_
