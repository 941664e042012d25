// The exec handler (websocketd's model) on the real binary: a shell script
// per connection talks to the client line by line, sees the connection in
// its environment, ends the connection by exiting, is terminated when the
// client leaves, and is always reaped (no zombies after 1,000 connections).
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

std::string Script(const std::string& dir, const std::string& name, const std::string& body) {
  std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path) << "#!/bin/sh\n" << body;
  chmod(path.c_str(), 0755);
  return path;
}

class ExecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string dir = ShortTempDir();
    Script(dir, "chat.sh",
           "echo \"hello $REMOTE_ADDR $SERVER_NAME $GREETING $REQUEST_URI\"\n"
           "while read line; do echo \"got: $line\"; done\n"
           "echo \"stdin closed\" >&2\n");
    Script(dir, "once.sh", "read line; echo \"bye $line\"\n");
    Script(dir, "cat.sh", "exec cat\n");
    Script(dir, "stubborn.sh", "trap '' HUP; exec sleep 1000\n");
    auto started = SockmanProcess::Start(R"(
service {
  name: "lines"
  listen: "text://127.0.0.1:0"
  exec { command: "chat.sh" env: ["GREETING=hi"] }
}
service { name: "ws" listen: "ws://127.0.0.1:0" exec { command: "chat.sh" } }
service { name: "once" listen: "text://127.0.0.1:0" exec { command: "once.sh" } }
service { name: "cats" listen: "text://127.0.0.1:0" count: 1 exec { command: "cat.sh" max_processes: 200 } }
service { name: "two" listen: "text://127.0.0.1:0" exec { command: "cat.sh" max_processes: 2 } }
service { name: "stubborn" listen: "text://127.0.0.1:0" exec { command: "stubborn.sh" kill_grace_ms: 100 } }
)",
                                         "exec", dir);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() { delete server_; }
  static SockmanProcess* server_;
};

SockmanProcess* ExecTest::server_ = nullptr;

TEST_F(ExecTest, LinesBothWaysWithTheConnectionInTheEnvironment) {
  TestClient client(server_->port("lines"));
  EXPECT_EQ(client.ReadLine(), "hello 127.0.0.1 lines hi ");
  ASSERT_TRUE(client.Send("one\ntwo\n"));
  EXPECT_EQ(client.ReadLine(), "got: one");
  EXPECT_EQ(client.ReadLine(), "got: two");
  // Leaving closes the script's stdin; what it says on stderr is logged.
  client.Close();
  bool logged = false;
  for (int i = 0; i < 50 && !logged; ++i) {
    usleep(50'000);
    logged = absl::StrContains(server_->Stderr(), "]: stdin closed");
  }
  EXPECT_TRUE(logged) << server_->Stderr();
}

TEST_F(ExecTest, WebSocketMessagesAreLines) {
  WebSocketClient upgraded(server_->port("ws"), "/feed?x=1");
  ASSERT_TRUE(upgraded.ok());
  TestClient& ws = upgraded.socket();
  auto next = [&] {
    std::string header = ws.ReadExactly(2);
    return header.size() < 2 ? std::string("<none>") : ws.ReadExactly(header[1] & 0x7F);
  };
  EXPECT_EQ(next(), "hello 127.0.0.1 ws  /feed?x=1");
  ws.Send(ClientFrame(0x81, "frame"));
  EXPECT_EQ(next(), "got: frame");
}

TEST_F(ExecTest, TheProcessExitingClosesTheConnection) {
  TestClient client(server_->port("once"));
  ASSERT_TRUE(client.Send("now\n"));
  EXPECT_EQ(client.ReadLine(), "bye now");
  EXPECT_TRUE(client.WaitClosed(3000));
}

TEST_F(ExecTest, MaxProcessesRefusesTheNextConnection) {
  TestClient a(server_->port("two"));
  TestClient b(server_->port("two"));
  ASSERT_TRUE(a.Send("a\n"));
  EXPECT_EQ(a.ReadLine(), "a");
  ASSERT_TRUE(b.Send("b\n"));
  EXPECT_EQ(b.ReadLine(), "b");
  TestClient c(server_->port("two"));
  EXPECT_TRUE(c.WaitClosed(3000));
}

std::string WorkerOf(SockmanProcess& server, const std::string& service) {
  std::string json = RunSockman({"status", "--json", "-c", server.config_path()}).out;
  size_t at = json.find(absl::StrCat("\"service\":\"", service, "\""));
  if (at == std::string::npos) return "";
  size_t pid_at = json.rfind("\"pid\":", at);
  return json.substr(pid_at + 6, json.find(',', pid_at) - pid_at - 6);
}

int Children(const std::string& pid) {
  return std::stoi(Shell(absl::StrCat("ps --ppid ", pid, " -o pid= | wc -l")));
}

TEST_F(ExecTest, AProcessThatIgnoresEndOfInputIsTerminated) {
  std::string worker = WorkerOf(*server_, "stubborn");
  ASSERT_FALSE(worker.empty());
  {
    TestClient client(server_->port("stubborn"));
    for (int i = 0; i < 50 && Children(worker) == 0; ++i) usleep(20'000);
    EXPECT_EQ(Children(worker), 1);
  }
  // stdin closed, 100 ms, SIGTERM: gone (and reaped) well within a second.
  for (int i = 0; i < 50 && Children(worker) > 0; ++i) usleep(20'000);
  EXPECT_EQ(Children(worker), 0);
}

TEST_F(ExecTest, ThousandConnectionsLeaveNoZombies) {
  // 1,000 connections, 50 at a time, each answered by its own `cat`.
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 50; ++i) {
      clients.push_back(std::make_unique<TestClient>(server_->port("cats")));
      ASSERT_TRUE(clients.back()->Send(absl::StrCat("n", batch, "-", i, "\n")));
    }
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(clients[i]->ReadLine(), absl::StrCat("n", batch, "-", i)) << batch << "/" << i;
    }
  }  // all closed: each cat gets SIGTERM (and EOF on stdin)
  // Find the worker of "cats" and wait until it has no children at all.
  std::string json = RunSockman({"status", "--json", "-c", server_->config_path()}).out;
  size_t at = json.find("\"service\":\"cats\"");
  ASSERT_NE(at, std::string::npos) << json;
  size_t pid_at = json.rfind("\"pid\":", at);
  std::string worker = json.substr(pid_at + 6, json.find(',', pid_at) - pid_at - 6);
  std::string children;
  for (int i = 0; i < 100; ++i) {
    children = Shell(absl::StrCat("ps --ppid ", worker, " -o pid=,stat= | wc -l"));
    if (children == "0\n") break;
    usleep(100'000);
  }
  EXPECT_EQ(children, "0\n") << Shell(absl::StrCat("ps --ppid ", worker, " -o pid=,stat=,cmd="));
}

}  // namespace
}  // namespace sockman::testing
