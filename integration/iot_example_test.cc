// The IoT example (examples/iot.textproto with examples/iot_backend.py) on
// the real binary: devices with a config framing (2-byte length, CRC-16) and
// ws:// dashboards in one hub; a device's readings reach the dashboards, a
// dashboard's command reaches the device by its uid.
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

uint16_t Crc16Modbus(const std::string& bytes) {
  uint16_t crc = 0xffff;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc & 1) ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return crc;
}

// The example's device framing: length (big-endian), payload, CRC (little).
std::string DeviceFrame(const std::string& payload) {
  std::string frame;
  frame.push_back(static_cast<char>(payload.size() >> 8));
  frame.push_back(static_cast<char>(payload.size()));
  frame += payload;
  uint16_t crc = Crc16Modbus(frame);
  frame.push_back(static_cast<char>(crc & 0xff));
  frame.push_back(static_cast<char>(crc >> 8));
  return frame;
}

// The payload of the next device frame from `device`, its CRC checked.
std::string NextFrame(TestClient& device) {
  std::string header = device.ReadExactly(2);
  if (header.size() != 2) return "<none>";
  size_t length =
      (static_cast<unsigned char>(header[0]) << 8) | static_cast<unsigned char>(header[1]);
  std::string rest = device.ReadExactly(length + 2);
  if (rest.size() != length + 2) return "<none>";
  std::string frame = header + rest.substr(0, length);
  uint16_t crc = static_cast<unsigned char>(rest[length]) |
                 (static_cast<unsigned char>(rest[length + 1]) << 8);
  if (crc != Crc16Modbus(frame)) return "<bad crc>";
  return rest.substr(0, length);
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
    std::string code =
        Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' -X POST "
                           "http://127.0.0.1:",
                           backend_port, "/events"));
    if (code != "000") break;
    usleep(50'000);
  }

  WebSocketClient dashboard((*server)->port("dashboard"), "/");
  ASSERT_TRUE(dashboard.ok());
  EXPECT_EQ(dashboard.Next(), "welcome, dashboard");
  TestClient device((*server)->port("devices"));
  ASSERT_TRUE(device.Send(DeviceFrame("hello pump-1")));
  EXPECT_EQ(NextFrame(device), "ok pump-1");
  ASSERT_TRUE(device.Send(DeviceFrame("pressure 2.4")));
  EXPECT_EQ(dashboard.Next(), "pump-1: pressure 2.4");
  dashboard.Send("pump-1 stop");
  EXPECT_EQ(NextFrame(device), "stop");
  EXPECT_EQ(dashboard.Next(), "sent to pump-1");
  dashboard.Send("fan-9 start");
  EXPECT_EQ(dashboard.Next(), "fan-9 is offline");
  // A frame with a bad CRC closes that device alone.
  TestClient broken((*server)->port("devices"));
  std::string bad = DeviceFrame("hello fan-9");
  bad.back() ^= 1;
  ASSERT_TRUE(broken.Send(bad));
  EXPECT_TRUE(broken.WaitClosed());
  ASSERT_TRUE(device.Send(DeviceFrame("pressure 2.5")));
  EXPECT_EQ(dashboard.Next(), "pump-1: pressure 2.5");
  kill(backend, SIGKILL);
  waitpid(backend, nullptr, 0);
}

}  // namespace
}  // namespace sockman::testing
