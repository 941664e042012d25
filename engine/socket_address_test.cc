#include "engine/socket_address.h"

#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(SocketAddressTest, ParsesAndPrintsIpv4) {
  auto a = SocketAddress::Parse("127.0.0.1", 8080);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->ToString(), "127.0.0.1:8080");
}

TEST(SocketAddressTest, ParsesAndPrintsIpv6InBrackets) {
  auto a = SocketAddress::Parse("::1", 443);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_ipv6());
  EXPECT_EQ(a->ToString(), "[::1]:443");
  EXPECT_EQ(a->Host(), "::1");
}

TEST(SocketAddressTest, RejectsNames) {
  auto a = SocketAddress::Parse("example.com", 80);
  EXPECT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("example.com"), std::string::npos);
  EXPECT_FALSE(SocketAddress::Parse("256.1.1.1", 80).ok());
  EXPECT_FALSE(SocketAddress::Parse("", 80).ok());
}

TEST(SplitAuthorityTest, HostsPortsBracketsAndDefaults) {
  std::string host;
  uint16_t port = 0;
  EXPECT_EQ(SplitAuthority("example.com:8080", 80, &host, &port), AuthorityError::kNone);
  EXPECT_EQ(host, "example.com");
  EXPECT_EQ(port, 8080);
  EXPECT_EQ(SplitAuthority("example.com", 443, &host, &port), AuthorityError::kNone);
  EXPECT_EQ(port, 443);
  EXPECT_EQ(SplitAuthority("[::1]:9", 80, &host, &port), AuthorityError::kNone);
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9);
  EXPECT_EQ(SplitAuthority("[::1]", 80, &host, &port), AuthorityError::kNone);
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 80);
  EXPECT_EQ(SplitAuthority("h", 0, &host, &port), AuthorityError::kBadPort);  // required
  EXPECT_EQ(SplitAuthority("h:0", 80, &host, &port), AuthorityError::kBadPort);
  EXPECT_EQ(SplitAuthority("h:65536", 80, &host, &port), AuthorityError::kBadPort);
  EXPECT_EQ(SplitAuthority("h:x", 80, &host, &port), AuthorityError::kBadPort);
  EXPECT_EQ(SplitAuthority(":80", 80, &host, &port), AuthorityError::kNoHost);
  EXPECT_EQ(SplitAuthority("[]:80", 80, &host, &port), AuthorityError::kNoHost);
}

}  // namespace
}  // namespace sockman
