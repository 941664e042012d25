// Operating sockman: start -d, a refused second start, status and
// connections (text and JSON), stop, stop -g with a request in flight,
// restart, worker replacement in status, and per-service users.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ShortTempDir();  // runtime files, including the control socket
    ASSERT_FALSE(dir_.empty());
    pid_file_ = dir_ + "/master.pid";
    socket_ = dir_ + "/control.sock";
    log_ = dir_ + "/master.log";
  }
  void TearDown() override {
    if (!config_.empty()) RunSockman({"stop", "-c", config_});
    Shell(absl::StrCat("rm -rf ", dir_));
  }

  std::string Global() const {
    return absl::StrCat("global {\n  pid_file: \"", pid_file_, "\"\n  control_socket: \"", socket_,
                        "\"\n  log_file: \"", log_, "\"\n  stop_timeout_ms: 3000\n}\n");
  }
  // Writes the config (global block + `services`) and returns its path.
  std::string WriteConfig(const std::string& services) {
    static int n = 0;
    config_ = WriteTempFile(absl::StrCat("life", ++n, ".textproto"), Global() + services);
    return config_;
  }
  static uint16_t PortOf(const std::string& out, const std::string& service) {
    size_t at = out.find(absl::StrCat("sockman: listen ", service, " "));
    if (at == std::string::npos) return 0;
    size_t end = out.find(" count=", at);
    size_t colon = out.rfind(':', end);
    uint32_t port = 0;
    if (!absl::SimpleAtoi(out.substr(colon + 1, end - colon - 1), &port)) return 0;
    return static_cast<uint16_t>(port);
  }
  pid_t MasterPid() const {
    int pid = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(pid_file_)), &pid)) return 0;
    return pid;
  }

  std::string dir_, pid_file_, socket_, log_, config_;
};

constexpr char kServices[] = R"(
service { name: "web" listen: "http://127.0.0.1:0" count: 2 respond { body: "hi\n" } }
service { name: "chat" listen: "text://127.0.0.1:0" count: 1 echo { prefix: "> " } }
)";

TEST_F(LifecycleTest, DaemonStartStatusConnectionsStop) {
  std::string config = WriteConfig(kServices);
  CommandResult start = RunSockman({"start", "-d", "-c", config});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_TRUE(absl::StrContains(start.out, "sockman: started pid=")) << start.out;
  pid_t master = MasterPid();
  ASSERT_GT(master, 0);
  EXPECT_EQ(kill(master, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "control socket mode";

  CommandResult again = RunSockman({"start", "-d", "-c", config});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(again.err, "already running")) << again.err;

  TestClient chat(PortOf(start.out, "chat"));
  ASSERT_TRUE(chat.Send("hello\n"));
  EXPECT_EQ(chat.ReadLine(), "> hello");
  EXPECT_EQ(Shell(absl::StrCat("curl -s http://127.0.0.1:", PortOf(start.out, "web"), "/")),
            "hi\n");

  CommandResult status = RunSockman({"status", "-c", config});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(absl::StrContains(status.out, absl::StrCat("master pid ", master))) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "chat")) << status.out;

  CommandResult json = RunSockman({"status", "--json", "-c", config});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(absl::StrContains(json.out, absl::StrCat("\"pid\":", master))) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"name\":\"web\"")) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"service\":\"chat\",\"id\":0")) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"connections\":1")) << json.out;  // chat's worker
  EXPECT_TRUE(absl::StrContains(json.out, "\"state\":\"idle\"")) << json.out;

  CommandResult connections = RunSockman({"connections", "--json", "-c", config});
  ASSERT_EQ(connections.exit_code, 0) << connections.err;
  EXPECT_TRUE(absl::StrContains(connections.out, "\"service\":\"chat\"")) << connections.out;
  EXPECT_TRUE(absl::StrContains(connections.out, "\"messages_in\":1")) << connections.out;
  EXPECT_TRUE(absl::StrContains(connections.out, "\"protocol\":\"text\"")) << connections.out;

  CommandResult stop = RunSockman({"stop", "-c", config});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(stop.out, absl::StrCat("sockman: stopped master ", master, "\n"));
  EXPECT_TRUE(Exited(master)) << "master still alive";
  EXPECT_FALSE(Exists(pid_file_));
  EXPECT_FALSE(Exists(socket_));
  EXPECT_TRUE(chat.WaitClosed());
  EXPECT_TRUE(absl::StrContains(ReadFile(log_), "serving 2 services"));
  config_.clear();

  CommandResult not_running = RunSockman({"status", "-c", config});
  EXPECT_EQ(not_running.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(not_running.err, "not running")) << not_running.err;
}

