#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "handlers/policy/jwt_config.h"
#include "handlers/policy/rate_limit_config.h"

namespace sockman {
namespace {

std::string Dir() {
  const char* tmp = getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

TEST(JwtConfigTest, KeysAndFieldsAreChecked) {
  std::ofstream(Dir() + "/secret") << std::string(40, 's') << "\n";
  std::ofstream(Dir() + "/short") << "tiny\n";
  auto error = [](const Jwt& config) {
    auto gate = JwtGateFromConfig(config, Dir());
    return gate.ok() ? std::string("ok") : std::string(gate.status().message());
  };
  Jwt config;
  EXPECT_EQ(error(config), "needs a key: secret_file, public_key_file or jwks_file");
  config.set_secret_file("secret");  // relative to the config's directory
  EXPECT_EQ(error(config), "ok");
  config.add_algorithms("RS256");
  EXPECT_EQ(error(config), "algorithms: no key given can verify RS256");
  config.clear_algorithms();
  config.add_algorithms("none");
  EXPECT_TRUE(absl::StartsWith(error(config), "algorithms: 'none' is not one of")) << error(config);
  config.clear_algorithms();
  config.set_restrict_groups(true);
  EXPECT_EQ(error(config), "restrict_groups: needs groups_claim");
  config.set_groups_claim("rooms");
  config.set_subprotocol("access token");
  EXPECT_EQ(error(config), "subprotocol: letters, digits, '-', '_' and '.' only");
  config.set_subprotocol("access_token");
  config.set_leeway_s(7200);
  EXPECT_EQ(error(config), "leeway_s: at most 3600");
  config.clear_leeway_s();
  EXPECT_EQ(error(config), "ok");
  config.set_secret_file("short");
  EXPECT_EQ(error(config), "secret_file: an HMAC secret needs at least 32 bytes (this one has 4)");
  config.set_secret_file("/nonexistent/secret");
  EXPECT_EQ(error(config), "secret_file: cannot read '/nonexistent/secret'");

  std::vector<std::string> offered = {"chat"};
  AddJwtSubprotocol(config, offered);
  AddJwtSubprotocol(config, offered);
  EXPECT_EQ(offered, (std::vector<std::string>{"chat", "access_token"}));
  // The digest follows the key files' content.
  Jwt keyed;
  keyed.set_secret_file("secret");
  std::string before = JwtKeyFilesDigest(keyed, Dir());
  std::ofstream(Dir() + "/secret") << std::string(41, 't') << "\n";
  EXPECT_NE(JwtKeyFilesDigest(keyed, Dir()), before);
}

TEST(RateLimitConfigTest, DefaultsAndErrors) {
  RateLimit config;
  EXPECT_EQ(RateLimitFromConfig(config).status().message(),
            "needs messages_per_second or bytes_per_second");
  config.set_messages_per_second(2.5);
  absl::StatusOr<RateLimitPolicy> policy = RateLimitFromConfig(config);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->message_burst, 3);  // one second's worth, rounded up
  EXPECT_EQ(policy->action, RateLimitPolicy::Action::kDrop);
  EXPECT_EQ(policy->shared, nullptr);
  config.set_bytes_per_second(1000);
  config.set_action(RateLimit::PAUSE);
  config.set_per_ip(true);
  policy = RateLimitFromConfig(config);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->byte_burst, 1000);
  EXPECT_EQ(policy->action, RateLimitPolicy::Action::kPause);
  EXPECT_NE(policy->shared, nullptr);
  EXPECT_TRUE(policy->per_ip);
  config.set_messages_per_second(-1);
  EXPECT_EQ(RateLimitFromConfig(config).status().message(),
            "messages_per_second must be between 0 and 1000000");
  config.set_messages_per_second(5);
  config.set_burst(0);
  EXPECT_EQ(RateLimitFromConfig(config).status().message(), "burst must be at least 1");
}

TEST(RateLimitConfigTest, ClusterBucketsNeedSharedKeysAndACluster) {
  RateLimit config;
  config.set_messages_per_second(10);
  config.set_cluster(true);
  ClusterOptions cluster{*SocketAddress::Parse("127.0.0.1", 6379), "a"};
  EXPECT_EQ(RateLimitFromConfig(config, &cluster, "chat").status().message(),
            "cluster shares per_ip or per_uid buckets across nodes: set one of them");
  config.set_per_ip(true);
  EXPECT_EQ(RateLimitFromConfig(config, nullptr, "chat").status().message(),
            "cluster needs `global { cluster { redis node_id } }`");
  absl::StatusOr<RateLimitPolicy> policy = RateLimitFromConfig(config, &cluster, "chat");
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_TRUE(policy->cluster_redis.has_value());
  EXPECT_EQ(policy->cluster_redis->ToString(), "127.0.0.1:6379");
  EXPECT_EQ(policy->cluster_namespace, "chat");
  EXPECT_NE(policy->shared, nullptr);
}

}  // namespace
}  // namespace sockman
