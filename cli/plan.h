// A Plan is the validated, immutable snapshot of a config that the master
// builds before anything is bound or forked: every service with its resolved
// defaults, listen address, protocol, credentials and handler factory.
// Checks that need the registries happen here; errors point into the file.
//
//   SOCKMAN_ASSIGN_OR_RETURN(auto file, ConfigFile::Load(path));
//   SOCKMAN_ASSIGN_OR_RETURN(Plan plan, BuildPlan(*file, CpuCount()));
#ifndef SOCKMAN_CLI_PLAN_H_
#define SOCKMAN_CLI_PLAN_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config_file.h"
#include "config/sockman.pb.h"
#include "config/validate.h"
#include "engine/credentials.h"
#include "engine/socket_address.h"
#include "handlers/handler.h"
#include "protocols/protocol.h"
#include "protocols/stream_server.h"

namespace sockman {

struct ServicePlan {
  Service config;  // defaults filled in
  ListenUri uri;
  SocketAddress address;
  const Protocol* protocol = nullptr;
  std::optional<Credentials> credentials;
  std::unique_ptr<HandlerFactory> handler;
  StreamServerOptions server;  // server.codec.options points into protocol_options
  // The codec's options, from the protocol's binding; null for its defaults.
  std::shared_ptr<const ProtocolOptions> protocol_options;
  // Digests of files the service loads at start (TLS certificates and
  // keys): `reload` replaces a service when these change, even if its
  // config did not.
  std::string loaded_files;
  // Copied from `global { cluster }` into every service.
  std::optional<ClusterOptions> cluster;
  // Every service of the config that is in a hub -> its hub (the same map
  // in every service of a plan).
  std::shared_ptr<const std::map<std::string, std::string>> hubs;
};

struct Plan {
  Config resolved;  // the whole config, defaults filled in
  std::vector<ServicePlan> services;
  int64_t stop_timeout_ms = 0;
};

// Validates `file` completely (structure, registries, users) and builds the
// plan. Errors: InvalidArgument "FILE:LINE:COL: service 'x': field: why".
absl::StatusOr<Plan> BuildPlan(const ConfigFile& file, int cpu_count);

}  // namespace sockman

#endif  // SOCKMAN_CLI_PLAN_H_
