// sockman: the command line. See docs/cli.md.
//
//   sockman start -c FILE        run in the foreground
//   sockman check -c FILE        validate and print the resolved config
//   sockman version              version and the built-in protocols/handlers
//
// Exit status: 0 success, 1 runtime failure, 2 usage or config error.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/master.h"
#include "cli/plan.h"
#include "cli/runtime.h"
#include "config/config_file.h"
#include "config/validate.h"
#include "engine/base/logging.h"
#include "engine/base/proctitle.h"
#include "engine/base/read_file.h"
#include "engine/fd_limit.h"
#include "google/protobuf/text_format.h"
#include "handlers/handler.h"
#include "handlers/router/router.h"
#include "protocols/protocol.h"

namespace sockman {
namespace {

constexpr char kVersion[] = "0.1.0";
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: sockman COMMAND -c FILE [options]\n"
    "\n"
    "commands:\n"
    "  start   -c FILE [-d] [--log-level LEVEL]\n"
    "                             run the services (-d: as a daemon; LEVEL: debug,\n"
    "                             info, warning, error, over global.log_level)\n"
    "  stop    -c FILE [-g]       stop (-g: gracefully, up to stop_timeout_ms)\n"
    "  restart -c FILE [-d]       stop, then start\n"
    "  reload  -c FILE [-g]       re-read FILE; replace changed services' workers one by one\n"
    "  status  -c FILE [--json]   master and per-worker figures\n"
    "  connections -c FILE [--json]  one row per open connection\n"
    "  check   -c FILE            validate FILE and print the resolved config\n"
    "  version                    print the version and built-in protocols and handlers\n"
    "  help                       print this text\n";

struct Args {
  std::string command;
  std::string config;
  bool daemon = false;
  bool graceful = false;
  bool json = false;
  std::string log_level;  // start --log-level
};

int Usage(const std::string& error) {
  std::fprintf(stderr, "sockman: %s\n%s", error.c_str(), kUsage);
  return kExitUsage;
}

// Relative paths are relative to where the user ran the command; under
// `bazel run` that is BUILD_WORKING_DIRECTORY, not the runfiles tree. The
// result is absolute, so a daemon that leaves the directory still finds
// everything the config names.
std::string ResolvePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* base = std::getenv("BUILD_WORKING_DIRECTORY");
  if (base != nullptr && *base != '\0') return absl::StrCat(base, "/", path);
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

std::string RuntimeDirEnv() {
  const char* dir = std::getenv("XDG_RUNTIME_DIR");
  return dir == nullptr ? "" : dir;
}

// The config file named on the command line, parsed once. Parsing alone
// (no validation) is enough to find a running master's files, even when the
// file has since been edited into an invalid state.
struct Target {
  std::string path;  // absolute
  std::string name;  // as given: what messages call it
  std::unique_ptr<ConfigFile> file;

