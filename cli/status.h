// What `sockman status` and `sockman connections` show: each worker reports
// its figures as one line of space-separated key=value fields over its
// channel; the master adds its own and renders a table or JSON.
#ifndef SOCKMAN_CLI_STATUS_H_
#define SOCKMAN_CLI_STATUS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/reactor.h"
#include "engine/supervisor.h"
#include "handlers/handler.h"
#include "protocols/stream_server.h"

namespace sockman {

// Worker side: "connections=2 requests=10 send_failures=0 ...", with
// routes "routes=api:12,www:40" (route names need no escaping), with HTTP
// proxy upstreams "upstreams=URL|up|REQUESTS|FAILURES|CONNECTIONS,..." (URLs
// hold none of " ,|").
std::string WorkerStatusLine(
    const Server& server, const Reactor& reactor, uint64_t backend_errors = 0,
    const std::vector<std::pair<std::string, uint64_t>>& route_requests = {},
    const std::vector<UpstreamStatus>& upstreams = {});
// Worker side: one record per open connection, records separated by ";".
// With a handler that gives clients ids, each record adds client_id, uid
// and groups (percent-encoded: no space, ";", "=", "," or "%" inside).
std::string WorkerConnectionsLine(Server& server, const Reactor& reactor,
                                  const std::string& service, const Handler* handler = nullptr);

struct ServiceSummary {
  std::string name;
  std::string listen;  // with the bound port
  int count = 0;
};

struct MasterSummary {
  std::string version;
  int pid = 0;
  int64_t start_wall_seconds = 0;
  int64_t now_wall_seconds = 0;
  int64_t now_ms = 0;  // Clock::NowMs() at the same moment (WorkerInfo::started_ms's clock)
  std::vector<ServiceSummary> services;
  std::map<std::string, std::map<std::string, int>> exits;  // service -> how -> count
};

std::string RenderStatus(const MasterSummary& master, const std::vector<WorkerReply>& workers,
                         bool json);
std::string RenderConnections(const std::vector<WorkerReply>& workers, bool json);

// Parses "a=1 b=x" into a map (exposed for tests).
std::map<std::string, std::string> ParseFields(absl::string_view line);

}  // namespace sockman

#endif  // SOCKMAN_CLI_STATUS_H_
