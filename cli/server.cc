#include "cli/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/notify.h"
#include "cli/status.h"
#include "config/config_file.h"
#include "engine/base/clock.h"
#include "engine/base/logging.h"
#include "engine/connector.h"
#include "engine/fd_limit.h"
#include "engine/listener.h"
#include "engine/log_appender.h"
#include "engine/reactor.h"
#include "engine/supervisor.h"
#include "engine/tcp_connection.h"
#include "engine/udp_peer.h"
#include "engine/worker_bus.h"
#include "protocols/stream_server.h"
#include "protocols/udp_server.h"

namespace sockman {
namespace {

constexpr int64_t kQueryTimeoutMs = 1000;

bool IsUdp(const ServicePlan& service) { return service.config.transport() == UDP; }

ListenOptions ListenOptionsFor(const ServicePlan& service) {
  ListenOptions options;
  options.address = service.address;
  options.reuse_port = service.config.reuse_port();
  options.ipv6_only = service.config.ipv6_only();
  options.datagram = IsUdp(service);
  return options;
}

// The worker's end of its channel to the master: one request line in (maybe
// with descriptors attached), one reply line out (none for a notice).
class WorkerChannel : public Reactor::Watcher {
 public:
  using Answer =
      std::function<std::optional<std::string>(absl::string_view, std::vector<UniqueFd>&)>;
  WorkerChannel(Reactor& reactor, int fd, Answer answer)
      : reactor_(reactor), fd_(fd), answer_(std::move(answer)) {
    reactor_.Watch(fd_.get(), EPOLLIN, this).IgnoreError();
  }
  ~WorkerChannel() override { reactor_.Unwatch(fd_.get()); }

  void OnEvents(uint32_t events) override {
    char chunk[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    iovec iov{chunk, sizeof(chunk)};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd_.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n <= 0) {
      if (n == 0) reactor_.Unwatch(fd_.get());  // the master is gone
      return;
    }
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        fds_.emplace_back(received);
      }
    }
    pending_.append(chunk, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending_.find('\n')) != std::string::npos) {
      std::optional<std::string> answer =
          answer_(absl::string_view(pending_).substr(0, newline), fds_);
      fds_.clear();
      pending_.erase(0, newline + 1);
      if (!answer.has_value()) continue;  // a notice, not a query
      // An empty answer (no open connections) is a reply too.
      std::string reply = std::move(*answer) + "\n";
      // Replies are small; the master reads them at once. Block if needed.
      size_t at = 0;
      while (at < reply.size()) {
        ssize_t w = ::send(fd_.get(), reply.data() + at, reply.size() - at, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        at += static_cast<size_t>(w);
      }
    }
  }

 private:
  Reactor& reactor_;
  UniqueFd fd_;
  Answer answer_;
  std::string pending_;
  std::vector<UniqueFd> fds_;
};

struct WorkerFds {
  int listen = -1;
  int access_log = -1;
  int channel = -1;
  std::vector<int> close;  // the master's own descriptors
};