TEST_F(LifecycleTest, GracefulStopLetsAnInFlightRequestFinish) {
  std::string config = WriteConfig(kServices);
  CommandResult start = RunSockman({"start", "-d", "-c", config});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  TestClient client(PortOf(start.out, "web"));
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: t\r\n"));  // half a request
  usleep(100000);
  CommandResult stop;
  std::thread stopper([&] { stop = RunSockman({"stop", "-g", "-c", config}); });
  usleep(500000);
  ASSERT_TRUE(client.Send("\r\n"));
  std::string response = client.ReadExactly(4096, 3000);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK")) << response;
  EXPECT_TRUE(absl::StrContains(response, "Connection: close")) << response;
  stopper.join();
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_FALSE(Exists(pid_file_));
  config_.clear();
}

TEST_F(LifecycleTest, RestartReplacesTheMaster) {
  std::string config = WriteConfig(kServices);
  ASSERT_EQ(RunSockman({"start", "-d", "-c", config}).exit_code, 0);
  pid_t first = MasterPid();
  CommandResult restart = RunSockman({"restart", "-d", "-c", config});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  pid_t second = MasterPid();
  EXPECT_GT(second, 0);
  EXPECT_NE(first, second);
  EXPECT_TRUE(Exited(first));
  TestClient chat(PortOf(restart.out, "chat"));
  ASSERT_TRUE(chat.Send("again\n"));
  EXPECT_EQ(chat.ReadLine(), "> again");
}

TEST_F(LifecycleTest, KilledWorkerShowsInStatusAndIsReplaced) {
  WriteConfig(kServices);
  auto server = SockmanProcess::Start(Global() + kServices);
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<pid_t> before = (*server)->WorkerPids();
  ASSERT_EQ(before.size(), 3u);
  std::string json = RunSockman({"status", "--json", "-c", config_}).out;
  size_t at = json.find("\"service\":\"chat\"");
  ASSERT_NE(at, std::string::npos) << json;
  size_t pid_at = json.rfind("\"pid\":", at);
  int chat_pid = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(json.substr(pid_at + 6, json.find(',', pid_at) - pid_at - 6), &chat_pid));
  ASSERT_GT(chat_pid, 0);
  ASSERT_EQ(kill(chat_pid, SIGKILL), 0);
  std::string after;
  for (int i = 0; i < 100; ++i) {
    usleep(20000);
    after = RunSockman({"status", "--json", "-c", config_}).out;
    if (absl::StrContains(after, "\"restarts\":1")) break;
  }
  EXPECT_TRUE(absl::StrContains(after, "\"killed by signal 9\":1")) << after;
  EXPECT_TRUE(absl::StrContains(after, "\"service\":\"chat\",\"id\":0")) << after;
  EXPECT_TRUE(absl::StrContains(after, "\"restarts\":1")) << after;
  EXPECT_FALSE(absl::StrContains(after, absl::StrCat("\"pid\":", chat_pid, ","))) << after;
  (*server)->Stop();
  config_.clear();
}

TEST_F(LifecycleTest, WorkersRunAsTheConfiguredUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  std::string uid_map = ReadFile("/proc/self/uid_map");
  if (!absl::StrContains(uid_map, "4294967295")) {
    GTEST_SKIP() << "in a user namespace, uid 0 cannot switch users: " << uid_map;
  }
  std::string passwd = ReadFile("/etc/passwd");
  if (!absl::StrContains(passwd, "\nnobody:")) GTEST_SKIP() << "no user nobody";
  std::string services =
      "service { name: \"web\" listen: \"http://127.0.0.1:0\" count: 2 user: \"nobody\" "
      "respond { body: \"hi\\n\" } }\n";
  WriteConfig(services);
  auto server = SockmanProcess::Start(Global() + services);
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<pid_t> workers = (*server)->WorkerPids();
  ASSERT_EQ(workers.size(), 2u);
  for (pid_t worker : workers) {
    std::string status = ReadFile(absl::StrCat("/proc/", worker, "/status"));
    EXPECT_TRUE(absl::StrContains(status, "\nUid:\t65534\t65534\t65534\t65534")) << status;
  }
  EXPECT_TRUE(absl::StrContains(ReadFile(absl::StrCat("/proc/", (*server)->pid(), "/status")),
                                "\nUid:\t0\t0\t0\t0"));
  EXPECT_EQ(Shell(absl::StrCat("curl -s http://127.0.0.1:", (*server)->port("web"), "/")), "hi\n");
  (*server)->Stop();
  config_.clear();
}

