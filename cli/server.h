// Running a plan: the master binds every listener, forks the workers through
// the Supervisor, prints where each service listens, and supervises until
// stopped. Each worker builds its own reactor, drops privileges and serves
// its service with the service's protocol and handler.
#ifndef SOCKMAN_CLI_SERVER_H_
#define SOCKMAN_CLI_SERVER_H_

#include <cstdio>

#include "absl/status/statusor.h"
#include "cli/plan.h"

namespace sockman {

// Runs in the foreground until SIGTERM/SIGINT/SIGQUIT. Once every worker is
// serving, writes one line per service to `out`:
//
//   sockman: listen NAME URI count=N
//
// followed by `sockman: started pid=PID`. URI carries the bound port (the
// real one when port 0 was asked). Returns the process exit status; errors
// before serving (bind, worker start-up) are returned as a status.
absl::StatusOr<int> RunServer(Plan& plan, FILE* out);

}  // namespace sockman

#endif  // SOCKMAN_CLI_SERVER_H_
