#include "cli/master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/listeners.h"
#include "cli/metrics.h"
#include "cli/notify.h"
#include "cli/reload.h"
#include "cli/worker.h"
#include "config/config_file.h"
#include "engine/base/clock.h"
#include "engine/base/logging.h"
#include "engine/base/proctitle.h"
#include "engine/base/status_macros.h"
#include "engine/redis_client.h"
#include "engine/worker_bus.h"
#include "handlers/router/router.h"

namespace sockman {
namespace {

constexpr int64_t kQueryTimeoutMs = 1000;

}  // namespace

absl::StatusOr<std::unique_ptr<Master>> Master::Create(Plan plan, MasterOptions options) {
  std::unique_ptr<Master> master(new Master(std::move(options)));
  if (absl::Status s = master->Start(std::move(plan)); !s.ok()) return s;
  return master;
}

Master::~Master() = default;

absl::StatusOr<std::vector<UniqueFd>> Master::OpenRouteLogs(const ServicePlan& service) {
  std::vector<UniqueFd> logs;
  for (int i = 0; i < service.config.route_size(); ++i) {
    const Route& route = service.config.route(i);
    if (!route.has_access_log()) {
      logs.emplace_back();
      continue;
    }
    absl::StatusOr<UniqueFd> opened = OpenAppend(route.access_log());
    if (!opened.ok()) {
      return absl::Status(
          opened.status().code(),
          absl::StrCat("service '", service.config.name(), "': route '",
                       RouteName(service.config, i), "': access_log: ", opened.status().message()));
    }
    logs.push_back(std::move(*opened));
  }
  return logs;
}

absl::StatusOr<UniqueFd> Master::OpenAccessLog(const ServicePlan& service) {
  if (!service.config.has_access_log()) return UniqueFd();
  absl::StatusOr<UniqueFd> opened = OpenAppend(service.config.access_log());
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat("service '", service.config.name(),
                                     "': access_log: ", opened.status().message()));
  }
  return opened;
}

void Master::ApplyLogSettings(const Plan& plan) {
  const Global& global = plan.resolved.global();
  LogSeverity level = LogSeverity::kInfo;
  switch (global.log_level()) {
    case Global::DEBUG:
      level = LogSeverity::kDebug;
      break;
    case Global::WARNING:
      level = LogSeverity::kWarning;
      break;
    case Global::ERROR:
      level = LogSeverity::kError;
      break;
    default:
      break;
  }
  SetLogLevel(options_.log_level.value_or(level));
  SetLogFormat(global.log_format() == Global::JSON ? LogFormat::kJson : LogFormat::kText);
}

