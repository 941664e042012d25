// What a scrape of a `metrics {}` handler gathers (engine/metrics.h): each
// worker's samples, made when the master asks over its channel (a few
// microseconds of the worker's loop), and the master's own, with every
// process's memory, descriptors and CPU read from /proc by the master.
#ifndef SOCKMAN_CLI_METRICS_H_
#define SOCKMAN_CLI_METRICS_H_

#include <map>
#include <string>
#include <vector>

#include "engine/supervisor.h"
#include "engine/worker_bus.h"
#include "handlers/handler.h"
#include "protocols/protocol.h"
#include "protocols/server.h"

namespace sockman {

// What a worker's samples are made of.
struct WorkerMetricSources {
  Server& server;
  const Handler& handler;
  const Protocol& protocol;
  const ProtocolMetrics& protocol_metrics;  // its codecs' figures
  const WorkerBus* bus = nullptr;           // null: none
  const std::string& service;
  int worker_id = 0;
};

// This worker's samples, labelled service="NAME",worker="ID", with the
// figures of this process's hub if it has one.
std::string WorkerMetricSamples(const WorkerMetricSources& sources);

struct MasterMetrics {
  std::string version;
  std::vector<WorkerInfo> workers;
  std::map<std::string, std::map<std::string, int>> exits;  // service -> how -> count
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  int missing = 0;  // workers that did not answer the scrape in time
};

// The master's samples: build info, workers, restarts, exits, reloads, and
// process figures of the master (process="master") and of every worker
// (process="worker",service=...,worker=...).
std::string MasterMetricSamples(const MasterMetrics& master);

}  // namespace sockman

#endif  // SOCKMAN_CLI_METRICS_H_