// The body of one worker process. Returns its exit status.
int RunWorker(const ServicePlan& service, int worker_id, const WorkerFds& fds,
              int64_t stop_timeout_ms, ReadySignal& ready) {
  for (int fd : fds.close) ::close(fd);
  auto reactor = Reactor::Create(SystemClock());
  if (!reactor.ok()) {
    ready.Fail(reactor.status().message());
    return 1;
  }
  Reactor& loop = **reactor;
  std::unique_ptr<Server> server;
  bool draining = false;
  UniqueFd own_listener;
  auto drain = [&] {
    if (draining || server == nullptr) return;
    draining = true;
    server->Drain();
    // With reuse_port this worker's own socket would keep receiving
    // connections nobody accepts: close it now, so the kernel sends new ones
    // to the other sockets of the port (and, with net.ipv4.tcp_migrate_req=1,
    // moves those already queued here).
    own_listener.reset();
    // Exit when the last connection is gone, or at the deadline.
    loop.AddRepeatingTimer(20, [&] {
      if (server->connection_count() == 0) loop.Stop();
    });
    loop.AddTimer(stop_timeout_ms, [&] { loop.Stop(); });
  };
  // The bus first, so peers told about this worker can reach it soon. The
  // handler that uses it (broadcast, push) sets what receives its frames.
  auto bus = WorkerBus::Create(loop, {});
  if (!bus.ok()) {
    ready.Fail(bus.status().message());
    return 1;
  }
  auto signals = SignalSource::Create(loop, {SIGTERM, SIGINT, SIGQUIT, SIGHUP}, [&](int signo) {
    if (signo == SIGQUIT) {
      drain();
    } else if (signo != SIGHUP) {
      loop.Stop();
    }
  });
  if (!signals.ok()) {
    ready.Fail(signals.status().message());
    return 1;
  }

  int listen_fd = fds.listen;
  // With reuse_port each worker has its own socket in the port's group. For
  // UDP the master's socket is in the group too (a bound UDP socket receives
  // its share of datagrams), so worker 0 serves that one.
  if (service.config.reuse_port() && !(IsUdp(service) && worker_id == 0)) {
    absl::StatusOr<UniqueFd> fd = IsUdp(service) ? BindUdpSocket(ListenOptionsFor(service))
                                                 : BindTcpListener(ListenOptionsFor(service));
    if (!fd.ok()) {
      ready.Fail(fd.status().message());
      return 1;
    }
    own_listener = std::move(*fd);
    listen_fd = own_listener.get();
  }
  // Room for max_connections (or as many as the system allows), raised
  // while still root.
  uint64_t max_connections = service.server.max_connections;
  uint64_t wanted_fds = max_connections > 0 ? max_connections + kSpareFds : CurrentFdLimits().hard;
  if (uint64_t got = RaiseFdLimit(wanted_fds); max_connections > 0 && got < wanted_fds) {
    LogWarning(absl::StrCat("service '", service.config.name(), "': open-file limit is ", got,
                            ", below the ", wanted_fds, " that max_connections ", max_connections,
                            " needs"));
  }
  if (service.credentials.has_value()) {
    if (absl::Status s = DropPrivileges(*service.credentials); !s.ok()) {
      ready.Fail(absl::StrCat("user: ", s.message()));
      return 1;
    }
  } else if (geteuid() == 0) {
    LogWarning(absl::StrCat("service '", service.config.name(),
                            "' runs as root (set `user` to drop privileges)"));
  }

  StreamServerOptions options = service.server;
  std::unique_ptr<LogAppender> access_log;
  if (fds.access_log >= 0) {
    access_log = std::make_unique<LogAppender>(UniqueFd(fds.access_log));
    options.codec.access_log = access_log.get();
    loop.AddRepeatingTimer(1000, [&access_log] { access_log->Flush(); });
  }

  WorkerContext context{loop, service.config.name(), worker_id, bus->get(),
                        service.cluster.has_value() ? &*service.cluster : nullptr};
  std::unique_ptr<Handler> handler = service.handler->NewHandler(context);
  absl::Status created;
  if (IsUdp(service)) {
    auto udp = UdpServer::Create(loop, listen_fd, {options.protocol, options.codec}, *handler);
    if (udp.ok()) server = std::move(*udp);
    created = udp.status();
  } else {
    auto stream = StreamServer::Create(loop, listen_fd, options, *handler);
    if (stream.ok()) server = std::move(*stream);
    created = stream.status();
  }
  if (!created.ok()) {
    ready.Fail(created.message());
    return 1;
  }
  WorkerChannel channel(loop, fds.channel,
                        [&](absl::string_view request, std::vector<UniqueFd>& received)
                            -> std::optional<std::string> {
    if (request == "status") return WorkerStatusLine(*server, loop, handler->backend_errors());
    if (absl::StartsWith(request, "peers ")) {
      (*bus)->SetPeers(WorkerBus::ParsePeers(request));
      return std::nullopt;
    }
    if (request == "connections") {
      return WorkerConnectionsLine(*server, loop, service.config.name());
    }
    if (request == "reload") {
      handler->OnWorkerReload();
      return std::nullopt;
    }
    if (absl::StartsWith(request, "reopen")) {
      // "reopen [log] [access]": the master's freshly opened files, in order,
      // take over our descriptor numbers (logrotate's SIGUSR1).
      size_t next = 0;
      for (absl::string_view what : absl::StrSplit(request, ' ')) {
        if (what == "reopen" || next >= received.size()) continue;
        if (what == "log") {
          dup2(received[next++].get(), LogFd());
        } else if (what == "access" && access_log != nullptr) {
          access_log->Flush();
          dup2(received[next++].get(), fds.access_log);
        }
      }
      return std::nullopt;  // no reply: the master asked nothing
    }
    return "error=unknown-request";
  });
  handler->OnWorkerStart(context);
  ready.Ready();
  loop.Run();
  handler->OnWorkerStop();
  server.reset();  // closes what is left (OnClose runs for each)
  if (access_log) access_log->Flush();
  return 0;
}

