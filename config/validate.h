// Structural validation of a parsed config, the listen URI grammar, and the
// defaults. Checks that need the protocol and handler registries (is this
// scheme or handler built in?) are done by the CLI, which can see them.
//
//   SOCKMAN_RETURN_IF_ERROR(ValidateStructure(*file));
//   Config resolved = WithDefaults(file->config(), cpu_count);
#ifndef SOCKMAN_CONFIG_VALIDATE_H_
#define SOCKMAN_CONFIG_VALIDATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/config_file.h"
#include "config/sockman.pb.h"

namespace sockman {

inline constexpr uint64_t kDefaultMaxPackageSize = 10 * 1024 * 1024;
inline constexpr uint64_t kDefaultMaxSendBufferSize = 1024 * 1024;
inline constexpr uint64_t kMaxBufferLimit = uint64_t{1} << 30;  // 1 GiB
inline constexpr uint32_t kDefaultStopTimeoutMs = 2000;
inline constexpr uint32_t kMaxStopTimeoutMs = 3'600'000;
inline constexpr uint32_t kMaxWorkerCount = 1024;
inline constexpr uint64_t kMaxTimeoutMs = 86'400'000;  // one day
inline constexpr uint32_t kDefaultMaxHeaderSize = 16 * 1024;
inline constexpr uint32_t kDefaultHeaderTimeoutMs = 10'000;
inline constexpr uint32_t kDefaultHandshakeTimeoutMs = 10'000;

// The listen schemes of the DSL, in the order errors list them.
const std::vector<std::string>& DslSchemes();

// `scheme://host:port`. host: IPv4, [IPv6], or localhost; port: 0-65535.
struct ListenUri {
  std::string scheme;  // lower case, aliases kept ("ws")
  std::string host;    // numeric, without brackets ("::1"); localhost -> 127.0.0.1
  uint16_t port = 0;
  bool ipv6 = false;
  bool tls = false;    // https:// or wss:// (scheme is then "http" or "ws")

  std::string ToString() const;  // "text://[::1]:80"
};

// Errors: InvalidArgument with a message that quotes the bad part.
absl::StatusOr<ListenUri> ParseListenUri(absl::string_view uri);
// "redis://HOST:PORT" (host as in ParseListenUri), with a non-zero port.
absl::StatusOr<ListenUri> ParseRedisUri(absl::string_view uri);

// The name of the handler field set on `service` ("echo"), or "".
std::string HandlerName(const Service& service);
// The names of every handler field of the DSL, in declaration order.
std::vector<std::string> DslHandlerNames();

// Everything that can be checked from the config alone: names, listen URIs,
// counts, limits, fields whose feature is not built yet. Returns the first
// error, located: "FILE:LINE:COL: service 'web': FIELD: message".
absl::Status ValidateStructure(const ConfigFile& file);

// A copy with every defaulted field set (count 0 -> `cpu_count`).
Config WithDefaults(const Config& config, int cpu_count);

}  // namespace sockman

#endif  // SOCKMAN_CONFIG_VALIDATE_H_
