#include "protocols/http/real_ip_config.h"

#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

Service Parse(const std::string& text) {
  Service service;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &service)) << text;
  return service;
}

TEST(RealIpConfigTest, ChecksTheBlock) {
  EXPECT_FALSE(CheckRealIp(Parse("")).has_value());
  EXPECT_FALSE(CheckRealIp(Parse("real_ip { trusted: '10.0.0.0/8' header: 'forwarded' }")));
  auto error = [](const std::string& block) {
    std::optional<FieldError> e = CheckRealIp(Parse(block));
    return e.has_value() ? e->field + ": " + e->message : "none";
  };
  EXPECT_EQ(error("real_ip { }"),
            "real_ip.trusted: name the proxies' addresses or networks (at least one)");
  EXPECT_EQ(error("real_ip { trusted: '10.0.0.1/8' }"),
            "real_ip.trusted: '10.0.0.1/8' has address bits set past its /8 prefix (did you mean "
            "the network address?)");
  EXPECT_EQ(error("real_ip { trusted: '127.0.0.1' header: 'X-Client-IP' }"),
            "real_ip.header: must be X-Forwarded-For, X-Real-IP or Forwarded");
}

TEST(RealIpConfigTest, BuildsTheOptions) {
  EXPECT_EQ(RealIpFromConfig(Parse("")), nullptr);
  auto options = RealIpFromConfig(Parse("real_ip { trusted: ['10.0.0.0/8', '::1'] }"));
  ASSERT_NE(options, nullptr);
  EXPECT_EQ(options->header, RealIpOptions::kXForwardedFor);  // the default
  EXPECT_TRUE(options->trusted->Contains(*SocketAddress::Parse("10.9.8.7", 1)));
  EXPECT_TRUE(options->trusted->Contains(*SocketAddress::Parse("::1", 1)));
  EXPECT_FALSE(options->trusted->Contains(*SocketAddress::Parse("11.0.0.1", 1)));
  EXPECT_EQ(RealIpFromConfig(Parse("real_ip { trusted: '::1' header: 'x-real-ip' }"))->header,
            RealIpOptions::kXRealIp);
}

}  // namespace
}  // namespace sockman
