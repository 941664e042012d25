// Webhooks on the real binary, against a Python backend
// (testdata/webhook_backend.py): connect/message/close events with the
// client's facts in headers, replies back to the client, session, rooms and
// close by reply header, per-client order, keep-alive to the backend, a
// backend that is down, and a chat built from broadcast + webhook + push.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/webhook_backend.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

uint16_t LocalPort(TestClient& client) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  getsockname(client.fd(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

std::string WelcomeId(const std::string& welcome) {
  EXPECT_TRUE(absl::StartsWith(welcome, "welcome ")) << welcome;
  return welcome.size() > 8 ? welcome.substr(8) : "";
}

class WebhookTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    late_port_ = FreePort();
    backend_ = new WebhookBackend();
    ASSERT_NE(backend_->port(), 0) << "the backend did not start";
    std::string url = absl::StrCat("http://127.0.0.1:", backend_->port(), "/events/in");
    auto started = SockmanProcess::Start(
        absl::StrCat(R"(
service {
  name: "gw"
  listen: "ws://127.0.0.1:0"
  count: 2
  webhook { url: ")",
                     url,
                     R"(" max_connections: 4 header { name: "Authorization" value: "Bearer t0k" } }
}
service { name: "lines" listen: "text://127.0.0.1:0" webhook { url: ")",
                     url, R"(" events: MESSAGE } }
service { name: "raw" listen: "tcp://127.0.0.1:0" webhook { url: ")",
                     url, R"(" events: MESSAGE } }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "gw" } }
service { name: "proxied" listen: "ws://127.0.0.1:0" real_ip { trusted: "127.0.0.1" }
          webhook { url: ")",
                     url, R"(" events: CONNECT } }
service {
  name: "chat"
  listen: "ws://127.0.0.1:0"
  count: 2
  broadcast { rooms_from_path: true template: "{client_id}: {message}" webhook { url: ")",
                     url, R"(" } }
}
service { name: "chat_api" listen: "http://127.0.0.1:0" push { service: "chat" } }
service { name: "down" listen: "text://127.0.0.1:0" webhook { url: "http://127.0.0.1:)",
                     FreePort(), R"(/" timeout_ms: 500 retry_ms: 0 } }
service { name: "pair" listen: "text://127.0.0.1:0" webhook {
  url: "http://127.0.0.1:)",
                     FreePort(), R"(/dead" url: ")", url, R"(" events: MESSAGE } }
service { name: "later" listen: "text://127.0.0.1:0" webhook {
  url: "http://127.0.0.1:)",
                     late_port_, R"(/events" events: MESSAGE retry_ms: 20000 } }
)"),
        "webhook", ShortTempDir());
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
    Shell(absl::StrCat("curl -s -d http://127.0.0.1:", server_->port("chat_api"),
                       " http://127.0.0.1:", backend_->port(), "/config"));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete backend_;
  }
  static WebhookBackend* backend_;
  static SockmanProcess* server_;
  static uint16_t late_port_;  // a backend that starts after the events
};

uint16_t WebhookTest::late_port_ = 0;

WebhookBackend* WebhookTest::backend_ = nullptr;
SockmanProcess* WebhookTest::server_ = nullptr;

