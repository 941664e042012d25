#include "engine/ip_limits.h"

#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

SocketAddress Ip(const std::string& host, uint16_t port = 1000) {
  return *SocketAddress::Parse(host, port);
}

TEST(IpLimitsTest, OpenConnectionsPerAddress) {
  auto limits = *IpLimits::Create({.max_per_ip = 2});
  EXPECT_EQ(limits->Admit(Ip("10.0.0.1", 1), 100), IpLimits::kAdmitted);
  EXPECT_EQ(limits->Admit(Ip("10.0.0.1", 2), 100), IpLimits::kAdmitted);
  EXPECT_EQ(limits->Admit(Ip("10.0.0.1", 3), 100), IpLimits::kTooMany);  // ports do not matter
  EXPECT_EQ(limits->Admit(Ip("10.0.0.2"), 100), IpLimits::kAdmitted);    // another address
  EXPECT_EQ(limits->OpenFor(Ip("10.0.0.1")), 2u);
  limits->Release(Ip("10.0.0.1"));
  EXPECT_EQ(limits->Admit(Ip("10.0.0.1"), 100), IpLimits::kAdmitted);
  // An IPv4-mapped IPv6 address is the IPv4 address.
  EXPECT_EQ(limits->Admit(Ip("::ffff:10.0.0.1"), 100), IpLimits::kTooMany);
  EXPECT_EQ(limits->Admit(Ip("2001:db8::1"), 100), IpLimits::kAdmitted);
  // Release never goes below zero.
  for (int i = 0; i < 5; ++i) limits->Release(Ip("10.0.0.2"));
  EXPECT_EQ(limits->OpenFor(Ip("10.0.0.2")), 0u);
}

TEST(IpLimitsTest, NewConnectionsPerSecond) {
  auto limits = *IpLimits::Create({.new_per_second = 3});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits->Admit(Ip("10.0.0.1"), 100), IpLimits::kAdmitted);
  EXPECT_EQ(limits->Admit(Ip("10.0.0.1"), 100), IpLimits::kTooFast);
  EXPECT_EQ(limits->Admit(Ip("10.0.0.9"), 100), IpLimits::kAdmitted);
  EXPECT_EQ(limits->Admit(Ip("10.0.0.1"), 101), IpLimits::kAdmitted);  // the next second
  EXPECT_EQ(limits->OpenFor(Ip("10.0.0.1")), 4u);  // the refused one is not counted
}

TEST(IpLimitsTest, AFullTableAdmitsAndForgetsIdleAddresses) {
  auto limits = *IpLimits::Create({.max_per_ip = 1, .slots = 64});
  int admitted = 0;
  for (int i = 0; i < 200; ++i) {
    admitted +=
        limits->Admit(Ip(absl::StrCat("10.1.", i / 256, ".", i % 256)), 100) == IpLimits::kAdmitted;
  }
  EXPECT_EQ(admitted, 200);
  EXPECT_GE(limits->unlimited(), 200u - 64);
  // Once their connections close and their second is over, slots are reused.
  for (int i = 0; i < 200; ++i) limits->Release(Ip(absl::StrCat("10.1.", i / 256, ".", i % 256)));
  EXPECT_EQ(limits->Admit(Ip("10.9.9.9"), 200), IpLimits::kAdmitted);
  EXPECT_EQ(limits->Admit(Ip("10.9.9.9"), 200), IpLimits::kTooMany);
  EXPECT_EQ(IpLimits::Create({.slots = 100}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IpLimitsTest, WorkersShareTheTableAcrossFork) {
  auto limits = *IpLimits::Create({.max_per_ip = 1000});
  constexpr int kWorkers = 4, kEach = 500;
  std::vector<pid_t> children;
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int admitted = 0;
      for (int i = 0; i < kEach; ++i) admitted += limits->Admit(Ip("10.0.0.7"), 100) == 0;
      _exit(admitted);  // at most 255 is visible; only 0 or not matters below
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  // 2000 attempts from 4 processes at once: exactly the limit got in.
  EXPECT_EQ(limits->OpenFor(Ip("10.0.0.7")), 1000u);
}

}  // namespace
}  // namespace sockman
