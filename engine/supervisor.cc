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
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/base/logging.h"
#include "engine/base/proctitle.h"

namespace sockman {
namespace {

constexpr int64_t kCrashWindowMs = 1000;  // dying sooner than this is a crash loop
constexpr int64_t kMaxBackoffMs = 10'000;

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("ended with wait status ", status);
}

// Why a worker that answered `reply` is not ready ("" when it is).
std::string ReadyFailure(const std::string& reply) {
  if (reply.empty()) return "exited before it was ready";
  if (reply[0] == 'R') return "";
  return reply.size() > 1 ? reply.substr(1) : "failed";
}

}  // namespace

// Waits (on the loop) for a starting worker's "ready" or failure message.
// `done` gets what the worker wrote: "R" (ready), "E<why>" (failed), or
// nothing (it died first); see ReadyFailure.
class ReadyWatcher : public Reactor::Watcher {
 public:
  static absl::StatusOr<std::unique_ptr<ReadyWatcher>> Create(
      Reactor& reactor, UniqueFd fd, std::function<void(std::string)> done) {
    std::unique_ptr<ReadyWatcher> watcher(
        new ReadyWatcher(reactor, std::move(fd), std::move(done)));
    if (absl::Status s = reactor.Watch(watcher->fd_.get(), EPOLLIN, watcher.get()); !s.ok()) {
      watcher->fd_.reset();
      return s;
    }
    return watcher;
  }
  ~ReadyWatcher() override {
    if (fd_.valid()) reactor_.Unwatch(fd_.get());
  }
  void OnEvents(uint32_t events) override {
    char chunk[512];
    ssize_t n = ::read(fd_.get(), chunk, sizeof(chunk));
    if (n > 0) {
      reply_.append(chunk, static_cast<size_t>(n));
      return;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    reactor_.Unwatch(fd_.get());
    fd_.reset();
    auto done = std::move(done_);
    done(reply_);
  }

 private:
  ReadyWatcher(Reactor& reactor, UniqueFd fd, std::function<void(std::string)> done)
      : reactor_(reactor), fd_(std::move(fd)), done_(std::move(done)) {}

  Reactor& reactor_;
  UniqueFd fd_;
  std::string reply_;
  std::function<void(std::string)> done_;
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
                                                               SupervisorOptions options,
                                                               std::function<void()> on_reload,
                                                               std::function<void()> on_reopen) {
  std::unique_ptr<Supervisor> supervisor(new Supervisor(reactor, std::move(pools), options));
  supervisor->on_reload_ = std::move(on_reload);
  supervisor->on_reopen_ = std::move(on_reopen);
  Supervisor* raw = supervisor.get();
  auto signals = SignalSource::Create(reactor, {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1},
                                      [raw](int signo) { raw->OnSignal(signo); });
  if (!signals.ok()) return signals.status();
  supervisor->signals_ = std::move(*signals);
  return supervisor;
}

Supervisor::Supervisor(Reactor& reactor, std::vector<WorkerPool> pools, SupervisorOptions options)
    : reactor_(reactor), pools_(std::move(pools)), options_(options), master_pid_(getpid()) {
  for (const WorkerPool& pool : pools_) {
    for (int id = 0; id < pool.count; ++id) {
      auto slot = std::make_unique<Slot>();
      slot->pool = pool.name;
      slot->id = id;
      slots_.push_back(std::move(slot));
    }
  }
}

Supervisor::~Supervisor() {
  for (auto& slot : slots_) reactor_.CancelTimer(slot->restart_timer);
  if (query_ != nullptr) reactor_.CancelTimer(query_->timer);
}

const WorkerPool* Supervisor::PoolNamed(const std::string& name) const {
  for (const WorkerPool& pool : pools_) {
    if (pool.name == name) return &pool;
  }
  return nullptr;
}

absl::StatusOr<Supervisor::Spawned> Supervisor::Spawn(Slot& slot, int ready_fd) {
  const WorkerPool* pool = PoolNamed(slot.pool);
  if (pool == nullptr) return absl::NotFoundError(absl::StrCat("no pool ", slot.pool));
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair");
  }
  pid_t pid = fork();
  if (pid < 0) {
    ::close(channel[0]);
    ::close(channel[1]);
    return absl::ErrnoToStatus(errno, "fork");
  }
  if (pid > 0) {
    ::close(channel[1]);
    Spawned spawned;
    spawned.pid = pid;
    auto created = Channel::Create(
        reactor_, UniqueFd(channel[0]),
        [this, pid](ChannelMessage message) { OnChannelMessage(pid, std::move(message)); },
        [this, pid] { OnChannelClosed(pid); });
    if (!created.ok()) {
      // The worker sees its channel closed; it is reaped like any other.
      LogError(absl::StrCat("worker ", slot.pool, "/", slot.id, ": ", created.status().message()));
    } else {
      spawned.channel = std::move(*created);
    }
    return spawned;
  }

