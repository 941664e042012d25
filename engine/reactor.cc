#include "engine/reactor.h"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<Reactor>> Reactor::Create(Clock& clock) {
  UniqueFd fd(epoll_create1(EPOLL_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "epoll_create1");
  return std::unique_ptr<Reactor>(new Reactor(clock, std::move(fd)));
}

Reactor::Reactor(Clock& clock, UniqueFd epoll_fd)
    : clock_(clock), epoll_fd_(std::move(epoll_fd)), events_(256), now_ms_(clock.NowMs()) {}

Reactor::~Reactor() {
  deferred_.clear();
  graveyard_.clear();
}

absl::Status Reactor::Control(int op, int fd, uint32_t events, Watcher* watcher) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watcher;
  if (epoll_ctl(epoll_fd_.get(), op, fd, &ev) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat(op == EPOLL_CTL_ADD ? "epoll_ctl add fd " : "epoll_ctl mod fd ", fd));
  }
  return absl::OkStatus();
}

absl::Status Reactor::Watch(int fd, uint32_t events, Watcher* watcher) {
  return Control(EPOLL_CTL_ADD, fd, events, watcher);
}

absl::Status Reactor::Modify(int fd, uint32_t events, Watcher* watcher) {
  return Control(EPOLL_CTL_MOD, fd, events, watcher);
}

void Reactor::Unwatch(int fd) { epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

TimerId Reactor::AddTimer(int64_t delay_ms, std::function<void()> callback) {
  return timers_.Add(clock_.NowMs() + std::max<int64_t>(delay_ms, 0), 0, std::move(callback));
}

TimerId Reactor::AddRepeatingTimer(int64_t interval_ms, std::function<void()> callback) {
  interval_ms = std::max<int64_t>(interval_ms, 1);
  return timers_.Add(clock_.NowMs() + interval_ms, interval_ms, std::move(callback));
}

void Reactor::Defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

void Reactor::Run() {
  running_ = true;
  while (running_) RunOnce(-1);
}

void Reactor::RunOnce(int max_wait_ms) {
  int timeout = max_wait_ms;
  if (!deferred_.empty()) {
    timeout = 0;
  } else if (int64_t next = timers_.NextDeadline(); next >= 0) {
    int64_t until = std::max<int64_t>(next - clock_.NowMs(), 0);
    if (timeout < 0 || until < timeout)
      timeout = static_cast<int>(std::min<int64_t>(until, 1 << 30));
  }
  int n = epoll_wait(epoll_fd_.get(), events_.data(), static_cast<int>(events_.size()), timeout);
  now_ms_ = clock_.NowMs();
  for (int i = 0; i < n; ++i) {
    static_cast<Watcher*>(events_[i].data.ptr)->OnEvents(events_[i].events);
  }
  if (n == static_cast<int>(events_.size()) && events_.size() < 4096) {
    events_.resize(events_.size() * 2);
  }
  timers_.RunExpired(now_ms_);
  RunDeferred();
  // A task still queued may point at a dead object; keep the dead until the
  // queue is empty.
  if (deferred_.empty()) graveyard_.clear();
}

void Reactor::RunDeferred() {
  // Tasks may defer more tasks; those run in the same pass, bounded by rounds.
  for (int round = 0; round < 16 && !deferred_.empty(); ++round) {
    std::vector<std::function<void()>> tasks;
    tasks.swap(deferred_);
    for (auto& task : tasks) task();
  }
}

absl::StatusOr<std::unique_ptr<SignalSource>> SignalSource::Create(
    Reactor& reactor, const std::vector<int>& signals, std::function<void(int)> on_signal) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : signals) sigaddset(&mask, sig);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    return absl::ErrnoToStatus(errno, "sigprocmask");
  }
  UniqueFd fd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "signalfd");
  int raw = fd.get();
  std::unique_ptr<SignalSource> source(
      new SignalSource(reactor, std::move(fd), std::move(on_signal)));
  if (absl::Status s = reactor.Watch(raw, EPOLLIN, source.get()); !s.ok()) return s;
  return source;
}

SignalSource::~SignalSource() { reactor_.Unwatch(fd_.get()); }

void SignalSource::OnEvents(uint32_t events) {
  signalfd_siginfo info;
  while (::read(fd_.get(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    on_signal_(static_cast<int>(info.ssi_signo));
  }
}

}  // namespace sockman
