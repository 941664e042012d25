// Running a plan: the master takes the pid file, binds every listener, opens
// the control socket, forks the workers through the Supervisor, prints where
// each service listens, and supervises until stopped. Each worker builds its
// own reactor, drops privileges and serves its service with the service's
// protocol and handler, answering the master's status queries.
#ifndef SOCKMAN_CLI_SERVER_H_
#define SOCKMAN_CLI_SERVER_H_

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "cli/plan.h"
#include "cli/runtime.h"

namespace sockman {

struct ServerOptions {
  // The config file (absolute) and what errors call it; reload re-reads it.
  std::string config_path;
  std::string config_name;
  int cpu_count = 1;
  RuntimePaths paths;
  std::string notify_socket;  // $NOTIFY_SOCKET: systemd Type=notify
  bool daemon = false;   // already detached: redirect stdio once serving
  FILE* out = stdout;    // where the startup lines go
  std::string version;
};

// Runs until stopped (signals, or `stop` on the control socket). SIGHUP or
// `reload` on the control socket re-reads the config: changed services get
// new workers one slot at a time, added ones start, removed ones stop. Once every
// worker is serving, writes one line per service to `out`:
//
//   sockman: listen NAME URI count=N
//
// followed by `sockman: started pid=PID`. URI carries the bound port (the
// real one when port 0 was asked). Returns the process exit status; errors
// before serving (already running, bind, worker start-up) come back as a
// status.
absl::StatusOr<int> RunServer(Plan& plan, const ServerOptions& options);

}  // namespace sockman

#endif  // SOCKMAN_CLI_SERVER_H_