  // Worker. Die with the master; then restore default signal handling.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != master_pid_) _exit(1);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_IGN);
  ::close(channel[0]);
  for (const auto& other : slots_) {
    if (other->channel) ::close(other->channel->fd());  // other workers' channels
  }
  for (const auto& [old_pid, old] : retired_channels_) ::close(old->fd());
  std::set<int> keep(pool->fds.begin(), pool->fds.end());
  for (const WorkerPool& other : pools_) {
    for (int fd : other.fds) {
      if (!keep.contains(fd)) ::close(fd);
    }
  }
  SetLogRole(absl::StrCat("worker ", pool->name, "/", slot.id));
  SetProcessTitle(absl::StrCat("sockman: worker ", pool->name, "/", slot.id));
  ReadySignal ready(ready_fd);
  int status = pool->run(slot.id, ready, channel[1]);
  _exit(status);
}

absl::Status Supervisor::Adopt(Slot& slot, Spawned spawned) {
  slot.pid = spawned.pid;
  slot.started_ms = reactor_.clock().NowMs();
  slot.channel = std::move(spawned.channel);
  slot_by_pid_[spawned.pid] = &slot;
  MembershipChanged();
  return absl::OkStatus();
}

void Supervisor::MembershipChanged() {
  if (!options_.on_membership_change || membership_pending_) return;
  membership_pending_ = true;
  reactor_.Defer([this] {
    membership_pending_ = false;
    if (!stopping_) options_.on_membership_change();
  });
}

bool Supervisor::SendToWorker(pid_t pid, ChannelCommand command, absl::string_view payload) {
  auto it = slot_by_pid_.find(pid);
  if (it == slot_by_pid_.end() || it->second->pid != pid || !it->second->channel) return false;
  return it->second->channel->Send(command, payload);
}

void Supervisor::SendToAll(ChannelCommand command, absl::string_view payload) {
  for (auto& slot : slots_) {
    if (slot->pid > 0 && slot->channel) slot->channel->Send(command, payload);
  }
}

absl::Status Supervisor::Start() {
  absl::Status failure = absl::OkStatus();
  size_t waiting = 0;
  std::vector<std::unique_ptr<ReadyWatcher>> watchers;
  starting_ = true;
  for (auto& slot : slots_) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      failure = absl::ErrnoToStatus(errno, "pipe2");
      break;
    }
    absl::StatusOr<Spawned> spawned = Spawn(*slot, fds[1]);
    ::close(fds[1]);
    if (!spawned.ok()) {
      ::close(fds[0]);
      failure = spawned.status();
      break;
    }
    Adopt(*slot, std::move(*spawned)).IgnoreError();
    // "R": ready; "E<message>": failed; nothing: died first.
    std::string who = absl::StrCat("worker ", slot->pool, "/", slot->id);
    auto watcher = ReadyWatcher::Create(
        reactor_, UniqueFd(fds[0]), [&failure, &waiting, who](std::string reply) {
          --waiting;
          std::string why = ReadyFailure(reply);
          if (!failure.ok() || why.empty()) return;
          failure = reply.empty() ? absl::InternalError(absl::StrCat(who, " ", why))
                                  : absl::UnavailableError(absl::StrCat(who, ": ", why));
        });
    if (!watcher.ok()) {
      failure = watcher.status();
      break;
    }
    ++waiting;
    watchers.push_back(std::move(*watcher));
  }

  // Wait on the loop (which also takes signals: a stop ends the wait).
  int64_t deadline = reactor_.clock().NowMs() + options_.ready_timeout_ms;
  while (waiting > 0 && failure.ok() && !stopping_) {
    int64_t left = deadline - reactor_.clock().NowMs();
    if (left <= 0) {
      failure = absl::DeadlineExceededError("workers did not become ready in time");
      break;
    }
    reactor_.RunOnce(static_cast<int>(std::min<int64_t>(left, 1000)));
  }
  watchers.clear();
  starting_ = false;
  if (failure.ok() && stopping_) failure = absl::CancelledError("stopped while starting");
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
    case SIGUSR1:
      if (on_reopen_) on_reopen_();
      break;
    case SIGHUP:
      if (on_reload_) {
        on_reload_();
      } else {
        LogWarning("SIGHUP: nothing to reload");
      }
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
    if (auto old = retiring_.find(pid); old != retiring_.end()) {
      ++exit_counts_[old->second][DescribeExit(status)];
      retiring_.erase(old);
      draining_.erase(pid);
      ForgetInQuery(pid);
      if (auto channel = retired_channels_.find(pid); channel != retired_channels_.end()) {
        reactor_.DeleteLater(std::move(channel->second));
        retired_channels_.erase(channel);
      }
      continue;
    }
    auto it = slot_by_pid_.find(pid);
    if (it == slot_by_pid_.end()) continue;  // a replacement that never got ready
    Slot& slot = *it->second;
    slot_by_pid_.erase(it);
    if (slot.pid != pid) {
      // A reload's successor that died before it was promoted; the slot's
      // worker is untouched and the ReadyWatcher reports the failure.
      ++exit_counts_[slot.pool][DescribeExit(status)];
      continue;
    }
    slot.pid = 0;
    // Its EOF may be pending in this very epoll batch: delete after the pass.
    if (slot.channel) reactor_.DeleteLater(std::move(slot.channel));
    ForgetInQuery(pid);
    MembershipChanged();
    ++exit_counts_[slot.pool][DescribeExit(status)];
    if (stopping_ || starting_ || PoolNamed(slot.pool) == nullptr) continue;
    if (slot.replacing) continue;  // its successor is starting and takes over
    ScheduleRestart(slot, status);
  }
  if (stopping_ && slot_by_pid_.empty() && retiring_.empty()) reactor_.Stop();
}