// Calls `on_change` (debounced) when the file at `path` is written or
// replaced; watches its directory, since editors often rename a new file
// over the old one.
class ConfigWatcher : public Reactor::Watcher {
 public:
  ConfigWatcher(Reactor& reactor, const std::string& path, std::function<void()> on_change)
      : reactor_(reactor), on_change_(std::move(on_change)) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    name_ = path.substr(slash + 1);
    fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd_.valid() ||
        inotify_add_watch(fd_.get(), dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0 ||
        !reactor_.Watch(fd_.get(), EPOLLIN, this).ok()) {
      LogError(absl::StrCat("watch_config: cannot watch ", dir, ": ", strerror(errno)));
      fd_.reset();
    }
  }
  ~ConfigWatcher() override {
    reactor_.CancelTimer(timer_);
    if (fd_.valid()) reactor_.Unwatch(fd_.get());
  }
  void OnEvents(uint32_t events) override {
    alignas(inotify_event) char buf[4096];
    bool ours = false;
    ssize_t n;
    while ((n = ::read(fd_.get(), buf, sizeof(buf))) > 0) {
      for (char* p = buf; p < buf + n;) {
        auto* event = reinterpret_cast<inotify_event*>(p);
        if (event->len > 0 && name_ == event->name) ours = true;
        p += sizeof(inotify_event) + event->len;
      }
    }
    if (!ours) return;
    reactor_.CancelTimer(timer_);
    timer_ = reactor_.AddTimer(200, [this] {  // let the writer finish
      timer_ = kNoTimer;
      on_change_();
    });
  }

 private:
  Reactor& reactor_;
  std::function<void()> on_change_;
  std::string name_;
  UniqueFd fd_;
  TimerId timer_ = kNoTimer;
};

// The control socket: one request line per connection, answered, closed.
class ControlServer : public PeerTransport::Delegate {
 public:
  using Handler = std::function<void(absl::string_view request,
                                     std::function<void(std::string)> reply)>;

  ControlServer(Reactor& reactor, int listen_fd, Handler handler)
      : reactor_(reactor), handler_(std::move(handler)) {
    auto acceptor = Acceptor::Create(reactor, listen_fd, [this](UniqueFd fd, const SocketAddress&) {
      ConnectionLimits limits;
      limits.max_package_size = 4096;
      limits.max_send_buffer_size = 64 << 20;
      auto connection = TcpConnection::Create(reactor_, std::move(fd), SocketAddress(), limits, this);
      if (connection.ok()) clients_.push_back(std::move(*connection));
    });
    if (acceptor.ok()) acceptor_ = std::move(*acceptor);
  }

  void OnData(PeerTransport& connection, Buffer& input) override {
    size_t newline = input.view().find('\n');
    if (newline == absl::string_view::npos) return;
    std::string request(input.view().substr(0, newline));
    input.Consume(input.size());
    connection.PauseRecv();
    PeerTransport* target = &connection;
    handler_(request, [this, target](std::string reply) {
      for (auto& client : clients_) {
        if (client.get() == target && target->open()) {
          target->Send(reply);
          target->Close();
        }
      }
    });
  }

  void OnClosed(PeerTransport& connection) override {
    for (auto it = clients_.begin(); it != clients_.end(); ++it) {
      if (it->get() == &connection) {
        reactor_.DeleteLater(std::move(*it));
        clients_.erase(it);
        return;
      }
    }
  }

 private:
  Reactor& reactor_;
  Handler handler_;
  std::unique_ptr<Acceptor> acceptor_;
  std::vector<std::unique_ptr<TcpConnection>> clients_;
};

absl::StatusOr<UniqueFd> ListenUnix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("control socket path too long: ", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  // We hold the pid file lock, so a socket file left here is stale.
  ::unlink(path.c_str());
  mode_t old_mask = umask(0177);  // 0600: only the master's user
  int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
  umask(old_mask);
  if (bound != 0 || ::listen(fd.get(), 64) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("control socket ", path));
  }
  return fd;
}

