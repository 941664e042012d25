// The proxy handler on the real binary: to an upstream named by host name
// (localhost, resolved with c-ares), failover to the next upstream, messages
// on text services, surviving an upstream restart, and 100 MiB through it
// with bounded memory (backpressure both ways).
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

std::unique_ptr<SockmanProcess> Backend(uint16_t port) {
  auto started = SockmanProcess::Start(
      absl::StrCat("service { name: \"echo\" listen: \"tcp://127.0.0.1:", port, "\" echo {} }\n"),
      "", ShortTempDir());
  EXPECT_TRUE(started.ok()) << started.status();
  return started.ok() ? std::move(*started) : nullptr;
}

TEST(ProxyTest, ForwardsByHostNameFailsOverAndSurvivesUpstreamRestarts) {
  uint16_t port = FreePort();
  uint16_t dead = FreePort();
  auto backend = Backend(port);
  ASSERT_NE(backend, nullptr);
  auto front = SockmanProcess::Start(
      absl::StrCat("service { name: \"raw\" listen: \"tcp://127.0.0.1:0\" proxy { upstream: "
                   "\"tcp://localhost:",
                   port, "\" } }\n",
                   "service { name: \"lines\" listen: \"text://127.0.0.1:0\" proxy { upstream: "
                   "[\"tcp://127.0.0.1:",
                   dead, "\", \"tcp://localhost:", port, "\"] connect_timeout_ms: 500 } }\n",
                   "service { name: \"bridge\" listen: \"ws://127.0.0.1:0\" proxy { upstream: "
                   "\"tcp://localhost:",
                   port, "\" } }\n"),
      "", ShortTempDir());
  ASSERT_TRUE(front.ok()) << front.status();

  TestClient raw((*front)->port("raw"));
  ASSERT_TRUE(raw.Send("through the proxy"));
  EXPECT_EQ(raw.ReadExactly(17), "through the proxy");

  // text: the first upstream refuses, the second answers; lines stay lines.
  for (int i = 0; i < 2; ++i) {  // both round-robin starting points
    TestClient lines((*front)->port("lines"));
    ASSERT_TRUE(lines.Send("one\ntwo\n"));
    EXPECT_EQ(lines.ReadLine(), "one");
    EXPECT_EQ(lines.ReadLine(), "two");
  }

  // websockify: WebSocket messages go up as bytes, come back as binary messages.
  WebSocketClient upgraded((*front)->port("bridge"), "/");
  ASSERT_TRUE(upgraded.ok());
  TestClient& ws = upgraded.socket();
  ASSERT_TRUE(ws.Send(ClientFrame(0x81, "bridged")));
  EXPECT_EQ(ws.ReadExactly(9),
            "\x82\x07"
            "bridged");

  // The upstream goes away: the open connection is closed, new ones too...
  backend.reset();
  EXPECT_TRUE(raw.WaitClosed(3000));
  TestClient refused((*front)->port("raw"));
  EXPECT_TRUE(refused.WaitClosed(5000));
  // ...and once it is back, the proxy serves again.
  backend = Backend(port);
  ASSERT_NE(backend, nullptr);
  TestClient again((*front)->port("raw"));
  ASSERT_TRUE(again.Send("back"));
  EXPECT_EQ(again.ReadExactly(4), "back");
}

// WebSocket to a ws:// upstream (sockman's own WebSocket client): messages
// keep their type and size, the upstream's path and the client's are used as
// configured, and an upstream that refuses the upgrade closes the client.
TEST(ProxyTest, WebSocketToAWebSocketUpstream) {
  auto upstream = SockmanProcess::Start(R"(
service { name: "up" listen: "ws://127.0.0.1:0" websocket { path: "/up" } echo { prefix: "up: " } }
)",
                                        "", ShortTempDir());
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  uint16_t port = (*upstream)->port("up");
  auto front =
      SockmanProcess::Start(absl::StrCat("service { name: \"fixed\" listen: \"ws://127.0.0.1:0\" "
                                         "proxy { upstream: \"ws://localhost:",
                                         port, "/up\" } }\n",
                                         "service { name: \"passthrough\" listen: "
                                         "\"ws://127.0.0.1:0\" proxy { upstream: \"ws://127.0.0.1:",
                                         port, "\" } }\n"),
                            "", ShortTempDir());
  ASSERT_TRUE(front.ok()) << front.status();

  WebSocketClient ws((*front)->port("fixed"), "/anything");
  ASSERT_TRUE(ws.ok());
  ws.Send("hello");
  EXPECT_EQ(ws.Next(), "up: hello");
  TestClient& raw = ws.socket();
  ASSERT_TRUE(raw.Send(ClientFrame(0x82, "bin")));
  auto frame = ws.NextFrame();
  EXPECT_EQ(frame.first, 0x82);
  EXPECT_EQ(frame.second, "up: bin");
  std::string big(60000, 'x');
  ws.Send(big);
  EXPECT_EQ(ws.Next(), "up: " + big);

  // The client's own path when the upstream names none.
  WebSocketClient through((*front)->port("passthrough"), "/up");
  ASSERT_TRUE(through.ok());
  through.Send("again");
  EXPECT_EQ(through.Next(), "up: again");
  // A path the upstream refuses (404): the client is closed.
  WebSocketClient refused((*front)->port("passthrough"), "/wrong");
  ASSERT_TRUE(refused.ok());
  EXPECT_TRUE(refused.WaitClosed(3000));
  std::string status = Shell(SockmanBinary() + " status --json -c " + (*front)->config_path());
  EXPECT_TRUE(absl::StrContains(status, "\"backend_errors\":1")) << status;
}