void Supervisor::ScheduleRestart(Slot& slot, int status) {
  int64_t lived = reactor_.clock().NowMs() - slot.started_ms;
  slot.crash_streak = lived < kCrashWindowMs ? slot.crash_streak + 1 : 0;
  int64_t delay = 0;
  if (slot.crash_streak > 1) {
    delay = std::min<int64_t>(kMaxBackoffMs, int64_t{100} << std::min(slot.crash_streak - 1, 10));
  }
  LogWarning(absl::StrCat("worker ", slot.pool, "/", slot.id, " ", DescribeExit(status),
                          "; restarting in ", delay, "ms"));
  Slot* target = &slot;
  slot.restart_timer = reactor_.AddTimer(delay, [this, target] {
    target->restart_timer = kNoTimer;
    if (stopping_ || target->pid != 0) return;
    ++target->restarts;
    absl::StatusOr<Spawned> spawned = Spawn(*target, -1);
    if (!spawned.ok()) {
      LogError(absl::StrCat("restarting worker ", target->pool, "/", target->id, ": ",
                            spawned.status().message()));
      return;
    }
    Adopt(*target, std::move(*spawned)).IgnoreError();
  });
}

void Supervisor::Retire(const Slot& slot, std::unique_ptr<Channel> channel, int signo) {
  pid_t pid = slot.pid;
  // Answers still pending from it are not waited for.
  OnChannelClosed(pid);
  slot_by_pid_.erase(pid);
  if (channel) retired_channels_[pid] = std::move(channel);
  retiring_[pid] = slot.pool;
  WorkerInfo info = InfoOf(slot);
  info.draining = true;
  draining_[pid] = info;
  kill(pid, signo);
  MembershipChanged();
}

