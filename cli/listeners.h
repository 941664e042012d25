// Binding a service's listening socket: by the master before fork (shared by
// every worker), again on reload when the address changed, and by each
// worker itself with reuse_port.
#ifndef SOCKMAN_CLI_LISTENERS_H_
#define SOCKMAN_CLI_LISTENERS_H_

#include "absl/status/statusor.h"
#include "cli/plan.h"
#include "cli/status.h"
#include "engine/base/unique_fd.h"
#include "engine/listener.h"

namespace sockman {

// True when the service runs over UDP.
bool IsUdp(const ServicePlan& service);

ListenOptions ListenOptionsFor(const ServicePlan& service);

// The master's socket for `service`: a listening TCP socket, a bound UDP
// socket, or with reuse_port a bound (not listening) TCP socket that holds
// the port for the workers' own. Records the bound address in the plan and
// returns the summary (listen URI with the real port when 0 was asked).
// Errors name the service.
struct BoundService {
  UniqueFd fd;
  ServiceSummary summary;
};
absl::StatusOr<BoundService> BindService(ServicePlan& service);

// A reuse_port worker's own socket in the port's group (TCP listening, or
// UDP bound).
absl::StatusOr<UniqueFd> BindWorkerSocket(const ServicePlan& service);

}  // namespace sockman

#endif  // SOCKMAN_CLI_LISTENERS_H_
