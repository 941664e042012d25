// Where a running sockman keeps its files, and the pid file that marks it.
//
// Defaults, for a config file /etc/sockman/web.textproto:
//   pid_file        RUNDIR/web-HASH.pid
//   control_socket  RUNDIR/web-HASH.sock
//   log_file        (daemon mode only) LOGDIR/web.log
// where RUNDIR is /run/sockman as root, else $XDG_RUNTIME_DIR or /tmp; LOGDIR
// is /var/log/sockman as root, else RUNDIR; HASH is 8 hex digits of the
// config's absolute path, so two configs never share files.
#ifndef SOCKMAN_CLI_RUNTIME_H_
#define SOCKMAN_CLI_RUNTIME_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "config/config_file.h"
#include "engine/base/unique_fd.h"

namespace sockman {

struct RuntimePaths {
  std::string pid_file;
  std::string control_socket;
  std::string log_file;     // "" = stderr
  std::string stdout_file;  // daemon mode: workers' stdout/stderr ("" = /dev/null)
};

// `config_path` must be absolute. `runtime_dir_env` is $XDG_RUNTIME_DIR.
RuntimePaths DeriveRuntimePaths(const ConfigFile& file, const std::string& config_path, bool daemon,
                                const std::string& runtime_dir_env);

// The pid file of a running master: created atomically (write, rename) and
// locked (flock) for the master's lifetime, so a second start can tell a live
// sockman from a stale file.
// Opens `path` for appending (created 0644), close-on-exec. Errors: the
// errno, naming the path.
absl::StatusOr<UniqueFd> OpenAppend(const std::string& path);

// A daemon's stdio, before it forks workers: stdin from /dev/null, stdout
// and stderr to `stdout_file` (/dev/null when empty or unopenable).
void DetachStdio(const std::string& stdout_file);

class PidFile {
 public:
  // Errors: AlreadyExists "already running (pid N, PATH)" when locked by a
  // live process; the errno otherwise.
  static absl::StatusOr<PidFile> Acquire(const std::string& path);
  PidFile(PidFile&&) = default;
  PidFile& operator=(PidFile&&) = default;
  // Unlinks the file (the lock goes with the descriptor).
  ~PidFile();

  // Writes `pid` (atomically: a temporary file renamed over the path, which
  // keeps the lock on the new inode).
  absl::Status Write(pid_t pid);
  // The locked descriptor (workers close it: the lock must die with the master).
  int fd() const { return fd_.get(); }

 private:
  PidFile() = default;
  std::string path_;
  UniqueFd fd_;
};

// The pid in `path`, or 0 when there is no file or it is not locked (stale).
pid_t ReadLivePid(const std::string& path);

// Sends `request` over the unix socket at `path` and returns the whole reply.
// Errors: Unavailable when nothing listens there.
absl::StatusOr<std::string> ControlRequest(const std::string& path, const std::string& request,
                                           int timeout_ms = 10000);

}  // namespace sockman

#endif  // SOCKMAN_CLI_RUNTIME_H_
