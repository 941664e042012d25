#include "protocols/proxy_header.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: command, family/transport, the address block and TLVs.
std::string V2(uint8_t command, uint8_t family, const std::string& rest) {
  std::string h = kV2Signature;
  h.push_back(static_cast<char>(0x20 | command));
  h.push_back(static_cast<char>(family));
  h.push_back(static_cast<char>(rest.size() >> 8));
  h.push_back(static_cast<char>(rest.size() & 0xff));
  return h + rest;
}

std::string V4Block() {  // 192.0.2.1:51000 -> 198.51.100.2:443
  return std::string("\xc0\x00\x02\x01\xc6\x33\x64\x02\xc7\x38\x01\xbb", 12);
}

std::string V6Block() {  // [2001:db8::1]:4711 -> [2001:db8::2]:443
  std::string a(16, '\0'), b(16, '\0');
  a[0] = b[0] = 0x20;
  a[1] = b[1] = 0x01;
  a[2] = b[2] = 0x0d;
  a[3] = b[3] = static_cast<char>(0xb8);
  a[15] = 1;
  b[15] = 2;
  return a + b + std::string("\x12\x67\x01\xbb", 4);
}

// The header parsed whole; then every prefix must be kNeedMore (or the same
// error), and data after it must not change the answer.
ProxyHeader Parse(const std::string& header) {
  ProxyHeader whole = ParseProxyHeader(header);
  ProxyHeader followed = ParseProxyHeader(header + "GET / HTTP/1.1\r\n");
  EXPECT_EQ(followed.status, whole.status) << header;
  EXPECT_EQ(followed.size, whole.size) << header;
  for (size_t n = 0; n < header.size(); ++n) {
    ProxyHeader part = ParseProxyHeader(header.substr(0, n));
    if (whole.status == ProxyHeader::kDone) {
      EXPECT_EQ(part.status, ProxyHeader::kNeedMore) << n << " of " << header;
    } else if (part.status == ProxyHeader::kError) {
      EXPECT_STREQ(part.error, whole.error) << n << " of " << header;
    }
  }
  return whole;
}

TEST(ProxyHeaderTest, Version1) {
  ProxyHeader h = Parse("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n");
  ASSERT_EQ(h.status, ProxyHeader::kDone) << h.error;
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.size, 45u);
  EXPECT_EQ(h.source->ToString(), "192.0.2.1:51000");
  h = Parse("PROXY TCP6 2001:db8::1 2001:db8::2 4711 443\r\n");
  ASSERT_EQ(h.status, ProxyHeader::kDone) << h.error;
  EXPECT_EQ(h.source->ToString(), "[2001:db8::1]:4711");
  h = Parse("PROXY UNKNOWN\r\n");
  ASSERT_EQ(h.status, ProxyHeader::kDone);
  EXPECT_FALSE(h.source.has_value());
  h = Parse("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n");
  ASSERT_EQ(h.status, ProxyHeader::kDone);
  EXPECT_FALSE(h.source.has_value());
  // The longest line the spec allows (107 bytes with CRLF).
  std::string longest = absl::StrCat(
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "65535 65535\r\n");
  ASSERT_EQ(longest.size(), 104u);
  EXPECT_EQ(Parse(longest).status, ProxyHeader::kDone);
}

