#include "cli/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "engine/base/clock.h"
#include "engine/base/logging.h"
#include "engine/listener.h"
#include "engine/log_appender.h"
#include "engine/reactor.h"
#include "engine/supervisor.h"
#include "protocols/stream_server.h"

namespace sockman {
namespace {

ListenOptions ListenOptionsFor(const ServicePlan& service) {
  ListenOptions options;
  options.address = service.address;
  options.reuse_port = service.config.reuse_port();
  options.ipv6_only = service.config.ipv6_only();
  return options;
}

// The body of one worker process. Returns its exit status.
int RunWorker(const ServicePlan& service, int worker_id, int listen_fd, int access_log_fd,
              ReadySignal& ready) {
  auto reactor = Reactor::Create(SystemClock());
  if (!reactor.ok()) {
    ready.Fail(reactor.status().message());
    return 1;
  }
  auto signals = SignalSource::Create(**reactor, {SIGTERM, SIGINT, SIGQUIT, SIGHUP},
                                      [&](int signo) {
                                        if (signo != SIGHUP) (*reactor)->Stop();
                                      });
  if (!signals.ok()) {
    ready.Fail(signals.status().message());
    return 1;
  }

  UniqueFd own_listener;
  if (service.config.reuse_port()) {
    // Each worker has its own socket in the port's SO_REUSEPORT group.
    absl::StatusOr<UniqueFd> fd = BindTcpListener(ListenOptionsFor(service));
    if (!fd.ok()) {
      ready.Fail(fd.status().message());
      return 1;
    }
    own_listener = std::move(*fd);
    listen_fd = own_listener.get();
  }
  if (service.credentials.has_value()) {
    if (absl::Status s = DropPrivileges(*service.credentials); !s.ok()) {
      ready.Fail(absl::StrCat("user: ", s.message()));
      return 1;
    }
  }

  StreamServerOptions options = service.server;
  std::unique_ptr<LogAppender> access_log;
  if (access_log_fd >= 0) {
    access_log = std::make_unique<LogAppender>(UniqueFd(access_log_fd));
    options.codec.access_log = access_log.get();
    (*reactor)->AddRepeatingTimer(1000, [&access_log] { access_log->Flush(); });
  }

  WorkerContext context{**reactor, service.config.name(), worker_id};
  std::unique_ptr<Handler> handler = service.handler->NewHandler(context);
  auto server = StreamServer::Create(**reactor, listen_fd, options, *handler);
  if (!server.ok()) {
    ready.Fail(server.status().message());
    return 1;
  }
  handler->OnWorkerStart(context);
  ready.Ready();
  (*reactor)->Run();
  handler->OnWorkerStop();
  server->reset();  // closes every connection (OnClose runs for each)
  return 0;
}

}  // namespace

absl::StatusOr<int> RunServer(Plan& plan, FILE* out) {
  signal(SIGPIPE, SIG_IGN);
  SetLogRole("master");

  // Bind before fork, so every worker of a service shares one socket; with
  // reuse_port, hold the port (bound, not listening) and let workers bind.
  std::vector<UniqueFd> sockets;
  std::vector<UniqueFd> access_logs;
  std::vector<std::string> uris;
  for (ServicePlan& service : plan.services) {
    ListenOptions options = ListenOptionsFor(service);
    absl::StatusOr<UniqueFd> fd =
        service.config.reuse_port() ? ReserveTcpPort(options) : BindTcpListener(options);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(), absl::StrCat("service '", service.config.name(),
                                                           "': ", fd.status().message()));
    }
    absl::StatusOr<SocketAddress> bound = SocketAddress::LocalOf(fd->get());
    if (!bound.ok()) return bound.status();
    service.address = *bound;  // the real port when 0 was asked
    ListenUri uri = service.uri;
    uri.port = bound->port();
    uris.push_back(uri.ToString());
    sockets.push_back(std::move(*fd));
    // Opened by the master, before workers drop privileges, as nginx does.
    UniqueFd log;
    if (service.config.has_access_log()) {
      const std::string& path = service.config.access_log();
      log.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
      if (!log.valid()) {
        return absl::ErrnoToStatus(errno, absl::StrCat("service '", service.config.name(),
                                                       "': access_log: open ", path));
      }
    }
    access_logs.push_back(std::move(log));
  }

  auto reactor = Reactor::Create(SystemClock());
  if (!reactor.ok()) return reactor.status();
  std::vector<WorkerPool> pools;
  for (size_t i = 0; i < plan.services.size(); ++i) {
    const ServicePlan* service = &plan.services[i];
    int fd = sockets[i].get();
    int log_fd = access_logs[i].get();
    std::vector<int> fds = {fd};
    if (log_fd >= 0) fds.push_back(log_fd);
    pools.push_back(WorkerPool{
        .name = service->config.name(),
        .count = static_cast<int>(service->config.count()),
        .run = [service, fd, log_fd](int worker_id, ReadySignal& ready) {
          return RunWorker(*service, worker_id, fd, log_fd, ready);
        },
        .fds = fds,
    });
  }
  SupervisorOptions options;
  options.stop_timeout_ms = plan.stop_timeout_ms;
  auto supervisor = Supervisor::Create(**reactor, std::move(pools), options);
  if (!supervisor.ok()) return supervisor.status();
  if (absl::Status s = (*supervisor)->Start(); !s.ok()) return s;

  for (size_t i = 0; i < plan.services.size(); ++i) {
    std::fprintf(out, "sockman: listen %s %s count=%u\n", plan.services[i].config.name().c_str(),
                 uris[i].c_str(), plan.services[i].config.count());
  }
  std::fprintf(out, "sockman: started pid=%d\n", static_cast<int>(getpid()));
  std::fflush(out);
  LogInfo(absl::StrCat("serving ", plan.services.size(), " services"));
  int status = (*supervisor)->Run();
  LogInfo("stopped");
  return status;
}

}  // namespace sockman