TEST_F(LifecycleTest, ReloadUnderLoadDropsNothingAndKeepsOtherServices) {
  auto services = [](const std::string& body, bool extra) {
    std::string text = absl::StrCat(
        "service { name: \"web\" listen: \"http://127.0.0.1:0\" count: 2 respond { body: \"", body,
        "\" } }\n"
        "service { name: \"chat\" listen: \"text://127.0.0.1:0\" count: 1 echo { prefix: \"> \" } "
        "}\n");
    if (extra) {
      text +=
          "service { name: \"extra\" listen: \"text://127.0.0.1:0\" echo { prefix: \"+ \" } }\n";
    }
    return text;
  };
  std::string config = WriteConfig(services("v0", false));
  CommandResult start = RunSockman({"start", "-d", "-c", config});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  uint16_t web = PortOf(start.out, "web");
  TestClient chat(PortOf(start.out, "chat"));
  ASSERT_TRUE(chat.Send("before\n"));
  EXPECT_EQ(chat.ReadLine(), "> before");

  // Keep-alive traffic for the whole sequence of reloads.
  std::string wrk_out;
  std::thread load(
      [&] { wrk_out = Shell(absl::StrCat("wrk -t1 -c16 -d6s http://127.0.0.1:", web, "/")); });
  usleep(500000);
  for (int i = 1; i <= 3; ++i) {
    std::ofstream(config) << Global() << services(absl::StrCat("v", i), false);
    CommandResult reload = RunSockman({"reload", "-c", config}, {}, 30000);
    EXPECT_EQ(reload.exit_code, 0) << reload.err;
    EXPECT_EQ(reload.out, "reloaded\n");
    usleep(700000);
  }
  load.join();
  EXPECT_TRUE(absl::StrContains(wrk_out, "requests in")) << wrk_out;
  EXPECT_FALSE(absl::StrContains(wrk_out, "Socket errors")) << wrk_out;
  EXPECT_FALSE(absl::StrContains(wrk_out, "Non-2xx")) << wrk_out;
  EXPECT_EQ(Shell(absl::StrCat("curl -s http://127.0.0.1:", web, "/")), "v3");

  // The chat service was not changed: same connection, still served.
  ASSERT_TRUE(chat.Send("after\n"));
  EXPECT_EQ(chat.ReadLine(), "> after");

  // An invalid config is reported and the running services are kept.
  std::ofstream(config) << Global() << "service { name: \"web\" listen: \"nope\" respond {} }\n";
  CommandResult bad = RunSockman({"reload", "-c", config});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad.err, "listen:")) << bad.err;
  EXPECT_EQ(Shell(absl::StrCat("curl -s http://127.0.0.1:", web, "/")), "v3");

  // Added services start; removed ones stop.
  std::ofstream(config) << Global() << services("v4", true);
  ASSERT_EQ(RunSockman({"reload", "-c", config}).exit_code, 0);
  std::string status = RunSockman({"status", "--json", "-c", config}).out;
  EXPECT_TRUE(absl::StrContains(status, "\"name\":\"extra\"")) << status;
  std::ofstream(config) << Global() << services("v4", false);
  ASSERT_EQ(RunSockman({"reload", "-c", config}).exit_code, 0);
  status = RunSockman({"status", "--json", "-c", config}).out;
  EXPECT_FALSE(absl::StrContains(status, "\"name\":\"extra\"")) << status;
  // Its worker is listed as draining until it has exited (at once: it holds nothing).
  for (int i = 0; i < 100 && absl::StrContains(status, "\"extra\""); ++i) {
    size_t at = status.find("\"service\":\"extra\"");
    ASSERT_NE(at, std::string::npos) << status;
    std::string entry = status.substr(at, status.find('}', at) - at);
    EXPECT_TRUE(absl::StrContains(entry, "\"state\":\"draining\"")) << entry;
    usleep(50'000);
    status = RunSockman({"status", "--json", "-c", config}).out;
  }
  EXPECT_FALSE(absl::StrContains(status, "\"extra\"")) << status;
}

