#include "engine/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"

namespace sockman {
namespace {

constexpr int64_t kCrashWindowMs = 1000;      // dying sooner than this is a crash loop
constexpr int64_t kMaxBackoffMs = 10'000;

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("ended with wait status ", status);
}

}  // namespace

// The master's end of one worker's channel: reads reply lines.
class ChannelWatcher : public Reactor::Watcher {
 public:
  ChannelWatcher(Supervisor& supervisor, size_t slot, UniqueFd fd)
      : supervisor_(supervisor), slot_(slot), fd_(std::move(fd)) {
    watching_ = supervisor_.reactor_.Watch(fd_.get(), EPOLLIN, this).ok();
  }
  ~ChannelWatcher() override {
    if (watching_) supervisor_.reactor_.Unwatch(fd_.get());
  }
  int fd() const { return fd_.get(); }

  bool Send(absl::string_view line) {
    std::string framed = absl::StrCat(line, "\n");
    return ::send(fd_.get(), framed.data(), framed.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
           static_cast<ssize_t>(framed.size());
  }

  void OnEvents(uint32_t events) override {
    char chunk[16384];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), MSG_DONTWAIT);
      if (n > 0) {
        pending_.append(chunk, static_cast<size_t>(n));
        size_t newline;
        while ((newline = pending_.find('\n')) != std::string::npos) {
          std::string line = pending_.substr(0, newline);
          pending_.erase(0, newline + 1);
          supervisor_.OnChannelLine(slot_, std::move(line));
        }
        if (pending_.size() > (64u << 20)) pending_.clear();  // a runaway worker
        continue;
      }
      if (n < 0 && (errno == EINTR)) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (watching_) supervisor_.reactor_.Unwatch(fd_.get());
      watching_ = false;
      return;
    }
  }

 private:
  Supervisor& supervisor_;
  size_t slot_;
  UniqueFd fd_;
  std::string pending_;
  bool watching_ = false;
};

void ReadySignal::Ready() {
  if (fd_ < 0) return;
  ssize_t ignored = ::write(fd_, "R", 1);
  (void)ignored;
  ::close(fd_);
  fd_ = -1;
}

void ReadySignal::Fail(absl::string_view message) {
  if (fd_ < 0) {
    LogError(message);
    return;
  }
  std::string payload = absl::StrCat("E", message);
  ssize_t ignored = ::write(fd_, payload.data(), payload.size());
  (void)ignored;
  ::close(fd_);
  fd_ = -1;
}

absl::StatusOr<std::unique_ptr<Supervisor>> Supervisor::Create(Reactor& reactor,
                                                               std::vector<WorkerPool> pools,
                                                               SupervisorOptions options) {
  std::unique_ptr<Supervisor> supervisor(
      new Supervisor(reactor, std::move(pools), options));
  Supervisor* raw = supervisor.get();
  auto signals = SignalSource::Create(reactor, {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP},
                                      [raw](int signo) { raw->OnSignal(signo); });
  if (!signals.ok()) return signals.status();
  supervisor->signals_ = std::move(*signals);
  return supervisor;
}

Supervisor::Supervisor(Reactor& reactor, std::vector<WorkerPool> pools,
                       SupervisorOptions options)
    : reactor_(reactor), pools_(std::move(pools)), options_(options), master_pid_(getpid()) {
  for (size_t p = 0; p < pools_.size(); ++p) {
    for (int id = 0; id < pools_[p].count; ++id) {
      slots_.push_back(Slot{.pool = static_cast<int>(p), .id = id});
    }
  }
}

Supervisor::~Supervisor() {
  for (Slot& slot : slots_) reactor_.CancelTimer(slot.restart_timer);
  if (query_ != nullptr) reactor_.CancelTimer(query_->timer);
}

absl::StatusOr<pid_t> Supervisor::Fork(Slot& slot, int ready_fd) {
  const WorkerPool& pool = pools_[slot.pool];
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair");
  }
  size_t index = static_cast<size_t>(&slot - slots_.data());
  pid_t pid = fork();
  if (pid < 0) {
    ::close(channel[0]);
    ::close(channel[1]);
    return absl::ErrnoToStatus(errno, "fork");
  }
  if (pid > 0) {
    ::close(channel[1]);
    slot.pid = pid;
    slot.started_ms = reactor_.clock().NowMs();
    slot.channel = std::make_unique<ChannelWatcher>(*this, index, UniqueFd(channel[0]));
    slot_by_pid_[pid] = index;
    return pid;
  }
  ::close(channel[0]);
  for (const Slot& other : slots_) {
    if (other.channel) ::close(other.channel->fd());  // other workers' channels
  }

  // Worker. Die with the master; then restore default signal handling.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != master_pid_) _exit(1);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::set<int> keep(pool.fds.begin(), pool.fds.end());
  for (const WorkerPool& other : pools_) {
    for (int fd : other.fds) {
      if (!keep.contains(fd)) ::close(fd);
    }
  }
  SetLogRole(absl::StrCat("worker ", pool.name, "/", slot.id));
  ReadySignal ready(ready_fd);
  int status = pool.run(slot.id, ready, channel[1]);
  _exit(status);
}

