// WebSocket end to end over raw sockets: the handshake, echo of text and
// binary messages at the length boundaries, fragments, ping/pong, every
// protocol violation's exact close code, and the close handshake.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"
#include "protocols/websocket/permessage_deflate.h"
#include "protocols/websocket/testing/client_frame.h"

namespace sockman::testing {
namespace {

// Reads one server frame: {opcode, payload}.
std::pair<int, std::string> ReadFrame(TestClient& client) {
  std::string header = client.ReadExactly(2);
  if (header.size() < 2) return {-1, ""};
  int opcode = header[0] & 0x0F;
  uint64_t length = header[1] & 0x7F;
  if (length == 126) {
    std::string ext = client.ReadExactly(2);
    length =
        (uint64_t{static_cast<unsigned char>(ext[0])} << 8) | static_cast<unsigned char>(ext[1]);
  } else if (length == 127) {
    std::string ext = client.ReadExactly(8);
    length = 0;
    for (char c : ext) length = (length << 8) | static_cast<unsigned char>(c);
  }
  return {opcode, client.ReadExactly(length, 20000)};
}

class WebSocketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = SockmanProcess::Start(R"(
service {
  name: "echo"
  listen: "ws://127.0.0.1:0"
  count: 2
  limits { max_package_size: 20000000 }
  echo {}
}
service {
  name: "zecho"
  listen: "ws://127.0.0.1:0"
  limits { max_package_size: 20000000 }
  websocket { deflate: true }
  echo {}
}
service {
  name: "small"
  listen: "websocket://127.0.0.1:0"
  limits { max_package_size: 65536 }
  websocket { path: "/chat" subprotocols: ["chat.v2", "chat.v1"] }
  echo {}
}
)",
                                         "websocket");
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() { delete server_; }

  static std::unique_ptr<TestClient> Open(const std::string& service = "echo",
                                          const std::string& path = "/",
                                          const std::string& extra = "") {
    auto client = std::make_unique<TestClient>(server_->port(service));
    client->Send(
        absl::StrCat("GET ", path,
                     " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n",
                     extra, "\r\n"));
    std::string response;
    while (!absl::StrContains(response, "\r\n\r\n")) {
      std::string line = client->ReadLine(5000);
      if (client->eof() && line.empty()) break;
      response += line + "\n";
    }
    last_handshake_ = response;
    return client;
  }
  static SockmanProcess* server_;
  static std::string last_handshake_;
};

SockmanProcess* WebSocketTest::server_ = nullptr;
std::string WebSocketTest::last_handshake_;

