// Connection policy on the real binary: heartbeats (pings out, silent peers
// closed within one interval of the deadline, chatty ones kept), idle
// timeouts, max_connections with the backlog holding the rest, and ten
// thousand idle connections on one worker.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<SockmanProcess> StartOrDie(const std::string& config) {
  auto server = SockmanProcess::Start(config, "", ShortTempDir());
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

std::string StatusJson(SockmanProcess& server) {
  return RunSockman({"status", "--json", "-c", server.config_path()}).out;
}

TEST(HeartbeatTest, SilentClientsAreClosedWithinOneIntervalChattyOnesStay) {
  auto server = StartOrDie(R"(
service {
  name: "lines"
  listen: "text://127.0.0.1:0"
  heartbeat { interval_ms: 200 not_response_limit: 3 ping_data: "ping" }
  echo {}
}
)");
  ASSERT_NE(server, nullptr);
  int64_t start = Now();
  TestClient silent(server->port("lines"));
  TestClient chatty(server->port("lines"));
  // Both get a ping every interval.
  EXPECT_EQ(silent.ReadLine(1000), "ping");
  EXPECT_EQ(chatty.ReadLine(1000), "ping");
  // The chatty one talks every 150 ms for 1.5 s, well past the 600 ms deadline.
  bool silent_closed = false;
  int64_t silent_closed_at = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(chatty.Send(absl::StrCat("hello ", i, "\n")));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    if (!silent_closed && silent.WaitClosed(1)) {
      silent_closed = true;
      silent_closed_at = Now();
    }
  }
  if (!silent_closed) {
    silent_closed = silent.WaitClosed(2000);
    silent_closed_at = Now();
  }
  ASSERT_TRUE(silent_closed);
  // Deadline: 3 * 200 ms after connecting; closed within one interval after it
  // (plus scheduling slack for a loaded test machine).
  EXPECT_GE(silent_closed_at - start, 600 - 50);
  EXPECT_LE(silent_closed_at - start, 600 + 200 + 250);
  // The chatty client is still served: its echoes and pings all arrived.
  ASSERT_TRUE(chatty.Send("still here\n"));
  for (;;) {
    std::string line = chatty.ReadLine(2000);
    ASSERT_FALSE(chatty.eof());
    if (line == "still here") break;
    EXPECT_TRUE(line == "ping" || absl::StartsWith(line, "hello ")) << line;
  }
  EXPECT_TRUE(absl::StrContains(StatusJson(*server), "\"heartbeat_closes\":1"))
      << StatusJson(*server);
}

TEST(HeartbeatTest, WebSocketPingFramesAndPongsCountAsActivity) {
  auto server = StartOrDie(R"(
service {
  name: "ws"
  listen: "ws://127.0.0.1:0"
  heartbeat { interval_ms: 200 not_response_limit: 2 }
  echo {}
}
)");
  ASSERT_NE(server, nullptr);
  WebSocketClient ponger_ws(server->port("ws"), "/");
  WebSocketClient silent_ws(server->port("ws"), "/");
  ASSERT_TRUE(ponger_ws.ok());
  ASSERT_TRUE(silent_ws.ok());
  TestClient& ponger = ponger_ws.socket();
  TestClient& silent = silent_ws.socket();
  // For two seconds the ponger answers each ping frame (an empty ping: 0x89 0x00).
  int64_t until = Now() + 2000;
  int pings = 0;
  while (Now() < until) {
    std::string frame = ponger.ReadExactly(2, 1000);
    ASSERT_EQ(frame, std::string("\x89\x00", 2)) << "after " << pings << " pings";
    ++pings;
    ASSERT_TRUE(ponger.Send(ClientFrame(0x8A, "")));
  }
  EXPECT_GE(pings, 7);
  EXPECT_TRUE(silent.WaitClosed(100));  // silent for 2 s against a 400 ms deadline
  // The ponger is alive and echoes.
  ASSERT_TRUE(ponger.Send(ClientFrame(0x81, "alive")));
  for (;;) {
    std::string header = ponger.ReadExactly(2, 2000);
    ASSERT_EQ(header.size(), 2u);
    std::string payload = ponger.ReadExactly(header[1] & 0x7F, 2000);
    if ((header[0] & 0x0F) == 0x1) {
      EXPECT_EQ(payload, "alive");
      break;
    }
  }
}

TEST(LimitsTest, IdleConnectionsCloseAfterIdleTimeout) {
  auto server = StartOrDie(R"(
service {
  name: "raw"
  listen: "tcp://127.0.0.1:0"
  limits { idle_timeout_ms: 300 }
  echo {}
}
)");
  ASSERT_NE(server, nullptr);
  int64_t start = Now();
  TestClient idle(server->port("raw"));
  TestClient busy(server->port("raw"));
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(busy.Send("x"));
    EXPECT_EQ(busy.ReadExactly(1, 1000), "x");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(idle.WaitClosed(2000));
  EXPECT_GE(Now() - start, 300);
  ASSERT_TRUE(busy.Send("y"));
  EXPECT_EQ(busy.ReadExactly(1, 1000), "y");
  EXPECT_TRUE(absl::StrContains(StatusJson(*server), "\"idle_closes\":1"));
}

