// The master process: takes the pid file, opens the logs, binds every
// listener, opens the control socket, forks the workers through the
// Supervisor, and supervises them until stopped. It answers the control
// socket (cli/control_server.h), reloads on SIGHUP, `reload` or a config
// change (cli/reload.h decides what each service gets), and reopens its log
// files on SIGUSR1. It never touches client traffic; each worker is a
// cli/worker.h Worker. A cluster's Redis must answer PING before anything
// starts.
//
//   SOCKMAN_ASSIGN_OR_RETURN(std::unique_ptr<Master> master, Master::Create(std::move(plan),
//   opts)); return master->Run();
#ifndef SOCKMAN_CLI_MASTER_H_
#define SOCKMAN_CLI_MASTER_H_

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/config_watcher.h"
#include "cli/control_server.h"
#include "cli/plan.h"
#include "cli/runtime.h"
#include "cli/status.h"
#include "engine/base/logging.h"
#include "engine/reactor.h"
#include "engine/supervisor.h"

namespace sockman {

struct MasterOptions {
  // The config file (absolute) and what errors call it; reload re-reads it.
  std::string config_path;
  std::string config_name;
  int cpu_count = 1;
  RuntimePaths paths;
  std::string notify_socket;  // $NOTIFY_SOCKET: systemd Type=notify
  bool daemon = false;        // already detached: redirect stdio once serving
  FILE* out = stdout;         // where the startup lines go
  std::string version;
  // `start --log-level`: overrides global.log_level (and survives reloads).
  std::optional<LogSeverity> log_level;
};

class Master {
 public:
  // Everything up to "every worker is serving". Errors (already running,
  // bind, a worker that cannot start) come back before anything is left
  // running.
  static absl::StatusOr<std::unique_ptr<Master>> Create(Plan plan, MasterOptions options);
  ~Master();

  // Writes one line per service to `out`,
  //
  //   sockman: listen NAME URI count=N
  //
  // (URI with the bound port, the real one when port 0 was asked), then
  // `sockman: started pid=PID`, and supervises until stopped. Returns the
  // process exit status.
  int Run();

 private:
  // One running service: the plan it came from (kept alive while a pool of
  // it runs), its socket and its access log.
  struct Running {
    std::shared_ptr<Plan> plan;
    const ServicePlan* service = nullptr;
    UniqueFd listen;
    UniqueFd access_log;
    std::vector<UniqueFd> route_logs;  // per route; invalid: none
    ServiceSummary summary;
  };

  explicit Master(MasterOptions options) : options_(std::move(options)) {}
  absl::Status Start(Plan plan);
  // Opens the service's access log, if it has one (before workers drop
  // privileges, as nginx does).
  absl::StatusOr<UniqueFd> OpenAccessLog(const ServicePlan& service);
  // The same for each route's own access log (invalid where a route has none).
  absl::StatusOr<std::vector<UniqueFd>> OpenRouteLogs(const ServicePlan& service);
  WorkerPool MakePool(const Running& running, int64_t stop_timeout_ms) const;
  std::vector<ControlVerb> ControlVerbs();
  // Workers find each other on the worker bus; the master tells them who is there.
  void AnnouncePeers();
  // Re-reads the config and replaces what changed; `reply` gets one line.
  void Reload(bool graceful, ControlReply reply);
  // SIGUSR1 (logrotate): every log file opened anew, handed to the workers.
  void ReopenLogs();
  // global.log_level and log_format (or --log-level), for this process and
  // the workers it forks from now on.
  void ApplyLogSettings(const Plan& plan);
  // A worker's scrape: every worker's samples and the master's, back to it.
  void GatherMetrics(pid_t pid, const std::string& request_id);

  MasterOptions options_;
  std::unique_ptr<PidFile> pid_file_;
  UniqueFd log_fd_;
  UniqueFd control_fd_;
  std::unique_ptr<Reactor> reactor_;
  std::vector<int> master_only_fds_;  // closed in every worker
  std::map<std::string, Running> running_;
  std::vector<std::string> order_;  // service names as the config lists them
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<ConfigWatcher> config_watcher_;
  MasterSummary summary_;
  int64_t stop_timeout_ms_ = 0;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_CLI_MASTER_H_
