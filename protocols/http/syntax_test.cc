#include "protocols/http/syntax.h"

#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(HostTest, AcceptsTheAuthorityGrammar) {
  for (const char* good :
       {"", "example.com", "example.com:8080", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:443",
        "[2001:db8::7]:1", "a-b_c~d.e", "x%41y", "sub!$&'()*+,;=delims", "host:"}) {
    EXPECT_TRUE(IsValidHost(good)) << good;
  }
}

TEST(HostTest, RefusesWhatIsNoAuthority) {
  for (const char* bad : {"a b", "a/b", "a@b", "[::1", "[::1]x", "[nothost]", "[::1]:x",
                          "host:80:90", "host:123456", "ex\"ample", "a%zz", "a%4", "h\x80"}) {
    EXPECT_FALSE(IsValidHost(bad)) << bad;
  }
}

TEST(SyntaxTest, SplitHostPort) {
  auto split = [](absl::string_view host) {
    absl::string_view name, port;
    SplitHostPort(host, name, port);
    return std::string(name) + "|" + std::string(port);
  };
  EXPECT_EQ(split("example.com"), "example.com|");
  EXPECT_EQ(split("example.com:8080"), "example.com|8080");
  EXPECT_EQ(split("[::1]"), "[::1]|");
  EXPECT_EQ(split("[::1]:80"), "[::1]|80");
  EXPECT_EQ(split("10.0.0.1:443"), "10.0.0.1|443");
  EXPECT_EQ(split(""), "|");
}

TEST(SyntaxTest, CookieValue) {
  EXPECT_EQ(CookieValue("a=1; token=xyz; b=2", "token"), "xyz");
  EXPECT_EQ(CookieValue("tokenx=1;token=2", "token"), "2");
  EXPECT_EQ(CookieValue("a=1", "token"), "");
}

TEST(SyntaxTest, QueryParameter) {
  std::string value;
  EXPECT_TRUE(QueryParameter("a=1&token=x%2Ey+z&token=2", "token", value));
  EXPECT_EQ(value, "x.y z");
  EXPECT_TRUE(QueryParameter("token=", "token", value));
  EXPECT_EQ(value, "");
  EXPECT_FALSE(QueryParameter("tokens=1&atoken=2", "token", value));
  EXPECT_FALSE(QueryParameter("token=%zz", "token", value));
  EXPECT_FALSE(QueryParameter("token=%4", "token", value));
}

}  // namespace
}  // namespace sockman
