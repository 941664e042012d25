// NetworkList is a set of IP networks ("10.0.0.0/8", "::1", "fd00::/8"),
// as config names trusted proxies; Contains() answers whether an address is
// in one of them. An IPv4-mapped IPv6 address (::ffff:10.1.2.3, how a dual-
// stack listener sees IPv4 peers) counts as the IPv4 address it maps.
//
//   SOCKMAN_ASSIGN_OR_RETURN(NetworkList trusted,
//                            NetworkList::Parse({"10.0.0.0/8", "127.0.0.1"}));
//   if (trusted.Contains(peer)) ...
#ifndef SOCKMAN_ENGINE_NETWORKS_H_
#define SOCKMAN_ENGINE_NETWORKS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/socket_address.h"

namespace sockman {

class NetworkList {
 public:
  NetworkList() = default;

  // Each entry is an address ("192.0.2.1", "2001:db8::1") or a network in
  // CIDR form ("192.0.2.0/24", "2001:db8::/32"). Bits set past the prefix
  // are an error (as a typo "10.0.0.1/8" usually is). Errors name the entry.
  static absl::StatusOr<NetworkList> Parse(const std::vector<std::string>& entries);

  bool empty() const { return networks_.empty(); }
  bool Contains(const SocketAddress& address) const;

 private:
  struct Network {
    std::array<uint8_t, 16> bytes{};  // IPv4 as IPv4-mapped IPv6
    int prefix_bits = 0;              // of the 128
  };
  static bool Matches(const Network& network, const std::array<uint8_t, 16>& address);

  std::vector<Network> networks_;
};

// The address as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d);
// false for anything that is neither.
bool AddressBytes(const SocketAddress& address, std::array<uint8_t, 16>& bytes);

// A forwarded client address as proxies write it: "192.0.2.1",
// "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:8080"
// (no port: port 0). Anything else (a name, "unknown", an obfuscated
// identifier, stray bytes) is an error.
absl::StatusOr<SocketAddress> ParseForwardedAddress(absl::string_view text);

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_NETWORKS_H_