TEST_F(LifecycleTest, ReloadableFalseKeepsItsWorkers) {
  auto config_text = [](const std::string& body) {
    return absl::StrCat(
        "service { name: \"pinned\" listen: \"http://127.0.0.1:0\" "
        "reloadable: false respond { body: \"",
        body, "\" } }\n");
  };
  std::string config = WriteConfig(config_text("old"));
  CommandResult start = RunSockman({"start", "-d", "-c", config});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  std::string url = absl::StrCat("http://127.0.0.1:", PortOf(start.out, "pinned"), "/");
  std::string before = RunSockman({"status", "--json", "-c", config}).out;
  std::ofstream(config) << Global() << config_text("new");
  ASSERT_EQ(RunSockman({"reload", "-c", config}).exit_code, 0);
  EXPECT_EQ(Shell("curl -s " + url), "old");
  std::string after = RunSockman({"status", "--json", "-c", config}).out;
  size_t at = before.find("\"workers\":");
  ASSERT_NE(at, std::string::npos) << before;
  EXPECT_EQ(before.substr(at, before.find("\"rss_bytes\"", at) - at),
            after.substr(after.find("\"workers\":"), before.find("\"rss_bytes\"", at) - at))
      << "worker pids changed:\n"
      << before << "\n"
      << after;
}

TEST_F(LifecycleTest, Usr1ReopensLogFilesAfterRotation) {
  std::string access = dir_ + "/access.log";
  std::string config = WriteConfig(
      absl::StrCat("service { name: \"web\" listen: \"http://127.0.0.1:0\" count: 2 access_log: \"",
                   access, "\" user: \"nobody\" respond { body: \"hi\" } }\n"));
  if (geteuid() != 0) {
    std::ofstream(config) << Global()
                          << absl::StrCat(
                                 "service { name: \"web\" listen: \"http://127.0.0.1:0\" "
                                 "count: 2 access_log: \"",
                                 access, "\" respond { body: \"hi\" } }\n");
  }
  CommandResult start = RunSockman({"start", "-d", "-c", config});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  std::string url = absl::StrCat("http://127.0.0.1:", PortOf(start.out, "web"));
  for (int i = 0; i < 4; ++i) Shell(absl::StrCat("curl -s ", url, "/before-rotation"));
  usleep(1500000);  // workers flush access logs every second
  ASSERT_EQ(::rename(access.c_str(), (access + ".1").c_str()), 0);
  ASSERT_EQ(::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  ASSERT_EQ(kill(MasterPid(), SIGUSR1), 0);
  usleep(300000);
  for (int i = 0; i < 4; ++i) Shell(absl::StrCat("curl -s ", url, "/after-rotation"));
  std::string fresh;
  for (int i = 0; i < 30 && !absl::StrContains(fresh, "after-rotation"); ++i) {
    usleep(100000);
    fresh = ReadFile(access);
  }
  EXPECT_TRUE(absl::StrContains(fresh, "/after-rotation")) << fresh;
  EXPECT_FALSE(absl::StrContains(fresh, "/before-rotation")) << fresh;
  std::string rotated = ReadFile(access + ".1");
  EXPECT_TRUE(absl::StrContains(rotated, "/before-rotation")) << rotated;
  EXPECT_FALSE(absl::StrContains(rotated, "/after-rotation")) << rotated;
  EXPECT_TRUE(absl::StrContains(ReadFile(log_), "reopened log files")) << ReadFile(log_);
}

TEST_F(LifecycleTest, WatchConfigReloadsOnChange) {
  auto config_text = [&](const std::string& body) {
    return absl::StrCat("global { pid_file: \"", pid_file_, "\" control_socket: \"", socket_,
                        "\" watch_config: true }\n"
                        "service { name: \"web\" listen: \"http://127.0.0.1:0\" respond { body: \"",
                        body, "\" } }\n");
  };
  config_ = WriteTempFile("watched.textproto", config_text("one"));
  CommandResult start = RunSockman({"start", "-d", "-c", config_});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  std::string url = absl::StrCat("http://127.0.0.1:", PortOf(start.out, "web"), "/");
  EXPECT_EQ(Shell("curl -s " + url), "one");
  // Replace the file the way editors do: write a new one, rename it over.
  std::string temp = config_ + ".new";
  std::ofstream(temp) << config_text("two");
  ASSERT_EQ(::rename(temp.c_str(), config_.c_str()), 0);
  std::string body;
  for (int i = 0; i < 50 && body != "two"; ++i) {
    usleep(100000);
    body = Shell("curl -s " + url);
  }
  EXPECT_EQ(body, "two");
}

TEST_F(LifecycleTest, GlobalUserIsTheDefaultForServices) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  if (!absl::StrContains(ReadFile("/proc/self/uid_map"), "4294967295")) {
    GTEST_SKIP() << "in a user namespace";
  }
  std::string services =
      "service { name: \"web\" listen: \"http://127.0.0.1:0\" respond { body: \"hi\" } }\n";
  std::string config = absl::StrCat("global { user: \"nobody\" pid_file: \"", pid_file_,
                                    "\" control_socket: \"", socket_, "\" }\n", services);
  auto server = SockmanProcess::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<pid_t> workers = (*server)->WorkerPids();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_TRUE(absl::StrContains(ReadFile(absl::StrCat("/proc/", workers[0], "/status")),
                                "\nUid:\t65534\t65534\t65534\t65534"));
  (*server)->Stop();
}

