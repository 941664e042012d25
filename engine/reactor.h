// Reactor is one process's event loop: an edge-triggered epoll set, a timer
// queue, tasks deferred to the end of the current pass, and objects whose
// deletion is deferred so that nothing is destroyed inside its own callback.
// One Reactor per process; every method must be called on the loop's thread.
//
//   SOCKMAN_ASSIGN_OR_RETURN(auto reactor, Reactor::Create(SystemClock()));
//   reactor->AddTimer(1000, [] { ... });
//   reactor->Run();  // until Stop()
#ifndef SOCKMAN_ENGINE_REACTOR_H_
#define SOCKMAN_ENGINE_REACTOR_H_

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/base/clock.h"
#include "engine/base/unique_fd.h"
#include "engine/buffer.h"
#include "engine/timer_queue.h"

namespace sockman {

class Reactor {
 public:
  // Receives readiness events for one fd. `events` is an EPOLL* mask.
  class Watcher {
   public:
    virtual ~Watcher() = default;
    virtual void OnEvents(uint32_t events) = 0;
  };

  static absl::StatusOr<std::unique_ptr<Reactor>> Create(Clock& clock);
  ~Reactor();

  // Starts delivering `events` on `fd` to `watcher` (borrowed; it must stay
  // alive until Unwatch). Errors: the errno of epoll_ctl.
  absl::Status Watch(int fd, uint32_t events, Watcher* watcher);
  absl::Status Modify(int fd, uint32_t events, Watcher* watcher);
  void Unwatch(int fd);

  // Timers. Times are milliseconds; callbacks run on the loop.
  TimerId AddTimer(int64_t delay_ms, std::function<void()> callback);
  TimerId AddRepeatingTimer(int64_t interval_ms, std::function<void()> callback);
  bool CancelTimer(TimerId id) { return timers_.Cancel(id); }
  bool TimerPending(TimerId id) { return timers_.Pending(id); }
  size_t timer_count() const { return timers_.size(); }

  // Runs `task` after the current pass's events, before waiting again.
  void Defer(std::function<void()> task);

  // Destroys `object` after the current pass.
  template <typename T>
  void DeleteLater(std::unique_ptr<T> object) {
    graveyard_.emplace_back(object.release(), [](void* p) { delete static_cast<T*>(p); });
  }

  // Runs passes until Stop() is called.
  void Run();
  // Runs one pass, waiting at most `max_wait_ms` (-1: until an event or timer).
  void RunOnce(int max_wait_ms);
  void Stop() { running_ = false; }

  // "Now" as of the start of the current pass (one clock read per pass).
  int64_t NowMs() const { return now_ms_; }
  Clock& clock() { return clock_; }

  // A 64 KiB scratch buffer shared by every connection of this loop for reads:
  // an idle connection holds no receive buffer of its own.
  Buffer& shared_read_buffer() { return shared_read_buffer_; }

 private:
  Reactor(Clock& clock, UniqueFd epoll_fd);
  absl::Status Control(int op, int fd, uint32_t events, Watcher* watcher);
  void RunDeferred();

  Clock& clock_;
  UniqueFd epoll_fd_;
  TimerQueue timers_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::unique_ptr<void, void (*)(void*)>> graveyard_;
  std::vector<epoll_event> events_;
  Buffer shared_read_buffer_;
  int64_t now_ms_;
  bool running_ = false;
};

// SignalSource turns signals into reactor events with signalfd. Constructing
// it blocks the signals for the process; callbacks run on the loop.
class SignalSource : public Reactor::Watcher {
 public:
  static absl::StatusOr<std::unique_ptr<SignalSource>> Create(Reactor& reactor,
                                                              const std::vector<int>& signals,
                                                              std::function<void(int)> on_signal);
  ~SignalSource() override;
  void OnEvents(uint32_t events) override;

 private:
  SignalSource(Reactor& reactor, UniqueFd fd, std::function<void(int)> on_signal)
      : reactor_(reactor), fd_(std::move(fd)), on_signal_(std::move(on_signal)) {}
  Reactor& reactor_;
  UniqueFd fd_;
  std::function<void(int)> on_signal_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_REACTOR_H_
