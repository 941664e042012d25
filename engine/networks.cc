#include "engine/networks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sockman {

bool AddressBytes(const SocketAddress& address, std::array<uint8_t, 16>& bytes) {
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
    bytes.fill(0);
    bytes[10] = bytes[11] = 0xff;
    std::memcpy(bytes.data() + 12, &v4->sin_addr, 4);
    return true;
  }
  if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr());
    std::memcpy(bytes.data(), &v6->sin6_addr, 16);
    return true;
  }
  return false;
}

absl::StatusOr<NetworkList> NetworkList::Parse(const std::vector<std::string>& entries) {
  NetworkList list;
  for (const std::string& entry : entries) {
    absl::string_view host = entry;
    int bits = -1;
    if (size_t slash = host.find('/'); slash != absl::string_view::npos) {
      absl::string_view digits = host.substr(slash + 1);
      if (digits.empty() || digits.size() > 3 ||
          !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(digits, &bits)) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", entry, "': the prefix length after / must be a number"));
      }
      host = host.substr(0, slash);
    }
    absl::StatusOr<SocketAddress> address = SocketAddress::Parse(host, 0);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", entry, "' is not an IP address or network (a.b.c.d/N, x::y/N)"));
    }
    Network network;
    AddressBytes(*address, network.bytes);
    int max_bits = address->is_ipv6() ? 128 : 32;
    if (bits > max_bits) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", entry, "': an ", address->is_ipv6() ? "IPv6" : "IPv4",
                       " prefix is at most /", max_bits));
    }
    if (bits < 0) bits = max_bits;
    network.prefix_bits = address->is_ipv6() ? bits : 96 + bits;
    // No host bits past the prefix.
    for (int bit = network.prefix_bits; bit < 128; ++bit) {
      if (network.bytes[bit / 8] & (0x80 >> (bit % 8))) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", entry, "' has address bits set past its /", bits,
                         " prefix (did you mean the network address?)"));
      }
    }
    list.networks_.push_back(network);
  }
  return list;
}

bool NetworkList::Matches(const Network& network, const std::array<uint8_t, 16>& address) {
  int full = network.prefix_bits / 8;
  if (std::memcmp(network.bytes.data(), address.data(), full) != 0) return false;
  int rest = network.prefix_bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (network.bytes[full] & mask) == (address[full] & mask);
}

bool NetworkList::Contains(const SocketAddress& address) const {
  std::array<uint8_t, 16> bytes;
  if (networks_.empty() || !AddressBytes(address, bytes)) return false;
  for (const Network& network : networks_) {
    if (Matches(network, bytes)) return true;
  }
  return false;
}

absl::StatusOr<SocketAddress> ParseForwardedAddress(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::CEscape(text.substr(0, 64)), "' is not an IP address"));
  };
  absl::string_view host = text;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return bad();
    host = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad();
      port = rest.substr(1);
      if (port.empty()) return bad();
    }
    if (host.find(':') == absl::string_view::npos) return bad();  // brackets are for IPv6
  } else if (size_t colon = text.find(':'); colon != absl::string_view::npos &&
                                            text.find(':', colon + 1) == absl::string_view::npos) {
    host = text.substr(0, colon);  // a.b.c.d:port
    port = text.substr(colon + 1);
    if (port.empty()) return bad();
  }
  uint32_t number = 0;
  if (!port.empty() && (port.size() > 5 ||
                        !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
                        !absl::SimpleAtoi(port, &number) || number > 65535)) {
    return bad();
  }
  if (host.empty() || host.size() > 45) return bad();
  absl::StatusOr<SocketAddress> address = SocketAddress::Parse(host, static_cast<uint16_t>(number));
  if (!address.ok()) return bad();
  return address;
}

}  // namespace sockman
