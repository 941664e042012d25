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

}  // namespace
}  // namespace sockman
