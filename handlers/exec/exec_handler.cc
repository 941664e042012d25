// exec { command args env max_processes kill_grace_ms } (websocketd's model):
// every connection gets its own child process. Each message is written to
// the child's stdin as one line; each line the child writes to stdout is
// sent to the client as one message (tcp services: bytes both ways). The
// child's stderr goes to the log. The connection closes when the child's
// stdout closes; when the client leaves, the child's stdin is closed, and a
// child still running kill_grace_ms later gets SIGTERM, then SIGKILL after
// as long again. Children are reaped through pidfds: no zombies.
//
// Environment (besides `env` and PATH): REMOTE_ADDR, REMOTE_PORT,
// SERVER_NAME (the service), CLIENT_ID (the global client id, as the push
// API and webhooks see it), WORKER_ID, for WebSocket the upgrade's
// REQUEST_URI and HTTP_ORIGIN, and for a verified client certificate
// (mTLS) SSL_CLIENT_S_DN and SSL_CLIENT_FINGERPRINT.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "config/sockman.pb.h"
#include "engine/base/logging.h"
#include "engine/base/unique_fd.h"
#include "handlers/handler.h"
#include "handlers/messaging/hub.h"
#include "protocols/websocket/websocket.h"

extern char** environ;

namespace sockman {
namespace {

constexpr size_t kMaxPendingInput = 1 << 20;  // to the child's stdin, before pausing the client

struct ExecSettings {
  std::string command;
  std::vector<std::string> args;
  std::vector<std::string> env;
  size_t max_processes = 256;
  int64_t kill_grace_ms = 2000;
  bool raw = false;  // tcp: bytes, not lines
};

class ExecHandler;

// One connection's child: three pipes and a pidfd, each watched on the loop.
class Child {
 public:
  Child(ExecHandler& handler, Connection& client) : handler_(handler), client_(&client) {}
  ~Child();
  absl::Status Spawn(const ExecSettings& settings, const std::vector<std::string>& env);
  void Write(absl::string_view message);
  void ClientGone();
  bool finished() const { return pid_ == 0 && !stdout_.valid(); }

 private:
  class Pipe : public Reactor::Watcher {
   public:
    Pipe(Child& child, int which) : child_(child), which_(which) {}
    void OnEvents(uint32_t events) override { child_.OnPipe(which_, events); }

   private:
    Child& child_;
    int which_;
  };
  void OnPipe(int which, uint32_t events);
  void ReadStdout();
  void ReadStderr();
  void FlushStdin();
  void Reap();
  void CloseFd(UniqueFd& fd);

  ExecHandler& handler_;
  Connection* client_;  // null once the client left
  pid_t pid_ = 0;
  UniqueFd stdin_, stdout_, stderr_, pidfd_;
  Pipe stdin_watch_{*this, 0}, stdout_watch_{*this, 1}, stderr_watch_{*this, 2},
      pid_watch_{*this, 3};
  std::string pending_in_;
  std::string partial_out_;
  std::string partial_err_;
  TimerId kill_timer_ = kNoTimer;
};

class ExecHandler : public Handler {
 public:
  ExecHandler(const ExecSettings& settings, const WorkerContext& worker)
      : settings_(settings), worker_(worker), reactor_(worker.reactor) {}

  // Once the client can carry messages (WebSocket: after the upgrade).
  void OnOpen(Connection& connection) override { Start(connection); }
  void OnMessage(Connection& connection, absl::string_view message, MessageKind) override {
    auto it = children_.find(connection.id());
    if (it != children_.end()) it->second->Write(message);
  }
  void OnClose(Connection& connection) override {
    auto it = children_.find(connection.id());
    if (it == children_.end()) return;
    std::unique_ptr<Child> child = std::move(it->second);
    children_.erase(it);
    child->ClientGone();
    if (child->finished()) {
      reactor_.DeleteLater(std::move(child));
    } else {
      Child* raw = child.get();
      exiting_[raw] = std::move(child);  // until it is reaped
    }
  }

  void Finished(Child* child) {
    auto it = exiting_.find(child);
    if (it == exiting_.end()) return;
    reactor_.DeleteLater(std::move(it->second));
    exiting_.erase(it);
  }
  Reactor& reactor() { return reactor_; }
  const ExecSettings& settings() const { return settings_; }

