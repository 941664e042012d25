#include "cli/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace sockman {
namespace {

uint32_t Fnv1a(absl::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

bool IsWritableDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && access(path.c_str(), W_OK) == 0;
}

std::string EnsureDirectory(const std::string& path, const std::string& fallback) {
  if (IsWritableDirectory(path)) return path;
  if (mkdir(path.c_str(), 0755) == 0) return path;
  return fallback;
}

}  // namespace

RuntimePaths DeriveRuntimePaths(const ConfigFile& file, const std::string& config_path, bool daemon,
                                const std::string& runtime_dir_env) {
  // The canonical path: `./ex/../ex/x.textproto` and a symlink to it name
  // the same running master.
  std::string canonical = config_path;
  if (char* real = realpath(config_path.c_str(), nullptr); real != nullptr) {
    canonical = real;
    free(real);
  }
  std::string base = canonical.substr(canonical.rfind('/') + 1);
  if (size_t dot = base.rfind('.'); dot != std::string::npos && dot > 0) base.resize(dot);
  std::string tag = absl::StrFormat("%s-%08x", base, Fnv1a(canonical));
  std::string run_dir = "/tmp";
  if (!runtime_dir_env.empty() && IsWritableDirectory(runtime_dir_env)) run_dir = runtime_dir_env;
  std::string log_dir = run_dir;
  if (geteuid() == 0) {
    run_dir = EnsureDirectory("/run/sockman", run_dir);
    log_dir = EnsureDirectory("/var/log/sockman", run_dir);
  }
  const Global& global = file.config().global();
  RuntimePaths paths;
  paths.pid_file = global.has_pid_file() ? file.ResolvePath(global.pid_file())
                                         : absl::StrCat(run_dir, "/", tag, ".pid");
  paths.control_socket = global.has_control_socket() ? file.ResolvePath(global.control_socket())
                                                     : absl::StrCat(run_dir, "/", tag, ".sock");
  if (global.has_log_file()) {
    paths.log_file = file.ResolvePath(global.log_file());
  } else if (daemon) {
    paths.log_file = absl::StrCat(log_dir, "/", tag, ".log");
  }
  if (global.has_stdout_file()) paths.stdout_file = file.ResolvePath(global.stdout_file());
  return paths;
}

absl::StatusOr<PidFile> PidFile::Acquire(const std::string& path) {
  PidFile pid_file;
  pid_file.path_ = path;
  // Lock a fresh temporary file, which Write() renames over `path`; but
  // first refuse when `path` is held by a live master.
  if (pid_t live = ReadLivePid(path); live > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("already running (pid ", live, ", pid file ", path, ")"));
  }
  std::string temp = absl::StrCat(path, ".", getpid(), ".tmp");
  pid_file.fd_.reset(::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!pid_file.fd_.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", temp));
  if (flock(pid_file.fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("lock ", temp));
  }
  return pid_file;
}

absl::Status PidFile::Write(pid_t pid) {
  std::string temp = absl::StrCat(path_, ".", getpid(), ".tmp");
  std::string text = absl::StrCat(pid, "\n");
  if (pwrite(fd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return absl::ErrnoToStatus(errno, absl::StrCat("write ", temp));
  }
  // Another master may have won the race since Acquire: check under rename.
  if (pid_t live = ReadLivePid(path_); live > 0 && live != pid) {
    ::unlink(temp.c_str());
    return absl::AlreadyExistsError(
        absl::StrCat("already running (pid ", live, ", pid file ", path_, ")"));
  }
  if (::rename(temp.c_str(), path_.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("rename ", temp, " to ", path_));
  }
  return absl::OkStatus();
}

PidFile::~PidFile() {
  if (!fd_.valid()) return;
  if (ReadLivePid(path_) == getpid()) ::unlink(path_.c_str());
  ::unlink(absl::StrCat(path_, ".", getpid(), ".tmp").c_str());
}

pid_t ReadLivePid(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return 0;
  // Locked means a live master holds it (the lock dies with the process).
  if (flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
    flock(fd.get(), LOCK_UN);
    return 0;
  }
  char text[32] = "";
  ssize_t n = ::read(fd.get(), text, sizeof(text) - 1);
  int pid = 0;
  if (n <= 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(text, n)), &pid)) {
    return 0;
  }
  return pid;
}

absl::StatusOr<std::string> ControlRequest(const std::string& path, const std::string& request,
                                           int timeout_ms) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("control socket path too long: ", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("not running (nothing at control socket ", path, ": ", strerror(errno), ")"));
  }
  std::string line = request + "\n";
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(line.size())) {
    return absl::ErrnoToStatus(errno, "control socket send");
  }
  std::string reply;
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) {
      return absl::DeadlineExceededError("no answer from the master in time");
    }
    char buf[65536];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

absl::StatusOr<UniqueFd> OpenAppend(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  return fd;
}

void DetachStdio(const std::string& stdout_file) {
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int sink = devnull;
  if (!stdout_file.empty()) {
    int fd = ::open(stdout_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) sink = fd;
  }
  dup2(devnull, STDIN_FILENO);
  dup2(sink, STDOUT_FILENO);
  dup2(sink, STDERR_FILENO);
  if (sink != devnull) ::close(sink);
  ::close(devnull);
}

}  // namespace sockman
