#include "protocols/proxy_header.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace sockman {
namespace {

constexpr absl::string_view kV1Signature = "PROXY ";
constexpr char kV2SignatureBytes[] = "\r\n\r\n\0\r\nQUIT\n";
constexpr absl::string_view kV2Signature(kV2SignatureBytes, 12);
constexpr size_t kV2HeaderSize = 16;
constexpr uint8_t kTlvCrc32c = 0x03;

ProxyHeader Error(int version, const char* why) {
  ProxyHeader h;
  h.status = ProxyHeader::kError;
  h.version = version;
  h.error = why;
  return h;
}

// A v1 port: 0-65535 in decimal, no leading zeros, no sign.
bool ParsePort(absl::string_view text, uint16_t& port) {
  uint32_t value;
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0') ||
      !std::all_of(text.begin(), text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(text, &value) || value > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

ProxyHeader ParseV1(absl::string_view bytes) {
  // Fail at the first byte a v1 line cannot hold, not only at its end.
  size_t end = absl::string_view::npos;
  for (size_t i = 0; i < bytes.size() && i < ProxyHeader::kMaxV1Size; ++i) {
    char c = bytes[i];
    if (c == '\r') {
      if (i + 2 > ProxyHeader::kMaxV1Size) break;  // no room for the LF
      if (i + 1 == bytes.size()) break;            // the LF may follow
      if (bytes[i + 1] != '\n') return Error(1, "PROXY v1: CR without LF");
      end = i;
      break;
    }
    if (c < 0x20 || c > 0x7e) return Error(1, "PROXY v1: a byte that is not printable ASCII");
  }
  if (end == absl::string_view::npos) {
    if (bytes.size() >= ProxyHeader::kMaxV1Size) {
      return Error(1, "PROXY v1: no CRLF within 107 bytes");
    }
    ProxyHeader more;
    more.version = 1;
    return more;
  }
  absl::string_view line = bytes.substr(0, end);
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
  ProxyHeader h;
  h.version = 1;
  h.size = end + 2;
  if (fields.size() >= 2 && fields[1] == "UNKNOWN") {
    h.status = ProxyHeader::kDone;  // the rest of the line is ignored (spec 2.1)
    return h;
  }
  if (fields.size() != 6) return Error(1, "PROXY v1: not PROXY TCP4|TCP6 SRC DST SPORT DPORT");
  int family;
  if (fields[1] == "TCP4") {
    family = AF_INET;
  } else if (fields[1] == "TCP6") {
    family = AF_INET6;
  } else {
    return Error(1, "PROXY v1: the protocol is not TCP4, TCP6 or UNKNOWN");
  }
  std::array<uint8_t, 16> scratch;
  for (int i : {2, 3}) {
    if (fields[i].empty() || fields[i].size() > 45) return Error(1, "PROXY v1: bad address");
    std::string text(fields[i]);
    if (inet_pton(family, text.c_str(), scratch.data()) != 1) {
      return Error(1, "PROXY v1: an address that is not of the protocol's family");
    }
  }
  uint16_t source_port, destination_port;
  if (!ParsePort(fields[4], source_port) || !ParsePort(fields[5], destination_port)) {
    return Error(1, "PROXY v1: bad port");
  }
  absl::StatusOr<SocketAddress> source = SocketAddress::Parse(fields[2], source_port);
  if (!source.ok()) return Error(1, "PROXY v1: bad address");
  h.status = ProxyHeader::kDone;
  h.source = *source;
  return h;
}

ProxyHeader ParseV2(absl::string_view bytes, bool datagram) {
  ProxyHeader more;
  more.version = 2;
  if (bytes.size() < kV2HeaderSize) {
    // Judge what has arrived of the fixed part.
    if (bytes.size() > 12 && (static_cast<uint8_t>(bytes[12]) >> 4) != 2) {
      return Error(2, "PROXY v2: version is not 2");
    }
    return more;
  }
  uint8_t version_command = static_cast<uint8_t>(bytes[12]);
  uint8_t family_transport = static_cast<uint8_t>(bytes[13]);
  size_t length = (static_cast<uint8_t>(bytes[14]) << 8) | static_cast<uint8_t>(bytes[15]);
  if ((version_command >> 4) != 2) return Error(2, "PROXY v2: version is not 2");
  int command = version_command & 0x0f;
  if (command > 1) return Error(2, "PROXY v2: command is not LOCAL or PROXY");
  int family = family_transport >> 4;
  int transport = family_transport & 0x0f;
  if (family > 3 || transport > 2) return Error(2, "PROXY v2: unknown family or transport");
  if (kV2HeaderSize + length > ProxyHeader::kMaxSize) {
    return Error(2, "PROXY v2: header longer than 4096 bytes");
  }
  size_t address_size = family == 1 ? 12 : family == 2 ? 36 : family == 3 ? 216 : 0;
  if (length < address_size) return Error(2, "PROXY v2: addresses longer than the header");
  if (bytes.size() < kV2HeaderSize + length) return more;

  absl::string_view header = bytes.substr(0, kV2HeaderSize + length);
  absl::string_view tlvs = header.substr(kV2HeaderSize + address_size);
  size_t crc_at = 0;  // offset of a CRC32C TLV's value in the header
  while (!tlvs.empty()) {
    if (tlvs.size() < 3) return Error(2, "PROXY v2: truncated TLV");
    size_t tlv_length = (static_cast<uint8_t>(tlvs[1]) << 8) | static_cast<uint8_t>(tlvs[2]);
    if (tlvs.size() < 3 + tlv_length) return Error(2, "PROXY v2: a TLV longer than the header");
    if (static_cast<uint8_t>(tlvs[0]) == kTlvCrc32c) {
      if (tlv_length != 4 || crc_at != 0) return Error(2, "PROXY v2: bad CRC32C TLV");
      crc_at = static_cast<size_t>(tlvs.data() + 3 - header.data());
    }
    tlvs.remove_prefix(3 + tlv_length);
  }
  if (crc_at != 0) {
    std::string zeroed(header);
    uint32_t sent = (static_cast<uint32_t>(static_cast<uint8_t>(zeroed[crc_at])) << 24) |
                    (static_cast<uint32_t>(static_cast<uint8_t>(zeroed[crc_at + 1])) << 16) |
                    (static_cast<uint32_t>(static_cast<uint8_t>(zeroed[crc_at + 2])) << 8) |
                    static_cast<uint32_t>(static_cast<uint8_t>(zeroed[crc_at + 3]));
    std::memset(zeroed.data() + crc_at, 0, 4);
    if (Crc32c(zeroed) != sent) return Error(2, "PROXY v2: CRC32C mismatch");
  }

  ProxyHeader h;
  h.status = ProxyHeader::kDone;
  h.version = 2;
  h.size = header.size();
  if (command == 0) return h;  // LOCAL: the proxy's own connection (health checks)
  if (family == 1 || family == 2) {
    if (!datagram && transport != 1) return Error(2, "PROXY v2: not a stream (TCP) connection");
    if (datagram && transport != 2) return Error(2, "PROXY v2: not a datagram (UDP) header");
    const char* a = header.data() + kV2HeaderSize;
    sockaddr_storage storage{};
    socklen_t size;
    if (family == 1) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
      v4->sin_family = AF_INET;
      std::memcpy(&v4->sin_addr, a, 4);
      std::memcpy(&v4->sin_port, a + 8, 2);  // network order, as sockaddr wants
      size = sizeof(sockaddr_in);
    } else {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
      v6->sin6_family = AF_INET6;
      std::memcpy(&v6->sin6_addr, a, 16);
      std::memcpy(&v6->sin6_port, a + 32, 2);
      size = sizeof(sockaddr_in6);
    }
    h.source = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&storage), size);
  }
  return h;  // UNSPEC and unix sources: no address to use
}

}  // namespace

