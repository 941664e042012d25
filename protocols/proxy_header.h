// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a load
// balancer sends before a connection's own bytes to say whom it carries.
// Parsing only: ParseProxyHeader looks at the first bytes of a connection
// and says whether a complete, valid header is there, how long it is, and
// the client's address in it.
//
//   ProxyHeader h = ParseProxyHeader(peeked);
//   if (h.status == ProxyHeader::kDone) { consume h.size bytes; peer = h.source; }
//
// v1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN ...\r\n",
// at most 107 bytes, every field checked (numeric addresses of the named
// family, ports 0-65535 without leading zeros). v2: the 12-byte signature,
// version 2, command LOCAL or PROXY, a family and transport, a length, the
// addresses, then TLVs, each of which must fit; a CRC32C TLV must match.
// LOCAL commands and UNKNOWN/UNSPEC/unix families carry no client address:
// the connection keeps its own peer.
#ifndef SOCKMAN_PROTOCOLS_PROXY_HEADER_H_
#define SOCKMAN_PROTOCOLS_PROXY_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "engine/socket_address.h"

namespace sockman {

struct ProxyHeader {
  enum Status { kNeedMore, kDone, kError };
  // The longest header accepted (v2 may announce up to 65551 bytes; TLVs
  // beyond this are refused rather than buffered).
  static constexpr size_t kMaxSize = 4096;
  // v1's limit, from the spec.
  static constexpr size_t kMaxV1Size = 107;

  Status status = kNeedMore;
  int version = 0;                      // 1 or 2, once known
  size_t size = 0;                      // kDone: the header's bytes
  std::optional<SocketAddress> source;  // kDone: the client, when the header names one
  const char* error = "";               // kError: why, for the log
};

// `bytes`: the first bytes of the connection (all that has arrived).
// kNeedMore while they are a prefix of a header that could still be valid.
// With `datagram` (a UDP service: `bytes` is a whole datagram), only a v2
// header for a DGRAM transport is valid (v1 carries TCP alone), and an
// incomplete one is an error.
ProxyHeader ParseProxyHeader(absl::string_view bytes, bool datagram = false);

// Whether `bytes` start a PROXY header (or could, given more): for refusing
// one from a peer that is not trusted to send it. kError: they cannot.
ProxyHeader::Status LooksLikeProxyHeader(absl::string_view bytes);

// CRC-32C (Castagnoli), as v2's PP2_TYPE_CRC32C checksum uses it.
uint32_t Crc32c(absl::string_view bytes, uint32_t crc = 0);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_PROXY_HEADER_H_
