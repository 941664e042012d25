// Structural validation of a parsed config, the listen URI grammar, and the
// defaults. config/ names no protocol: what it must know of the protocol
// behind a listen scheme (does it run over UDP, which Service fields are its
// own) comes in a SchemeCatalog, which the CLI builds from the protocol
// registry and the protocols' bindings (protocols/binding.h). Checks that
// need the handler registry are done by the CLI.
//
//   SOCKMAN_RETURN_IF_ERROR(ValidateStructure(*file, catalog));
//   Config resolved = WithDefaults(file->config(), catalog, cpu_count);
#ifndef SOCKMAN_CONFIG_VALIDATE_H_
#define SOCKMAN_CONFIG_VALIDATE_H_

#include <cstdint>
#include <optional>
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
inline constexpr uint32_t kDefaultHandshakeTimeoutMs = 10'000;

// A config error in one field of a service: "FIELD: message".
struct FieldError {
  std::string field;    // "http.max_header_size"
  std::string message;  // "must be between 256 and 1048576"
};

// The Service field any protocol's binding may read (an Any of the
// binding's own message): protocols from modules have their options there.
inline constexpr char kProtocolOptionsField[] = "protocol_options";

// The Service fields that belong to one protocol (`http { }` and
// `access_log` to http://): their checks and defaults. Implemented by the
// protocol's binding.
class ProtocolFields {
 public:
  virtual ~ProtocolFields() = default;
  // The fields, by name; they apply to this protocol's services only.
  virtual std::vector<std::string> names() const = 0;
  // The first error in them on `service`, one of this protocol's services.
  virtual std::optional<FieldError> Check(const Service& service) const = 0;
  // Sets their defaults on one of this protocol's services.
  virtual void FillDefaults(Service& service) const {}
};

// What validation knows of the protocol behind one listen scheme.
struct SchemeInfo {
  std::string protocol;                    // the protocol's own scheme: "http" for https://
  bool tls = false;                        // the scheme means TLS (https://, wss://)
  bool stream = true;                      // runs over TCP and TLS
  bool datagrams = false;                  // runs over UDP (`transport: UDP`)
  bool pings = true;                       // false: a heartbeat may not push ping_data (HTTP)
  const ProtocolFields* fields = nullptr;  // null: no fields of its own
};

class SchemeCatalog {
 public:
  virtual ~SchemeCatalog() = default;
  // The scheme's protocol, or null for an unknown scheme.
  virtual const SchemeInfo* Find(absl::string_view scheme) const = 0;
  // Every scheme, in the order error messages list them.
  virtual std::vector<std::string> Schemes() const = 0;
};

// `scheme://host:port`. host: IPv4, [IPv6], or localhost; port: 0-65535.
struct ListenUri {
  std::string scheme;  // lower case, as written ("ws", "https")
  std::string host;    // numeric, without brackets ("::1"); localhost -> 127.0.0.1
  uint16_t port = 0;
  bool ipv6 = false;

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
// The name route `index` (0-based) of `service` has: its `name`, else
// SERVICE-N (N counts from 1).
std::string RouteName(const Service& service, int index);

// The framing declared in `config` under `scheme`'s name, or null.
const Framing* DeclaredFraming(const Config& config, absl::string_view scheme);
// The registered scheme a listen scheme stands for: itself, or "framing"
// for the name of a declared framing.
absl::string_view RegisteredScheme(const Config& config, absl::string_view scheme);
// `service` as its protocol sees it: with a declared framing's settings
// copied into `framing` when its scheme names one (else unchanged).
Service WithDeclaredFraming(const Config& config, const Service& service);

// Everything that can be checked from the config and the schemes' rules:
// names, listen URIs, counts, limits, the protocols' own fields. Returns the
// first error, located: "FILE:LINE:COL: service 'web': FIELD: message". An
// unknown scheme is left to the caller (which lists the known ones).
absl::Status ValidateStructure(const ConfigFile& file, const SchemeCatalog& schemes);

// A copy with every defaulted field set (count 0 -> `cpu_count`).
Config WithDefaults(const Config& config, const SchemeCatalog& schemes, int cpu_count);

}  // namespace sockman

#endif  // SOCKMAN_CONFIG_VALIDATE_H_