TEST_F(WebSocketTest, HandshakeThenEchoAtLengthBoundaries) {
  auto client = Open();
  EXPECT_TRUE(absl::StartsWith(last_handshake_, "HTTP/1.1 101 Switching Protocols"))
      << last_handshake_;
  EXPECT_TRUE(
      absl::StrContains(last_handshake_, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  for (size_t size : {0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20}) {
    std::string text(size, 'a' + size % 26);
    ASSERT_TRUE(client->Send(ClientFrame(0x81, text)));
    auto [opcode, payload] = ReadFrame(*client);
    EXPECT_EQ(opcode, 1) << size;
    EXPECT_TRUE(payload == text) << size << " got " << payload.size();
    std::string binary(size, '\xfe');
    ASSERT_TRUE(client->Send(ClientFrame(0x82, binary)));
    auto [bop, bpayload] = ReadFrame(*client);
    EXPECT_EQ(bop, 2) << size;
    EXPECT_TRUE(bpayload == binary) << size;
  }
}

TEST_F(WebSocketTest, FragmentsPingAndCloseHandshake) {
  auto client = Open();
  ASSERT_TRUE(client->Send(ClientFrame(0x01, "frag") + ClientFrame(0x89, "are you there") +
                           ClientFrame(0x00, "men") + ClientFrame(0x80, "ted")));
  auto pong = ReadFrame(*client);
  EXPECT_EQ(pong.first, 0xA);
  EXPECT_EQ(pong.second, "are you there");
  auto echo = ReadFrame(*client);
  EXPECT_EQ(echo.first, 1);
  EXPECT_EQ(echo.second, "fragmented");
  ASSERT_TRUE(client->Send(ClientFrame(0x8A, "unsolicited pong")));
  ASSERT_TRUE(client->Send(ClientFrame(0x88, std::string("\x03\xe8"
                                                         "bye",
                                                         5))));
  auto close = ReadFrame(*client);
  EXPECT_EQ(close.first, 8);
  EXPECT_EQ(close.second, std::string("\x03\xe8", 2));
  EXPECT_TRUE(client->WaitClosed());
}

struct Violation {
  const char* name;
  std::string bytes;
  int code;
};

TEST_F(WebSocketTest, ViolationsGetTheExactCloseCode) {
  std::vector<Violation> cases = {
      {"unmasked", ClientFrame(0x81, "x", false), 1002},
      {"rsv1", ClientFrame(0xC1, "x"), 1002},
      {"reserved opcode", ClientFrame(0x83, "x"), 1002},
      {"long ping", ClientFrame(0x89, std::string(126, 'p')), 1002},
      {"fragmented ping", ClientFrame(0x09, "p"), 1002},
      {"stray continuation", ClientFrame(0x80, "x"), 1002},
      {"message inside message", ClientFrame(0x01, "a") + ClientFrame(0x81, "b"), 1002},
      {"bad close code", ClientFrame(0x88, std::string("\x03\xed", 2)), 1002},
      {"one-byte close", ClientFrame(0x88, "x"), 1002},
      {"invalid utf-8", ClientFrame(0x81, "\xc0\xaf"), 1007},
      {"invalid close reason", ClientFrame(0x88, std::string("\x03\xe8\xff", 3)), 1007},
  };
  for (const Violation& v : cases) {
    auto client = Open();
    ASSERT_TRUE(client->Send(v.bytes)) << v.name;
    auto [opcode, payload] = ReadFrame(*client);
    EXPECT_EQ(opcode, 8) << v.name;
    ASSERT_EQ(payload.size(), 2u) << v.name;
    int code =
        (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
    EXPECT_EQ(code, v.code) << v.name;
  }
  auto small = Open("small", "/chat");
  ASSERT_TRUE(small->Send(ClientFrame(0x82, std::string(70000, 'x')).substr(0, 14)));
  auto [opcode, payload] = ReadFrame(*small);
  EXPECT_EQ(opcode, 8);
  EXPECT_EQ(payload, std::string("\x03\xf1", 2));  // 1009
}

TEST_F(WebSocketTest, HttpAnswersForNonUpgradesAndWrongPaths) {
  TestClient plain(server_->port("echo"));
  plain.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string response = plain.ReadExactly(4096, 3000);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 426 Upgrade Required")) << response;
  EXPECT_TRUE(absl::StrContains(response, "Sec-WebSocket-Version: 13")) << response;
  Open("small", "/elsewhere");
  EXPECT_TRUE(absl::StartsWith(last_handshake_, "HTTP/1.1 404")) << last_handshake_;
  auto chat = Open("small", "/chat", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n");
  EXPECT_TRUE(absl::StrContains(last_handshake_, "Sec-WebSocket-Protocol: chat.v2"))
      << last_handshake_;
}

std::string RunNodeClient(int port, const std::string& mode) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  if (modules == nullptr) return "run through ./bazelw, which installs Node's ws";
  return Shell(absl::StrCat(
      "NODE_PATH=", modules,
      " timeout 60 node integration/node/ws_echo_client.js ws://127.0.0.1:", port, "/ ", mode));
}

TEST_F(WebSocketTest, NodeWsClientEchoesEverything) {
  EXPECT_EQ(RunNodeClient(server_->port("echo"), "plain"), "ok 15\n");
}

TEST_F(WebSocketTest, NodeWsClientEchoesEverythingDeflated) {
  EXPECT_EQ(RunNodeClient(server_->port("zecho"), "deflate"), "ok 15\n");
  EXPECT_EQ(RunNodeClient(server_->port("zecho"), "deflate-nct"), "ok 15\n");
}

// A compressed message in, a compressed echo out (RSV1 set); a deflate bomb
// closes 1009 instead of inflating without bound.
TEST_F(WebSocketTest, DeflateOverRawSockets) {
  auto client = Open("zecho", "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  ASSERT_TRUE(absl::StrContains(last_handshake_, "Sec-WebSocket-Extensions: permessage-deflate"))
      << last_handshake_;
  client->Send(ClientFrame(0xC1, std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7)));  // "Hello"
  auto [opcode, payload] = ReadFrame(*client);
  EXPECT_EQ(opcode, 1);
  EXPECT_EQ(payload, "Hello");  // short replies go uncompressed
  MessageDeflater deflater(15, false);
  std::string message(5000, 'z'), compressed;
  ASSERT_TRUE(deflater.Deflate(message, compressed));
  client->Send(ClientFrame(0xC1, compressed));
  std::string header = client->ReadExactly(2);
  ASSERT_EQ(header.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(header[0]), 0xC1);  // FIN | RSV1 | text
  std::string reply = client->ReadExactly(header[1] & 0x7F);
  MessageInflater inflater(false);
  std::string back;
  ASSERT_EQ(inflater.Inflate(reply, true, 1 << 20, back), MessageInflater::Result::kOk);
  EXPECT_EQ(back, message);

  auto bombed = Open("zecho", "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  MessageDeflater bomber(15, false);
  std::string bomb;
  ASSERT_TRUE(bomber.Deflate(std::string(100 << 20, 'b'), bomb));  // 100 MiB > 20 MB limit
  bombed->Send(ClientFrame(0xC2, bomb));
  auto [close_opcode, close_payload] = ReadFrame(*bombed);
  EXPECT_EQ(close_opcode, 8);
  EXPECT_EQ(close_payload, std::string("\x03\xf1", 2));  // 1009
}

}  // namespace
}  // namespace sockman::testing

namespace sockman::testing {
namespace {

// A graceful stop closes open WebSockets with 1001 (going away) so clients
// reconnect to a live worker, and waits for them to finish the handshake.
TEST(WebSocketCloseTest, GracefulStopSaysGoingAway) {
  auto server = SockmanProcess::Start(
      "service { name: \"ws\" listen: \"ws://127.0.0.1:0\" echo {} }\n", "", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  WebSocketClient upgraded((*server)->port("ws"), "/");
  ASSERT_TRUE(upgraded.ok());
  TestClient& client = upgraded.socket();
  kill((*server)->pid(), SIGQUIT);
  auto [opcode, payload] = ReadFrame(client);
  EXPECT_EQ(opcode, 8);
  EXPECT_EQ(payload, std::string("\x03\xe9", 2));              // 1001
  client.Send(ClientFrame(0x88, std::string("\x03\xe9", 2)));  // the client's answer
  EXPECT_TRUE(client.WaitClosed(3000));
  EXPECT_EQ((*server)->Stop(SIGQUIT), 0);
}

}  // namespace
}  // namespace sockman::testing
