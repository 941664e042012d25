// Reading small files (/proc entries, configs) without iostreams: libstdc++'s
// filebuf throws when read(2) fails, as reading /proc/PID/... of a process
// that just exited does (ESRCH), and sockman does not use exceptions.
#ifndef SOCKMAN_ENGINE_BASE_READ_FILE_H_
#define SOCKMAN_ENGINE_BASE_READ_FILE_H_

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace sockman {

// The whole file, or "" if it cannot be opened or read.
inline std::string ReadFileOrEmpty(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      content.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) content.clear();
    break;
  }
  ::close(fd);
  return content;
}

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_BASE_READ_FILE_H_