TEST_F(LifecycleTest, KillNineUnderLoadIsReplacedWithinASecondOthersUntouched) {
  std::string config = WriteConfig(
      "service { name: \"chat\" listen: \"text://127.0.0.1:0\" count: 2 reuse_port: true echo {} "
      "}\n"
      "service { name: \"web\" listen: \"http://127.0.0.1:0\" count: 2 respond { body: \"x\" } "
      "}\n");
  CommandResult start = RunSockman({"start", "-d", "-c", config});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  // Enough connections that both chat workers hold some.
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 16; ++i) {
    clients.push_back(std::make_unique<TestClient>(PortOf(start.out, "chat")));
    ASSERT_TRUE(clients.back()->Send(absl::StrCat("c", i, "\n")));
    ASSERT_EQ(clients.back()->ReadLine(), absl::StrCat("c", i));
  }
  // Both JSON documents parse.
  std::string status_file = dir_ + "/status.json";
  std::string connections_file = dir_ + "/connections.json";
  std::ofstream(status_file) << RunSockman({"status", "--json", "-c", config}).out;
  std::ofstream(connections_file) << RunSockman({"connections", "--json", "-c", config}).out;
  EXPECT_EQ(Shell(absl::StrCat("python3 -c 'import json,sys; json.load(open(sys.argv[1])); "
                               "c=json.load(open(sys.argv[2])); print(len(c))' ",
                               status_file, " ", connections_file)),
            "16\n");
  // The chat worker with id 0 and the connections it holds.
  std::string status = ReadFile(status_file);
  size_t at = status.find("\"service\":\"chat\",\"id\":0");
  ASSERT_NE(at, std::string::npos) << status;
  size_t pid_at = status.rfind("\"pid\":", at);
  int victim = std::atoi(status.c_str() + pid_at + 6);
  std::string connections = ReadFile(connections_file);
  std::vector<bool> on_victim;
  for (int i = 0; i < 16; ++i) {
    // Each client's remote port appears in its row with the owning worker.
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    getsockname(clients[i]->fd(), reinterpret_cast<sockaddr*>(&local), &length);
    std::string remote = absl::StrCat("\"remote\":\"127.0.0.1:", ntohs(local.sin_port), "\"");
    size_t row = connections.find(remote);
    ASSERT_NE(row, std::string::npos) << connections;
    size_t row_start = connections.rfind("{", row);
    on_victim.push_back(absl::StartsWith(connections.substr(row_start),
                                         absl::StrCat("{\"worker_pid\":", victim, ",")));
  }

  std::string wrk_out;
  std::thread load([&] {
    wrk_out =
        Shell(absl::StrCat("wrk -t1 -c8 -d3s http://127.0.0.1:", PortOf(start.out, "web"), "/"));
  });
  usleep(500000);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  std::string after;
  bool replaced = false;
  for (int i = 0; i < 20 && !replaced; ++i) {  // within one second
    usleep(50000);
    after = RunSockman({"status", "--json", "-c", config}).out;
    size_t slot = after.find("\"service\":\"chat\",\"id\":0");
    if (slot == std::string::npos) continue;
    int pid = std::atoi(after.c_str() + after.rfind("\"pid\":", slot) + 6);
    replaced = pid > 0 && pid != victim;
  }
  EXPECT_TRUE(replaced) << after;
  load.join();
  EXPECT_TRUE(absl::StrContains(wrk_out, "requests in")) << wrk_out;
  int untouched = 0;
  for (int i = 0; i < 16; ++i) {
    if (on_victim[i]) {
      EXPECT_TRUE(clients[i]->WaitClosed(2000)) << "client " << i << " was on the killed worker";
    } else {
      ASSERT_TRUE(clients[i]->Send("still\n"));
      EXPECT_EQ(clients[i]->ReadLine(), "still") << "client " << i;
      ++untouched;
    }
  }
  EXPECT_GT(untouched, 0);
}

