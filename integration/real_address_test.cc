// The real client address behind proxies, on the real binary: the PROXY
// protocol (v1 and v2, from Debian's haproxy as a real sender and from raw
// sockets), required from trusted load balancers and refused from others,
// over plain TCP and before TLS; and X-Forwarded-For / Forwarded believed
// only from trusted proxies (haproxy's `option forwardfor` too). The real
// address is what exec's environment, access logs, `connections` and the
// webhook backend see.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/webhook_backend.h"

namespace sockman::testing {
namespace {

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 PROXY header for a TCP connection from [2001:db8::1]:4711.
std::string V2FromIpv6() {
  std::string block(36, '\0');
  block[0] = 0x20, block[1] = 0x01, block[2] = 0x0d, block[3] = static_cast<char>(0xb8);
  block[15] = 1;
  block[16] = 0x20, block[17] = 0x01, block[18] = 0x0d, block[19] = static_cast<char>(0xb8);
  block[31] = 2;
  block[32] = 0x12, block[33] = 0x67, block[34] = 0x01, block[35] = static_cast<char>(0xbb);
  return kV2Signature + std::string("\x21\x21\x00\x24", 4) + block;
}

std::string V2Local() { return kV2Signature + std::string("\x20\x00\x00\x00", 4); }

class RealAddressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ShortTempDir();
    ASSERT_TRUE(MakeTestCertificates(dir_));
    auto started = SockmanProcess::Start(absl::StrCat(R"(
global { log_file: "sockman.log" }
service { name: "px" listen: "text://127.0.0.1:0"
          proxy_protocol { trusted: ["127.0.0.1", "10.0.0.0/8"] timeout_ms: 500 }
          exec { command: "/bin/sh" args: ["-c", "echo $REMOTE_ADDR $REMOTE_PORT; cat"] } }
service { name: "elsewhere" listen: "text://127.0.0.1:0"
          proxy_protocol { trusted: "10.0.0.0/8" }
          exec { command: "/bin/sh" args: ["-c", "echo $REMOTE_ADDR; cat"] } }
service { name: "tls" listen: "https://127.0.0.1:0"
          tls { cert_file: "server.pem" key_file: "server.key" }
          proxy_protocol { trusted: "127.0.0.1" }
          access_log: "tls-access.log" respond { body: "over tls" } }
service { name: "web" listen: "http://127.0.0.1:0" access_log: "web-access.log"
          real_ip { trusted: ["127.0.0.1", "10.0.0.0/8"] } respond { body: "ok" } }
service { name: "untrusting" listen: "http://127.0.0.1:0" access_log: "untrusting-access.log"
          real_ip { trusted: "10.0.0.0/8" } respond { body: "ok" } }
service { name: "ws" listen: "ws://127.0.0.1:0"
          real_ip { trusted: "127.0.0.1" header: "Forwarded" }
          exec { command: "/bin/sh" args: ["-c", "echo $REMOTE_ADDR $REMOTE_PORT"] } }
)"),
                                         "real_address", dir_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  // The first line a text-service client gets after sending `bytes`.
  std::string FirstLine(const std::string& service, const std::string& bytes) {
    TestClient client(server_->port(service));
    client.Send(bytes);
    return client.ReadLine(3000);
  }

  // The access log, once the worker has written it (it flushes in the
  // background).
  std::string AccessLog(const std::string& name, const std::string& expected) {
    return PollUntilContains([&] { return ReadFile(dir_ + "/" + name); }, expected);
  }

  std::string dir_;
  std::unique_ptr<SockmanProcess> server_;
};

TEST_F(RealAddressTest, ProxyHeadersFromTrustedPeersNameTheClient) {
  EXPECT_EQ(FirstLine("px", "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n"), "192.0.2.1 51000");
  EXPECT_EQ(FirstLine("px", "PROXY TCP6 2001:db8::7 2001:db8::2 4712 443\r\n"), "2001:db8::7 4712");
  EXPECT_EQ(FirstLine("px", V2FromIpv6()), "2001:db8::1 4711");
  // LOCAL (a health check) and UNKNOWN: the connection is the proxy's own.
  EXPECT_TRUE(absl::StartsWith(FirstLine("px", V2Local()), "127.0.0.1 ")) << "LOCAL";
  EXPECT_TRUE(absl::StartsWith(FirstLine("px", "PROXY UNKNOWN\r\n"), "127.0.0.1 "));
  // The header in pieces, and the client's first bytes in the same packet.
  TestClient pieces(server_->port("px"));
  std::string header = "PROXY TCP4 192.0.2.9 198.51.100.2 1234 443\r\n";
  for (char c : header) {
    pieces.Send(std::string(1, c));
    usleep(2'000);
  }
  EXPECT_EQ(pieces.ReadLine(3000), "192.0.2.9 1234");
  pieces.Send("echoed\n");
  EXPECT_EQ(pieces.ReadLine(3000), "echoed");
  TestClient together(server_->port("px"));
  together.Send(header + "right after\n");
  EXPECT_EQ(together.ReadLine(3000), "192.0.2.9 1234");
  EXPECT_EQ(together.ReadLine(3000), "right after");
  // `connections` shows the client, not the balancer.
  CommandResult listed = RunSockman({"connections", "-c", server_->config_path()});
  EXPECT_TRUE(absl::StrContains(listed.out, "192.0.2.9:1234")) << listed.out;
}

TEST_F(RealAddressTest, MissingMalformedOrLateHeadersFromTrustedPeersClose) {
  for (const std::string& bad :
       {std::string("hello\n"), std::string("PROXY TCP4 192.0.2.1 198.51.100.2 051000 443\r\n"),
        std::string("PROXY TCP4 192.0.2.1\n"), kV2Signature + "\x21\x31"}) {
    TestClient client(server_->port("px"));
    client.Send(bad);
    EXPECT_TRUE(client.WaitClosed(3000)) << bad;
  }
  TestClient silent(server_->port("px"));  // timeout_ms: 500
  EXPECT_TRUE(silent.WaitClosed(3000));
  TestClient partial(server_->port("px"));
  partial.Send("PROXY TCP4 ");
  EXPECT_TRUE(partial.WaitClosed(3000));
  // Logged (at most a line per 10 s: peers cannot flood the log) and counted.
  std::string log = PollUntilContains([&] { return ReadFile(dir_ + "/sockman.log"); }, "required");
  EXPECT_TRUE(absl::StrContains(log, "connection from 127.0.0.1:")) << log;
  EXPECT_TRUE(absl::StrContains(log, "closed: no PROXY header (v1 or v2) where one is required"))
      << log;
  CommandResult status = RunSockman({"status", "--json", "-c", server_->config_path()});
  EXPECT_TRUE(absl::StrContains(status.out, R"("proxy_header_errors":6)")) << status.out;
}

TEST_F(RealAddressTest, UntrustedPeersAreThemselvesAndTheirHeadersRefused) {
  EXPECT_EQ(FirstLine("elsewhere", "hello\n"), "127.0.0.1");
  TestClient spoofing(server_->port("elsewhere"));
  spoofing.Send("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\nhello\n");
  EXPECT_TRUE(spoofing.WaitClosed(3000));
  std::string log = PollUntilContains([&] { return ReadFile(dir_ + "/sockman.log"); },
                                      "not in proxy_protocol.trusted");
  EXPECT_TRUE(absl::StrContains(
      log, "closed: a PROXY header from an address not in proxy_protocol.trusted"))
      << log;
}

// The header comes before the TLS handshake, which then starts clean.
TEST_F(RealAddressTest, ProxyHeaderBeforeTls) {
  std::string script = absl::StrCat(
      "import socket, ssl\n"
      "s = socket.create_connection(('127.0.0.1', ",
      server_->port("tls"),
      "))\n"
      "s.sendall(b'PROXY TCP4 198.51.100.77 198.51.100.2 40000 443\\r\\n')\n"
      "ctx = ssl.create_default_context(cafile='",
      dir_,
      "/ca.pem')\n"
      "t = ctx.wrap_socket(s, server_hostname='localhost')\n"
      "t.sendall(b'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n')\n"
      "data = b''\n"
      "while True:\n"
      "    chunk = t.recv(4096)\n"
      "    if not chunk: break\n"
      "    data += chunk\n"
      "print(data.decode().split('\\r\\n\\r\\n', 1)[1])\n");
  std::ofstream(dir_ + "/tls_client.py") << script;
  EXPECT_EQ(Shell(absl::StrCat("timeout 10 python3 ", dir_, "/tls_client.py 2>&1")), "over tls\n");
  std::string log = AccessLog("tls-access.log", "198.51.100.77");
  EXPECT_TRUE(absl::StartsWith(log, "198.51.100.77 - - [")) << log;
}

TEST_F(RealAddressTest, ForwardedForFromTrustedProxiesOnly) {
  std::string web = absl::StrCat("http://127.0.0.1:", server_->port("web"), "/");
  // The client's own claim (6.6.6.6) is left of the hop our proxy appended.
  Shell(absl::StrCat("curl -s -o /dev/null -H 'X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.1.1' ",
                     web, "a"));
  Shell(absl::StrCat("curl -s -o /dev/null ", web, "b"));  // no header: the peer
  std::string log = AccessLog("web-access.log", "/b ");
  EXPECT_TRUE(absl::StrContains(log, "203.0.113.9 - - [")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\n127.0.0.1 - - [")) << log;
  EXPECT_FALSE(absl::StrContains(log, "6.6.6.6")) << log;
  // A service that does not trust loopback ignores the header.
  Shell(absl::StrCat("curl -s -o /dev/null -H 'X-Forwarded-For: 203.0.113.9' http://127.0.0.1:",
                     server_->port("untrusting"), "/"));
  std::string untrusting = AccessLog("untrusting-access.log", "GET");
  EXPECT_TRUE(absl::StartsWith(untrusting, "127.0.0.1 - - [")) << untrusting;
}

// The first (short) message a WebSocket client gets after an upgrade with
// `headers` (whole "Name: value\r\n" lines).
std::string FirstWebSocketMessage(uint16_t port, const std::string& headers) {
  TestClient ws(port);
  ws.Send(
      absl::StrCat("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
                   headers, "\r\n"));
  for (std::string line = ws.ReadLine(3000); !line.empty() && line != "\r";) {
    line = ws.ReadLine(3000);
  }
  std::string frame = ws.ReadExactly(2, 3000);
  if (frame.size() != 2) return "<none>";
  return ws.ReadExactly(static_cast<unsigned char>(frame[1]) & 0x7f, 3000);
}

// Forwarded (RFC 7239) on a WebSocket upgrade: the connection keeps the
// client the upgrade named.
TEST_F(RealAddressTest, ForwardedOnAWebSocketUpgrade) {
  EXPECT_EQ(
      FirstWebSocketMessage(server_->port("ws"),
                            "Forwarded: for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\"\r\n"),
      "2001:db8:cafe::17 4711");
}

// sockman's WebSocket proxy passes the chain on as proxies do (the client's
// X-Forwarded-For, then the hop it came from), so an upstream sockman that
// trusts it finds the same client.
TEST_F(RealAddressTest, TheWebSocketProxyExtendsTheChain) {
  auto upstream = SockmanProcess::Start(R"(
service { name: "up" listen: "ws://127.0.0.1:0" real_ip { trusted: "127.0.0.1" }
          exec { command: "/bin/sh" args: ["-c", "echo $REMOTE_ADDR"] } }
)",
                                        "upstream", ShortTempDir());
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  auto front = SockmanProcess::Start(
      absl::StrCat("service { name: \"front\" listen: \"ws://127.0.0.1:0\" proxy { upstream: "
                   "\"ws://127.0.0.1:",
                   (*upstream)->port("up"), "\" } }\n"),
      "front", ShortTempDir());
  ASSERT_TRUE(front.ok()) << front.status();
  EXPECT_EQ(FirstWebSocketMessage((*front)->port("front"), "X-Forwarded-For: 203.0.113.5\r\n"),
            "203.0.113.5");
  EXPECT_EQ(FirstWebSocketMessage((*front)->port("front"), ""), "127.0.0.1");
}

// Debian's haproxy as the load balancer: send-proxy (v1) to a text service,
// send-proxy-v2 in front of TLS, and `option forwardfor` to an HTTP service.
// Clients reach haproxy from 127.0.0.2, so the address sockman reports is
// the client's, not haproxy's (127.0.0.1).
TEST_F(RealAddressTest, HaproxyAsTheSender) {
  uint16_t v1 = FreePort(), v2 = FreePort(), http = FreePort();
  std::string config = absl::StrCat(
      "global\n  maxconn 100\n"
      "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n"
      "  timeout server 10s\n"
      "frontend v1\n  bind 127.0.0.1:",
      v1, "\n  default_backend v1b\nbackend v1b\n  server s 127.0.0.1:", server_->port("px"),
      " send-proxy\n"
      "frontend v2\n  bind 127.0.0.1:",
      v2, "\n  default_backend v2b\nbackend v2b\n  server s 127.0.0.1:", server_->port("tls"),
      " send-proxy-v2\n"
      "frontend fwd\n  mode http\n  option forwardfor\n  bind 127.0.0.1:",
      http, "\n  default_backend fwdb\nbackend fwdb\n  mode http\n  server s 127.0.0.1:",
      server_->port("web"), "\n");
  std::ofstream(dir_ + "/haproxy.cfg") << config;
  pid_t haproxy = fork();
  if (haproxy == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execlp("haproxy", "haproxy", "-db", "-f", (dir_ + "/haproxy.cfg").c_str(), nullptr);
    _exit(127);
  }
  // Until haproxy listens.
  for (int i = 0; i < 100; ++i) {
    TestClient probe(http);
    if (probe.connected()) break;
    usleep(50'000);
  }
  std::string line = Shell(
      absl::StrCat("(echo hi; sleep 1) | timeout 5 nc -s 127.0.0.2 127.0.0.1 ", v1, " | head -1"));
  EXPECT_TRUE(absl::StartsWith(line, "127.0.0.2 ")) << line;
  std::string over_tls = Shell(absl::StrCat("timeout 5 curl -s --interface 127.0.0.2 --cacert ",
                                            dir_, "/ca.pem --resolve localhost:", v2,
                                            ":127.0.0.1 https://localhost:", v2, "/"));
  EXPECT_EQ(over_tls, "over tls");
  std::string tls_log = AccessLog("tls-access.log", "127.0.0.2");
  EXPECT_TRUE(absl::StartsWith(tls_log, "127.0.0.2 - - [")) << tls_log;
  Shell(absl::StrCat("timeout 5 curl -s -o /dev/null --interface 127.0.0.2 http://127.0.0.1:", http,
                     "/via-haproxy"));
  std::string web_log = AccessLog("web-access.log", "via-haproxy");
  EXPECT_TRUE(absl::StrContains(web_log, "127.0.0.2 - - [")) << web_log;
  kill(haproxy, SIGTERM);
  waitpid(haproxy, nullptr, 0);
}

// A v2 PROXY header for a datagram from 203.0.113.7:4444 (INET, DGRAM), or
// with `transport` 1 for a stream.
std::string V2Datagram(int transport = 2) {
  std::string block = {static_cast<char>(203), 0, 113, 7, 127, 0, 0, 1, 0x11, 0x5c, 0, 53};
  return kV2Signature + std::string{0x21, static_cast<char>(0x10 | transport), 0, 12} + block;
}

// UDP: a trusted sender's datagrams carry a PROXY v2 header naming the
// client, which the webhook reports; replies go back to the sender. A
// datagram without one, with a stream header, or with v1, is dropped and
// counted; an untrusted sender's header is refused, its plain datagrams served.
TEST(RealAddressUdpTest, ProxyV2OnDatagrams) {
  WebhookBackend backend;
  ASSERT_NE(backend.port(), 0);
  std::string url = absl::StrCat("http://127.0.0.1:", backend.port(), "/events");
  auto server = SockmanProcess::Start(absl::StrCat(R"(
service { name: "udp" listen: "text://127.0.0.1:0" transport: UDP
          proxy_protocol { trusted: "127.0.0.1" } webhook { url: ")",
                                                   url, R"(" } }
service { name: "udp-untrusted" listen: "text://127.0.0.1:0" transport: UDP
          proxy_protocol { trusted: "10.0.0.0/8" } echo { prefix: "plain " } }
)"),
                                      "udp-proxy", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  auto exchange = [&](const std::string& service, const std::string& datagram) {
    std::string hex;
    for (unsigned char c : datagram) absl::StrAppend(&hex, absl::Hex(c, absl::kZeroPad2));
    return Shell(absl::StrCat(
        "timeout 10 python3 -c \"import socket; u = socket.socket(socket.AF_INET, "
        "socket.SOCK_DGRAM); u.settimeout(1.5); u.sendto(bytes.fromhex('",
        hex, "'), ('127.0.0.1', ", (*server)->port(service),
        "))\ntry: print(u.recvfrom(1000)[0].decode())\nexcept socket.timeout: print('none')\""));
  };
  EXPECT_EQ(exchange("udp", V2Datagram() + "hello\n"), "echo: hello\n\n");
  std::string events = backend.Get("/events");
  EXPECT_TRUE(absl::StrContains(events, "\"X-Sockman-Remote-Addr\": \"203.0.113.7\"")) << events;
  EXPECT_TRUE(absl::StrContains(events, "\"X-Sockman-Remote-Port\": \"4444\"")) << events;
  EXPECT_EQ(exchange("udp", "no header\n"), "none\n");
  EXPECT_EQ(exchange("udp", V2Datagram(1) + "stream header\n"), "none\n");
  EXPECT_EQ(exchange("udp", "PROXY TCP4 203.0.113.7 127.0.0.1 4444 53\r\nv1\n"), "none\n");
  EXPECT_EQ(exchange("udp-untrusted", V2Datagram() + "hello\n"), "none\n");
  EXPECT_EQ(exchange("udp-untrusted", "hello\n"), "plain hello\n\n");
  std::string status =
      Shell(absl::StrCat(SockmanBinary(), " status --json -c ", (*server)->config_path()));
  EXPECT_TRUE(absl::StrContains(status, "\"proxy_header_errors\":3")) << status;
  EXPECT_TRUE(absl::StrContains(status, "\"proxy_header_errors\":1")) << status;
}

}  // namespace
}  // namespace sockman::testing
