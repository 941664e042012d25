// The open-file limit (RLIMIT_NOFILE): what a worker needs for its
// connections, and whether the system lets it have that many.
#ifndef SOCKMAN_ENGINE_FD_LIMIT_H_
#define SOCKMAN_ENGINE_FD_LIMIT_H_

#include <cstdint>
#include <string>

namespace sockman {

// Descriptors a worker uses besides its connections (listener, epoll,
// timers, signals, logs, channels, files being sent).
inline constexpr uint64_t kSpareFds = 128;

struct FdLimits {
  uint64_t soft = 0;
  uint64_t hard = 0;
  uint64_t nr_open = 0;  // /proc/sys/fs/nr_open: the ceiling even for root
};

FdLimits CurrentFdLimits();

// Raises the soft limit to `wanted` (the hard limit when it is lower; as
// root, the hard limit itself up to nr_open). Never lowers it. Returns the
// soft limit in force afterwards.
uint64_t RaiseFdLimit(uint64_t wanted);

// "" when a process that can raise its limit as RaiseFdLimit does (`root`:
// running as root) can hold `connections`; otherwise a warning that says
// which limit to raise and how.
std::string FdLimitWarning(uint64_t connections, bool root);

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_FD_LIMIT_H_
