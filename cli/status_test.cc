#include "cli/status.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

WorkerReply Worker(const std::string& pool, int id, int pid, bool answered, std::string line) {
  WorkerReply reply;
  reply.worker.pool = pool;
  reply.worker.id = id;
  reply.worker.pid = pid;
  reply.answered = answered;
  reply.reply = std::move(line);
  return reply;
}

MasterSummary Master() {
  MasterSummary m;
  m.version = "0.1.0";
  m.pid = 42;
  m.start_wall_seconds = 1'700'000'000;
  m.now_wall_seconds = 1'700'000'000 + 3661;
  m.services = {{"web", "http://127.0.0.1:8080", 2}};
  m.exits["web"]["killed by signal 9"] = 1;
  return m;
}

TEST(StatusTest, ParseFieldsSplitsKeyValues) {
  auto f = ParseFields("a=1  b=x=y junk c=");
  EXPECT_EQ(f["a"], "1");
  EXPECT_EQ(f["b"], "x=y");
  EXPECT_EQ(f["c"], "");
  EXPECT_FALSE(f.contains("junk"));
}

TEST(StatusTest, JsonHasNumbersStringsAndStates) {
  std::vector<WorkerReply> workers = {
      Worker("web", 0, 100, true, "connections=3 requests=10 send_failures=0"),
      Worker("web", 1, 101, false, ""), Worker("web", 2, 0, false, "")};
  std::string json = RenderStatus(Master(), workers, true);
  EXPECT_TRUE(absl::StrContains(json, "\"pid\":42")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"start_time\":\"2023-11-14T22:13:20Z\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"uptime_seconds\":3661")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"exits\":{\"killed by signal 9\":1}")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"connections\":3,\"requests\":10")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"state\":\"idle\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"connections\":null")) << "unanswered: " << json;
  EXPECT_TRUE(absl::StrContains(json, "\"state\":\"busy\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"state\":\"restarting\"")) << json;
}

TEST(StatusTest, TextTableShowsUptimeAndExits) {
  std::string text = RenderStatus(Master(), {Worker("web", 0, 100, true, "connections=3")}, false);
  EXPECT_TRUE(absl::StrContains(text, "uptime 0d 01:01:01")) << text;
  EXPECT_TRUE(absl::StrContains(text, "killed by signal 9 x1")) << text;
  EXPECT_TRUE(absl::StrContains(text, "idle")) << text;
}

TEST(StatusTest, DrainingWorkersTotalsRestartsAndBackendErrorsAreShown) {
  MasterSummary master = Master();
  master.now_ms = 100'000;
  WorkerReply old = Worker("web", 0, 99, true, "connections=4 backend_errors=7");
  old.worker.draining = true;
  old.worker.started_ms = 40'000;  // a minute before now
  WorkerReply fresh = Worker("web", 0, 100, true, "connections=1 backend_errors=0");
  fresh.worker.restarts = 3;
  fresh.worker.started_ms = 99'000;
  std::string text = RenderStatus(master, {fresh, old}, false);
  EXPECT_TRUE(absl::StrContains(text, "totals: 1 services, 2 workers (1 draining), 5 connections"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "BACKEND_ERR")) << text;
  EXPECT_TRUE(absl::StrContains(text, "draining\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, " 7 ")) << text;  // the draining worker's backend errors
  EXPECT_TRUE(absl::StrContains(text, "2023-11-14T23:13:21Z")) << text;  // started a minute ago
  std::string json = RenderStatus(master, {fresh, old}, true);
  EXPECT_TRUE(absl::StrContains(
      json, "\"totals\":{\"services\":1,\"workers\":1,\"draining\":1,\"connections\":5}"))
      << json;
  EXPECT_TRUE(absl::StrContains(json, "\"restarts\":3")) << json;
  EXPECT_TRUE(absl::StrContains(json,
                                "\"draining\":true,\"started\":\"2023-11-14T23:13:21Z\","
                                "\"state\":\"draining\""))
      << json;
}

TEST(StatusTest, ConnectionsShowClientIdsUidsAndGroupsDecoded) {
  WorkerReply w = Worker("chat", 1, 100, true,
                         "id=3 service=chat client_id=7f00000001 uid=ann%20b groups=a%2Cb,lobby");
  w.worker.draining = true;
  std::string json = RenderConnections({w}, true);
  EXPECT_TRUE(absl::StrContains(json, "\"worker_id\":1,\"worker_draining\":true")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"client_id\":\"7f00000001\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"uid\":\"ann b\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"groups\":[\"a,b\",\"lobby\"]")) << json;
  std::string text = RenderConnections({w}, false);
  EXPECT_TRUE(absl::StrContains(text, "1 (draining)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "ann b")) << text;
  EXPECT_TRUE(absl::StrContains(text, "a,b,lobby")) << text;
}

TEST(StatusTest, ConnectionsJsonEscapesAndKeepsTypes) {
  std::vector<WorkerReply> workers = {
      Worker("web", 0, 100, true,
             "id=1 protocol=http remote=127.0.0.1:5 bytes_in=7;id=2 protocol=we\"ird"),
      Worker("web", 1, 101, false, "id=9")};
  std::string json = RenderConnections(workers, true);
  EXPECT_EQ(json,
            "[{\"worker_pid\":100,\"worker_id\":0,\"worker_draining\":false,\"bytes_in\":7,\"id\":"
            "1,\"protocol\":\"http\","
            "\"remote\":\"127.0.0.1:5\"},{\"worker_pid\":100,\"worker_id\":0,\"worker_draining\":"
            "false,\"id\":2,"
            "\"protocol\":\"we\\\"ird\"}]\n");
}

}  // namespace
}  // namespace sockman