void Supervisor::Reload(std::vector<WorkerPool> pools, std::vector<std::string> replace,
                        bool graceful, std::function<void(std::vector<std::string>)> done) {
  if (stopping_) {
    done({"stopping"});
    return;
  }
  if (reload_done_) {
    done({"a reload is already in progress"});
    return;
  }
  int signo = graceful ? SIGQUIT : SIGTERM;
  std::set<std::string> replacing(replace.begin(), replace.end());
  std::set<std::string> running;
  for (const WorkerPool& old : pools_) running.insert(old.name);
  // Pools kept as they are keep their old definition (and workers).
  for (WorkerPool& pool : pools) {
    if (!running.contains(pool.name) || replacing.contains(pool.name)) continue;
    for (WorkerPool& old : pools_) {
      if (old.name == pool.name) pool = std::move(old);
    }
  }
  pools_ = std::move(pools);

  // Retire the workers of removed pools and of slots past a pool's count.
  std::vector<std::unique_ptr<Slot>> kept;
  for (auto& slot : slots_) {
    const WorkerPool* pool = PoolNamed(slot->pool);
    if (pool != nullptr && slot->id < pool->count) {
      kept.push_back(std::move(slot));
      continue;
    }
    reactor_.CancelTimer(slot->restart_timer);
    if (slot->pid > 0) Retire(*slot, std::move(slot->channel), signo);
    reactor_.DeleteLater(std::move(slot));
  }
  slots_ = std::move(kept);

  // Every slot of a new or replaced pool gets a successor, one at a time.
  replace_queue_.clear();
  replace_graceful_ = graceful;
  reload_errors_.clear();
  for (const WorkerPool& pool : pools_) {
    if (running.contains(pool.name) && !replacing.contains(pool.name)) continue;
    std::vector<bool> have(static_cast<size_t>(pool.count), false);
    for (auto& slot : slots_) {
      if (slot->pool != pool.name) continue;
      have[static_cast<size_t>(slot->id)] = true;
      replace_queue_.push_back(slot.get());
    }
    for (int id = 0; id < pool.count; ++id) {
      if (have[static_cast<size_t>(id)]) continue;
      auto slot = std::make_unique<Slot>();
      slot->pool = pool.name;
      slot->id = id;
      replace_queue_.push_back(slot.get());
      slots_.push_back(std::move(slot));
    }
  }
  reload_done_ = std::move(done);
  ReplaceNext();
}

void Supervisor::ReplaceNext() {
  if (replace_queue_.empty() || stopping_) {
    auto done = std::move(reload_done_);
    reload_done_ = nullptr;
    if (done) done(std::move(reload_errors_));
    return;
  }
  Slot* slot = replace_queue_.front();
  replace_queue_.erase(replace_queue_.begin());
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    reload_errors_.push_back(absl::StrCat("pipe2: ", strerror(errno)));
    ReplaceNext();
    return;
  }
  slot->replacing = true;
  absl::StatusOr<Spawned> spawned = Spawn(*slot, fds[1]);
  ::close(fds[1]);
  if (!spawned.ok()) {
    ::close(fds[0]);
    slot->replacing = false;
    reload_errors_.push_back(
        absl::StrCat("worker ", slot->pool, "/", slot->id, ": ", spawned.status().message()));
    ReplaceNext();
    return;
  }
  pid_t new_pid = spawned->pid;
  auto successor = std::make_shared<Spawned>(std::move(*spawned));
  slot_by_pid_[new_pid] = slot;  // reaped as this slot's if it dies early
  auto watcher = ReadyWatcher::Create(
      reactor_, UniqueFd(fds[0]), [this, slot, new_pid, successor](std::string reply) {
        reactor_.DeleteLater(std::move(ready_watcher_));
        slot->replacing = false;
        bool alive = slot_by_pid_.contains(new_pid);
        std::string why = ReadyFailure(reply);
        if (!why.empty() || !alive) {
          reload_errors_.push_back(absl::StrCat("worker ", slot->pool, "/", slot->id, ": ",
                                                why.empty() ? "exited once ready" : why));
          if (alive) {
            slot_by_pid_.erase(new_pid);
            retiring_[new_pid] = slot->pool;
            kill(new_pid, SIGKILL);
          }
          if (slot->pid == 0 && !stopping_) ScheduleRestart(*slot, 0);
        } else {
          // The successor accepts; now the old worker stops accepting and
          // finishes what it has.
          if (slot->pid > 0 && slot->pid != new_pid) {
            Retire(*slot, std::move(slot->channel), replace_graceful_ ? SIGQUIT : SIGTERM);
          }
          Adopt(*slot, std::move(*successor)).IgnoreError();
          slot->crash_streak = 0;
        }
        ReplaceNext();
      });
  if (!watcher.ok()) {
    slot->replacing = false;
    slot_by_pid_.erase(new_pid);
    retiring_[new_pid] = slot->pool;
    kill(new_pid, SIGKILL);
    reload_errors_.push_back(
        absl::StrCat("worker ", slot->pool, "/", slot->id, ": ", watcher.status().message()));
    ReplaceNext();
    return;
  }
  ready_watcher_ = std::move(*watcher);
}

void Supervisor::StopAll(int signo) {
  if (stopping_) {
    KillAll(SIGKILL);  // a second signal means now
    return;
  }
  LogInfo(absl::StrCat("signal ", signo, ": stopping ", slot_by_pid_.size(), " workers"));
  stopping_ = true;
  for (auto& slot : slots_) {
    reactor_.CancelTimer(slot->restart_timer);
    slot->restart_timer = kNoTimer;
  }
  KillAll(SIGTERM);
  reactor_.AddTimer(options_.stop_timeout_ms, [this] { KillAll(SIGKILL); });
  if (slot_by_pid_.empty() && retiring_.empty()) reactor_.Stop();
}

