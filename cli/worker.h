// One worker process of a service: its loop, its server (stream or UDP), its
// handler, its channel to the master and its share of the service's files.
// Built in the forked child by Worker::Create; Run() serves until a stop
// signal, or until a graceful drain (SIGQUIT: reload or `stop -g`) has no
// connections left or reaches stop_timeout_ms.
//
//   absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(service, id, fds, timeout);
//   if (!worker.ok()) { ready.Fail(worker.status().message()); return 1; }
//   ready.Ready();
//   return (*worker)->Run();
#ifndef SOCKMAN_CLI_WORKER_H_
#define SOCKMAN_CLI_WORKER_H_

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/plan.h"
#include "engine/base/unique_fd.h"
#include "engine/channel.h"
#include "engine/log_appender.h"
#include "engine/reactor.h"
#include "engine/worker_bus.h"
#include "handlers/handler.h"
#include "protocols/server.h"

namespace sockman {

// What a worker inherits from the master (descriptor numbers, -1 for none).
struct WorkerFds {
  int listen = -1;
  int access_log = -1;
  std::vector<int> route_logs;  // per route; -1: none
  int channel = -1;
};

class Worker {
 public:
  // Builds everything the worker serves with, raises its open-file limit,
  // drops to the service's user and starts the handler. Errors say which
  // step failed; the caller reports them as the worker's start failure.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(const ServicePlan& service, int worker_id,
                                                        const WorkerFds& fds,
                                                        int64_t stop_timeout_ms);
  ~Worker();

  // Serves until stopped; returns the process exit status.
  int Run();

 private:
  Worker(const ServicePlan& service, int worker_id, const WorkerFds& fds, int64_t stop_timeout_ms,
         std::unique_ptr<Reactor> reactor);
  absl::Status Start();
  // Stop accepting; exit once the last connection is gone or at the deadline.
  void Drain();
  void OnSignal(int signo);
  void OnChannelMessage(ChannelMessage message);
  // "reopen": the master's fresh log files take over our descriptors.
  void Reopen(const ChannelMessage& message);
  // A handler's scrape: the master gathers every process's samples.
  void GatherMetrics(std::function<void(std::string)> done);

  const ServicePlan& service_;
  const int worker_id_;
  const WorkerFds fds_;
  const int64_t stop_timeout_ms_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<WorkerBus> bus_;
  std::unique_ptr<SignalSource> signals_;
  UniqueFd own_listener_;  // reuse_port: this worker's socket in the group
  std::unique_ptr<LogAppender> access_log_;
  std::vector<std::unique_ptr<LogAppender>> route_logs_;  // per route; null: none
  std::unique_ptr<WorkerContext> context_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Channel> channel_;
  bool draining_ = false;
  ProtocolMetrics protocol_metrics_;  // the codecs' figures (CodecOptions::metrics)
  // Scrapes waiting for the master's answer, by request id.
  std::map<uint64_t, std::function<void(std::string)>> gathering_;
  uint64_t next_gather_ = 1;
};

}  // namespace sockman

#endif  // SOCKMAN_CLI_WORKER_H_
