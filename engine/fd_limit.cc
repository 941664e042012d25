#include "engine/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace sockman {

FdLimits CurrentFdLimits() {
  FdLimits limits;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    limits.soft = rl.rlim_cur;
    limits.hard = rl.rlim_max;
  }
  std::ifstream nr_open("/proc/sys/fs/nr_open");
  if (!(nr_open >> limits.nr_open)) limits.nr_open = 1 << 20;  // the kernel's default
  return limits;
}

uint64_t RaiseFdLimit(uint64_t wanted) {
  FdLimits limits = CurrentFdLimits();
  if (wanted <= limits.soft) return limits.soft;
  rlimit rl{};
  rl.rlim_cur = std::min(wanted, limits.hard);
  rl.rlim_max = limits.hard;
  if (wanted > limits.hard) {
    // Only root may raise the hard limit; try, then settle for the hard limit.
    rlimit root{};
    root.rlim_cur = root.rlim_max = std::min(wanted, limits.nr_open);
    if (root.rlim_max > limits.hard && setrlimit(RLIMIT_NOFILE, &root) == 0) return root.rlim_cur;
  }
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return limits.soft;
  return rl.rlim_cur;
}

std::string FdLimitWarning(uint64_t connections, bool root) {
  FdLimits limits = CurrentFdLimits();
  uint64_t needed = connections + kSpareFds;
  uint64_t reachable = root ? std::max(limits.hard, limits.nr_open) : limits.hard;
  if (needed <= reachable) return "";
  if (root) {
    return absl::StrCat(connections, " connections need ", needed,
                        " open files, above fs.nr_open (", limits.nr_open,
                        "): raise it with sysctl fs.nr_open");
  }
  return absl::StrCat(
      connections, " connections need ", needed, " open files, above the hard limit (", limits.hard,
      "): raise it (ulimit -Hn, LimitNOFILE= in the systemd unit) or start as root");
}

}  // namespace sockman
