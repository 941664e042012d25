// A `jwt { ... }` block (of a websocket:// service or a route) turned into a
// JwtGate, its key files read relative to the config file's directory.
#ifndef SOCKMAN_HANDLERS_POLICY_JWT_CONFIG_H_
#define SOCKMAN_HANDLERS_POLICY_JWT_CONFIG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/sockman.pb.h"
#include "protocols/http/jwt_gate.h"

namespace sockman {

// Errors name the field ("secret_file: /x: No such file").
absl::StatusOr<std::shared_ptr<const JwtGate>> JwtGateFromConfig(const Jwt& config,
                                                                 const std::string& directory);

// A WebSocket's offered subprotocols with the block's marker (its
// `subprotocol`) last, if it has one: the 101 names the marker.
void AddJwtSubprotocol(const Jwt& config, std::vector<std::string>& subprotocols);

// The digest of the key files a block reads, so that a reload notices when
// they change.
std::string JwtKeyFilesDigest(const Jwt& config, const std::string& directory);

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_POLICY_JWT_CONFIG_H_