TEST_F(LifecycleTest, SignalsHupReloadsAndQuitStopsGracefully) {
  auto text = [](const std::string& body) {
    return absl::StrCat("service { name: \"web\" listen: \"http://127.0.0.1:0\" count: 1 ",
                        "respond { body: \"", body, "\" } }\n");
  };
  std::string config = WriteConfig(text("first"));
  CommandResult start = RunSockman({"start", "-d", "-c", config});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  std::string url = absl::StrCat("http://127.0.0.1:", PortOf(start.out, "web"), "/");
  pid_t master = MasterPid();
  std::ofstream(config) << Global() << text("second");
  ASSERT_EQ(kill(master, SIGHUP), 0);
  std::string body;
  for (int i = 0; i < 50 && body != "second"; ++i) {
    usleep(100000);
    body = Shell("curl -s " + url);
  }
  EXPECT_EQ(body, "second");

  TestClient slow(PortOf(start.out, "web"));
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: t\r\n"));
  usleep(100000);
  ASSERT_EQ(kill(master, SIGQUIT), 0);
  usleep(300000);
  ASSERT_TRUE(slow.Send("\r\n"));
  std::string response = slow.ReadExactly(4096, 3000);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK")) << response;
  EXPECT_TRUE(absl::EndsWith(response, "second")) << response;
  for (int i = 0; i < 100 && Exists(pid_file_); ++i) usleep(50000);
  EXPECT_FALSE(Exists(pid_file_));
  config_.clear();
}

}  // namespace
}  // namespace sockman::testing

namespace sockman::testing {
namespace {

// The master's resident set, in KiB (0 if unreadable).
int64_t RssKib(pid_t pid) {
  std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  size_t at = status.find("VmRSS:");
  int64_t kib = 0;
  if (at == std::string::npos || !absl::SimpleAtoi(absl::StripAsciiWhitespace(status.substr(
                                                       at + 6, status.find('\n', at) - at - 6 - 3)),
                                                   &kib)) {
    return 0;
  }
  return kib;
}

// Every reload replaces the service, so every reload makes a new plan; the
// old ones (here 256 KiB of body each, in the config and the handler) must
// go once no worker runs from them.
TEST_F(LifecycleTest, ReloadsReleaseOldPlans) {
  auto config_text = [&](int round) {
    std::string body(256 * 1024, static_cast<char>('a' + round % 26));
    return absl::StrCat(Global(), "service { name: \"web\" listen: \"http://127.0.0.1:0\" ",
                        "count: 1 respond { body: \"", body, "\" } }\n");
  };
  config_ = WriteTempFile("reloads.textproto", config_text(0));
  CommandResult start = RunSockman({"start", "-d", "-c", config_});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  pid_t master = MasterPid();
  auto reload = [&](int round) {
    std::ofstream(config_) << config_text(round);
    return Shell(absl::StrCat("echo reload | nc -N -U ", socket_));
  };
  int64_t warm = 0;
  for (int round = 1; round <= 200; ++round) {
    ASSERT_EQ(reload(round), "reloaded\n") << "round " << round;
    if (round == 20) warm = RssKib(master);
  }
  int64_t after = RssKib(master);
  ASSERT_GT(warm, 0);
  // 180 leaked plans would be at least 45 MiB more.
  EXPECT_LT(after - warm, 8 * 1024)
      << "RSS after 20 reloads " << warm << " KiB, after 200 " << after << " KiB";
  std::string url = absl::StrCat("http://127.0.0.1:", PortOf(start.out, "web"), "/");
  EXPECT_EQ(Shell("curl -s " + url).substr(0, 3), std::string(3, 'a' + 200 % 26));
}

}  // namespace
}  // namespace sockman::testing
