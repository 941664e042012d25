// sockman: the command line. See docs/cli.md.
//
//   sockman start -c FILE        run in the foreground
//   sockman check -c FILE        validate and print the resolved config
//   sockman version              version and the built-in protocols/handlers
//
// Exit status: 0 success, 1 runtime failure, 2 usage or config error.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/plan.h"
#include "cli/server.h"
#include "config/config_file.h"
#include "google/protobuf/text_format.h"
#include "handlers/handler.h"
#include "protocols/protocol.h"

namespace sockman {
namespace {

constexpr char kVersion[] = "0.1.0";
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: sockman COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  start   -c FILE        run the services in the foreground\n"
    "  check   -c FILE        validate FILE and print the resolved config\n"
    "  version                print the version and built-in protocols and handlers\n"
    "  help                   print this text\n"
    "\n"
    "not supported yet: start -d, stop, restart, reload, status, connections\n";

struct Args {
  std::string command;
  std::string config;
  bool daemon = false;
  bool graceful = false;
  bool json = false;
};

int Usage(const std::string& error) {
  std::fprintf(stderr, "sockman: %s\n%s", error.c_str(), kUsage);
  return kExitUsage;
}

// Relative paths are relative to where the user ran the command; under
// `bazel run` that is BUILD_WORKING_DIRECTORY, not the runfiles tree.
std::string ResolvePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* base = std::getenv("BUILD_WORKING_DIRECTORY");
  if (base == nullptr || *base == '\0') return path;
  return absl::StrCat(base, "/", path);
}

int CpuCount() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

absl::StatusOr<Plan> LoadPlan(const std::string& path) {
  auto file = ConfigFile::Load(ResolvePath(path), path);
  if (!file.ok()) return file.status();
  return BuildPlan(**file, CpuCount());
}

int Check(const Args& args) {
  absl::StatusOr<Plan> plan = LoadPlan(args.config);
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plan.status().message()).c_str());
    return kExitUsage;
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(plan->resolved, &text);
  std::printf("# %s: OK, %zu service(s); defaults filled in\n%s", args.config.c_str(),
              plan->services.size(), text.c_str());
  return 0;
}

int Start(const Args& args) {
  if (args.daemon) {
    return Usage("start -d (daemon mode) is not supported yet; run in the foreground");
  }
  absl::StatusOr<Plan> plan = LoadPlan(args.config);
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plan.status().message()).c_str());
    return kExitUsage;
  }
  absl::StatusOr<int> status = RunServer(*plan, stdout);
  if (!status.ok()) {
    std::fprintf(stderr, "sockman: %s: %s\n", args.config.c_str(),
                 std::string(status.status().message()).c_str());
    return kExitRuntime;
  }
  return *status;
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
  if (c == "start" || c == "check") {
    if (args.config.empty()) return Usage(absl::StrCat(c, " needs -c FILE"));
    return c == "start" ? Start(args) : Check(args);
  }
  if (c == "stop" || c == "restart" || c == "reload" || c == "status" || c == "connections") {
    return Usage(absl::StrCat("'", c,
                              "' is not supported yet; a foreground server stops on "
                              "Ctrl-C or SIGTERM"));
  }
  return Usage(absl::StrCat("unknown command '", c, "'"));
}

}  // namespace
}  // namespace sockman

int main(int argc, char** argv) { return sockman::Main(argc, argv); }
