#include "handlers/echo/echo_handler.h"

#include "gtest/gtest.h"
#include "handlers/testing/handler_harness.h"
#include "protocols/websocket/testing/client_frame.h"

namespace sockman::testing {
namespace {

TEST(EchoHandlerTest, EchoesEachMessageWithThePrefix) {
  auto harness = HandlerHarness::Create("echo", "prefix: '> '", "text");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->Connect();
  client->Send("one\ntw");
  EXPECT_EQ(client->Received(), "> one\n");
  client->Send("o\n");
  EXPECT_EQ(client->Received(), "> two\n");
}

TEST(EchoHandlerTest, RawTcpBytesComeBackAsTheyAre) {
  auto harness = HandlerHarness::Create("echo", "", "tcp");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->Connect();
  client->Send(std::string("\0\xff\r\n", 4));
  EXPECT_EQ(client->Received(), std::string("\0\xff\r\n", 4));
}

TEST(EchoHandlerTest, WebSocketMessagesKeepTheirKind) {
  auto harness = HandlerHarness::Create("echo", "", "websocket");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto client = (*harness)->ConnectWebSocket();
  ASSERT_NE(client, nullptr);
  client->Send(ClientFrame(0x82, "\xff\xfe"));  // binary, not UTF-8
  EXPECT_EQ(client->Received(), ServerFrame(0x82, "\xff\xfe"));
  client->Send(ClientFrame(0x81, "h\xc3\xa9"));  // text
  EXPECT_EQ(client->Received(), ServerFrame(0x81, "h\xc3\xa9"));
}

}  // namespace
}  // namespace sockman::testing