TEST_F(WebhookTest, EventsReachTheBackendAndRepliesReachTheClient) {
  WebSocketClient ws(server_->port("gw"), "/app?token=abc");
  ASSERT_TRUE(ws.ok());
  std::string id = WelcomeId(ws.Next());
  ws.Send("hello");
  EXPECT_EQ(ws.Next(), "echo: hello");
  ws.Send("bin:raw");
  auto frame = ws.NextFrame();
  EXPECT_EQ(frame.first, 0x82);
  EXPECT_EQ(frame.second, "raw");
  uint16_t port = LocalPort(ws.socket());
  ws.Close();

  std::vector<std::string> events = backend_->WaitEvents(id, 4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_TRUE(absl::StrContains(events[0], "\"X-Sockman-Event\": \"connect\"")) << events[0];
  EXPECT_TRUE(absl::StrContains(events[0], "\"X-Sockman-Request-Uri\": \"/app?token=abc\""))
      << events[0];
  EXPECT_TRUE(absl::StrContains(events[1], "\"X-Sockman-Event\": \"message\"")) << events[1];
  EXPECT_TRUE(absl::StrContains(events[1], "\"X-Sockman-Message-Type\": \"text\"")) << events[1];
  EXPECT_TRUE(absl::StrContains(events[1], "\"content-type\": \"text/plain; charset=utf-8\""))
      << events[1];
  EXPECT_TRUE(absl::StrContains(events[1], "\"body\": \"hello\"")) << events[1];
  EXPECT_TRUE(absl::StrContains(events[3], "\"X-Sockman-Event\": \"close\"")) << events[3];
  for (const std::string& event : events) {
    EXPECT_TRUE(absl::StrContains(event, "\"X-Sockman-Service\": \"gw\"")) << event;
    EXPECT_TRUE(absl::StrContains(event, "\"X-Sockman-Remote-Addr\": \"127.0.0.1\"")) << event;
    EXPECT_TRUE(absl::StrContains(event, "\"forwarded\": \"127.0.0.1\"")) << event;
    EXPECT_TRUE(absl::StrContains(event, "\"X-Sockman-Worker-Id\": \"")) << event;
    EXPECT_TRUE(absl::StrContains(event, absl::StrCat("\"X-Sockman-Remote-Port\": \"", port, "\"")))
        << event;
    EXPECT_TRUE(absl::StrContains(event, "\"path\": \"/events/in\"")) << event;
    EXPECT_TRUE(absl::StrContains(event, "\"auth\": \"Bearer t0k\"")) << event;
  }
}

// Behind a trusted proxy, the backend gets the client the proxy named as
// X-Sockman-Remote-Addr, and the X-Forwarded-For chain as received.
TEST_F(WebhookTest, TheRealClientAddressBehindATrustedProxy) {
  TestClient ws(server_->port("proxied"));
  ws.Send(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "X-Forwarded-For: 6.6.6.6, 203.0.113.50\r\n\r\n");
  for (std::string line = ws.ReadLine(3000); !line.empty() && line != "\r";) {
    line = ws.ReadLine(3000);
  }
  std::string header = ws.ReadExactly(2, 3000);
  ASSERT_EQ(header.size(), 2u);
  std::string welcome = ws.ReadExactly(static_cast<unsigned char>(header[1]) & 0x7f, 3000);
  ASSERT_TRUE(absl::StartsWith(welcome, "welcome ")) << welcome;
  std::vector<std::string> events = backend_->WaitEvents(welcome.substr(8), 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(absl::StrContains(events[0], "\"X-Sockman-Remote-Addr\": \"203.0.113.50\""))
      << events[0];
  EXPECT_TRUE(absl::StrContains(events[0], "\"forwarded\": \"6.6.6.6, 203.0.113.50, 127.0.0.1\""))
      << events[0];
}

TEST_F(WebhookTest, SessionRoomsAndCloseByReplyHeaders) {
  WebSocketClient ws(server_->port("gw"), "/");
  ASSERT_TRUE(ws.ok());
  std::string id = WelcomeId(ws.Next());
  ws.Send("set:user=tom%20s");
  EXPECT_EQ(ws.Next(), "set");
  ws.Send("join:lobby");
  EXPECT_EQ(ws.Next(), "joined lobby");
  ws.Send("who");
  EXPECT_EQ(ws.Next(), "echo: who");
  std::vector<std::string> events = backend_->WaitEvents(id, 4);
  ASSERT_GE(events.size(), 4u);
  EXPECT_TRUE(absl::StrContains(events[3], "\"X-Sockman-Session\": \"user=tom%20s\"")) << events[3];
  EXPECT_TRUE(absl::StrContains(events[3], "\"X-Sockman-Room\": \"lobby\"")) << events[3];

  // The push API reaches the client in the room the backend put it in.
  std::string pushed = Shell(absl::StrCat(
      "curl -s -d 'to the lobby' http://127.0.0.1:", server_->port("api"), "/rooms/lobby"));
  EXPECT_TRUE(absl::StrContains(pushed, "\"delivered\":1")) << pushed;
  EXPECT_EQ(ws.Next(), "to the lobby");

  // A reply that closes: its body first, then the close.
  ws.Send("bye");
  EXPECT_EQ(ws.Next(), "bye");
  auto frame = ws.NextFrame();
  EXPECT_EQ(frame.first, 0x88);  // close
  ws.socket().Send(ClientFrame(0x88, frame.second));
  EXPECT_TRUE(ws.WaitClosed());
  ws.Close();  // the server's lingering close waits for this FIN
  events = backend_->WaitEvents(id, 6);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_TRUE(absl::StrContains(events[5], "\"X-Sockman-Event\": \"close\"")) << events[5];
}

TEST_F(WebhookTest, OneClientsEventsStayInOrderAndShareKeptConnections) {
  int before = 0;
  {
    std::string stats = backend_->Get("/stats");
    (void)absl::SimpleAtoi(stats.substr(stats.find(':') + 1, stats.find(',') - stats.find(':') - 1),
                           &before);
  }
  std::vector<std::unique_ptr<WebSocketClient>> clients;
  for (int c = 0; c < 4; ++c) {
    clients.push_back(std::make_unique<WebSocketClient>(server_->port("gw"), "/"));
    ASSERT_TRUE(clients.back()->ok());
    WelcomeId(clients.back()->Next());
  }
  for (int i = 0; i < 50; ++i) {
    for (auto& client : clients) client->Send(absl::StrCat("n", i));
  }
  for (auto& client : clients) {
    for (int i = 0; i < 50; ++i) ASSERT_EQ(client->Next(), absl::StrCat("echo: n", i));
  }
  std::string stats = backend_->Get("/stats");
  int after = 0;
  (void)absl::SimpleAtoi(stats.substr(stats.find(':') + 1, stats.find(',') - stats.find(':') - 1),
                         &after);
  // 204 events over at most 4 kept connections per worker (2 workers).
  EXPECT_LE(after - before, 8) << stats;
}

TEST_F(WebhookTest, TextServicesAndChosenEvents) {
  TestClient lines(server_->port("lines"));
  ASSERT_TRUE(lines.Send("one\nfail\ntwo\n"));
  EXPECT_EQ(lines.ReadLine(), "echo: one");
  EXPECT_EQ(lines.ReadLine(), "echo: two");  // a 500 sends nothing
  lines.Close();
  // Only message events were asked for.
  std::string events = backend_->Get("/events");
  EXPECT_FALSE(absl::StrContains(
      events, "\"X-Sockman-Event\": \"connect\", \"X-Sockman-Service\": \"lines\""));
  EXPECT_TRUE(absl::StrContains(
      events, "\"X-Sockman-Event\": \"message\", \"X-Sockman-Service\": \"lines\""));
  std::string status = Shell(SockmanBinary() + " status --json -c " + server_->config_path());
  EXPECT_TRUE(absl::StrContains(status, "\"backend_errors\":1")) << status;
}

// tcp://: what one read returns is one message event, marked binary; the
// reply's bytes go back as they are.
TEST_F(WebhookTest, RawTcpServicesPostEachRead) {
  TestClient raw(server_->port("raw"));
  ASSERT_TRUE(raw.Send("hex:00ff7e0a"));
  EXPECT_EQ(raw.ReadExactly(4), std::string("\x00\xff\x7e\x0a", 4));
  std::string events = backend_->Get("/events");
  EXPECT_TRUE(
      absl::StrContains(events, "\"X-Sockman-Event\": \"message\", \"X-Sockman-Service\": \"raw\""))
      << events;
  EXPECT_TRUE(absl::StrContains(events, "\"X-Sockman-Message-Type\": \"binary\"")) << events;
}

TEST_F(WebhookTest, ABackendThatIsDownCostsOnlyItsEvents) {
  // The `status --json` record of the "down" service's worker.
  auto down_worker = [] {
    std::string status = Shell(SockmanBinary() + " status --json -c " + server_->config_path());
    size_t at = status.find("\"service\":\"down\"");
    return at == std::string::npos ? status : status.substr(at, status.find('}', at) - at);
  };
  TestClient client(server_->port("down"));
  ASSERT_TRUE(client.Send("anyone?\n"));
  EXPECT_EQ(client.ReadLine(500), "");  // nothing comes back
  EXPECT_FALSE(client.eof());           // and the client stays connected
  std::string worker = down_worker();
  for (int i = 0; i < 50 && absl::StrContains(worker, "\"backend_errors\":0"); ++i) {
    usleep(50'000);
    worker = down_worker();
  }
  EXPECT_TRUE(absl::StrContains(worker, "\"backend_errors\":2")) << worker;  // connect, message
  TestClient again(server_->port("down"));
  EXPECT_TRUE(again.Send("still up\n"));
  EXPECT_FALSE(again.WaitClosed(300));
}

// Several backends (BusinessWorkers): one is dead, so every event goes to
// the other, in order, and none is lost.
TEST_F(WebhookTest, EventsFailOverToALiveBackend) {
  TestClient client(server_->port("pair"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.Send(absl::StrCat("n", i, "\n")));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(client.ReadLine(3000), absl::StrCat("echo: n", i));
}

// While no backend is up, events wait (in order) and are retried; a backend
// that comes up gets them all.
TEST_F(WebhookTest, EventsWaitForABackendThatComesUp) {
  TestClient client(server_->port("later"));
  ASSERT_TRUE(client.Send("first\nsecond\n"));
  EXPECT_EQ(client.ReadLine(600), "");  // nobody to answer yet
  WebhookBackend late("", "", late_port_);
  ASSERT_EQ(late.port(), late_port_);
  EXPECT_EQ(client.ReadLine(15000), "echo: first");
  EXPECT_EQ(client.ReadLine(3000), "echo: second");
}

// A moderated chat room from config only: broadcast relays messages within
// rooms, the backend greets each client privately and kicks a spammer,
// announcing it to the room through the push API.
TEST_F(WebhookTest, ChatFromBroadcastWebhookAndPush) {
  WebSocketClient alice(server_->port("chat"), "/rooms/lobby");
  WebSocketClient bob(server_->port("chat"), "/rooms/lobby");
  WebSocketClient carol(server_->port("chat"), "/rooms/elsewhere");
  ASSERT_TRUE(alice.ok() && bob.ok() && carol.ok());
  std::string a = WelcomeId(alice.Next());
  WelcomeId(bob.Next());
  WelcomeId(carol.Next());
  alice.Send("hi all");
  EXPECT_EQ(bob.Next(), absl::StrCat(a, ": hi all"));
  EXPECT_EQ(alice.Next(), absl::StrCat(a, ": hi all"));
  EXPECT_EQ(alice.Next(), "echo: hi all");  // the backend's private answer
  alice.Send("spam");
  EXPECT_EQ(bob.Next(), absl::StrCat(a, ": spam"));
  EXPECT_EQ(bob.Next(), absl::StrCat("kicked ", a));
  EXPECT_EQ(alice.Next(), absl::StrCat(a, ": spam"));
  EXPECT_EQ(alice.Next(), absl::StrCat("kicked ", a));
  EXPECT_EQ(alice.NextFrame().first, 0x88);
  EXPECT_EQ(carol.Next(500), "<none>");  // another room heard nothing
}

// https:// backends: the certificate is verified against ca_file for the
// host in the url; a backend the bundle does not vouch for gets nothing.
// A reply marked binary reaches a real client (Node's `ws`) as a binary
// message with the exact bytes, which need not be UTF-8.
TEST_F(WebhookTest, BinaryRepliesReachNodeClientsAsBinary) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  std::string out = Shell(
      absl::StrCat("NODE_PATH=", modules != nullptr ? modules : "",
                   " timeout 60 node integration/node/binary_delivery.js webhook ws://127.0.0.1:",
                   server_->port("gw"), "/ 2>&1"));
  EXPECT_TRUE(absl::StartsWith(out, "ok 2")) << out;
}

TEST(WebhookTlsTest, HttpsBackendsAreVerified) {
  std::string dir = ShortTempDir();
  ASSERT_TRUE(MakeTestCertificates(dir));
  WebhookBackend backend(dir + "/server.pem", dir + "/server.key");
  ASSERT_NE(backend.port(), 0) << "the backend did not start";
  auto url = [&](const std::string& host) {
    return absl::StrCat("https://", host, ":", backend.port(), "/events");
  };
  auto started = SockmanProcess::Start(
      absl::StrCat(R"(
service { name: "byname" listen: "text://127.0.0.1:0"
          webhook { url: ")",
                   url("localhost"), R"(" ca_file: ")", dir, R"(/ca.pem" events: MESSAGE } }
service { name: "byip" listen: "text://127.0.0.1:0"
          webhook { url: ")",
                   url("127.0.0.1"), R"(" ca_file: ")", dir, R"(/ca.pem" events: MESSAGE } }
service { name: "untrusted" listen: "text://127.0.0.1:0"
          webhook { url: ")",
                   url("localhost"), R"(" ca_file: ")", dir, R"(/server.pem" events: MESSAGE } }
)"),
      "webhook_tls", dir);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<SockmanProcess> server = std::move(*started);

  for (const char* service : {"byname", "byip"}) {
    TestClient client(server->port(service));
    ASSERT_TRUE(client.Send("over tls\n"));
    EXPECT_EQ(client.ReadLine(), "echo: over tls") << service;
    ASSERT_TRUE(client.Send("again\n"));  // on the kept connection
    EXPECT_EQ(client.ReadLine(), "echo: again") << service;
  }

  TestClient client(server->port("untrusted"));
  ASSERT_TRUE(client.Send("secret\n"));
  EXPECT_EQ(client.ReadLine(1000), "");
  std::string log;
  for (int i = 0; i < 100 && !absl::StrContains(log, "certificate verify failed"); ++i) {
    usleep(50'000);
    log = server->Stderr();
  }
  EXPECT_TRUE(absl::StrContains(log, "certificate verify failed")) << log;

  // A bundle that is not there is a config error, before anything starts.
  auto refused = SockmanProcess::Start(
      R"(service { name: "x" listen: "text://127.0.0.1:0"
                   webhook { url: "https://localhost/" ca_file: "/nonexistent/ca.pem" } })",
      "webhook_tls_bad", dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "cannot read /nonexistent/ca.pem"))
      << refused.status();
}

}  // namespace
}  // namespace sockman::testing