void Supervisor::StopGracefully() {
  if (stopping_) return;
  LogInfo(absl::StrCat("graceful stop of ", slot_by_pid_.size(), " workers"));
  stopping_ = true;
  for (auto& slot : slots_) {
    reactor_.CancelTimer(slot->restart_timer);
    slot->restart_timer = kNoTimer;
  }
  KillAll(SIGQUIT);
  // Workers close what is left at stop_timeout_ms; this is the backstop.
  reactor_.AddTimer(options_.stop_timeout_ms + 1000, [this] { KillAll(SIGKILL); });
  if (slot_by_pid_.empty() && retiring_.empty()) reactor_.Stop();
}

void Supervisor::StopNow() { StopAll(SIGTERM); }

void Supervisor::SendToPool(const std::string& pool, ChannelCommand command,
                            absl::string_view payload, const std::vector<int>& fds) {
  for (auto& slot : slots_) {
    if (slot->pool == pool && slot->pid > 0 && slot->channel) {
      slot->channel->Send(command, payload, fds);
    }
  }
}

void Supervisor::KillAll(int signo) {
  for (const auto& [pid, slot] : slot_by_pid_) kill(pid, signo);
  for (const auto& [pid, pool] : retiring_) kill(pid, signo);
}

WorkerInfo Supervisor::InfoOf(const Slot& slot) const {
  return WorkerInfo{slot.pool, slot.id, slot.pid, slot.restarts, slot.started_ms};
}

std::vector<WorkerInfo> Supervisor::workers() const {
  std::vector<WorkerInfo> result;
  for (const auto& slot : slots_) result.push_back(InfoOf(*slot));
  return result;
}

std::vector<WorkerInfo> Supervisor::draining_workers() const {
  std::vector<WorkerInfo> result;
  for (const auto& [pid, info] : draining_) result.push_back(info);
  return result;
}

void Supervisor::Query(ChannelCommand command, int64_t timeout_ms,
                       std::function<void(std::vector<WorkerReply>)> done) {
  if (query_ != nullptr) {
    queued_.push_back(QueuedQuery{command, timeout_ms, std::move(done)});
    return;
  }
  query_ = std::make_unique<PendingQuery>();
  query_->done = std::move(done);
  for (auto& slot : slots_) {
    WorkerReply reply;
    reply.worker = InfoOf(*slot);
    bool sent = slot->pid > 0 && slot->channel != nullptr && slot->channel->Send(command);
    query_->replies.push_back(std::move(reply));
    query_->pids.push_back(sent ? slot->pid : 0);
    if (sent) ++query_->waiting;
  }
  for (const auto& [pid, info] : draining_) {
    auto channel = retired_channels_.find(pid);
    bool sent = channel != retired_channels_.end() && channel->second->Send(command);
    query_->replies.push_back(WorkerReply{info});
    query_->pids.push_back(sent ? pid : 0);
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

void Supervisor::OnChannelMessage(pid_t pid, ChannelMessage message) {
  if (message.command != ChannelCommand::kReply) {  // a worker asks something
    if (message.command == ChannelCommand::kGatherMetrics && options_.on_worker_request) {
      options_.on_worker_request(pid, std::move(message));
    }
    return;
  }
  // A reply from a worker no longer its slot's (a retired one) or to a
  // query that timed out is dropped.
  if (query_ == nullptr) return;
  auto it = slot_by_pid_.find(pid);
  bool current = it != slot_by_pid_.end() && it->second->pid == pid;
  if (!current && !draining_.contains(pid)) return;
  for (size_t i = 0; i < query_->pids.size(); ++i) {
    if (query_->pids[i] != pid || query_->replies[i].answered) continue;
    query_->replies[i].answered = true;
    query_->replies[i].reply = std::move(message.payload);
    if (--query_->waiting == 0) FinishQuery();
    return;
  }
}

void Supervisor::OnChannelClosed(pid_t pid) { ForgetInQuery(pid); }

void Supervisor::ForgetInQuery(pid_t pid) {
  if (query_ == nullptr || pid <= 0) return;
  for (size_t i = 0; i < query_->pids.size(); ++i) {
    if (query_->pids[i] == pid && !query_->replies[i].answered) {
      query_->pids[i] = 0;
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
    QueuedQuery next = std::move(queued_.front());
    queued_.erase(queued_.begin());
    Query(next.command, next.timeout_ms, std::move(next.done));
  }
}

}  // namespace sockman