absl::Status Supervisor::Start() {
  struct Pending {
    size_t slot;
    int fd;
    std::string reply;
  };
  std::vector<Pending> pending;
  absl::Status failure = absl::OkStatus();
  for (size_t i = 0; i < slots_.size() && failure.ok(); ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      failure = absl::ErrnoToStatus(errno, "pipe2");
      break;
    }
    absl::StatusOr<pid_t> pid = Fork(slots_[i], fds[1]);
    ::close(fds[1]);
    if (!pid.ok()) {
      ::close(fds[0]);
      failure = pid.status();
      break;
    }
    pending.push_back(Pending{i, fds[0], ""});
  }

  // Wait for every worker's "R" (ready) or "E<message>" (failed) or EOF (died).
  int64_t deadline = reactor_.clock().NowMs() + options_.ready_timeout_ms;
  size_t open = pending.size();
  while (open > 0 && failure.ok()) {
    std::vector<pollfd> polls;
    for (const Pending& p : pending) {
      if (p.fd >= 0) polls.push_back(pollfd{p.fd, POLLIN, 0});
    }
    int64_t left = deadline - reactor_.clock().NowMs();
    if (left <= 0) {
      failure = absl::DeadlineExceededError("workers did not become ready in time");
      break;
    }
    int n = poll(polls.data(), polls.size(), static_cast<int>(left));
    if (n < 0 && errno != EINTR) {
      failure = absl::ErrnoToStatus(errno, "poll");
      break;
    }
    for (Pending& p : pending) {
      if (p.fd < 0) continue;
      auto it = std::find_if(polls.begin(), polls.end(),
                             [&](const pollfd& q) { return q.fd == p.fd; });
      if (it == polls.end() || it->revents == 0) continue;
      char chunk[512];
      ssize_t got = ::read(p.fd, chunk, sizeof(chunk));
      if (got > 0) {
        p.reply.append(chunk, static_cast<size_t>(got));
        continue;
      }
      if (got < 0 && errno == EINTR) continue;
      ::close(p.fd);
      p.fd = -1;
      --open;
      const Slot& slot = slots_[p.slot];
      std::string who = absl::StrCat("worker ", pools_[slot.pool].name, "/", slot.id);
      if (p.reply.empty()) {
        failure = absl::InternalError(absl::StrCat(who, " exited before it was ready"));
      } else if (p.reply[0] == 'E') {
        failure = absl::UnavailableError(absl::StrCat(who, ": ", p.reply.substr(1)));
      }
    }
  }
  for (Pending& p : pending) {
    if (p.fd >= 0) ::close(p.fd);
  }
  if (!failure.ok()) {
    stopping_ = true;
    KillAll(SIGKILL);
    while (!slot_by_pid_.empty()) {
      pid_t pid = waitpid(-1, nullptr, 0);
      if (pid < 0 && errno != EINTR) break;
      if (pid > 0) slot_by_pid_.erase(pid);
    }
  }
  return failure;
}

int Supervisor::Run() {
  ReapChildren();  // anything that died between Start() and now
  if (!stopping_) reactor_.Run();
  return 0;
}

void Supervisor::OnSignal(int signo) {
  switch (signo) {
    case SIGCHLD:
      ReapChildren();
      break;
    case SIGTERM:
    case SIGINT:
      StopAll(signo);
      break;
    case SIGQUIT:
      StopGracefully();
      break;
    case SIGHUP:
      LogWarning("SIGHUP: reload is not supported yet; ignoring");
      break;
    default:
      break;
  }
}

void Supervisor::ReapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = slot_by_pid_.find(pid);
    if (it == slot_by_pid_.end()) continue;
    size_t slot_index = it->second;
    Slot& slot = slots_[slot_index];
    slot_by_pid_.erase(it);
    slot.pid = 0;
    // Its EOF may be pending in this very epoll batch: delete after the pass.
    if (slot.channel) reactor_.DeleteLater(std::move(slot.channel));
    OnChannelClosed(slot_index);
    const WorkerPool& pool = pools_[slot.pool];
    ++exit_counts_[pool.name][DescribeExit(status)];
    if (stopping_) continue;
    int64_t lived = reactor_.clock().NowMs() - slot.started_ms;
    slot.crash_streak = lived < kCrashWindowMs ? slot.crash_streak + 1 : 0;
    int64_t delay = 0;
    if (slot.crash_streak > 0) {
      delay = std::min<int64_t>(kMaxBackoffMs, int64_t{100} << std::min(slot.crash_streak, 10));
    }
    LogWarning(absl::StrCat("worker ", pool.name, "/", slot.id, " (pid ", pid, ") ",
                            DescribeExit(status), "; restarting in ", delay, "ms"));
    size_t index = static_cast<size_t>(&slot - slots_.data());
    slot.restart_timer = reactor_.AddTimer(delay, [this, index] {
      Slot& s = slots_[index];
      s.restart_timer = kNoTimer;
      if (stopping_) return;
      ++s.restarts;
      if (absl::StatusOr<pid_t> pid = Fork(s, -1); !pid.ok()) {
        LogError(absl::StrCat("restarting worker ", pools_[s.pool].name, "/", s.id, ": ",
                              pid.status().message()));
      }
    });
  }
  if (stopping_ && slot_by_pid_.empty()) reactor_.Stop();
}

