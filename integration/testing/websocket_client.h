// A blocking WebSocket client for integration tests: the upgrade, then text
// frames out (masked, as clients must) and frames in.
//
//   WebSocketClient ws(server->port("chat"), "/rooms/lobby");
//   ws.Send("hi");
//   EXPECT_EQ(ws.Next(), "hi");
#ifndef SOCKMAN_INTEGRATION_TESTING_WEBSOCKET_CLIENT_H_
#define SOCKMAN_INTEGRATION_TESTING_WEBSOCKET_CLIENT_H_

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "integration/testing/sockman_process.h"
#include "protocols/websocket/testing/client_frame.h"

namespace sockman::testing {

class WebSocketClient {
 public:
  WebSocketClient(uint16_t port, const std::string& path, const std::string& host = "127.0.0.1")
      : tcp_(port, host) {
    tcp_.Send(absl::StrCat("GET ", path,
                           " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"));
    std::string status = tcp_.ReadLine(5000);
    ok_ = absl::StartsWith(status, "HTTP/1.1 101");
    for (std::string line = status; !line.empty() && line != "\r";) line = tcp_.ReadLine(5000);
  }
  // Whether the upgrade was accepted.
  bool ok() const { return ok_; }
  void Send(const std::string& text) { tcp_.Send(ClientFrame(0x81, text)); }
  // The payload of the next frame (up to 64 KiB), or "<none>" after `timeout_ms`.
  std::string Next(int timeout_ms = 3000) { return NextFrame(timeout_ms).second; }
  // The first byte (FIN, RSV, opcode) and payload of the next frame; -1 on timeout.
  std::pair<int, std::string> NextFrame(int timeout_ms = 3000) {
    std::string header = tcp_.ReadExactly(2, timeout_ms);
    if (header.size() < 2) return {-1, "<none>"};
    size_t length = header[1] & 0x7F;
    if (length == 126) {
      std::string ext = tcp_.ReadExactly(2, timeout_ms);
      if (ext.size() < 2) return {-1, "<none>"};
      length = (static_cast<unsigned char>(ext[0]) << 8) | static_cast<unsigned char>(ext[1]);
    }
    return {static_cast<unsigned char>(header[0]), tcp_.ReadExactly(length, timeout_ms)};
  }
  bool WaitClosed(int timeout_ms = 3000) { return tcp_.WaitClosed(timeout_ms); }
  void Close() { tcp_.Close(); }
  // The connection itself, for tests that read or write raw frames.
  TestClient& socket() { return tcp_; }

 private:
  TestClient tcp_;
  bool ok_ = false;
};

}  // namespace sockman::testing

#endif  // SOCKMAN_INTEGRATION_TESTING_WEBSOCKET_CLIENT_H_