 private:
  void Start(Connection& connection) {
    if (children_.size() + exiting_.size() >= settings_.max_processes) {
      LogWarning(absl::StrCat("exec: ", worker_.service, ": max_processes (",
                              settings_.max_processes, ") reached; closing a connection"));
      connection.Close();
      return;
    }
    std::vector<std::string> env = settings_.env;
    const SocketAddress& peer = connection.remote_address();
    env.push_back("REMOTE_ADDR=" + peer.Host());
    env.push_back(absl::StrCat("REMOTE_PORT=", peer.port()));
    env.push_back("SERVER_NAME=" + worker_.service);
    env.push_back("CLIENT_ID=" + Hub::GlobalClientId(worker_, connection));
    env.push_back(absl::StrCat("WORKER_ID=", worker_.worker_id));
    if (std::string subject, fingerprint; connection.client_certificate(subject, fingerprint)) {
      env.push_back("SSL_CLIENT_S_DN=" + subject);  // as nginx's $ssl_client_s_dn
      env.push_back("SSL_CLIENT_FINGERPRINT=" + fingerprint);
    }
    if (const HttpRequest* request = WebSocketHandshake(connection)) {
      env.push_back(absl::StrCat("REQUEST_URI=", request->target));
      env.push_back(absl::StrCat("HTTP_ORIGIN=", request->Header("Origin")));
    }
    if (const char* path = getenv("PATH")) env.push_back(absl::StrCat("PATH=", path));
    auto child = std::make_unique<Child>(*this, connection);
    if (absl::Status s = child->Spawn(settings_, env); !s.ok()) {
      LogError(absl::StrCat("exec: ", worker_.service, ": ", s.message()));
      connection.Close();
      return;
    }
    children_[connection.id()] = std::move(child);
  }