// tls:// and wss:// upstreams (sockman serving TLS): the certificate is
// verified for the upstream's host against ca_file.
TEST(ProxyTest, TlsUpstreams) {
  std::string dir = ShortTempDir();
  ASSERT_TRUE(MakeTestCertificates(dir));
  std::string tls = absl::StrCat("transport: SSL tls { cert_file: \"", dir,
                                 "/server.pem\" key_file: \"", dir, "/server.key\" }");
  auto upstream = SockmanProcess::Start(
      absl::StrCat("service { name: \"bytes\" listen: \"tcp://127.0.0.1:0\" ", tls, " echo {} }\n",
                   "service { name: \"ws\" listen: \"ws://127.0.0.1:0\" ", tls,
                   " echo { prefix: \"up: \" } }\n"),
      "", dir);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  std::string ca = absl::StrCat(" ca_file: \"", dir, "/ca.pem\"");
  auto front = SockmanProcess::Start(
      absl::StrCat("service { name: \"tls\" listen: \"tcp://127.0.0.1:0\" proxy { upstream: "
                   "\"tls://localhost:",
                   (*upstream)->port("bytes"), "\"", ca, " } }\n",
                   "service { name: \"wss\" listen: \"ws://127.0.0.1:0\" proxy { upstream: "
                   "\"wss://127.0.0.1:",
                   (*upstream)->port("ws"), "/\"", ca, " } }\n",
                   "service { name: \"untrusted\" listen: \"tcp://127.0.0.1:0\" proxy { upstream: "
                   "\"tls://localhost:",
                   (*upstream)->port("bytes"), "\" ca_file: \"", dir, "/server.pem\" } }\n"),
      "", dir);
  ASSERT_TRUE(front.ok()) << front.status();

  TestClient client((*front)->port("tls"));
  ASSERT_TRUE(client.Send("through tls\n"));
  EXPECT_EQ(client.ReadLine(), "through tls");
  std::string big(300000, 'z');
  ASSERT_TRUE(client.Send(big));
  EXPECT_EQ(client.ReadExactly(big.size()), big);

  WebSocketClient ws((*front)->port("wss"), "/");
  ASSERT_TRUE(ws.ok());
  ws.Send("hello");
  EXPECT_EQ(ws.Next(), "up: hello");

  // An upstream the bundle does not vouch for: the client is closed,
  // nothing reaches the upstream, and the reason is logged.
  TestClient refused((*front)->port("untrusted"));
  refused.Send("secret\n");
  EXPECT_TRUE(refused.WaitClosed(5000));
  EXPECT_TRUE(absl::StrContains((*front)->Stderr(), "certificate verify failed"))
      << (*front)->Stderr();
}

TEST(ProxyTest, HundredMebibytesWithBoundedMemory) {
  uint16_t port = FreePort();
  auto backend = Backend(port);
  ASSERT_NE(backend, nullptr);
  auto front = SockmanProcess::Start(
      absl::StrCat("service { name: \"raw\" listen: \"tcp://127.0.0.1:0\" proxy { upstream: "
                   "\"tcp://127.0.0.1:",
                   port, "\" } }\n"),
      "", ShortTempDir());
  ASSERT_TRUE(front.ok()) << front.status();
  std::vector<pid_t> workers = (*front)->WorkerPids();
  ASSERT_EQ(workers.size(), 1u);
  // Send 100 MiB and read the echo back at the same time; count and sum it.
  std::string out =
      Shell(absl::StrCat("python3 - <<'PY'\n"
                         "import hashlib, selectors, socket\n"
                         "total = 100 << 20\n"
                         "chunk = bytes(range(256)) * 256\n"
                         "s = socket.create_connection(('127.0.0.1', ",
                         (*front)->port("raw"),
                         "))\n"
                         "s.setblocking(False)\n"
                         "sel = selectors.DefaultSelector()\n"
                         "sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)\n"
                         "sent = received = 0\n"
                         "digest = hashlib.sha256()\n"
                         "view = memoryview(chunk)\n"
                         "while received < total:\n"
                         "    for key, events in sel.select(timeout=10):\n"
                         "        if events & selectors.EVENT_WRITE and sent < total:\n"
                         "            n = s.send(view[sent % len(chunk):])\n"
                         "            sent += n\n"
                         "            if sent >= total:\n"
                         "                sel.modify(s, selectors.EVENT_READ)\n"
                         "        if events & selectors.EVENT_READ:\n"
                         "            data = s.recv(1 << 20)\n"
                         "            if not data:\n"
                         "                raise SystemExit('closed after %d' % received)\n"
                         "            digest.update(data)\n"
                         "            received += len(data)\n"
                         "expected = hashlib.sha256()\n"
                         "for i in range(total // len(chunk)):\n"
                         "    expected.update(chunk)\n"
                         "print(received, digest.hexdigest() == expected.hexdigest())\n"
                         "PY\n"));
  EXPECT_EQ(out, absl::StrCat(100 << 20, " True\n"));
  // The proxy's peak resident memory stayed far below what it moved.
  std::string status = ReadFile(absl::StrCat("/proc/", workers[0], "/status"));
  size_t at = status.find("VmHWM:");
  ASSERT_NE(at, std::string::npos);
  long peak_kib = std::stol(status.substr(at + 6));
  EXPECT_LT(peak_kib, 48 * 1024) << status;
}

}  // namespace
}  // namespace sockman::testing
