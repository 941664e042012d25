#include "cli/worker.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/listeners.h"
#include "cli/metrics.h"
#include "cli/status.h"
#include "engine/base/clock.h"
#include "engine/base/logging.h"
#include "engine/base/proctitle.h"
#include "engine/credentials.h"
#include "engine/fd_limit.h"
#include "protocols/stream_server.h"
#include "protocols/udp_server.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(const ServicePlan& service, int worker_id,
                                                       const WorkerFds& fds,
                                                       int64_t stop_timeout_ms) {
  absl::StatusOr<std::unique_ptr<Reactor>> reactor = Reactor::Create(SystemClock());
  if (!reactor.ok()) return reactor.status();
  std::unique_ptr<Worker> worker(
      new Worker(service, worker_id, fds, stop_timeout_ms, std::move(*reactor)));
  if (absl::Status s = worker->Start(); !s.ok()) return s;
  return worker;
}

Worker::Worker(const ServicePlan& service, int worker_id, const WorkerFds& fds,
               int64_t stop_timeout_ms, std::unique_ptr<Reactor> reactor)
    : service_(service),
      worker_id_(worker_id),
      fds_(fds),
      stop_timeout_ms_(stop_timeout_ms),
      reactor_(std::move(reactor)) {}

Worker::~Worker() = default;

absl::Status Worker::Start() {
  Reactor& loop = *reactor_;
  // The bus first, so peers told about this worker can reach it soon. The
  // handler that uses it (broadcast, push) sets what receives its frames.
  absl::StatusOr<std::unique_ptr<WorkerBus>> bus = WorkerBus::Create(loop, {});
  if (!bus.ok()) return bus.status();
  bus_ = std::move(*bus);
  auto signals = SignalSource::Create(loop, {SIGTERM, SIGINT, SIGQUIT, SIGHUP},
                                      [this](int signo) { OnSignal(signo); });
  if (!signals.ok()) return signals.status();
  signals_ = std::move(*signals);

  int listen_fd = fds_.listen;
  // With reuse_port each worker has its own socket in the port's group. For
  // UDP the master's socket is in the group too (a bound UDP socket receives
  // its share of datagrams), so worker 0 serves that one.
  if (service_.config.reuse_port() && !(IsUdp(service_) && worker_id_ == 0)) {
    absl::StatusOr<UniqueFd> fd = BindWorkerSocket(service_);
    if (!fd.ok()) return fd.status();
    own_listener_ = std::move(*fd);
    listen_fd = own_listener_.get();
  }
  // Room for max_connections (or as many as the system allows), raised
  // while still root.
  uint64_t max_connections = service_.server.max_connections;
  uint64_t wanted_fds = max_connections > 0 ? max_connections + kSpareFds : CurrentFdLimits().hard;
  if (uint64_t got = RaiseFdLimit(wanted_fds); max_connections > 0 && got < wanted_fds) {
    LogWarning(absl::StrCat("service '", service_.config.name(), "': open-file limit is ", got,
                            ", below the ", wanted_fds, " that max_connections ", max_connections,
                            " needs"));
  }
  if (service_.credentials.has_value()) {
    if (absl::Status s = DropPrivileges(*service_.credentials); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("user: ", s.message()));
    }
  } else if (geteuid() == 0) {
    LogWarning(absl::StrCat("service '", service_.config.name(),
                            "' runs as root (set `user` to drop privileges)"));
  }

  StreamServerOptions options = service_.server;
  options.codec.metrics = &protocol_metrics_;
  if (fds_.access_log >= 0) {
    access_log_ = std::make_unique<LogAppender>(UniqueFd(fds_.access_log));
    options.codec.access_log = access_log_.get();
    loop.AddRepeatingTimer(1000, [this] { access_log_->Flush(); });
  }

  std::vector<LogAppender*> route_logs;
  for (int fd : fds_.route_logs) {
    route_logs_.push_back(fd >= 0 ? std::make_unique<LogAppender>(UniqueFd(fd)) : nullptr);
    route_logs.push_back(route_logs_.back().get());
  }
  if (!route_logs_.empty()) {
    loop.AddRepeatingTimer(1000, [this] {
      for (auto& log : route_logs_) {
        if (log != nullptr) log->Flush();
      }
    });
  }
  context_ = std::make_unique<WorkerContext>(WorkerContext{
      loop, service_.config.name(), worker_id_, bus_.get(),
      service_.cluster.has_value() ? &*service_.cluster : nullptr, service_.hubs.get(),
      options.codec, route_logs,
      [this](std::function<void(std::string)> done) { GatherMetrics(std::move(done)); }});
  handler_ = service_.handler->NewHandler(*context_);
  if (IsUdp(service_)) {
    auto udp = UdpServer::Create(loop, listen_fd,
                                 {options.protocol, options.codec, options.proxy_protocol.trusted},
                                 *handler_);
    if (!udp.ok()) return udp.status();
    server_ = std::move(*udp);
  } else {
    auto stream = StreamServer::Create(loop, listen_fd, options, *handler_);
    if (!stream.ok()) return stream.status();
    server_ = std::move(*stream);
  }
  // No close callback: when the master is gone, PR_SET_PDEATHSIG ends us.
  auto channel = Channel::Create(loop, UniqueFd(fds_.channel), [this](ChannelMessage message) {
    OnChannelMessage(std::move(message));
  });
  if (!channel.ok()) return channel.status();
  channel_ = std::move(*channel);
  handler_->OnWorkerStart(*context_);
  return absl::OkStatus();
}

