// Supervisor is the master side of the prefork model: it forks `count`
// workers per pool, waits until each reports that it is serving, restarts a
// worker that dies (same worker id, with backoff for a crash loop), and on
// SIGTERM/SIGINT/SIGQUIT stops every worker and returns.
// It never touches client traffic: listeners are bound by the caller before
// Start() and inherited by the workers.
//
//   WorkerPool pool{.name = "web", .count = 4, .run = [](int id, ReadySignal& ready) {
//     ...bind, build the loop...; ready.Ready(); loop.Run(); return 0; }};
//   SOCKMAN_ASSIGN_OR_RETURN(auto supervisor, Supervisor::Create(reactor, {pool}, {}));
//   SOCKMAN_RETURN_IF_ERROR(supervisor->Start());
//   return supervisor->Run();
#ifndef SOCKMAN_ENGINE_SUPERVISOR_H_
#define SOCKMAN_ENGINE_SUPERVISOR_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/channel.h"
#include "engine/reactor.h"

namespace sockman {

// Given to a worker so it can tell the master it is serving, or why it cannot.
class ReadySignal {
 public:
  explicit ReadySignal(int fd) : fd_(fd) {}
  void Ready();
  void Fail(absl::string_view message);

 private:
  int fd_;  // -1 when nobody waits (a restarted worker)
};

struct WorkerPool {
  std::string name;
  int count = 1;
  // Runs in the forked worker; returns its exit status. Must call
  // ready.Ready() once it serves, or ready.Fail(why) and return non-zero.
  // `channel_fd` is the worker's end of its Channel to the master
  // (engine/channel.h): the master sends queries (Supervisor::Query) and
  // notices; the worker answers each query with one kReply.
  std::function<int(int worker_id, ReadySignal& ready, int channel_fd)> run;
  // Descriptors this pool's workers keep. Descriptors listed by other pools
  // are closed in this pool's workers.
  std::vector<int> fds;
};

struct SupervisorOptions {
  int64_t stop_timeout_ms = 2000;    // TERM, then KILL after this long
  int64_t ready_timeout_ms = 30000;  // for the first start of every worker
  // Runs (once per loop pass at most) after workers were forked or reaped:
  // the owner tells the workers who their peers are (see SendToAll).
  std::function<void()> on_membership_change;
  // A request a worker made (a message other than kReply: kGatherMetrics);
  // the owner answers with SendToWorker.
  std::function<void(pid_t pid, ChannelMessage message)> on_worker_request;
};

struct WorkerInfo {
  std::string pool;
  int id = 0;
  pid_t pid = 0;  // 0 while waiting to be restarted
  int restarts = 0;
  int64_t started_ms = 0;  // Clock::NowMs() of the last fork
  bool draining = false;   // replaced or removed by a reload, finishing its connections
};

// One worker's answer to Supervisor::Query.
struct WorkerReply {
  WorkerInfo worker;
  bool answered = false;  // false: no answer in time (busy or dying)
  std::string reply;      // the worker's kReply payload
};

class Supervisor {
 public:
  // Blocks the signals it handles (call before creating other threads).
  // `on_reload` runs on SIGHUP (the owner re-reads its config and calls
  // Reload); may be empty.
  // `on_reopen` runs on SIGUSR1 (the owner reopens its log files).
  static absl::StatusOr<std::unique_ptr<Supervisor>> Create(Reactor& reactor,
                                                            std::vector<WorkerPool> pools,
                                                            SupervisorOptions options,
                                                            std::function<void()> on_reload = {},
                                                            std::function<void()> on_reopen = {});
  ~Supervisor();

  // Forks every worker and waits until all are serving. On failure, the
  // workers already started are stopped and the first worker's message is
  // returned ("worker web/0: bind 0.0.0.0:80: Permission denied").
  absl::Status Start();

  // Supervises until a stop signal, then stops the workers. Returns the exit
  // status for the master (0).
  int Run();

  std::vector<WorkerInfo> workers() const;
  // Old workers still finishing their connections after a reload.
  std::vector<WorkerInfo> draining_workers() const;

  // Sends the query `command` (kStatus, kConnections) to every live worker,
  // draining ones included (last, marked), and calls `done` with every
  // worker's reply once all answered or `timeout_ms` passed. Queries run one
  // at a time; later ones wait.
  void Query(ChannelCommand command, int64_t timeout_ms,
             std::function<void(std::vector<WorkerReply>)> done);

