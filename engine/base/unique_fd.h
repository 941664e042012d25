// UniqueFd owns one file descriptor and closes it when destroyed (RAII for
// every fd). Move-only.
//
//   UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
//   if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
#ifndef SOCKMAN_ENGINE_BASE_UNIQUE_FD_H_
#define SOCKMAN_ENGINE_BASE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace sockman {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }

  // Closes the current descriptor (if any) and takes ownership of `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_BASE_UNIQUE_FD_H_