absl::StatusOr<UniqueFd> OpenAppend(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  return fd;
}

// Binds `service`'s listener (with reuse_port: reserves its port), records
// the bound address in the plan and fills `summary` with the listen URI as
// bound (the real port when 0 was asked). Errors name the service.
absl::StatusOr<UniqueFd> BindService(ServicePlan& service, ServiceSummary& summary) {
  ListenOptions listen = ListenOptionsFor(service);
  absl::StatusOr<UniqueFd> fd = IsUdp(service)                ? BindUdpSocket(listen)
                                : service.config.reuse_port() ? ReserveTcpPort(listen)
                                                              : BindTcpListener(listen);
  absl::StatusOr<SocketAddress> bound =
      fd.ok() ? SocketAddress::LocalOf(fd->get()) : absl::StatusOr<SocketAddress>(fd.status());
  if (!bound.ok()) {
    return absl::Status(bound.status().code(), absl::StrCat("service '", service.config.name(),
                                                            "': ", bound.status().message()));
  }
  service.address = *bound;
  ListenUri uri = service.uri;
  uri.port = bound->port();
  summary = {service.config.name(), uri.ToString(), static_cast<int>(service.config.count())};
  return fd;
}

}  // namespace

// A cluster's Redis must answer PING before anything starts.
absl::Status CheckRedis(const SocketAddress& address) {
  auto error = [&](absl::string_view why) {
    return absl::UnavailableError(
        absl::StrCat("global.cluster.redis: cannot reach ", address.ToString(), ": ", why));
  };
  absl::StatusOr<UniqueFd> fd = ConnectBlocking(address, 2000);
  if (!fd.ok()) return error(fd.status().message());
  constexpr char kPing[] = "*1\r\n$4\r\nPING\r\n";
  if (::send(fd->get(), kPing, sizeof(kPing) - 1, MSG_NOSIGNAL) != sizeof(kPing) - 1) {
    return error(strerror(errno));
  }
  pollfd p{fd->get(), POLLIN, 0};
  char reply[64] = {};
  if (::poll(&p, 1, 2000) <= 0 || ::recv(fd->get(), reply, sizeof(reply) - 1, 0) <= 0) {
    return error("no answer to PING");
  }
  if (!absl::StartsWith(reply, "+PONG")) {
    return error(absl::StrCat("PING answered '", absl::StripAsciiWhitespace(reply), "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> RunServer(Plan& plan, const ServerOptions& options) {
  signal(SIGPIPE, SIG_IGN);
  SetLogRole("master");
  const RuntimePaths& paths = options.paths;
  if (!plan.services.empty() && plan.services[0].cluster.has_value()) {
    if (absl::Status s = CheckRedis(plan.services[0].cluster->redis); !s.ok()) return s;
  }
  WorkerBus::NewNamespace();  // before any worker is forked

  absl::StatusOr<PidFile> pid_file = PidFile::Acquire(paths.pid_file);
  if (!pid_file.ok()) return pid_file.status();
  if (absl::Status s = pid_file->Write(getpid()); !s.ok()) return s;

  UniqueFd log_fd;
  if (!paths.log_file.empty()) {
    absl::StatusOr<UniqueFd> fd = OpenAppend(paths.log_file);
    if (!fd.ok()) return absl::Status(fd.status().code(), absl::StrCat("log_file: ", fd.status().message()));
    log_fd = std::move(*fd);
    SetLogFd(log_fd.get());
  }

  // Bind before fork, so every worker of a service shares one socket; with
  // reuse_port, hold the port (bound, not listening) and let workers bind.
  std::vector<UniqueFd> sockets;
  std::vector<UniqueFd> access_logs;
  std::vector<ServiceSummary> summaries;
  for (ServicePlan& service : plan.services) {
    ServiceSummary summary;
    absl::StatusOr<UniqueFd> fd = BindService(service, summary);
    if (!fd.ok()) return fd.status();
    summaries.push_back(summary);
    sockets.push_back(std::move(*fd));
    // Opened by the master, before workers drop privileges, as nginx does.
    UniqueFd log;
    if (service.config.has_access_log()) {
      absl::StatusOr<UniqueFd> opened = OpenAppend(service.config.access_log());
      if (!opened.ok()) {
        return absl::Status(opened.status().code(),
                            absl::StrCat("service '", service.config.name(),
                                         "': access_log: ", opened.status().message()));
      }
      log = std::move(*opened);
    }
    access_logs.push_back(std::move(log));
  }

  absl::StatusOr<UniqueFd> control_fd = ListenUnix(paths.control_socket);
  if (!control_fd.ok()) return control_fd.status();

  auto reactor = Reactor::Create(SystemClock());
  if (!reactor.ok()) return reactor.status();
  std::vector<int> master_only = {control_fd->get(), pid_file->fd()};
  if (options.daemon) {
    // Detach stdio before forking workers, which must not hold the starting
    // command's pipe: stdout/stderr go to stdout_file (default /dev/null);
    // logs already go to log_file. Only `out` (the pipe) stays, master-only.
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    int sink = devnull;
    if (!options.paths.stdout_file.empty()) {
      int fd = ::open(options.paths.stdout_file.c_str(),
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) sink = fd;
    }
    dup2(devnull, STDIN_FILENO);
    dup2(sink, STDOUT_FILENO);
    dup2(sink, STDERR_FILENO);
    if (sink != devnull) ::close(sink);
    ::close(devnull);
    master_only.push_back(fileno(options.out));
  }

  // Every plan ever loaded stays alive: workers forked from it refer to it.
  std::vector<std::unique_ptr<Plan>> plans;
  struct Running {
    const ServicePlan* plan;
    UniqueFd listen;
    UniqueFd access_log;
    ServiceSummary summary;
  };
  std::map<std::string, Running> running;
  auto make_pool = [&master_only](const ServicePlan* service, const Running& r,
                                  int64_t stop_timeout) {
    WorkerFds fds;
    fds.listen = r.listen.get();
    fds.access_log = r.access_log.get();
    fds.close = master_only;
    std::vector<int> keep = {fds.listen};
    if (fds.access_log >= 0) keep.push_back(fds.access_log);
    return WorkerPool{
        .name = service->config.name(),
        .count = static_cast<int>(service->config.count()),
        .run = [service, fds, stop_timeout](int worker_id, ReadySignal& ready, int channel) {
          WorkerFds mine = fds;
          mine.channel = channel;
          return RunWorker(*service, worker_id, mine, stop_timeout, ready);
        },
        .fds = keep,
    };
  };
  std::vector<WorkerPool> pools;
  std::vector<ServiceSummary> order;
  for (size_t i = 0; i < plan.services.size(); ++i) {
    Running r{&plan.services[i], std::move(sockets[i]), std::move(access_logs[i]), summaries[i]};
    pools.push_back(make_pool(r.plan, r, plan.stop_timeout_ms));
    running.emplace(summaries[i].name, std::move(r));
  }
  std::function<void()> on_hup;
  std::function<void()> on_usr1;
  SupervisorOptions supervisor_options;
  supervisor_options.stop_timeout_ms = plan.stop_timeout_ms;
  // Workers find each other on the worker bus (messaging across workers);
  // the master only tells them who is there.
  Supervisor* supervisor_ptr = nullptr;
  supervisor_options.on_membership_change = [&supervisor_ptr] {
    if (supervisor_ptr == nullptr) return;
    WorkerBus::Peers peers;
    for (const WorkerInfo& worker : supervisor_ptr->workers()) {
      if (worker.pid > 0) peers[worker.pool].push_back(worker.pid);
    }
    supervisor_ptr->SendToAll(WorkerBus::FormatPeers(peers));
  };
  auto supervisor = Supervisor::Create(**reactor, std::move(pools), supervisor_options,
                                       [&on_hup] { on_hup(); }, [&on_usr1] { on_usr1(); });
  if (!supervisor.ok()) return supervisor.status();
  Supervisor& workers = **supervisor;
  supervisor_ptr = &workers;
  if (absl::Status s = workers.Start(); !s.ok()) return s;
  // Every worker knows its peers before `started` is announced (the
  // deferred notice would come a loop pass later).
  supervisor_options.on_membership_change();

  MasterSummary summary;
  summary.version = options.version;
  summary.pid = getpid();
  summary.start_wall_seconds = SystemClock().WallSeconds();
  summary.services = summaries;

  // Re-reads the config and replaces what changed; `reply` gets one line.
  std::function<void(bool, std::function<void(std::string)>)> reload =
      [&](bool graceful, std::function<void(std::string)> reply) {
    auto file = ConfigFile::Load(options.config_path, options.config_name);
    absl::StatusOr<Plan> loaded =
        file.ok() ? BuildPlan(**file, options.cpu_count) : absl::StatusOr<Plan>(file.status());
    if (!loaded.ok()) {
      LogError(absl::StrCat("reload: keeping the running config: ", loaded.status().message()));
      reply(absl::StrCat("error: ", loaded.status().message(), "\n"));
      return;
    }
    auto next = std::make_unique<Plan>(std::move(*loaded));
    // Workerman's onWorkerReload: every running worker hears of the reload
    // (those being replaced, and those of services kept as they run).
    supervisor_ptr->SendToAll("reload");
    // What happens to each service: kept as it runs, replaced on its old
    // socket, or replaced on a new socket (bound here, before anything
    // changes, so a failure leaves everything running as it was).
    enum class Fate { kKeep, kSameSocket, kNewSocket };
    std::map<std::string, Fate> fates;
    std::map<std::string, std::pair<UniqueFd, ServiceSummary>> new_sockets;
    for (ServicePlan& service : next->services) {
      const std::string& name = service.config.name();
      auto old = running.find(name);
      const Service* was = old == running.end() ? nullptr : &old->second.plan->config;
      bool same = was != nullptr &&
                  was->SerializeAsString() == service.config.SerializeAsString() &&
                  old->second.plan->loaded_files == service.loaded_files;
      if (was != nullptr && (same || !was->reloadable() || !service.config.reloadable())) {
        fates[name] = Fate::kKeep;
      } else if (was != nullptr && was->listen() == service.config.listen() &&
                 was->reuse_port() == service.config.reuse_port() &&
                 was->ipv6_only() == service.config.ipv6_only()) {
        fates[name] = Fate::kSameSocket;
      } else {
        fates[name] = Fate::kNewSocket;
        ServiceSummary bound_summary;
        absl::StatusOr<UniqueFd> fd = BindService(service, bound_summary);
        if (!fd.ok()) {
          LogError(absl::StrCat("reload: ", fd.status().message()));
          reply(absl::StrCat("error: ", fd.status().message(), "\n"));
          return;
        }
        new_sockets[name] = {std::move(*fd), bound_summary};
      }
    }
    std::vector<WorkerPool> next_pools;
    std::vector<std::string> replace;
    std::map<std::string, Running> next_running;
    for (ServicePlan& service : next->services) {
      const std::string& name = service.config.name();
      if (fates[name] == Fate::kKeep) {
        next_pools.push_back(WorkerPool{.name = name});  // the supervisor keeps the old one
        next_running.emplace(name, std::move(running[name]));
        continue;
      }
      Running r{&service, UniqueFd(), UniqueFd(), {}};
      if (fates[name] == Fate::kSameSocket) {
        // Keep the listening socket: its queue is shared by old and new
        // workers, so no connection is refused while they change places.
        Running& old = running[name];
        r.listen = std::move(old.listen);
        service.address = old.plan->address;
        r.summary = old.summary;
        r.summary.count = static_cast<int>(service.config.count());
      } else {
        r.listen = std::move(new_sockets[name].first);
        r.summary = new_sockets[name].second;
      }
      if (service.config.has_access_log()) {
        absl::StatusOr<UniqueFd> log = OpenAppend(service.config.access_log());
        if (log.ok()) r.access_log = std::move(*log);
      }
      next_pools.push_back(make_pool(&service, r, next->stop_timeout_ms));
      replace.push_back(name);
      next_running.emplace(name, std::move(r));
    }
    plans.push_back(std::move(next));
    running = std::move(next_running);  // removed services' sockets close here
    summary.services.clear();
    for (const ServicePlan& service : plans.back()->services) {
      summary.services.push_back(running[service.config.name()].summary);
    }
    LogInfo(absl::StrCat("reload: replacing ", replace.size(), " of ",
                         plans.back()->services.size(), " services"));
    workers.Reload(std::move(next_pools), replace, graceful,
                   [reply](std::vector<std::string> errors) {
                     if (errors.empty()) {
                       reply("reloaded\n");
                       return;
                     }
                     std::string text = "error: reload incomplete:";
                     for (const std::string& e : errors) absl::StrAppend(&text, " ", e, ";");
                     LogError(text);
                     reply(text + "\n");
                   });
  };
  on_hup = [&] { reload(true, [](std::string) {}); };
  std::unique_ptr<ConfigWatcher> config_watcher;
  if (plan.resolved.global().watch_config()) {
    config_watcher = std::make_unique<ConfigWatcher>(**reactor, options.config_path, [&] {
      LogInfo("watch_config: the config file changed; reloading");
      reload(true, [](std::string) {});
    });
  }
  // SIGUSR1 (logrotate): open every log file anew, as root, keep our
  // descriptor numbers, and hand each worker the new files.
  on_usr1 = [&] {
    auto reopen = [](const std::string& path, int target) {
      absl::StatusOr<UniqueFd> fresh = OpenAppend(path);
      if (!fresh.ok()) {
        LogError(absl::StrCat("reopen: ", fresh.status().message()));
        return false;
      }
      return dup2(fresh->get(), target) >= 0;
    };
    bool log = log_fd.valid() && reopen(paths.log_file, log_fd.get());
    for (auto& [name, r] : running) {
      std::string line = "reopen";
      std::vector<int> fds;
      if (log) {
        line += " log";
        fds.push_back(log_fd.get());
      }
      if (r.access_log.valid() && reopen(r.plan->config.access_log(), r.access_log.get())) {
        line += " access";
        fds.push_back(r.access_log.get());
      }
      if (!fds.empty()) workers.SendToPool(name, line, fds);
    }
    LogInfo("reopened log files");
  };
  // systemd hears about reloads as they start and end.
  auto reload_and_notify = reload;
  reload = [&options, reload_and_notify](bool graceful, std::function<void(std::string)> reply) {
    SdNotify(options.notify_socket, "RELOADING=1");
    reload_and_notify(graceful, [&options, reply](std::string text) {
      SdNotify(options.notify_socket, "READY=1");
      reply(std::move(text));
    });
  };

  ControlServer control(**reactor, control_fd->get(),
                        [&](absl::string_view request, std::function<void(std::string)> reply) {
    if (request == "status" || request == "status --json") {
      bool json = request != "status";
      workers.Query("status", kQueryTimeoutMs, [&, json, reply](std::vector<WorkerReply> replies) {
        summary.now_wall_seconds = SystemClock().WallSeconds();
        summary.exits = workers.exit_counts();
        reply(RenderStatus(summary, replies, json));
      });
    } else if (request == "connections" || request == "connections --json") {
      bool json = request != "connections";
      workers.Query("connections", kQueryTimeoutMs,
                    [json, reply](std::vector<WorkerReply> replies) {
                      reply(RenderConnections(replies, json));
                    });
    } else if (request == "reload" || request == "reload -g") {
      // Old workers always finish what is in flight (SIGQUIT) once their
      // successor accepts; -g is accepted for Workerman's muscle memory.
      reload(true, reply);
    } else if (request == "stop") {
      reply("stopping\n");
      SdNotify(options.notify_socket, "STOPPING=1");
      workers.StopNow();
    } else if (request == "stop -g") {
      reply("stopping gracefully\n");
      SdNotify(options.notify_socket, "STOPPING=1");
      workers.StopGracefully();
    } else {
      reply(absl::StrCat("error: unknown request '", request, "'\n"));
    }
  });

  for (const ServiceSummary& s : summaries) {
    std::fprintf(options.out, "sockman: listen %s %s count=%d\n", s.name.c_str(),
                 s.listen.c_str(), s.count);
  }
  std::fprintf(options.out, "sockman: started pid=%d\n", static_cast<int>(getpid()));
  std::fflush(options.out);
  if (options.daemon) std::fclose(options.out);  // the starting command returns
  LogInfo(absl::StrCat("serving ", plan.services.size(), " services"));
  SdNotify(options.notify_socket, absl::StrCat("READY=1\nMAINPID=", getpid()));
  int status = workers.Run();
  SdNotify(options.notify_socket, "STOPPING=1");
  ::unlink(paths.control_socket.c_str());
  LogInfo("stopped");
  return status;
}

}  // namespace sockman
