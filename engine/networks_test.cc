#include "engine/networks.h"

#include "gtest/gtest.h"

namespace sockman {
namespace {

SocketAddress Address(const char* host) { return *SocketAddress::Parse(host, 1234); }

TEST(NetworkListTest, AddressesAndNetworksOfBothFamilies) {
  auto list = NetworkList::Parse({"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1", "0.0.0.0/0"});
  ASSERT_TRUE(list.ok()) << list.status();
  auto narrow = NetworkList::Parse({"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"});
  ASSERT_TRUE(narrow.ok());
  EXPECT_TRUE(narrow->Contains(Address("10.255.1.2")));
  EXPECT_FALSE(narrow->Contains(Address("11.0.0.1")));
  EXPECT_TRUE(narrow->Contains(Address("192.0.2.7")));
  EXPECT_FALSE(narrow->Contains(Address("192.0.2.8")));
  EXPECT_TRUE(narrow->Contains(Address("2001:db8:ffff::1")));
  EXPECT_FALSE(narrow->Contains(Address("2001:db9::1")));
  EXPECT_TRUE(narrow->Contains(Address("::1")));
  EXPECT_FALSE(narrow->Contains(Address("::2")));
  // A dual-stack listener's IPv4 peers are IPv4-mapped: they match IPv4 networks.
  EXPECT_TRUE(narrow->Contains(Address("::ffff:10.1.2.3")));
  EXPECT_FALSE(narrow->Contains(Address("::ffff:11.1.2.3")));
  // /0 of IPv4 is every IPv4 address, and no IPv6 one.
  auto v4 = NetworkList::Parse({"0.0.0.0/0"});
  EXPECT_TRUE(v4->Contains(Address("203.0.113.9")));
  EXPECT_FALSE(v4->Contains(Address("2001:db8::1")));
  // Prefixes that are not whole bytes.
  auto odd = NetworkList::Parse({"172.16.0.0/12", "fe80::/10"});
  EXPECT_TRUE(odd->Contains(Address("172.31.255.255")));
  EXPECT_FALSE(odd->Contains(Address("172.32.0.0")));
  EXPECT_TRUE(odd->Contains(Address("febf::1")));
  EXPECT_FALSE(odd->Contains(Address("fec0::1")));
  EXPECT_FALSE(NetworkList().Contains(Address("127.0.0.1")));
}

TEST(NetworkListTest, BadEntriesAreErrorsNamingThem) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x",
                          "example.com", "10.0.0.0/8/8", "", "10.0.0.0/-1", "1.2.3"}) {
    auto list = NetworkList::Parse({bad});
    ASSERT_FALSE(list.ok()) << bad;
    EXPECT_NE(list.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << list.status();
  }
}

TEST(ParseForwardedAddressTest, TheFormsProxiesWrite) {
  EXPECT_EQ(ParseForwardedAddress("192.0.2.1")->ToString(), "192.0.2.1:0");
  EXPECT_EQ(ParseForwardedAddress("192.0.2.1:8080")->ToString(), "192.0.2.1:8080");
  EXPECT_EQ(ParseForwardedAddress("2001:db8::1")->ToString(), "[2001:db8::1]:0");
  EXPECT_EQ(ParseForwardedAddress("[2001:db8::1]")->ToString(), "[2001:db8::1]:0");
  EXPECT_EQ(ParseForwardedAddress("[2001:db8::1]:4711")->ToString(), "[2001:db8::1]:4711");
  for (const char* bad : {"", "unknown", "_hidden", "example.com", "1.2.3.4:", "1.2.3.4:99999",
                          "[1.2.3.4]", "[::1", "[::1]x", "1.2.3.4 ", " 1.2.3.4", "01.2.3.4",
                          "1.2.3.4:80:80", "[::1]:", "1.2.3.4:+80"}) {
    EXPECT_FALSE(ParseForwardedAddress(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace sockman