TEST(ProxyHeaderTest, BadVersion1HeadersAreErrors) {
  for (const char* bad : {
           "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\n",       // LF alone
           "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\rX",      // CR alone
           "PROXY TCP4 2001:db8::1 198.51.100.2 51000 443\r\n",   // wrong family
           "PROXY TCP6 192.0.2.1 2001:db8::2 51000 443\r\n",
           "PROXY TCP4 192.0.2.1 198.51.100.2 051000 443\r\n",    // leading zero
           "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",     // port range
           "PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",
           "PROXY TCP4 192.0.2.1  198.51.100.2 51000 443\r\n",    // double space
           "PROXY TCP4 192.0.2.1 198.51.100.2 51000\r\n",         // a field short
           "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443 x\r\n",   // a field more
           "PROXY UDP4 192.0.2.1 198.51.100.2 51000 443\r\n",     // protocol
           "PROXY TCP4 host.example 198.51.100.2 51000 443\r\n",  // a name
           "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\x01\r\n", // control byte
           "GET / HTTP/1.1\r\n",                                  // no header at all
           "proxy TCP4 192.0.2.1 198.51.100.2 51000 443\r\n",
       }) {
    ProxyHeader h = Parse(bad);
    EXPECT_EQ(h.status, ProxyHeader::kError) << bad;
    EXPECT_NE(h.error[0], '\0');
  }
  // No CRLF within 107 bytes, whatever follows.
  std::string endless = "PROXY UNKNOWN " + std::string(200, 'a');
  EXPECT_EQ(ParseProxyHeader(endless).status, ProxyHeader::kError);
  EXPECT_EQ(ParseProxyHeader(endless.substr(0, 106)).status, ProxyHeader::kNeedMore);
  // 108 bytes with the CRLF: one too many.
  std::string too_long = "PROXY UNKNOWN " + std::string(92, 'a') + "\r\n";
  ASSERT_EQ(too_long.size(), 108u);
  EXPECT_EQ(ParseProxyHeader(too_long).status, ProxyHeader::kError);
  EXPECT_EQ(ParseProxyHeader(too_long.substr(1)).status, ProxyHeader::kError);  // not a header
  std::string just_fits = "PROXY UNKNOWN " + std::string(91, 'a') + "\r\n";
  EXPECT_EQ(ParseProxyHeader(just_fits).status, ProxyHeader::kDone);
}

TEST(ProxyHeaderTest, Version2) {
  ProxyHeader h = Parse(V2(1, 0x11, V4Block()));
  ASSERT_EQ(h.status, ProxyHeader::kDone) << h.error;
  EXPECT_EQ(h.version, 2);
  EXPECT_EQ(h.size, 28u);
  EXPECT_EQ(h.source->ToString(), "192.0.2.1:51000");
  h = Parse(V2(1, 0x21, V6Block()));
  ASSERT_EQ(h.status, ProxyHeader::kDone) << h.error;
  EXPECT_EQ(h.source->ToString(), "[2001:db8::1]:4711");
  // LOCAL (a health check): no client address; the block is skipped.
  h = Parse(V2(0, 0x11, V4Block()));
  ASSERT_EQ(h.status, ProxyHeader::kDone);
  EXPECT_FALSE(h.source.has_value());
  h = Parse(V2(0, 0x00, ""));
  ASSERT_EQ(h.status, ProxyHeader::kDone);
  EXPECT_EQ(h.size, 16u);
  // TLVs (an ALPN and a NOOP) are skipped.
  std::string tlvs = std::string("\x01\x00\x02h2\x04\x00\x00", 8);
  h = Parse(V2(1, 0x11, V4Block() + tlvs));
  ASSERT_EQ(h.status, ProxyHeader::kDone) << h.error;
  EXPECT_EQ(h.size, 36u);
  EXPECT_EQ(h.source->ToString(), "192.0.2.1:51000");
  // A unix-socket source carries no IP address.
  h = Parse(V2(1, 0x31, std::string(216, 'x')));
  ASSERT_EQ(h.status, ProxyHeader::kDone);
  EXPECT_FALSE(h.source.has_value());
}

TEST(ProxyHeaderTest, Version2Crc32c) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // the standard check value
  std::string zero_crc = V2(1, 0x11, V4Block() + std::string("\x03\x00\x04\0\0\0\0", 7));
  uint32_t crc = Crc32c(zero_crc);
  std::string good = zero_crc;
  for (int i = 0; i < 4; ++i) good[good.size() - 4 + i] = static_cast<char>(crc >> (24 - 8 * i));
  EXPECT_EQ(Parse(good).status, ProxyHeader::kDone);
  std::string bad = good;
  bad[20] ^= 1;  // an address bit
  EXPECT_EQ(Parse(bad).status, ProxyHeader::kError);
  EXPECT_STREQ(ParseProxyHeader(bad).error, "PROXY v2: CRC32C mismatch");
}