absl::Status Master::Start(Plan first) {
  signal(SIGPIPE, SIG_IGN);
  SetLogRole("master");
  SetProcessTitle(absl::StrCat("sockman: master -c ", options_.config_path));
  ApplyLogSettings(first);
  auto plan = std::make_shared<Plan>(std::move(first));
  const RuntimePaths& paths = options_.paths;
  if (!plan->services.empty() && plan->services[0].cluster.has_value()) {
    const SocketAddress& redis = plan->services[0].cluster->redis;
    if (absl::Status s = PingRedis(redis, 2000); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("global.cluster.redis: cannot reach ",
                                                 redis.ToString(), ": ", s.message()));
    }
  }
  WorkerBus::NewNamespace();  // before any worker is forked

  absl::StatusOr<PidFile> pid_file = PidFile::Acquire(paths.pid_file);
  if (!pid_file.ok()) return pid_file.status();
  pid_file_ = std::make_unique<PidFile>(std::move(*pid_file));
  SOCKMAN_RETURN_IF_ERROR(pid_file_->Write(getpid()));

  if (!paths.log_file.empty()) {
    absl::StatusOr<UniqueFd> fd = OpenAppend(paths.log_file);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(), absl::StrCat("log_file: ", fd.status().message()));
    }
    log_fd_ = std::move(*fd);
    SetLogFd(log_fd_.get());
  }

  // Bind before fork, so every worker of a service shares one socket; with
  // reuse_port, hold the port (bound, not listening) and let workers bind.
  stop_timeout_ms_ = plan->stop_timeout_ms;
  for (ServicePlan& service : plan->services) {
    absl::StatusOr<BoundService> bound = BindService(service);
    if (!bound.ok()) return bound.status();
    absl::StatusOr<UniqueFd> access_log = OpenAccessLog(service);
    if (!access_log.ok()) return access_log.status();
    absl::StatusOr<std::vector<UniqueFd>> route_logs = OpenRouteLogs(service);
    if (!route_logs.ok()) return route_logs.status();
    order_.push_back(service.config.name());
    running_[service.config.name()] = Running{plan,
                                              &service,
                                              std::move(bound->fd),
                                              std::move(*access_log),
                                              std::move(*route_logs),
                                              bound->summary};
  }

  absl::StatusOr<UniqueFd> control_fd = ControlServer::Listen(paths.control_socket);
  if (!control_fd.ok()) return control_fd.status();
  control_fd_ = std::move(*control_fd);

  absl::StatusOr<std::unique_ptr<Reactor>> reactor = Reactor::Create(SystemClock());
  if (!reactor.ok()) return reactor.status();
  reactor_ = std::move(*reactor);
  master_only_fds_ = {control_fd_.get(), pid_file_->fd()};
  if (options_.daemon) {
    // Detach stdio before forking workers, which must not hold the starting
    // command's pipe. Only `out` (the pipe) stays, master-only.
    DetachStdio(paths.stdout_file);
    master_only_fds_.push_back(fileno(options_.out));
  }

  std::vector<WorkerPool> pools;
  for (const std::string& name : order_)
    pools.push_back(MakePool(running_[name], stop_timeout_ms_));
  SupervisorOptions supervisor_options;
  supervisor_options.stop_timeout_ms = stop_timeout_ms_;
  supervisor_options.on_membership_change = [this] { AnnouncePeers(); };
  supervisor_options.on_worker_request = [this](pid_t pid, ChannelMessage message) {
    if (message.command == ChannelCommand::kGatherMetrics) GatherMetrics(pid, message.payload);
  };
  auto supervisor = Supervisor::Create(
      *reactor_, std::move(pools), supervisor_options,
      [this] { Reload(/*graceful=*/true, [](std::string) {}); }, [this] { ReopenLogs(); });
  if (!supervisor.ok()) return supervisor.status();
  supervisor_ = std::move(*supervisor);
  SOCKMAN_RETURN_IF_ERROR(supervisor_->Start());
  // Every worker knows its peers before `started` is announced (the
  // deferred notice would come a loop pass later).
  AnnouncePeers();

  summary_.version = options_.version;
  summary_.pid = getpid();
  summary_.start_wall_seconds = SystemClock().WallSeconds();
  for (const std::string& name : order_) summary_.services.push_back(running_[name].summary);

  auto control = ControlServer::Create(*reactor_, control_fd_.get(), ControlVerbs());
  if (!control.ok()) return control.status();
  control_ = std::move(*control);
  if (plan->resolved.global().watch_config()) {
    auto watcher = ConfigWatcher::Create(*reactor_, options_.config_path, [this] {
      LogInfo("watch_config: the config file changed; reloading");
      Reload(/*graceful=*/true, [](std::string) {});
    });
    if (watcher.ok()) {
      config_watcher_ = std::move(*watcher);
    } else {
      LogError(watcher.status().message());  // serve on; reload by hand still works
    }
  }
  return absl::OkStatus();
}

WorkerPool Master::MakePool(const Running& running, int64_t stop_timeout_ms) const {
  WorkerFds fds;
  fds.listen = running.listen.get();
  fds.access_log = running.access_log.get();
  std::vector<int> keep = {fds.listen};
  if (fds.access_log >= 0) keep.push_back(fds.access_log);
  for (const UniqueFd& log : running.route_logs) {
    fds.route_logs.push_back(log.get());
    if (log.valid()) keep.push_back(log.get());
  }
  // The closure holds the plan: it lives while this pool may fork workers.
  return WorkerPool{
      .name = running.service->config.name(),
      .count = static_cast<int>(running.service->config.count()),
      .run =
          [plan = running.plan, service = running.service, fds, stop_timeout_ms,
           close = master_only_fds_](int worker_id, ReadySignal& ready, int channel) {
            for (int fd : close) ::close(fd);
            WorkerFds mine = fds;
            mine.channel = channel;
            absl::StatusOr<std::unique_ptr<Worker>> worker =
                Worker::Create(*service, worker_id, mine, stop_timeout_ms);
            if (!worker.ok()) {
              ready.Fail(worker.status().message());
              return 1;
            }
            ready.Ready();
            return (*worker)->Run();
          },
      .fds = keep,
  };
}

void Master::AnnouncePeers() {
  if (supervisor_ == nullptr) return;
  WorkerBus::Peers peers;
  // Keyed by client space: the workers of a hub's services are peers.
  for (const WorkerInfo& worker : supervisor_->workers()) {
    if (worker.pid <= 0) continue;
    auto running = running_.find(worker.pool);
    const std::string& key = running != running_.end() && running->second.service->config.has_hub()
                                 ? running->second.service->config.hub()
                                 : worker.pool;
    peers[key].push_back(worker.pid);
  }
  supervisor_->SendToAll(ChannelCommand::kPeers, WorkerBus::FormatPeers(peers));
}

