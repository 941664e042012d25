#include "engine/log_appender.h"

#include <errno.h>
#include <unistd.h>

namespace sockman {

void LogAppender::Flush() {
  size_t at = 0;
  while (at < pending_.size()) {
    ssize_t n = ::write(fd_.get(), pending_.data() + at, pending_.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++write_failures_;
      break;
    }
    at += static_cast<size_t>(n);
  }
  pending_.clear();
  if (pending_.capacity() > 4 * kFlushBytes) std::string().swap(pending_);
}

}  // namespace sockman