TEST(ProxyHeaderTest, BadVersion2HeadersAreErrors) {
  std::string wrong_version = V2(1, 0x11, V4Block());
  wrong_version[12] = 0x11;
  std::string short_tlv = V2(1, 0x11, V4Block() + std::string("\x01\x00\x05h2", 5));
  std::string two_bytes = V2(1, 0x11, V4Block() + std::string("\x01\x00", 2));
  std::string huge(kV2Signature + std::string("\x21\x11\x10\x00", 4));  // 4096 + 16
  for (const std::string& bad : {
           wrong_version,
           V2(2, 0x11, V4Block()),                // command 2
           V2(1, 0x41, V4Block()),                // family 4
           V2(1, 0x13, V4Block()),                // transport 3
           V2(1, 0x11, V4Block().substr(0, 11)),  // addresses cut short
           V2(1, 0x21, V4Block()),                // IPv6 needs 36 bytes
           V2(1, 0x12, V4Block()),                // UDP on a stream
           short_tlv,
           two_bytes,
           huge,
       }) {
    ProxyHeader h = Parse(bad);
    EXPECT_EQ(h.status, ProxyHeader::kError) << absl::CEscape(bad);
  }
}

// UDP: a datagram holds a whole v2 header for a DGRAM transport, or none.
TEST(ProxyHeaderTest, Datagrams) {
  std::string dgram = V2(0x21, 0x12, V4Block()) + "payload";
  ProxyHeader h = ParseProxyHeader(dgram, /*datagram=*/true);
  ASSERT_EQ(h.status, ProxyHeader::kDone) << h.error;
  EXPECT_EQ(h.size, dgram.size() - 7);
  ASSERT_TRUE(h.source.has_value());
  EXPECT_EQ(h.source->ToString(), "192.0.2.1:51000");
  // A stream header, v1, a truncated header and no header are errors.
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x11, V4Block()), true).status, ProxyHeader::kError);
  EXPECT_EQ(ParseProxyHeader("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n", true).status,
            ProxyHeader::kError);
  EXPECT_EQ(ParseProxyHeader(dgram.substr(0, 20), true).status, ProxyHeader::kError);
  EXPECT_EQ(ParseProxyHeader("payload", true).status, ProxyHeader::kError);
  // And a DGRAM header on a stream is refused, as before.
  EXPECT_EQ(ParseProxyHeader(V2(0x21, 0x12, V4Block())).status, ProxyHeader::kError);
  // LOCAL: the proxy's own datagram, no client named.
  h = ParseProxyHeader(V2(0x20, 0x00, ""), true);
  EXPECT_EQ(h.status, ProxyHeader::kDone);
  EXPECT_FALSE(h.source.has_value());
}

TEST(ProxyHeaderTest, LooksLikeProxyHeader) {
  EXPECT_EQ(LooksLikeProxyHeader(""), ProxyHeader::kNeedMore);
  EXPECT_EQ(LooksLikeProxyHeader("PRO"), ProxyHeader::kNeedMore);
  EXPECT_EQ(LooksLikeProxyHeader("PROXY "), ProxyHeader::kDone);
  EXPECT_EQ(LooksLikeProxyHeader("\r\n\r"), ProxyHeader::kNeedMore);
  EXPECT_EQ(LooksLikeProxyHeader(kV2Signature), ProxyHeader::kDone);
  EXPECT_EQ(LooksLikeProxyHeader("PROXZ"), ProxyHeader::kError);
  EXPECT_EQ(LooksLikeProxyHeader("GET / HTTP/1.1\r\n"), ProxyHeader::kError);
  EXPECT_EQ(LooksLikeProxyHeader("\r\n\r\nX"), ProxyHeader::kError);
}

}  // namespace
}  // namespace sockman