  const ExecSettings& settings_;
  WorkerContext worker_;
  Reactor& reactor_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Child>> children_;
  absl::flat_hash_map<Child*, std::unique_ptr<Child>> exiting_;
};

absl::Status Child::Spawn(const ExecSettings& settings, const std::vector<std::string>& env) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return absl::ErrnoToStatus(errno, "pipe");
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return absl::ErrnoToStatus(errno, "pipe");
  }
  UniqueFd child_in(in[0]), child_out(out[1]), child_err(err[1]);
  stdin_ = UniqueFd(in[1]);
  stdout_ = UniqueFd(out[0]);
  stderr_ = UniqueFd(err[0]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_in.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, child_out.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, child_err.get(), 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The worker blocks the signals it reads through signalfd: the child
  // starts with none blocked and default handlers.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv = {const_cast<char*>(settings.command.c_str())};
  for (const std::string& arg : settings.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc =
      posix_spawn(&pid, settings.command.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) return absl::ErrnoToStatus(rc, absl::StrCat("spawn ", settings.command));
  pid_ = pid;
  pidfd_ = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  Reactor& reactor = handler_.reactor();
  for (int fd : {stdin_.get(), stdout_.get(), stderr_.get()}) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  reactor.Watch(stdout_.get(), EPOLLIN, &stdout_watch_).IgnoreError();
  reactor.Watch(stderr_.get(), EPOLLIN, &stderr_watch_).IgnoreError();
  if (pidfd_.valid()) reactor.Watch(pidfd_.get(), EPOLLIN, &pid_watch_).IgnoreError();
  return absl::OkStatus();
}

Child::~Child() {
  Reactor& reactor = handler_.reactor();
  reactor.CancelTimer(kill_timer_);
  for (UniqueFd* fd : {&stdin_, &stdout_, &stderr_, &pidfd_}) {
    if (fd->valid()) reactor.Unwatch(fd->get());
  }
  if (pid_ > 0) {  // the worker is going away: do not leave it running
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Child::CloseFd(UniqueFd& fd) {
  if (!fd.valid()) return;
  handler_.reactor().Unwatch(fd.get());
  fd.reset();
}

void Child::Write(absl::string_view message) {
  if (!stdin_.valid()) return;
  pending_in_.append(message.data(), message.size());
  if (!handler_.settings().raw) pending_in_ += '\n';
  FlushStdin();
}

void Child::FlushStdin() {
  while (!pending_in_.empty() && stdin_.valid()) {
    ssize_t n = ::write(stdin_.get(), pending_in_.data(), pending_in_.size());
    if (n > 0) {
      pending_in_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // The child reads slower than the client writes: hold the client.
      handler_.reactor().Watch(stdin_.get(), EPOLLOUT, &stdin_watch_).IgnoreError();
      if (client_ != nullptr && pending_in_.size() >= kMaxPendingInput) client_->PauseRecv();
      return;
    }
    CloseFd(stdin_);  // the child closed its stdin
    pending_in_.clear();
    return;
  }
  if (stdin_.valid()) handler_.reactor().Unwatch(stdin_.get());
  if (client_ != nullptr) client_->ResumeRecv();
}

void Child::OnPipe(int which, uint32_t events) {
  if (which == 0) FlushStdin();
  if (which == 1) ReadStdout();
  if (which == 2) ReadStderr();
  if (which == 3) Reap();
}

void Child::ReadStdout() {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(stdout_.get(), buf, sizeof(buf));
    if (n > 0) {
      if (client_ == nullptr) continue;  // nobody to tell
      if (handler_.settings().raw) {
        client_->Send(absl::string_view(buf, static_cast<size_t>(n)));
        continue;
      }
      partial_out_.append(buf, static_cast<size_t>(n));
      size_t start = 0, newline;
      while ((newline = partial_out_.find('\n', start)) != std::string::npos) {
        client_->Send(absl::string_view(partial_out_).substr(start, newline - start));
        start = newline + 1;
      }
      partial_out_.erase(0, start);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    // EOF: the child is done talking; so is the connection.
    CloseFd(stdout_);
    if (client_ != nullptr) {
      if (!partial_out_.empty()) client_->Send(partial_out_);
      client_->Close();
    }
    if (finished()) handler_.Finished(this);
    return;
  }
}

void Child::ReadStderr() {
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(stderr_.get(), buf, sizeof(buf));
    if (n > 0) {
      partial_err_.append(buf, static_cast<size_t>(n));
      size_t newline;
      while ((newline = partial_err_.find('\n')) != std::string::npos) {
        LogWarning(absl::StrCat("exec[", pid_, "]: ", partial_err_.substr(0, newline)));
        partial_err_.erase(0, newline + 1);
      }
      if (partial_err_.size() > 4096) partial_err_.clear();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    CloseFd(stderr_);
    return;
  }
}

void Child::Reap() {
  if (pid_ <= 0) return;
  if (waitpid(pid_, nullptr, WNOHANG) != pid_) return;
  pid_ = 0;
  handler_.reactor().CancelTimer(kill_timer_);
  kill_timer_ = kNoTimer;
  CloseFd(pidfd_);
  CloseFd(stdin_);
  // Output the child wrote before exiting is still in the pipe: read it.
  if (stdout_.valid()) ReadStdout();
  if (stderr_.valid()) ReadStderr();
  if (finished()) handler_.Finished(this);
}

void Child::ClientGone() {
  client_ = nullptr;
  // End of input first: most programs finish on their own (and may still
  // say something on stderr). Then SIGTERM, then SIGKILL.
  CloseFd(stdin_);
  CloseFd(stdout_);
  if (pid_ <= 0) return;
  pid_t pid = pid_;
  int64_t grace = handler_.settings().kill_grace_ms;
  kill_timer_ = handler_.reactor().AddTimer(grace, [this, pid, grace] {
    kill_timer_ = kNoTimer;
    if (pid_ != pid) return;
    kill(pid, SIGTERM);
    kill_timer_ = handler_.reactor().AddTimer(grace, [this, pid] {
      kill_timer_ = kNoTimer;
      if (pid_ == pid) kill(pid, SIGKILL);
    });
  });
}

class ExecFactory : public HandlerFactory {
 public:
  explicit ExecFactory(ExecSettings settings) : settings_(std::move(settings)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<ExecHandler>(settings_, worker);
  }

 private:
  ExecSettings settings_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateExec(const ExecOptions& options,
                                                           const HandlerConfig& config) {
  const ProtocolTraits& traits = config.protocol.traits();
  if (traits.request_response || !traits.stream || config.datagrams) {
    return absl::InvalidArgumentError(
        "runs a process per connection: tcp, text, frame or websocket");
  }
  if (options.command().empty()) return absl::InvalidArgumentError("command is required");
  ExecSettings settings;
  settings.command = options.command()[0] == '/'
                         ? options.command()
                         : absl::StrCat(config.config_directory, "/", options.command());
  if (access(settings.command.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", settings.command, " is not an executable file"));
  }
  settings.args.assign(options.args().begin(), options.args().end());
  for (const std::string& e : options.env()) {
    if (e.find('=') == std::string::npos || e[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("env '", e, "' must be NAME=value"));
    }
    settings.env.push_back(e);
  }
  if (options.has_max_processes()) {
    if (options.max_processes() == 0)
      return absl::InvalidArgumentError("max_processes must be > 0");
    settings.max_processes = options.max_processes();
  }
  if (options.has_kill_grace_ms()) settings.kill_grace_ms = options.kill_grace_ms();
  settings.raw = !traits.message_boundaries;
  return std::make_unique<ExecFactory>(std::move(settings));
}

SOCKMAN_REGISTER_HANDLER("exec", CreateExec);

}  // namespace
}  // namespace sockman
