#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "handlers/messaging/hub.h"
#include "handlers/testing/handler_harness.h"
#include "protocols/websocket/testing/client_frame.h"

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

// The denial of service this guards against: a binary message relayed as a
// text frame is invalid UTF-8 to every browser, which then disconnects.
TEST(BroadcastHandlerTest, BinaryStaysBinaryAndTextStaysText) {
  auto harness = HandlerHarness::Create("broadcast", "", "websocket", "test");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto a = (*harness)->ConnectWebSocket();
  auto b = (*harness)->ConnectWebSocket();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->Send(ClientFrame(0x82, std::string("\xff\x00\x80", 3)));
  (*harness)->Run();
  EXPECT_EQ(b->Received(), ServerFrame(0x82, std::string("\xff\x00\x80", 3)));
  a->Send(ClientFrame(0x81, "caf\xc3\xa9"));
  (*harness)->Run();
  EXPECT_EQ(b->Received(), ServerFrame(0x81, "caf\xc3\xa9"));
  // A client that sends invalid UTF-8 as text is closed (1007); nobody else is.
  a->Send(ClientFrame(0x81, "\xff"));
  (*harness)->Run();
  EXPECT_TRUE(a->closed());
  EXPECT_FALSE(b->closed());
  EXPECT_EQ(b->Received(), "");
}

// A text:// line is text, but not always UTF-8: a WebSocket client would get
// it as binary (see the WebSocket encoder); line clients get the bytes.
TEST(BroadcastHandlerTest, LineClientsAreBinarySafe) {
  auto harness = HandlerHarness::Create("broadcast", "", "text", "test");
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto a = (*harness)->Connect();
  auto b = (*harness)->Connect();
  a->Send(std::string("\xff\x00\x01\n", 4));
  (*harness)->Run();
  EXPECT_EQ(b->Received(), std::string("\xff\x00\x01\n", 4));
}

TEST(BroadcastHandlerTest, ThePathNamesTheInitialGroupWhenItCan) {
  auto harness = HandlerHarness::Create("broadcast", "rooms_from_path: true", "websocket", "test");
  ASSERT_TRUE(harness.ok()) << harness.status();
  Hub& hub = Hub::ForWorker(WorkerContext{HandlerHarness::reactor(), "test"});
  auto lobby = (*harness)->ConnectWebSocket("/rooms/lobby");
  ASSERT_NE(lobby, nullptr);
  EXPECT_EQ(hub.GroupsOf(lobby->connection()), std::vector<std::string>{"lobby"});
  // Longer than a group name may be: the default group instead.
  auto odd = (*harness)->ConnectWebSocket("/rooms/" + std::string(300, 'x'));
  ASSERT_NE(odd, nullptr);
  EXPECT_EQ(hub.GroupsOf(odd->connection()), std::vector<std::string>{""});
}

TEST(BroadcastHandlerTest, PerClientLimitsComeFromTheConfig) {
  auto harness = HandlerHarness::Create(
      "broadcast", "max_groups_per_client: 2 max_session_size: 32", "text", "test");
  ASSERT_TRUE(harness.ok()) << harness.status();
  Hub& hub = Hub::ForWorker(WorkerContext{HandlerHarness::reactor(), "test"});
  auto a = (*harness)->Connect();
  EXPECT_TRUE(hub.JoinGroup(a->connection(), "one"));  // a move out of ""
  EXPECT_TRUE(hub.JoinGroup(a->connection(), "two"));
  EXPECT_FALSE(hub.JoinGroup(a->connection(), "three"));
  EXPECT_TRUE(hub.SetSession(a->connection(), R"({"k":"short"})", false));
  EXPECT_FALSE(hub.SetSession(a->connection(), R"({"k":"far too long for thirty-two bytes"})", false));
  EXPECT_EQ(hub.SessionOf(a->connection()), R"({"k":"short"})");
  EXPECT_FALSE(hub.SetSession(a->connection(), "[1,2]", false));  // not an object
  EXPECT_EQ(HandlerHarness::Create("broadcast", "max_groups_per_client: 0", "text", "test")
                .status()
                .message(),
            "max_groups_per_client must be between 1 and 4096");
  EXPECT_FALSE(HandlerHarness::Create("broadcast", "max_session_size: 8", "text", "test").ok());
  EXPECT_FALSE(HandlerHarness::Create(
                   "broadcast", "webhook { url: 'http://127.0.0.1:1/' max_session_size: 100 }",
                   "text", "test")
                   .ok());
}

TEST(BroadcastHandlerTest, RefusesHttpAndRoomsWithoutAHandshake) {
  EXPECT_FALSE(HandlerHarness::Create("broadcast", "", "http", "test").ok());
  auto rooms = HandlerHarness::Create("broadcast", "rooms_from_path: true", "text", "test");
  ASSERT_FALSE(rooms.ok());
  EXPECT_EQ(rooms.status().message(), "rooms_from_path needs a websocket:// service");
  // Over UDP there is nobody to broadcast to: refused, not silently idle.
  auto udp = HandlerHarness::Create("broadcast", "", "udp", "test");
  ASSERT_FALSE(udp.ok());
  EXPECT_EQ(udp.status().message(),
            "broadcasts to connected clients; a UDP service has none (use transport: TCP)");
}

// GatewayWorker's groups: a client in several groups hears each group; a
// backend's move out of the default group stops default-group messages.
TEST(BroadcastHandlerTest, GroupsDecideWhoHearsWhom) {
  auto harness = HandlerHarness::Create("broadcast", "", "text", "test");
  ASSERT_TRUE(harness.ok()) << harness.status();
  Hub& hub = Hub::ForWorker(WorkerContext{HandlerHarness::reactor(), "test"});
  auto a = (*harness)->Connect();
  auto b = (*harness)->Connect();
  auto c = (*harness)->Connect();
  EXPECT_EQ(hub.GroupsOf(b->connection()), std::vector<std::string>{""});
  ASSERT_TRUE(hub.JoinGroup(b->connection(), "vip"));  // a move: out of ""
  EXPECT_EQ(hub.GroupsOf(b->connection()), std::vector<std::string>{"vip"});
  a->Send("default\n");
  (*harness)->Run();
  EXPECT_EQ(a->Received(), "default\n");
  EXPECT_EQ(c->Received(), "default\n");
  EXPECT_EQ(b->Received(), "");  // moved away
  ASSERT_TRUE(hub.JoinGroup(c->connection(), "vip"));
  ASSERT_TRUE(hub.JoinGroup(c->connection(), ""));  // c: in both now
  b->Send("vip\n");
  (*harness)->Run();
  EXPECT_EQ(c->Received(), "vip\n");
  EXPECT_EQ(b->Received(), "vip\n");  // the sender too: no exclude_sender
  EXPECT_EQ(a->Received(), "");
  c->Send("both\n");  // to "" and vip: everyone, each once
  (*harness)->Run();
  EXPECT_EQ(a->Received(), "both\n");
  EXPECT_EQ(b->Received(), "both\n");
  EXPECT_EQ(c->Received(), "both\n");
  for (int i = 0; i < 70; ++i) hub.JoinGroup(a->connection(), "g" + std::to_string(i));
  EXPECT_EQ(hub.GroupsOf(a->connection()).size(), Hub::kMaxGroupsPerClient);
}

}  // namespace
}  // namespace sockman::testing
