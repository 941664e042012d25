#include "protocols/http/real_ip.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sockman {
namespace {

RealIpOptions Options(RealIpOptions::Header header = RealIpOptions::kXForwardedFor) {
  RealIpOptions options;
  options.trusted = std::make_shared<const NetworkList>(
      *NetworkList::Parse({"10.0.0.0/8", "127.0.0.1", "2001:db8:1::/48"}));
  options.header = header;
  return options;
}

std::string Client(const RealIpOptions& options, std::vector<absl::string_view> values) {
  std::optional<SocketAddress> client = RealClientAddress(options, values);
  return client.has_value() ? client->ToString() : "none";
}

TEST(RealIpTest, XForwardedForRightmostUntrustedWins) {
  RealIpOptions o = Options();
  EXPECT_EQ(Client(o, {"203.0.113.9"}), "203.0.113.9:0");
  // The client wrote a fake first hop; the proxies appended the real one.
  EXPECT_EQ(Client(o, {"1.1.1.1, 203.0.113.9, 10.0.0.2"}), "203.0.113.9:0");
  EXPECT_EQ(Client(o, {"1.1.1.1", "203.0.113.9,10.0.0.2"}), "203.0.113.9:0");  // two lines
  // All hops trusted: the leftmost.
  EXPECT_EQ(Client(o, {"10.1.1.1, 127.0.0.1"}), "10.1.1.1:0");
  // Garbage stops the walk: the hop right of it stands.
  EXPECT_EQ(Client(o, {"203.0.113.1, unknown, 10.0.0.3"}), "10.0.0.3:0");
  EXPECT_EQ(Client(o, {"203.0.113.1, , 10.0.0.3"}), "10.0.0.3:0");
  EXPECT_EQ(Client(o, {"not an address"}), "none");
  EXPECT_EQ(Client(o, {}), "none");
  // Ports and IPv6 as proxies write them.
  EXPECT_EQ(Client(o, {"[2001:db8:2::5]:4711, 2001:db8:1::1"}), "[2001:db8:2::5]:4711");
  EXPECT_EQ(Client(o, {"198.51.100.7:8080"}), "198.51.100.7:8080");
}

TEST(RealIpTest, XRealIpIsOneAddress) {
  RealIpOptions o = Options(RealIpOptions::kXRealIp);
  EXPECT_EQ(Client(o, {" 203.0.113.9 "}), "203.0.113.9:0");
  EXPECT_EQ(Client(o, {"203.0.113.9", "198.51.100.1"}), "none");  // which one?
  EXPECT_EQ(Client(o, {"203.0.113.9, 198.51.100.1"}), "none");
}

TEST(RealIpTest, ForwardedRfc7239) {
  RealIpOptions o = Options(RealIpOptions::kForwarded);
  EXPECT_EQ(Client(o, {"for=192.0.2.60;proto=http;by=203.0.113.43"}), "192.0.2.60:0");
  EXPECT_EQ(Client(o, {R"(for="[2001:db8:cafe::17]:4711")"}), "[2001:db8:cafe::17]:4711");
  EXPECT_EQ(Client(o, {"for=192.0.2.43, for=198.51.100.17;by=10.0.0.1, for=10.0.0.9"}),
            "198.51.100.17:0");
  EXPECT_EQ(Client(o, {"for=192.0.2.43", "For=10.0.0.9"}), "192.0.2.43:0");
  // Obfuscated or unknown nodes stop the walk.
  EXPECT_EQ(Client(o, {"for=192.0.2.43, for=_hidden, for=10.0.0.9"}), "10.0.0.9:0");
  EXPECT_EQ(Client(o, {"for=unknown"}), "none");
  // A field that does not parse is not believed at all.
  EXPECT_EQ(Client(o, {"for=192.0.2.43;for=1.2.3.4"}), "none");
  EXPECT_EQ(Client(o, {R"(for="192.0.2.43)"}), "none");
  EXPECT_EQ(Client(o, {"for 192.0.2.43"}), "none");
  EXPECT_EQ(Client(o, {"=192.0.2.43"}), "none");
  EXPECT_EQ(Client(o, {"for=[::1]"}), "none");  // brackets need quotes: not a token
}

TEST(RealIpTest, ForwardedForNodes) {
  auto nodes = ForwardedForNodes(R"(for="_gazonk", For="[2001:db8:cafe::17]:4711", proto=https)");
  ASSERT_TRUE(nodes.has_value());
  EXPECT_EQ(*nodes, (std::vector<std::string>{"_gazonk", "[2001:db8:cafe::17]:4711", ""}));
  nodes = ForwardedForNodes(R"(for="a\"b";by=x)");
  ASSERT_TRUE(nodes.has_value());
  EXPECT_EQ(*nodes, (std::vector<std::string>{"a\"b"}));
  EXPECT_FALSE(ForwardedForNodes("for=a;;by").has_value());
  EXPECT_FALSE(ForwardedForNodes("for=a b").has_value());
}

TEST(RealIpTest, HeaderNames) {
  RealIpOptions::Header h;
  EXPECT_TRUE(RealIpOptions::ParseHeader("x-forwarded-for", h));
  EXPECT_EQ(h, RealIpOptions::kXForwardedFor);
  EXPECT_TRUE(RealIpOptions::ParseHeader("X-Real-IP", h));
  EXPECT_EQ(h, RealIpOptions::kXRealIp);
  EXPECT_TRUE(RealIpOptions::ParseHeader("forwarded", h));
  EXPECT_EQ(h, RealIpOptions::kForwarded);
  EXPECT_FALSE(RealIpOptions::ParseHeader("X-Client-IP", h));
}

}  // namespace
}  // namespace sockman