  RuntimePaths Paths(bool daemon) const {
    return DeriveRuntimePaths(*file, path, daemon, RuntimeDirEnv());
  }
  int64_t StopTimeoutMs() const {
    const Global& global = file->config().global();
    return global.has_stop_timeout_ms() ? global.stop_timeout_ms() : kDefaultStopTimeoutMs;
  }
};

absl::StatusOr<Target> LoadTarget(const std::string& config) {
  Target target{ResolvePath(config), config, nullptr};
  auto file = ConfigFile::Load(target.path, config);
  if (!file.ok()) return file.status();
  target.file = std::move(*file);
  return target;
}

// Config errors are printed as they are: they start with FILE:LINE:COL.
int ConfigError(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  return kExitUsage;
}

int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  // A zombie (our own child, not yet reaped) has exited too.
  std::string text = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

int CpuCount() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// Parses and fully validates (registries, users, handler configs).
absl::StatusOr<Plan> LoadPlan(const Target& target) { return BuildPlan(*target.file, CpuCount()); }

int PrintError(const absl::Status& status, int exit_code) {
  std::fprintf(stderr, "sockman: %s\n", std::string(status.message()).c_str());
  return exit_code;
}

// Asks the master to stop and waits until it has exited and removed its
// files. Returns 0, or 1 when nothing was running or it did not stop.
int StopAndWait(const RuntimePaths& paths, bool graceful, int64_t stop_timeout_ms,
                bool quiet_if_not_running) {
  pid_t pid = ReadLivePid(paths.pid_file);
  if (pid <= 0) {
    if (quiet_if_not_running) return 0;
    std::fprintf(stderr, "sockman: not running (no live pid file at %s)\n", paths.pid_file.c_str());
    return 1;
  }
  absl::StatusOr<std::string> reply =
      ControlRequest(paths.control_socket, graceful ? "stop -g" : "stop");
  if (!reply.ok()) kill(pid, graceful ? SIGQUIT : SIGTERM);  // no control socket: signal
  int64_t deadline = MonotonicMs() + stop_timeout_ms + 10000;
  while (MonotonicMs() < deadline) {
    if (ProcessGone(pid) && ReadLivePid(paths.pid_file) != pid) {
      if (!quiet_if_not_running) {
        std::printf("sockman: stopped master %d%s\n", static_cast<int>(pid),
                    graceful ? " (gracefully)" : "");
      }
      return 0;
    }
    usleep(20000);
  }
  std::fprintf(stderr, "sockman: master %d did not stop in time\n", static_cast<int>(pid));
  return 1;
}

int Check(const Args& args) {
  absl::StatusOr<Target> target = LoadTarget(args.config);
  if (!target.ok()) return ConfigError(target.status());
  absl::StatusOr<Plan> plan = LoadPlan(*target);
  if (!plan.ok()) return ConfigError(plan.status());
  std::string text;
  google::protobuf::TextFormat::PrintToString(plan->resolved, &text);
  std::printf("# %s: OK, %zu service(s); defaults filled in\n%s", args.config.c_str(),
              plan->services.size(), text.c_str());
  // How requests find routes: the precedence made visible.
  for (const ServicePlan& service : plan->services) {
    if (service.config.route_size() == 0) continue;
    std::printf("# service '%s' routes, in the order a request tries them:\n",
                service.config.name().c_str());
    int n = 0;
    for (const std::string& line : DescribeRoutes(*service.handler)) {
      std::printf("#  %2d. %s\n", ++n, line.c_str());
    }
  }
  // Each worker holds one service's connections: warn when the system will
  // not give it enough descriptors (the config is still valid).
  for (const ServicePlan& service : plan->services) {
    if (service.server.max_connections == 0) continue;
    std::string warning = FdLimitWarning(service.server.max_connections, geteuid() == 0);
    if (!warning.empty()) {
      std::fprintf(stderr, "warning: service '%s': %s\n", service.config.name().c_str(),
                   warning.c_str());
    }
  }
  return 0;
}

int Start(const Args& args) {
  absl::StatusOr<Target> target = LoadTarget(args.config);
  if (!target.ok()) return ConfigError(target.status());
  absl::StatusOr<Plan> plan = LoadPlan(*target);
  if (!plan.ok()) return ConfigError(plan.status());
  RuntimePaths paths = target->Paths(args.daemon);
  MasterOptions options;
  options.paths = paths;
  options.version = kVersion;
  options.config_path = target->path;
  options.config_name = target->name;
  options.cpu_count = CpuCount();
  if (LogSeverity level; !args.log_level.empty() && ParseLogSeverity(args.log_level, &level)) {
    options.log_level = level;
  }
  if (const char* notify = std::getenv("NOTIFY_SOCKET"); notify != nullptr) {
    options.notify_socket = notify;
  }
  if (pid_t live = ReadLivePid(paths.pid_file); live > 0) {
    std::fprintf(stderr, "sockman: %s: already running (pid %d, pid file %s)\n",
                 args.config.c_str(), static_cast<int>(live), paths.pid_file.c_str());
    return kExitRuntime;
  }
  if (args.daemon) {
    // fork, setsid, fork. The starting command waits on a pipe for the
    // daemon's startup lines (or its error) and exits accordingly.
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return PrintError(absl::ErrnoToStatus(errno, "pipe"), 1);
    pid_t first = fork();
    if (first < 0) return PrintError(absl::ErrnoToStatus(errno, "fork"), kExitRuntime);
    if (first > 0) {
      ::close(pipe_fds[1]);
      std::string out;
      char buf[4096];
      ssize_t n;
      while ((n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
      waitpid(first, nullptr, 0);
      std::fputs(out.c_str(), out.find("sockman: started") != std::string::npos ? stdout : stderr);
      return out.find("sockman: started") != std::string::npos ? 0 : kExitRuntime;
    }
    ::close(pipe_fds[0]);
    setsid();
    if (fork() != 0) _exit(0);
    if (chdir("/") != 0) {
      // Paths are absolute by now; staying put is harmless.
    }
    options.daemon = true;
    options.out = fdopen(pipe_fds[1], "w");
  }
  bool daemon = options.daemon;
  FILE* out = options.out;
  absl::StatusOr<std::unique_ptr<Master>> master = Master::Create(std::move(*plan), options);
  if (!master.ok()) {
    // A daemon's stderr is detached by now: the waiting command prints this.
    std::fprintf(daemon ? out : stderr, "sockman: %s: %s\n", args.config.c_str(),
                 std::string(master.status().message()).c_str());
    return kExitRuntime;
  }
  return (*master)->Run();
}

int Stop(const Args& args) {
  absl::StatusOr<Target> target = LoadTarget(args.config);
  if (!target.ok()) return ConfigError(target.status());
  return StopAndWait(target->Paths(false), args.graceful, target->StopTimeoutMs(), false);
}

int Restart(const Args& args) {
  absl::StatusOr<Target> target = LoadTarget(args.config);
  if (!target.ok()) return ConfigError(target.status());
  // Refuse to stop a running server for a config that cannot start.
  if (absl::StatusOr<Plan> plan = LoadPlan(*target); !plan.ok()) return ConfigError(plan.status());
  if (int stopped =
          StopAndWait(target->Paths(args.daemon), args.graceful, target->StopTimeoutMs(), true);
      stopped != 0) {
    return stopped;
  }
  return Start(args);
}

int Reload(const Args& args) {
  absl::StatusOr<Target> target = LoadTarget(args.config);
  if (!target.ok()) return ConfigError(target.status());
  // Validate here first: a broken config never reaches the master.
  if (absl::StatusOr<Plan> plan = LoadPlan(*target); !plan.ok()) return ConfigError(plan.status());
  absl::StatusOr<std::string> reply =
      ControlRequest(target->Paths(false).control_socket, args.graceful ? "reload -g" : "reload",
                     static_cast<int>(60000 + target->StopTimeoutMs()));
  if (!reply.ok()) return PrintError(reply.status(), kExitRuntime);
  bool ok = reply->rfind("reloaded", 0) == 0;
  std::fputs(reply->c_str(), ok ? stdout : stderr);
  return ok ? 0 : kExitRuntime;
}

int Query(const Args& args, const std::string& what) {
  absl::StatusOr<Target> target = LoadTarget(args.config);
  if (!target.ok()) return ConfigError(target.status());
  absl::StatusOr<std::string> reply =
      ControlRequest(target->Paths(false).control_socket, args.json ? what + " --json" : what);
  if (!reply.ok()) return PrintError(reply.status(), kExitRuntime);
  std::fputs(reply->c_str(), stdout);
  return 0;
}

int Version() {
  std::printf("sockman %s\nprotocols: %s\nhandlers: %s\n", kVersion,
              absl::StrJoin(ProtocolRegistry::Global().Schemes(), " ").c_str(),
              absl::StrJoin(HandlerRegistry::Global().Names(), " ").c_str());
  return 0;
}

int Main(int argc, char** argv) {
  if (argc < 2) return Usage("missing command");
  Args args;
  args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-c" || arg == "--config") {
      if (i + 1 >= argc) return Usage(absl::StrCat(arg, " needs a file"));
      args.config = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      args.config = arg.substr(9);
    } else if (arg == "-d" || arg == "--daemon") {
      args.daemon = true;
    } else if (arg == "-g" || arg == "--graceful") {
      args.graceful = true;
    } else if (arg == "--json") {
      args.json = true;
    } else if (arg == "--log-level" || arg.rfind("--log-level=", 0) == 0) {
      if (arg == "--log-level") {
        if (i + 1 >= argc) return Usage("--log-level needs debug, info, warning or error");
        args.log_level = argv[++i];
      } else {
        args.log_level = arg.substr(12);
      }
      LogSeverity ignored;
      if (!ParseLogSeverity(args.log_level, &ignored)) {
        return Usage(absl::StrCat("--log-level: '", args.log_level,
                                  "' is not debug, info, warning or error"));
      }
    } else {
      return Usage(absl::StrCat("unknown option '", arg, "'"));
    }
  }
  const std::string& c = args.command;
  if (c == "help" || c == "-h" || c == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (c == "version" || c == "--version") return Version();
  if (c == "start" || c == "check" || c == "stop" || c == "restart" || c == "status" ||
      c == "connections" || c == "reload") {
    if (args.config.empty()) return Usage(absl::StrCat(c, " needs -c FILE"));
    if (c == "start") return Start(args);
    if (c == "check") return Check(args);
    if (c == "stop") return Stop(args);
    if (c == "restart") return Restart(args);
    if (c == "status" || c == "connections") return Query(args, c);
    return Reload(args);
  }
  return Usage(absl::StrCat("unknown command '", c, "'"));
}

}  // namespace
}  // namespace sockman

int main(int argc, char** argv) {
  sockman::InitProcessTitle(argc, argv);  // argv is copied away first; the rest reads the copies
  return sockman::Main(argc, argv);
}
