// Config framings on the real binary, against a Python device simulator
// with codecs of its own (integration/testdata/device_sim.py): a 2-byte
// length, JT808-style delimiters with escaping and an XOR check, and a
// Modbus-style header with CRC-16, each through echo, broadcast and webhook
// with heartbeats, and over UDP through echo and webhook.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

constexpr char kFramings[] = R"(
framing { name: "len2" length_field { size: 2 } }
framing {
  name: "jt808"
  delimiter {
    delimiter: "\x7e"
    opening: true
    escape { escape: "\x7d" rule { raw: "\x7e" code: "\x02" } rule { raw: "\x7d" code: "\x01" } }
  }
  check { algorithm: XOR }
}
framing {
  name: "modbus"
  magic: "\xaa\x55"
  length_field { offset: 2 size: 2 byte_order: LITTLE adjustment: 2 }
  check { algorithm: CRC16_MODBUS }
}
)";

std::string Services(const std::string& framing, uint16_t backend) {
  std::string hook = absl::StrCat("webhook { url: \"http://127.0.0.1:", backend, "/events\" }");
  std::string heartbeat =
      "heartbeat { interval_ms: 400 not_response_limit: 3 ping_data: \"ping\" }";
  std::string listen = absl::StrCat(framing, "://127.0.0.1:0");
  return absl::StrCat("service { name: \"", framing, "-echo\" listen: \"", listen, "\" echo {} ",
                      heartbeat, " }\n", "service { name: \"", framing, "-broadcast\" listen: \"",
                      listen, "\" count: 2 broadcast {} ", heartbeat, " }\n", "service { name: \"",
                      framing, "-webhook\" listen: \"", listen, "\" ", hook, " ", heartbeat, " }\n",
                      "service { name: \"", framing, "-udp\" listen: \"", listen,
                      "\" transport: UDP echo {} }\n", "service { name: \"", framing,
                      "-udp-webhook\" listen: \"", listen, "\" transport: UDP ", hook, " }\n");
}

class FramingTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FramingTest, DeviceSimulatorThroughEveryHandler) {
  std::string framing = GetParam();
  uint16_t backend = FreePort();
  auto server = SockmanProcess::Start(absl::StrCat(kFramings, Services(framing, backend)),
                                      "framing", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  auto port = [&](const std::string& suffix) {
    return absl::StrCat((*server)->port(absl::StrCat(framing, suffix)));
  };
  std::string output =
      Shell(absl::StrCat("timeout 120 python3 integration/testdata/device_sim.py ", framing, " ",
                         port("-echo"), " ", port("-broadcast"), " ", port("-webhook"), " ",
                         port("-udp"), " ", port("-udp-webhook"), " ", backend, " 2>&1"));
  EXPECT_TRUE(absl::StrContains(output, absl::StrCat("PASS ", framing))) << output;
}

INSTANTIATE_TEST_SUITE_P(Framings, FramingTest, ::testing::Values("len2", "jt808", "modbus"));

std::string Len2(const std::string& payload) {
  return std::string{static_cast<char>(payload.size() >> 8), static_cast<char>(payload.size())} +
         payload;
}

std::string NextLen2(TestClient& client) {
  std::string header = client.ReadExactly(2);
  if (header.size() != 2) return "<none>";
  size_t n = (static_cast<unsigned char>(header[0]) << 8) | static_cast<unsigned char>(header[1]);
  return client.ReadExactly(n);
}

// The other handlers that take messages: push targets, proxy (the payload
// goes up as bytes) and exec (a line per message).
TEST(FramingHandlersTest, PushProxyAndExec) {
  uint16_t upstream = FreePort();
  auto server = SockmanProcess::Start(absl::StrCat(kFramings, R"(
service { name: "devices" listen: "len2://127.0.0.1:0" broadcast {} }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "devices" } }
service { name: "up" listen: "tcp://127.0.0.1:)",
                                                   upstream, R"(" echo {} }
service { name: "bridge" listen: "len2://127.0.0.1:0" proxy { upstream: "tcp://127.0.0.1:)",
                                                   upstream, R"(" } }
service { name: "shell" listen: "len2://127.0.0.1:0" exec { command: "/bin/cat" } }
)"),
                                      "framing-handlers", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();

