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
#include "handlers/handler.h"
#include "protocols/server.h"

namespace sockman {

// This worker's samples, labelled service="NAME",worker="ID".
std::string WorkerMetricSamples(Server& server, const Handler& handler,
                                const ProtocolMetrics& protocol, const std::string& service,
                                int worker_id);

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
