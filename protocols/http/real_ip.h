// The real client address behind HTTP proxies, as nginx's real_ip module
// with real_ip_recursive finds it: believed only when the connection comes
// from a trusted proxy; in a list of hops, the rightmost address that is not
// itself a trusted proxy is the client (every address left of it could have
// been written by the client, so none is believed).
//
//   RealIpOptions options{.trusted = list, .header = RealIpOptions::kForwarded};
//   std::optional<SocketAddress> client = RealClientAddress(options, values);
#ifndef SOCKMAN_PROTOCOLS_HTTP_REAL_IP_H_
#define SOCKMAN_PROTOCOLS_HTTP_REAL_IP_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/networks.h"
#include "engine/socket_address.h"

namespace sockman {

struct RealIpOptions {
  enum Header { kXForwardedFor, kXRealIp, kForwarded };
  std::shared_ptr<const NetworkList> trusted;  // the proxies believed
  Header header = kXForwardedFor;

  // The header's field name ("X-Forwarded-For").
  absl::string_view header_name() const;
  // "X-Forwarded-For", "X-Real-IP" or "Forwarded" (any case); false for others.
  static bool ParseHeader(absl::string_view name, Header& header);
};

// The client named by the forwarding header's field `values` (every line of
// it, in order), for a request that came from a trusted proxy. Hops are read
// from the right: trusted proxies are skipped, the first other address is
// the client; if all are trusted, the leftmost. Reading stops at an entry
// that is not an IP address ("unknown", an obfuscated Forwarded node, a
// name), which keeps the hop right of it. nullopt: no header, or its last
// entry is not an address (the connection's own peer stands).
std::optional<SocketAddress> RealClientAddress(const RealIpOptions& options,
                                               absl::Span<const absl::string_view> values);

// The `for=` node of each element of a Forwarded field value (RFC 7239),
// unquoted, in order; an element without `for=` gives "". nullopt when the
// value does not parse.
std::optional<std::vector<std::string>> ForwardedForNodes(absl::string_view value);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_REAL_IP_H_