TEST(LimitsTest, MaxConnectionsStopsAcceptingUntilOneCloses) {
  auto server = StartOrDie(R"(
service {
  name: "lines"
  listen: "text://127.0.0.1:0"
  limits { max_connections: 2 }
  echo {}
}
)");
  ASSERT_NE(server, nullptr);
  auto first = std::make_unique<TestClient>(server->port("lines"));
  TestClient second(server->port("lines"));
  ASSERT_TRUE(first->Send("1\n"));
  EXPECT_EQ(first->ReadLine(2000), "1");
  ASSERT_TRUE(second.Send("2\n"));
  EXPECT_EQ(second.ReadLine(2000), "2");
  // The third connects (the backlog holds it) but is not served...
  TestClient third(server->port("lines"));
  ASSERT_TRUE(third.connected());
  ASSERT_TRUE(third.Send("3\n"));
  EXPECT_EQ(third.ReadLine(500), "");
  EXPECT_TRUE(absl::StrContains(StatusJson(*server), "\"accept_pauses\":1"));
  // ...until one of the first two leaves.
  first.reset();
  EXPECT_EQ(third.ReadLine(3000), "3");
}

TEST(LimitsTest, WorkersRaiseTheirOpenFileLimitAndCheckWarns) {
  auto server = StartOrDie(R"(
service {
  name: "many"
  listen: "text://127.0.0.1:0"
  limits { max_connections: 30000 }
  echo {}
}
)");
  ASSERT_NE(server, nullptr);
  std::vector<pid_t> workers = server->WorkerPids();
  ASSERT_EQ(workers.size(), 1u);
  // "Max open files  SOFT  HARD  files": the soft limit covers 30000 + 128.
  std::string limits = ReadFile(absl::StrCat("/proc/", workers[0], "/limits"));
  size_t at = limits.find("Max open files");
  ASSERT_NE(at, std::string::npos) << limits;
  long soft = std::stol(limits.substr(at + 14));
  // Up to the hard limit, or past it where root may raise that too (not in
  // a sandbox's user namespace).
  rlimit mine{};
  getrlimit(RLIMIT_NOFILE, &mine);
  EXPECT_GE(soft, std::min<long>(30128, static_cast<long>(mine.rlim_max))) << limits;

  // More connections than the kernel allows any process: check says so.
  std::string path = WriteTempFile("too_many.textproto", R"(
service { name: "huge" listen: "text://127.0.0.1:0" limits { max_connections: 4000000000 } echo {} }
)");
  CommandResult check = RunSockman({"check", "-c", path});
  EXPECT_EQ(check.exit_code, 0) << check.err;  // valid, but it cannot work as configured
  EXPECT_TRUE(absl::StrContains(check.err, "warning: service 'huge': 4000000000 connections need"))
      << check.err;
}

TEST(LimitsTest, TenThousandIdleConnectionsOnOneWorker) {
  constexpr int kConnections = 10000;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < kConnections + 200) {
    // As root (the test runs outside Bazel's sandbox) the hard limit can rise too.
    rlimit raised{65536, std::max<rlim_t>(rl.rlim_max, 65536)};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 65536);
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  ASSERT_GE(rl.rlim_cur, static_cast<rlim_t>(kConnections + 200))
      << "the test itself needs 10,200 descriptors (hard limit " << rl.rlim_max << ")";
  auto server = StartOrDie(R"(
service {
  name: "lines"
  listen: "text://127.0.0.1:0"
  count: 1
  limits { max_connections: 20000 }
  echo {}
}
)");
  ASSERT_NE(server, nullptr);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->port("lines"));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0) << i;
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << i;
    fds.push_back(fd);
  }
  // All of them are open in the one worker...
  std::string json;
  for (int i = 0; i < 100; ++i) {
    json = StatusJson(*server);
    if (absl::StrContains(json, absl::StrCat("\"connections\":", kConnections))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(absl::StrContains(json, absl::StrCat("\"connections\":", kConnections))) << json;
  // ...and served: a line on the first, the last and every 1000th comes back.
  for (int i = 0; i < kConnections; i += 999) {
    std::string line = absl::StrCat("n", i, "\n");
    ASSERT_EQ(write(fds[i], line.data(), line.size()), static_cast<ssize_t>(line.size()));
    char buf[32];
    ssize_t n = read(fds[i], buf, sizeof(buf));
    EXPECT_EQ(std::string(buf, n > 0 ? n : 0), line) << i;
  }
  for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace sockman::testing