void Supervisor::StopAll(int signo) {
  if (stopping_) {
    KillAll(SIGKILL);  // a second signal means now
    return;
  }
  LogInfo(absl::StrCat("signal ", signo, ": stopping ", slot_by_pid_.size(), " workers"));
  stopping_ = true;
  for (Slot& slot : slots_) {
    reactor_.CancelTimer(slot.restart_timer);
    slot.restart_timer = kNoTimer;
  }
  KillAll(SIGTERM);
  reactor_.AddTimer(options_.stop_timeout_ms, [this] { KillAll(SIGKILL); });
  if (slot_by_pid_.empty()) reactor_.Stop();
}

void Supervisor::StopGracefully() {
  if (stopping_) return;
  LogInfo(absl::StrCat("graceful stop of ", slot_by_pid_.size(), " workers"));
  stopping_ = true;
  for (Slot& slot : slots_) {
    reactor_.CancelTimer(slot.restart_timer);
    slot.restart_timer = kNoTimer;
  }
  KillAll(SIGQUIT);
  // Workers close what is left at stop_timeout_ms; this is the backstop.
  reactor_.AddTimer(options_.stop_timeout_ms + 1000, [this] { KillAll(SIGKILL); });
  if (slot_by_pid_.empty()) reactor_.Stop();
}

void Supervisor::StopNow() { StopAll(SIGTERM); }

WorkerInfo Supervisor::InfoOf(const Slot& slot) const {
  return WorkerInfo{pools_[slot.pool].name, slot.id, slot.pid, slot.restarts, slot.started_ms};
}

void Supervisor::Query(std::string request, int64_t timeout_ms,
                       std::function<void(std::vector<WorkerReply>)> done) {
  if (query_ != nullptr) {
    queued_.emplace_back(std::move(request), std::move(done));
    queued_timeouts_.push_back(timeout_ms);
    return;
  }
  query_ = std::make_unique<PendingQuery>();
  query_->done = std::move(done);
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    WorkerReply reply;
    reply.worker = InfoOf(slot);
    bool sent = slot.pid > 0 && slot.channel != nullptr && slot.channel->Send(request);
    query_->replies.push_back(std::move(reply));
    query_->slots.push_back(sent ? i : SIZE_MAX);
    if (sent) ++query_->waiting;
  }
  if (query_->waiting == 0) {
    FinishQuery();
    return;
  }
  query_->timer = reactor_.AddTimer(timeout_ms, [this] {
    query_->timer = kNoTimer;
    FinishQuery();
  });
}

void Supervisor::OnChannelLine(size_t slot, std::string line) {
  if (query_ == nullptr) return;  // a late answer to a query that timed out
  for (size_t i = 0; i < query_->slots.size(); ++i) {
    if (query_->slots[i] != slot || query_->replies[i].answered) continue;
    query_->replies[i].answered = true;
    query_->replies[i].reply = std::move(line);
    if (--query_->waiting == 0) FinishQuery();
    return;
  }
}

void Supervisor::OnChannelClosed(size_t slot) {
  if (query_ == nullptr) return;
  for (size_t i = 0; i < query_->slots.size(); ++i) {
    if (query_->slots[i] == slot && !query_->replies[i].answered) {
      query_->slots[i] = SIZE_MAX;
      if (--query_->waiting == 0) {
        FinishQuery();
        return;
      }
    }
  }
}

void Supervisor::FinishQuery() {
  std::unique_ptr<PendingQuery> query = std::move(query_);
  reactor_.CancelTimer(query->timer);
  query->done(std::move(query->replies));
  if (query_ == nullptr && !queued_.empty()) {
    auto [request, done] = std::move(queued_.front());
    int64_t timeout = queued_timeouts_.front();
    queued_.erase(queued_.begin());
    queued_timeouts_.erase(queued_timeouts_.begin());
    Query(std::move(request), timeout, std::move(done));
  }
}

void Supervisor::KillAll(int signo) {
  for (const auto& [pid, index] : slot_by_pid_) kill(pid, signo);
}

std::vector<WorkerInfo> Supervisor::workers() const {
  std::vector<WorkerInfo> result;
  for (const Slot& slot : slots_) result.push_back(InfoOf(slot));
  return result;
}

}  // namespace sockman
