#include "engine/credentials.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace sockman {
namespace {

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << content;
  return path;
}

class CredentialsTest : public ::testing::Test {
 protected:
  std::string passwd_ = WriteFile("passwd",
                                  "root:x:0:0:root:/root:/bin/bash\n"
                                  "# comment\n"
                                  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
  std::string group_ = WriteFile("group",
                                 "root:x:0:\n"
                                 "www-data:x:33:\n"
                                 "ssl-cert:x:110:www-data,alice\n"
                                 "staff:x:50:alice\n");
};

TEST_F(CredentialsTest, ResolvesUserWithPrimaryAndSupplementaryGroups) {
  auto c = LookupCredentials("www-data", "", passwd_, group_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->uid, 33u);
  EXPECT_EQ(c->gid, 33u);
  EXPECT_EQ(c->groups, (std::vector<gid_t>{33, 110}));
}

TEST_F(CredentialsTest, ExplicitGroupOverridesPrimary) {
  auto c = LookupCredentials("www-data", "staff", passwd_, group_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gid, 50u);
}

TEST_F(CredentialsTest, NumericIdsAreAccepted) {
  auto c = LookupCredentials("1234", "99", passwd_, group_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->uid, 1234u);
  EXPECT_EQ(c->gid, 99u);
}

TEST_F(CredentialsTest, UnknownUserOrGroupIsNotFound) {
  auto c = LookupCredentials("nobody-here", "", passwd_, group_);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("nobody-here"), std::string::npos);
  c = LookupCredentials("www-data", "nogroup-here", passwd_, group_);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sockman
