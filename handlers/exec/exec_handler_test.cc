#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

TEST(ExecHandlerTest, EachClientTalksToItsOwnProcess) {
  auto harness = HandlerHarness::Create("exec", "command: '/bin/cat'", "text");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto a = (*harness)->Connect();
  auto b = (*harness)->Connect();
  a->Send("from a\n");
  b->Send("from b\n");
  std::string got_a, got_b;
  EXPECT_TRUE((*harness)->RunUntil([&] {
    got_a += a->Received();
    got_b += b->Received();
    return !got_a.empty() && !got_b.empty();
  }));
  EXPECT_EQ(got_a, "from a\n");
  EXPECT_EQ(got_b, "from b\n");
  a->Close();
  b->Close();
  (*harness)->RunUntil([] { return false; }, 100);  // the children are reaped
}

TEST(ExecHandlerTest, TheClientClosesWhenTheProcessExits) {
  auto harness = HandlerHarness::Create("exec", "command: '/bin/echo' args: 'bye'", "text");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->Connect();
  std::string got;
  EXPECT_TRUE((*harness)->RunUntil([&] {
    got += client->Received();
    return client->closed();
  }));
  EXPECT_EQ(got, "bye\n");
}

TEST(ExecHandlerConfigTest, RefusesBadCommands) {
  EXPECT_EQ(HandlerHarness::Create("exec", "", "text").status().message(), "command is required");
  EXPECT_FALSE(HandlerHarness::Create("exec", "command: '/no/such/program'", "text").ok());
  EXPECT_FALSE(HandlerHarness::Create("exec", "command: '/bin/cat'", "http").ok());
  EXPECT_EQ(HandlerHarness::Create("exec", "command: '/bin/cat' env: 'NOEQUALS'", "text")
                .status()
                .message(),
            "env 'NOEQUALS' must be NAME=value");
}

}  // namespace
}  // namespace sockman::testing
