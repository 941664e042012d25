// The IoT example (examples/iot.textproto with examples/iot_backend.py) on
// the real binary: frame:// devices and ws:// dashboards in one hub; a
// device's readings reach the dashboards, a dashboard's command reaches the
// device by its uid.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

// The payload of the next frame:// message from `device`.
std::string NextFrame(TestClient& device) {
  std::string header = device.ReadExactly(4);
  if (header.size() != 4) return "<none>";
  size_t length = (static_cast<unsigned char>(header[0]) << 24) |
                  (static_cast<unsigned char>(header[1]) << 16) |
                  (static_cast<unsigned char>(header[2]) << 8) | static_cast<unsigned char>(header[3]);
  return device.ReadExactly(length - 4);
}

TEST(IotExampleTest, ReadingsReachDashboardsAndCommandsReachTheDevice) {
  uint16_t backend_port = FreePort();
  uint16_t api_port = FreePort();
  std::ifstream in("examples/iot.textproto");
  std::stringstream text;
  text << in.rdbuf();
  std::string config = absl::StrReplaceAll(
      text.str(), {{"127.0.0.1:8092", "127.0.0.1:0"},
                   {"127.0.0.1:8093", "127.0.0.1:0"},
                   {"127.0.0.1:8094", absl::StrCat("127.0.0.1:", api_port)},
                   {"127.0.0.1:8095", absl::StrCat("127.0.0.1:", backend_port)}});
  pid_t backend = fork();
  if (backend == 0) {
    std::string port = absl::StrCat(backend_port);
    std::string push = absl::StrCat("http://127.0.0.1:", api_port);
    execlp("python3", "python3", "examples/iot_backend.py", port.c_str(), push.c_str(), nullptr);
    _exit(127);
  }
  auto server = SockmanProcess::Start(config, "iot", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  for (int i = 0; i < 100; ++i) {
    std::string code = Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' -X POST "
                                          "http://127.0.0.1:", backend_port, "/events"));
    if (code != "000") break;
    usleep(50'000);
  }

  WebSocketClient dashboard((*server)->port("dashboard"), "/");
  ASSERT_TRUE(dashboard.ok());
  EXPECT_EQ(dashboard.Next(), "welcome, dashboard");
  TestClient device((*server)->port("devices"));
  ASSERT_TRUE(device.Send(Frame("hello pump-1")));
  EXPECT_EQ(NextFrame(device), "ok pump-1");
  ASSERT_TRUE(device.Send(Frame("pressure 2.4")));
  EXPECT_EQ(dashboard.Next(), "pump-1: pressure 2.4");
  dashboard.Send("pump-1 stop");
  EXPECT_EQ(NextFrame(device), "stop");
  EXPECT_EQ(dashboard.Next(), "sent to pump-1");
  dashboard.Send("fan-9 start");
  EXPECT_EQ(dashboard.Next(), "fan-9 is offline");
  kill(backend, SIGKILL);
  waitpid(backend, nullptr, 0);
}

}  // namespace
}  // namespace sockman::testing
