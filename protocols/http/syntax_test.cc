#include "protocols/http/syntax.h"

#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(HostTest, AcceptsTheAuthorityGrammar) {
  for (const char* good : {"", "example.com", "example.com:8080", "127.0.0.1", "127.0.0.1:80",
                           "[::1]", "[::1]:443", "[2001:db8::7]:1", "a-b_c~d.e", "x%41y",
                           "sub!$&'()*+,;=delims", "host:"}) {
    EXPECT_TRUE(IsValidHost(good)) << good;
  }
}

TEST(HostTest, RefusesWhatIsNoAuthority) {
  for (const char* bad : {"a b", "a/b", "a@b", "[::1", "[::1]x", "[nothost]", "[::1]:x",
                          "host:80:90", "host:123456", "ex\"ample", "a%zz", "a%4", "h\x80"}) {
    EXPECT_FALSE(IsValidHost(bad)) << bad;
  }
}

}  // namespace
}  // namespace sockman
