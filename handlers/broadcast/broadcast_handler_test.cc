#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"

namespace sockman::testing {
namespace {

TEST(BroadcastHandlerTest, EveryClientHearsEveryMessage) {
  auto harness = HandlerHarness::Create("broadcast", "", "text", "test");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto a = (*harness)->Connect();
  auto b = (*harness)->Connect();
  a->Send("hello\n");
  (*harness)->Run();
  EXPECT_EQ(a->Received(), "hello\n");
  EXPECT_EQ(b->Received(), "hello\n");
  b->Close();
  a->Send("again\n");
  (*harness)->Run();
  EXPECT_EQ(a->Received(), "again\n");
}

TEST(BroadcastHandlerTest, RefusesHttpAndRoomsWithoutAHandshake) {
  EXPECT_FALSE(HandlerHarness::Create("broadcast", "", "http", "test").ok());
  auto rooms = HandlerHarness::Create("broadcast", "rooms_from_path: true", "text", "test");
  ASSERT_FALSE(rooms.ok());
  EXPECT_EQ(rooms.status().message(), "rooms_from_path needs a websocket:// service");
}

}  // namespace
}  // namespace sockman::testing