void Master::GatherMetrics(pid_t pid, const std::string& request_id) {
  supervisor_->Query(ChannelCommand::kMetrics, kQueryTimeoutMs,
                     [this, pid, request_id](std::vector<WorkerReply> replies) {
                       MasterMetrics master{options_.version, supervisor_->workers(),
                                            supervisor_->exit_counts(), reloads_ok_,
                                            reloads_failed_};
                       std::string samples = absl::StrCat(request_id, "\n");
                       for (const WorkerReply& reply : replies) {
                         // A draining worker shares its successor's labels
                         // (service, worker id): its series would clash.
                         if (reply.worker.draining) continue;
                         if (reply.answered) {
                           samples += reply.reply;
                         } else {
                           ++master.missing;
                         }
                       }
                       samples += MasterMetricSamples(master);
                       supervisor_->SendToWorker(pid, ChannelCommand::kMetricsAnswer, samples);
                     });
}

std::vector<ControlVerb> Master::ControlVerbs() {
  auto status = [this](bool json) {
    return [this, json](ControlReply reply) {
      supervisor_->Query(ChannelCommand::kStatus, kQueryTimeoutMs,
                         [this, json, reply](std::vector<WorkerReply> replies) {
                           summary_.now_wall_seconds = SystemClock().WallSeconds();
                           summary_.now_ms = SystemClock().NowMs();
                           summary_.exits = supervisor_->exit_counts();
                           reply(RenderStatus(summary_, replies, json));
                         });
    };
  };
  auto connections = [this](bool json) {
    return [this, json](ControlReply reply) {
      supervisor_->Query(ChannelCommand::kConnections, kQueryTimeoutMs,
                         [json, reply](std::vector<WorkerReply> replies) {
                           reply(RenderConnections(replies, json));
                         });
    };
  };
  // Old workers always finish what is in flight (SIGQUIT) once their
  // successor accepts; -g is accepted for Workerman's muscle memory.
  auto reload = [this](ControlReply reply) { Reload(/*graceful=*/true, std::move(reply)); };
  return {
      {"status", status(false)},
      {"status --json", status(true)},
      {"connections", connections(false)},
      {"connections --json", connections(true)},
      {"reload", reload},
      {"reload -g", reload},
      {"stop",
       [this](ControlReply reply) {
         reply("stopping\n");
         SdNotify(options_.notify_socket, "STOPPING=1");
         supervisor_->StopNow();
       }},
      {"stop -g",
       [this](ControlReply reply) {
         reply("stopping gracefully\n");
         SdNotify(options_.notify_socket, "STOPPING=1");
         supervisor_->StopGracefully();
       }},
  };
}