ProxyHeader::Status LooksLikeProxyHeader(absl::string_view bytes) {
  for (absl::string_view signature : {kV1Signature, kV2Signature}) {
    if (absl::StartsWith(bytes, signature)) return ProxyHeader::kDone;
    if (bytes.size() < signature.size() && absl::StartsWith(signature, bytes)) {
      return ProxyHeader::kNeedMore;
    }
  }
  return ProxyHeader::kError;
}

ProxyHeader ParseProxyHeader(absl::string_view bytes, bool datagram) {
  if (datagram) {
    if (absl::StartsWith(bytes, kV1Signature)) {
      return Error(1, "PROXY v1 header on a datagram (v1 is for TCP; send v2)");
    }
    if (!absl::StartsWith(bytes, kV2Signature)) {
      return Error(0, "no PROXY v2 header where one is required");
    }
    ProxyHeader h = ParseV2(bytes, true);
    if (h.status == ProxyHeader::kNeedMore)
      return Error(2, "PROXY v2: datagram shorter than its header");
    return h;
  }
  if (absl::StartsWith(bytes, kV1Signature)) return ParseV1(bytes);
  if (absl::StartsWith(bytes, kV2Signature)) return ParseV2(bytes, false);
  if (LooksLikeProxyHeader(bytes) == ProxyHeader::kNeedMore) return ProxyHeader{};
  return Error(0, "no PROXY header (v1 or v2) where one is required");
}

uint32_t Crc32c(absl::string_view bytes, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  crc = ~crc;
  for (char ch : bytes) crc = kTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace sockman