  TestClient device((*server)->port("devices"));
  ASSERT_TRUE(device.Send(Len2("hi")));
  EXPECT_EQ(NextLen2(device), "hi");  // broadcast to itself too
  std::string delivered = Shell(absl::StrCat(
      "curl -s --data-binary 'to all' http://127.0.0.1:", (*server)->port("api"), "/all"));
  EXPECT_TRUE(absl::StrContains(delivered, "\"delivered\":1")) << delivered;
  EXPECT_EQ(NextLen2(device), "to all");

  TestClient bridged((*server)->port("bridge"));
  ASSERT_TRUE(bridged.Send(Len2("ping up")));
  EXPECT_EQ(NextLen2(bridged), "ping up");  // up as bytes, echoed, framed again

  TestClient shell((*server)->port("shell"));
  ASSERT_TRUE(shell.Send(Len2("line one") + Len2("line two")));
  EXPECT_EQ(NextLen2(shell), "line one");
  EXPECT_EQ(NextLen2(shell), "line two");
}

// Over TLS (transport: SSL), with Python's ssl module as the device.
TEST(FramingTlsTest, FramesOverTls) {
  std::string dir = ShortTempDir();
  ASSERT_TRUE(MakeTestCertificates(dir));
  auto server = SockmanProcess::Start(absl::StrCat(kFramings, R"(
service {
  name: "secure" listen: "jt808://127.0.0.1:0" transport: SSL echo {}
  tls { cert_file: "server.pem" key_file: "server.key" }
})"),
                                      "framing-tls", dir);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string output = Shell(absl::StrCat(
      "timeout 20 python3 - <<'EOF'\n"
      "import socket, ssl\n"
      "ctx = ssl.create_default_context(cafile='",
      dir, "/ca.pem')\n", "s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', ",
      (*server)->port("secure"),
      ")), server_hostname='localhost')\n"
      "body = b'\\x30\\x7e\\x08\\x7d\\x55'\n"
      "x = 0\n"
      "for b in body: x ^= b\n"
      "wire = b'\\x7e' + (body + bytes([x])).replace(b'\\x7d', b'\\x7d\\x01')"
      ".replace(b'\\x7e', b'\\x7d\\x02') + b'\\x7e'\n"
      "s.sendall(wire)\n"
      "got = b''\n"
      "while got.count(b'\\x7e') < 2: got += s.recv(100)\n"
      "print('echoed' if got == wire else 'different: %r' % got)\n"
      "EOF\n"));
  EXPECT_TRUE(absl::StrContains(output, "echoed")) << output;
}

TEST(FramingConfigTest, CheckShowsTheResolvedFraming) {
  std::string path = WriteTempFile(
      "framing.textproto",
      absl::StrCat(kFramings, "service { name: \"d\" listen: \"jt808://127.0.0.1:0\" echo {} }"));
  CommandResult check = RunSockman({"check", "-c", path});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_TRUE(absl::StrContains(check.out, "framing {")) << check.out;
  EXPECT_TRUE(absl::StrContains(check.out, "algorithm: XOR")) << check.out;
  std::string bad = WriteTempFile("bad.textproto",
                                  "framing { name: \"x\" length_field { size: 3 } strip: 1 }\n"
                                  "service { name: \"d\" listen: \"x://127.0.0.1:0\" echo {} }");
  check = RunSockman({"check", "-c", bad});
  EXPECT_NE(check.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(check.err, "framing 'x': strip: must be 0 or at least 3"))
      << check.err;
}

}  // namespace
}  // namespace sockman::testing
