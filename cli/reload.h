// What a reload does to each service, decided from the running services and
// the newly loaded plan alone (a pure function: no sockets, no processes).
//
//   kKeep        unchanged (same config and same loaded files), or either
//                side says `reloadable: false`: its workers run on
//   kSameSocket  changed, same listen address and socket options: new
//                workers take over the running socket (no connection refused)
//   kNewSocket   new, or its address or socket options changed: bound anew
//
// Running services that the new plan does not name are removed.
#ifndef SOCKMAN_CLI_RELOAD_H_
#define SOCKMAN_CLI_RELOAD_H_

#include <map>
#include <string>
#include <vector>

#include "config/sockman.pb.h"

namespace sockman {

enum class ReloadFate { kKeep, kSameSocket, kNewSocket };

// One service as far as a reload cares: its resolved config and the digests
// of the files it loaded (TLS certificates and keys).
struct ServiceVersion {
  const Service* config = nullptr;
  std::string loaded_files;
};

struct ReloadPlan {
  std::map<std::string, ReloadFate> fates;  // every service of the new plan
  std::vector<std::string> removed;         // running, not in the new plan (sorted)
  // Changed, but `reloadable: false` (before or after): kept as they run
  // until a restart.
  std::vector<std::string> waiting_for_restart;
};

ReloadPlan PlanReload(const std::map<std::string, ServiceVersion>& running,
                      const std::vector<ServiceVersion>& next);

}  // namespace sockman

#endif  // SOCKMAN_CLI_RELOAD_H_