void Master::Reload(bool graceful, ControlReply reply) {
  // systemd hears about reloads as they start and end.
  SdNotify(options_.notify_socket, "RELOADING=1");
  ControlReply done = [this, reply](std::string text) {
    SdNotify(options_.notify_socket, "READY=1");
    ++(absl::StartsWith(text, "error") ? reloads_failed_ : reloads_ok_);
    reply(std::move(text));
  };
  auto file = ConfigFile::Load(options_.config_path, options_.config_name);
  absl::StatusOr<Plan> loaded =
      file.ok() ? BuildPlan(**file, options_.cpu_count) : absl::StatusOr<Plan>(file.status());
  if (!loaded.ok()) {
    LogError(absl::StrCat("reload: keeping the running config: ", loaded.status().message()));
    done(absl::StrCat("error: ", loaded.status().message(), "\n"));
    return;
  }
  ApplyLogSettings(*loaded);  // for the master and the workers forked from now on
  auto next = std::make_shared<Plan>(std::move(*loaded));
  // Workerman's onWorkerReload: every running worker hears of the reload
  // (those being replaced, and those of services kept as they run).
  supervisor_->SendToAll(ChannelCommand::kReload);

  std::map<std::string, ServiceVersion> was;
  for (const auto& [name, r] : running_) {
    was[name] = ServiceVersion{&r.service->config, r.service->loaded_files};
  }
  std::vector<ServiceVersion> will;
  for (const ServicePlan& service : next->services) {
    will.push_back(ServiceVersion{&service.config, service.loaded_files});
  }
  ReloadPlan decided = PlanReload(was, will);
  for (const std::string& name : decided.waiting_for_restart) {
    LogWarning(absl::StrCat("reload: service '", name,
                            "' changed but is reloadable: false; the change waits for a restart"));
  }

  // New sockets are bound first, so a failure leaves everything as it was.
  std::map<std::string, BoundService> bound;
  for (ServicePlan& service : next->services) {
    const std::string& name = service.config.name();
    if (decided.fates[name] != ReloadFate::kNewSocket) continue;
    absl::StatusOr<BoundService> socket = BindService(service);
    if (!socket.ok()) {
      LogError(absl::StrCat("reload: ", socket.status().message()));
      done(absl::StrCat("error: ", socket.status().message(), "\n"));
      return;
    }
    bound[name] = std::move(*socket);
  }

  std::vector<WorkerPool> pools;
  std::vector<std::string> replace;
  std::map<std::string, Running> next_running;
  std::vector<std::string> next_order;
  for (ServicePlan& service : next->services) {
    const std::string& name = service.config.name();
    next_order.push_back(name);
    ReloadFate fate = decided.fates[name];
    if (fate == ReloadFate::kKeep) {
      pools.push_back(WorkerPool{.name = name});  // the supervisor keeps the old one
      next_running[name] = std::move(running_[name]);
      continue;
    }
    Running r{next, &service, UniqueFd(), UniqueFd(), {}};
    if (fate == ReloadFate::kSameSocket) {
      // Keep the listening socket: its queue is shared by old and new
      // workers, so no connection is refused while they change places.
      Running& old = running_[name];
      r.listen = std::move(old.listen);
      service.address = old.service->address;
      r.summary = old.summary;
      r.summary.count = static_cast<int>(service.config.count());
    } else {
      r.listen = std::move(bound[name].fd);
      r.summary = bound[name].summary;
    }
    absl::StatusOr<UniqueFd> access_log = OpenAccessLog(service);
    if (access_log.ok()) {
      r.access_log = std::move(*access_log);
    } else {
      LogError(absl::StrCat("reload: ", access_log.status().message()));
    }
    absl::StatusOr<std::vector<UniqueFd>> route_logs = OpenRouteLogs(service);
    if (route_logs.ok()) {
      r.route_logs = std::move(*route_logs);
    } else {
      LogError(absl::StrCat("reload: ", route_logs.status().message()));
    }
    pools.push_back(MakePool(r, next->stop_timeout_ms));
    replace.push_back(name);
    next_running[name] = std::move(r);
  }
  // Removed services' sockets close here, and plans no service runs from
  // any more are released (the supervisor drops their pools in Reload).
  running_ = std::move(next_running);
  order_ = std::move(next_order);
  summary_.services.clear();
  for (const std::string& name : order_) summary_.services.push_back(running_[name].summary);
  LogInfo(absl::StrCat("reload: replacing ", replace.size(), " of ", order_.size(), " services"));
  supervisor_->Reload(std::move(pools), replace, graceful, [done](std::vector<std::string> errors) {
    if (errors.empty()) {
      done("reloaded\n");
      return;
    }
    std::string text = "error: reload incomplete:";
    for (const std::string& e : errors) absl::StrAppend(&text, " ", e, ";");
    LogError(text);
    done(text + "\n");
  });
}

void Master::ReopenLogs() {
  auto reopen = [](const std::string& path, int target) {
    absl::StatusOr<UniqueFd> fresh = OpenAppend(path);
    if (!fresh.ok()) {
      LogError(absl::StrCat("reopen: ", fresh.status().message()));
      return false;
    }
    return dup2(fresh->get(), target) >= 0;
  };
  bool log = log_fd_.valid() && reopen(options_.paths.log_file, log_fd_.get());
  for (auto& [name, r] : running_) {
    std::string what;
    std::vector<int> fds;
    if (log) {
      what = "log";
      fds.push_back(log_fd_.get());
    }
    if (r.access_log.valid() && reopen(r.service->config.access_log(), r.access_log.get())) {
      absl::StrAppend(&what, what.empty() ? "" : " ", "access");
      fds.push_back(r.access_log.get());
    }
    for (size_t i = 0; i < r.route_logs.size(); ++i) {
      if (r.route_logs[i].valid() &&
          reopen(r.service->config.route(static_cast<int>(i)).access_log(),
                 r.route_logs[i].get())) {
        absl::StrAppend(&what, what.empty() ? "" : " ", "route-access:", i);
        fds.push_back(r.route_logs[i].get());
      }
    }
    if (!fds.empty()) supervisor_->SendToPool(name, ChannelCommand::kReopen, what, fds);
  }
  LogInfo("reopened log files");
}

int Master::Run() {
  for (const ServiceSummary& s : summary_.services) {
    std::fprintf(options_.out, "sockman: listen %s %s count=%d\n", s.name.c_str(), s.listen.c_str(),
                 s.count);
  }
  std::fprintf(options_.out, "sockman: started pid=%d\n", static_cast<int>(getpid()));
  std::fflush(options_.out);
  if (options_.daemon) std::fclose(options_.out);  // the starting command returns
  LogInfo(absl::StrCat("serving ", summary_.services.size(), " services"));
  SdNotify(options_.notify_socket, absl::StrCat("READY=1\nMAINPID=", getpid()));
  int status = supervisor_->Run();
  SdNotify(options_.notify_socket, "STOPPING=1");
  ::unlink(options_.paths.control_socket.c_str());
  LogInfo("stopped");
  return status;
}

}  // namespace sockman