int Worker::Run() {
  reactor_->Run();
  handler_->OnWorkerStop();
  server_.reset();  // closes what is left (OnClose runs for each)
  if (access_log_) access_log_->Flush();
  for (auto& log : route_logs_) {
    if (log != nullptr) log->Flush();
  }
  return 0;
}

void Worker::OnSignal(int signo) {
  if (signo == SIGQUIT) {
    Drain();
  } else if (signo != SIGHUP) {
    reactor_->Stop();
  }
}

void Worker::Drain() {
  if (draining_) return;
  draining_ = true;
  SetProcessTitle(
      absl::StrCat("sockman: worker ", service_.config.name(), "/", worker_id_, " (draining)"));
  server_->Drain();
  // With reuse_port this worker's own socket would keep receiving
  // connections nobody accepts: close it now, so the kernel sends new ones
  // to the other sockets of the port (and, with net.ipv4.tcp_migrate_req=1,
  // moves those already queued here).
  own_listener_.reset();
  // Exit when the last connection is gone, or at the deadline.
  reactor_->AddRepeatingTimer(20, [this] {
    if (server_->connection_count() == 0) reactor_->Stop();
  });
  reactor_->AddTimer(stop_timeout_ms_, [this] { reactor_->Stop(); });
}

void Worker::OnChannelMessage(ChannelMessage message) {
  switch (message.command) {
    case ChannelCommand::kStatus:
      channel_->Send(ChannelCommand::kReply,
                     WorkerStatusLine(*server_, *reactor_, handler_->backend_errors(),
                                      handler_->route_requests(), handler_->upstreams()));
      return;
    case ChannelCommand::kConnections:
      channel_->Send(
          ChannelCommand::kReply,
          WorkerConnectionsLine(*server_, *reactor_, service_.config.name(), handler_.get()));
      return;
    case ChannelCommand::kMetrics:
      channel_->Send(ChannelCommand::kReply,
                     WorkerMetricSamples({.server = *server_,
                                          .handler = *handler_,
                                          .protocol = *service_.protocol,
                                          .protocol_metrics = protocol_metrics_,
                                          .bus = bus_.get(),
                                          .service = service_.config.name(),
                                          .worker_id = worker_id_}));
      return;
    case ChannelCommand::kMetricsAnswer: {
      size_t newline = message.payload.find('\n');
      uint64_t id = 0;
      if (newline == std::string::npos ||
          !absl::SimpleAtoi(absl::string_view(message.payload).substr(0, newline), &id)) {
        return;
      }
      auto it = gathering_.find(id);
      if (it == gathering_.end()) return;  // answered late: the scrape gave up
      auto done = std::move(it->second);
      gathering_.erase(it);
      done(message.payload.substr(newline + 1));
      return;
    }
    case ChannelCommand::kGatherMetrics:
      return;  // the master's to answer
    case ChannelCommand::kPeers:
      bus_->SetPeers(WorkerBus::ParsePeers(message.payload));
      return;
    case ChannelCommand::kReload:
      handler_->OnWorkerReload();
      return;
    case ChannelCommand::kReopen:
      Reopen(message);
      return;
    case ChannelCommand::kReply:
      return;  // the master asks; it does not answer
  }
}

void Worker::GatherMetrics(std::function<void(std::string)> done) {
  uint64_t id = next_gather_++;
  if (channel_ == nullptr || !channel_->Send(ChannelCommand::kGatherMetrics, absl::StrCat(id))) {
    reactor_->Defer([done = std::move(done)] { done(""); });
    return;
  }
  gathering_[id] = std::move(done);
  // The master answers within its query timeout; past this, give up.
  reactor_->AddTimer(5000, [this, id] {
    auto it = gathering_.find(id);
    if (it == gathering_.end()) return;
    auto late = std::move(it->second);
    gathering_.erase(it);
    late("");
  });
}

void Worker::Reopen(const ChannelMessage& message) {
  // The files arrive in the order the payload names them; each takes over
  // our descriptor number (logrotate's SIGUSR1).
  size_t next = 0;
  for (absl::string_view what : absl::StrSplit(message.payload, ' ', absl::SkipEmpty())) {
    if (next >= message.fds.size()) break;
    int fresh = message.fds[next++].get();
    if (what == "log") {
      dup2(fresh, LogFd());
    } else if (what == "access" && access_log_ != nullptr) {
      access_log_->Flush();
      dup2(fresh, fds_.access_log);
    } else if (size_t route; absl::ConsumePrefix(&what, "route-access:") &&
                             absl::SimpleAtoi(what, &route) && route < route_logs_.size() &&
                             route_logs_[route] != nullptr) {
      route_logs_[route]->Flush();
      dup2(fresh, fds_.route_logs[route]);
    }
  }
}

}  // namespace sockman