  // Sends a notice to every live worker of `pool` with `fds` attached; the
  // worker receives its own copies of the descriptors.
  void SendToPool(const std::string& pool, ChannelCommand command, absl::string_view payload,
                  const std::vector<int>& fds);
  // Sends a notice to every live worker of every pool.
  void SendToAll(ChannelCommand command, absl::string_view payload = {});
  // Sends a message to the live worker `pid`; false if there is none.
  bool SendToWorker(pid_t pid, ChannelCommand command, absl::string_view payload);

  // Graceful stop: workers get SIGQUIT (stop accepting, finish what is in
  // flight), then SIGKILL after stop_timeout_ms; Run() returns when all exited.
  void StopGracefully();
  // Fast stop, as on SIGTERM.
  void StopNow();

  // Zero-downtime change of the pools. Pools named in `replace` get new
  // workers one slot at a time: a new worker is started and, once it reports
  // ready, the old one is sent SIGQUIT (finish in-flight work, then exit; or
  // SIGTERM when `graceful` is false). Pools in `pools` but not running start;
  // running pools missing from `pools` stop; the rest keep their workers.
  // `done` runs when every replacement has settled, with the failures.
  void Reload(std::vector<WorkerPool> pools, std::vector<std::string> replace, bool graceful,
              std::function<void(std::vector<std::string> errors)> done);

  // How workers of each pool ended: pool -> ("exited with status 1" -> count).
  const std::map<std::string, std::map<std::string, int>>& exit_counts() const {
    return exit_counts_;
  }

 private:
  struct Slot {
    std::string pool;
    int id = 0;
    pid_t pid = 0;
    int restarts = 0;
    int crash_streak = 0;
    int64_t started_ms = 0;
    TimerId restart_timer = kNoTimer;
    std::unique_ptr<Channel> channel;
    bool replacing = false;  // a successor is starting
  };
  struct Spawned {
    pid_t pid = 0;
    std::unique_ptr<Channel> channel;
  };
  struct PendingQuery {
    std::vector<WorkerReply> replies;
    std::vector<pid_t> pids;  // who each reply is from (0: not asked)
    size_t waiting = 0;
    TimerId timer = kNoTimer;
    std::function<void(std::vector<WorkerReply>)> done;
  };
  struct QueuedQuery {
    ChannelCommand command;
    int64_t timeout_ms;
    std::function<void(std::vector<WorkerReply>)> done;
  };
  friend class ReadyWatcher;

  Supervisor(Reactor& reactor, std::vector<WorkerPool> pools, SupervisorOptions options);
  absl::StatusOr<Spawned> Spawn(Slot& slot, int ready_fd);
  absl::Status Adopt(Slot& slot, Spawned spawned);
  void OnSignal(int signo);
  void ReapChildren();
  void ScheduleRestart(Slot& slot, int status);
  void StopAll(int signo);
  void KillAll(int signo);
  // Sends `signo` to an old worker and stops counting it as its slot's.
  void Retire(const Slot& slot, std::unique_ptr<Channel> channel, int signo);
  void ReplaceNext();
  WorkerInfo InfoOf(const Slot& slot) const;
  const WorkerPool* PoolNamed(const std::string& name) const;
  // A message on the channel of worker `pid` (ignored once it is not its
  // slot's current worker).
  void OnChannelMessage(pid_t pid, ChannelMessage message);
  void MembershipChanged();
  void OnChannelClosed(pid_t pid);
  // The pending query stops waiting for `slot`'s answer.
  void ForgetInQuery(pid_t pid);
  void FinishQuery();

  Reactor& reactor_;
  std::vector<WorkerPool> pools_;
  SupervisorOptions options_;
  std::function<void()> on_reload_;
  std::function<void()> on_reopen_;
  std::unique_ptr<SignalSource> signals_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::map<pid_t, Slot*> slot_by_pid_;
  std::map<pid_t, std::string> retiring_;  // old workers finishing up: pid -> pool
  std::map<pid_t, WorkerInfo> draining_;   // those retired by a reload or stop, as they were
  // Old workers' channels (no longer read for replies), until they are reaped.
  std::map<pid_t, std::unique_ptr<Channel>> retired_channels_;
  bool stopping_ = false;
  bool starting_ = false;  // in Start(): a worker that dies is a start failure
  bool membership_pending_ = false;
  pid_t master_pid_;
  std::map<std::string, std::map<std::string, int>> exit_counts_;
  std::unique_ptr<PendingQuery> query_;  // one at a time; later ones queue
  std::vector<QueuedQuery> queued_;
  // Reload in progress.
  std::vector<Slot*> replace_queue_;
  bool replace_graceful_ = true;
  std::vector<std::string> reload_errors_;
  std::function<void(std::vector<std::string>)> reload_done_;
  std::unique_ptr<class ReadyWatcher> ready_watcher_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_SUPERVISOR_H_
