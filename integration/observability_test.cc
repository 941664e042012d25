// What operators see, on the real binary: JSON log lines at the chosen level
// with protocol errors explained, process titles by role, draining workers
// kept in `status` and `connections` until they exit, clients' ids, uids and
// groups in `connections`, and a reload that cannot apply a change says so.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

// As ps shows it: NULs between strings are spaces, trailing ones dropped.
std::string Cmdline(pid_t pid) {
  std::string line = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  while (!line.empty() && line.back() == '\0') line.pop_back();
  return absl::StrReplaceAll(line, {{std::string(1, '\0'), " "}});
}

std::string Status(const SockmanProcess& server, bool json = false) {
  std::vector<std::string> args = {"status", "-c", server.config_path()};
  if (json) args.push_back("--json");
  return RunSockman(args).out;
}

TEST(ObservabilityTest, JsonLogLinesAtTheChosenLevelExplainProtocolErrors) {
  std::string dir = ShortTempDir();
  auto server = SockmanProcess::Start(R"(
global { log_file: "s.log" log_format: JSON }
service { name: "web" listen: "http://127.0.0.1:0" respond { body: "ok" } }
)",
                                      "logs", dir);
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient client((*server)->port("web"));
  client.Send("GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(client.ReadLine(), "HTTP/1.1 400"));
  std::string log = PollUntilContains([&] { return ReadFile(dir + "/s.log"); }, "protocol error");
  // Every line is one JSON object with the stable keys.
  std::string checked =
      Shell(absl::StrCat("python3 -c 'import json,sys\n"
                         "for line in open(sys.argv[1]):\n"
                         "  o = json.loads(line)\n"
                         "  assert sorted(o) == [\"level\",\"msg\",\"pid\",\"role\",\"time\"], o\n"
                         "print(\"ok\")' ",
                         dir, "/s.log 2>&1"));
  EXPECT_EQ(checked, "ok\n") << log;
  EXPECT_TRUE(absl::StrContains(log, "\"level\":\"info\",\"role\":\"worker web/0\""));
  EXPECT_TRUE(absl::StrContains(log, "http protocol error from 127.0.0.1:")) << log;
  EXPECT_TRUE(absl::StrContains(log, "(400); closing the connection")) << log;
  (*server)->Stop();

  // At WARNING, info lines are not written.
  std::string quiet_dir = ShortTempDir();
  auto quiet = SockmanProcess::Start(R"(
global { log_file: "s.log" log_level: WARNING }
service { name: "web" listen: "http://127.0.0.1:0" respond { body: "ok" } }
)",
                                     "logs", quiet_dir);
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  TestClient bad((*quiet)->port("web"));
  bad.Send("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n");
  bad.ReadLine();
  usleep(300'000);
  std::string text = ReadFile(quiet_dir + "/s.log");
  EXPECT_FALSE(absl::StrContains(text, " info ")) << text;
  EXPECT_FALSE(absl::StrContains(text, "protocol error")) << text;
  (*quiet)->Stop();

  CommandResult refused = RunSockman({"start", "-c", "/nonexistent", "--log-level", "loud"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(refused.err, "--log-level: 'loud' is not debug, info, warning"))
      << refused.err;
}

TEST(ObservabilityTest, TitlesDrainingWorkersAndClientsInStatusAndConnections) {
  std::string dir = ShortTempDir();
  std::string config = R"(
global { stop_timeout_ms: 20000 }
service { name: "lines" listen: "text://127.0.0.1:0" broadcast {} limits { max_package_size: 1000 } }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "lines" } }
service { name: "fixed" listen: "text://127.0.0.1:0" reloadable: false echo {} }
service { name: "mon" listen: "http://127.0.0.1:0" metrics {} }
)";
  auto server = SockmanProcess::Start(config, "obs", dir);
  ASSERT_TRUE(server.ok()) << server.status();
  pid_t master = (*server)->pid();
  EXPECT_TRUE(absl::StartsWith(Cmdline(master), "sockman: master -c /")) << Cmdline(master);
  std::vector<std::string> titles;
  for (pid_t worker : (*server)->WorkerPids()) titles.push_back(Cmdline(worker));
  std::sort(titles.begin(), titles.end());
  EXPECT_EQ(titles, (std::vector<std::string>{"sockman: worker api/0", "sockman: worker fixed/0",
                                              "sockman: worker lines/0", "sockman: worker mon/0"}));

  // A client with a uid and two groups, as the push API made it.
  TestClient client((*server)->port("lines"));
  client.Send("hello\n");
  std::string listed;
  std::string id;
  for (int i = 0; i < 50 && id.empty(); ++i) {
    listed = RunSockman({"connections", "--json", "-c", (*server)->config_path()}).out;
    size_t at = listed.find("\"client_id\":\"");
    if (at != std::string::npos) id = listed.substr(at + 13, listed.find('"', at + 13) - at - 13);
    usleep(50'000);
  }
  ASSERT_FALSE(id.empty()) << listed;
  std::string api = absl::StrCat("http://127.0.0.1:", (*server)->port("api"));
  Shell(absl::StrCat("curl -s -X PUT --data 'ann b' ", api, "/clients/", id, "/uid"));
  Shell(absl::StrCat("curl -s -X PUT ", api, "/clients/", id, "/groups/red"));
  Shell(absl::StrCat("curl -s -X PUT ", api, "/clients/", id, "/groups/blue"));
  listed = RunSockman({"connections", "--json", "-c", (*server)->config_path()}).out;
  EXPECT_TRUE(absl::StrContains(listed, "\"uid\":\"ann b\"")) << listed;
  EXPECT_TRUE(absl::StrContains(listed, "\"groups\":[\"blue\",\"red\"]")) << listed;
  std::string table = RunSockman({"connections", "-c", (*server)->config_path()}).out;
  EXPECT_TRUE(absl::StrContains(table, "CLIENT_ID")) << table;
  EXPECT_TRUE(absl::StrContains(table, id)) << table;

  // A reload replaces `lines`; its old worker drains, still holding the client.
  pid_t old_worker = 0;
  for (pid_t worker : (*server)->WorkerPids()) {
    if (Cmdline(worker) == "sockman: worker lines/0") old_worker = worker;
  }
  ASSERT_GT(old_worker, 0);
  std::string changed = absl::StrReplaceAll(
      config,
      {{"max_package_size: 1000", "max_package_size: 2000"}, {"echo {}", "echo {} count: 2"}});
  {
    std::ofstream out((*server)->config_path(), std::ios::trunc);
    out << changed;
  }
  CommandResult reloaded = RunSockman({"reload", "-c", (*server)->config_path()});
  EXPECT_EQ(reloaded.exit_code, 0) << reloaded.err;
  EXPECT_EQ(Cmdline(old_worker), "sockman: worker lines/0 (draining)");
  std::string status = Status(**server);
  EXPECT_TRUE(absl::StrContains(status, "(1 draining)")) << status;
  EXPECT_TRUE(absl::StrContains(status, "draining\n")) << status;
  std::string json = Status(**server, true);
  EXPECT_TRUE(
      absl::StrContains(json, absl::StrCat("{\"pid\":", old_worker, ",\"service\":\"lines\"")))
      << json;
  EXPECT_TRUE(absl::StrContains(json, "\"state\":\"draining\"")) << json;
  listed = RunSockman({"connections", "--json", "-c", (*server)->config_path()}).out;
  EXPECT_TRUE(absl::StrContains(listed, absl::StrCat("\"worker_pid\":", old_worker,
                                                     ",\"worker_id\":0,\"worker_draining\":true")))
      << listed;
  // A scrape meanwhile has one series per label set: the draining worker,
  // which shares its successor's labels, is left out.
  std::string scrape =
      Shell(absl::StrCat("curl -s http://127.0.0.1:", (*server)->port("mon"), "/"));
  size_t series = 0;
  for (size_t at = 0;
       (at = scrape.find("\nsockman_connections_open{service=\"lines\",worker=\"0\"}", at)) !=
       std::string::npos;
       ++at) {
    ++series;
  }
  EXPECT_EQ(series, 1u) << scrape;
  // `fixed` is reloadable: false: its change waits, and the log says so.
  EXPECT_TRUE(absl::StrContains(
      (*server)->Stderr(), "service 'fixed' changed but is reloadable: false; the change waits"))
      << (*server)->Stderr();
  // The client leaves: the draining worker exits and leaves the listing.
  client.Close();
  std::string after;
  for (int i = 0; i < 100; ++i) {
    after = Status(**server);
    if (!absl::StrContains(after, "draining\n")) break;
    usleep(50'000);
  }
  EXPECT_TRUE(absl::StrContains(after, "(0 draining)")) << after;
  EXPECT_TRUE(Exited(old_worker));
}

}  // namespace
}  // namespace sockman::testing
