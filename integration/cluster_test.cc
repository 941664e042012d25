// Two sockman instances (nodes) sharing broadcast, push and presence through
// a real redis-server the test starts on a free port: cross-node delivery,
// cluster-wide presence, Redis lost (local delivery goes on) and restarted
// (cross-node delivery resumes), and Redis unreachable at start.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/testing/local_servers.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

// The next message that is not a join notice (another node's notice can
// arrive after a client joined: the cluster relays asynchronously).
std::string NextMessage(WebSocketClient& client) {
  std::string message = client.Next();
  while (absl::StartsWith(message, "join ")) message = client.Next();
  return message;
}

std::string NodeConfig(uint16_t redis_port, const std::string& node) {
  return absl::StrCat("global { cluster { redis: \"redis://127.0.0.1:", redis_port,
                      "\" node_id: \"", node, "\" } }\n",
                      R"(
service {
  name: "chat"
  listen: "ws://127.0.0.1:0"
  count: 2
  broadcast { rooms_from_path: true notify_join: "join {client_id}" }
}
service { name: "api" listen: "http://127.0.0.1:0" push { service: "chat" } }
service { name: "metrics" listen: "http://127.0.0.1:0" metrics {} }
)");
}

// The sum of a node's samples whose line starts with `prefix` (every worker).
double Metric(SockmanProcess& node, const std::string& prefix) {
  std::string text =
      Shell(absl::StrCat("curl -s -m 5 http://127.0.0.1:", node.port("metrics"), "/metrics"));
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, prefix)) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) sum += value;
  }
  return sum;
}

std::string Api(SockmanProcess& node, const std::string& method, const std::string& path,
                const std::string& body = "") {
  return Shell(absl::StrCat("curl -s -X ", method, " -w ' %{http_code}' ",
                            body.empty() ? "" : absl::StrCat("--data-binary '", body, "' "),
                            "'http://127.0.0.1:", node.port("api"), path, "'"));
}

// A real redis-server on a free port and two nodes, a and b, of NodeConfig,
// started in SetUp with all four chat workers (two per node) subscribed.
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = SockmanProcess::Start(NodeConfig(redis_port_, "a"), "node_a", ShortTempDir());
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = SockmanProcess::Start(NodeConfig(redis_port_, "b"), "node_b", ShortTempDir());
    ASSERT_TRUE(b.ok()) << b.status();
    a_ = std::move(*a);
    b_ = std::move(*b);
    // Workers connect to Redis in the background.
    std::string subscribed = WaitForRedisSubscribers(redis_port_, "sockman:chat", 4);
    ASSERT_TRUE(absl::EndsWith(subscribed, "\n4\n")) << subscribed;
  }
  uint16_t redis_port_ = FreePort();
  RedisServer redis_{redis_port_};
  std::unique_ptr<SockmanProcess> a_, b_;
};

TEST_F(ClusterTest, NodesShareDeliveryAndPresenceAndSurviveRedisRestarts) {
  WebSocketClient on_a(a_->port("chat"), "/rooms/r");
  std::string a_id = on_a.Next().substr(5);
  WebSocketClient on_b(b_->port("chat"), "/rooms/r");
  std::string b_id = on_b.Next().substr(5);
  EXPECT_TRUE(absl::StartsWith(a_id, "a-")) << a_id;
  EXPECT_TRUE(absl::StartsWith(b_id, "b-")) << b_id;
  EXPECT_EQ(on_a.Next(), "join " + b_id);  // b's join reached node a

  // A message on node a reaches the room on node b.
  on_a.Send("hello from a");
  EXPECT_EQ(on_a.Next(), "hello from a");
  EXPECT_EQ(NextMessage(on_b), "hello from a");
  // Relay figures: a's publication left through Redis and reached b.
  const std::string chat = "{service=\"chat\",";
  EXPECT_GE(Metric(*a_, "sockman_cluster_messages_total" + chat), 1);
  EXPECT_GE(Metric(*b_, "sockman_cluster_relay_lag_seconds_count" + chat), 1);
  EXPECT_GE(Metric(*b_, "sockman_cluster_messages_total" + chat), 1);
  // Both Redis connections of both chat workers are up.
  EXPECT_EQ(Metric(*a_, "sockman_redis_up" + chat), 4);

  // Presence is cluster-wide, through either node's push API.
  std::string room = Api(*b_, "GET", "/rooms/r");
  EXPECT_TRUE(absl::StrContains(room, R"("count":2)")) << room;
  EXPECT_TRUE(absl::StrContains(room, a_id) && absl::StrContains(room, b_id)) << room;
  EXPECT_TRUE(absl::StrContains(Api(*a_, "GET", "/clients/" + b_id), R"("online":true)"));
  EXPECT_EQ(Api(*a_, "POST", "/clients/" + b_id, "to b via a"), "{\"delivered\":1}\n 200");
  EXPECT_EQ(NextMessage(on_b), "to b via a");
  EXPECT_EQ(Api(*a_, "POST", "/clients/a-00000000000000000000", "x"),
            "{\"error\":\"no such client\"}\n 404");

  // Redis gone: each node still delivers locally.
  redis_.Kill();
  WebSocketClient second_a(a_->port("chat"), "/rooms/r");
  std::string second_id = second_a.Next().substr(5);
  EXPECT_EQ(on_a.Next(), "join " + second_id);
  on_a.Send("local only");
  EXPECT_EQ(on_a.Next(), "local only");
  EXPECT_EQ(second_a.Next(), "local only");
  EXPECT_LT(Metric(*a_, "sockman_redis_up" + chat), 4);
  EXPECT_GE(Metric(*a_, "sockman_cluster_messages_unrelayed_total" + chat), 1);

  // Redis back (empty): nodes reconnect, write their presence again, and
  // cross-node delivery resumes.
  redis_.Start();
  bool resumed = false;
  for (int i = 0; i < 40 && !resumed; ++i) {
    usleep(250'000);
    on_b.Send(absl::StrCat("ping ", i));
    for (std::string got = on_a.Next(300); got != "<none>"; got = on_a.Next(300)) {
      if (absl::StartsWith(got, "ping ")) resumed = true;
    }
  }
  EXPECT_TRUE(resumed);
  std::string after = Api(*a_, "GET", "/rooms/r");
  EXPECT_TRUE(absl::StrContains(after, R"("count":3)")) << after;
}

// The gateway API across nodes: a uid bound and a group joined through one
// node's API for a client on the other node; uid and group sends, lists and
// presence span both nodes.
TEST_F(ClusterTest, UidsAndGroupsSpanNodes) {
  WebSocketClient on_a(a_->port("chat"), "/rooms/r");
  std::string a_id = on_a.Next().substr(5);
  WebSocketClient on_b(b_->port("chat"), "/rooms/r");
  std::string b_id = on_b.Next().substr(5);

  // Changes through node b's API reach node a's client.
  EXPECT_EQ(Api(*b_, "PUT", "/clients/" + a_id + "/uid", "alice"), "{\"bound\":1}\n 200");
  EXPECT_EQ(Api(*b_, "PUT", "/clients/" + a_id + "/groups/vip"), "{\"joined\":1}\n 200");
  EXPECT_EQ(Api(*a_, "PUT", "/clients/" + b_id + "/uid", "bob"), "{\"bound\":1}\n 200");
  // Presence in Redis is written as the changes are applied: give it a moment.
  std::string uids =
      PollUntilContains([&] { return Api(*a_, "GET", "/uids"); }, R"(["alice","bob"])");
  EXPECT_TRUE(absl::StrContains(uids, R"("count":2,"uids":["alice","bob"])")) << uids;
  EXPECT_TRUE(absl::StrContains(Api(*b_, "GET", "/uids/alice"), R"("online":true,"count":1)"));
  std::string vip = Api(*b_, "GET", "/groups/vip");
  EXPECT_TRUE(absl::StrContains(vip, absl::StrCat(R"("count":1,"clients":[")", a_id))) << vip;

  // Sends by uid and by group from the other node.
  EXPECT_EQ(Api(*b_, "POST", "/uids/alice", "hi alice"), "{\"delivered\":1}\n 200");
  EXPECT_EQ(NextMessage(on_a), "hi alice");
  EXPECT_EQ(Api(*b_, "POST", "/groups/vip", "vip only"), "{\"delivered\":1}\n 200");
  EXPECT_EQ(NextMessage(on_a), "vip only");
  EXPECT_EQ(Api(*a_, "POST", "/uids?uid=bob", "hi bob"), "{\"delivered\":1}\n 200");
  EXPECT_EQ(NextMessage(on_b), "hi bob");
}

// Sessions, client info, ungroup, closeClient and batches through one
// node's API for clients on the other node.
TEST_F(ClusterTest, SessionsInfoUngroupCloseAndBatchSpanNodes) {
  WebSocketClient on_a(a_->port("chat"), "/rooms/r");
  std::string a_id = on_a.Next().substr(5);
  WebSocketClient on_b(b_->port("chat"), "/rooms/r");
  std::string b_id = on_b.Next().substr(5);

  // setSession and updateSession through b for a's client; getSession and
  // getClientInfo through b.
  EXPECT_EQ(Api(*b_, "PUT", "/clients/" + a_id + "/session", R"({"name":"ann"})"),
            "{\"updated\":1}\n 200");
  EXPECT_EQ(Api(*b_, "PATCH", "/clients/" + a_id + "/session", R"({"level":2})"),
            "{\"updated\":1}\n 200");
  std::string session =
      PollUntilContains([&] { return Api(*b_, "GET", "/clients/" + a_id + "/session"); }, "level");
  EXPECT_EQ(session, "{\"name\":\"ann\",\"level\":2}\n 200");
  EXPECT_EQ(Api(*b_, "PUT", "/clients/" + a_id + "/uid", "ann"), "{\"bound\":1}\n 200");
  std::string info =
      PollUntilContains([&] { return Api(*b_, "GET", "/clients/" + a_id); }, "\"ann\"");
  EXPECT_TRUE(absl::StrContains(info, absl::StrCat(R"({"online":true,"client_id":")", a_id,
                                                   R"(","uid":"ann","groups":["r"],)")))
      << info;
  EXPECT_TRUE(absl::StrContains(info, R"("remote_address":"127.0.0.1")")) << info;
  EXPECT_EQ(Api(*b_, "GET", "/clients/" + a_id + "/uid"),
            absl::StrCat(R"({"client_id":")", a_id, R"(","uid":"ann"})", "\n 200"));
  // Every client's info, from either node.
  std::string all = Api(*a_, "GET", "/all?info=1");
  EXPECT_TRUE(absl::StrContains(all, R"("count":2,)")) << all;
  EXPECT_TRUE(absl::StrContains(all, a_id) && absl::StrContains(all, b_id)) << all;
  std::string room = Api(*a_, "GET", "/groups/r?info=1");
  EXPECT_TRUE(absl::StrContains(room, R"("count":2,)")) << room;

  // A batch through a: join b's client to a group, send to it, read it back.
  std::string batch = Api(*a_, "POST", "/batch",
                          absl::StrCat(R"([{"method":"PUT","path":"/clients/)", b_id,
                                       R"(/groups/late"},{"method":"POST","path":"/clients/)", b_id,
                                       R"(","body":"batched"}])"));
  EXPECT_EQ(batch,
            "{\"results\":[{\"status\":200,\"result\":{\"joined\":1}},"
            "{\"status\":200,\"result\":{\"delivered\":1}}]}\n 200");
  EXPECT_EQ(NextMessage(on_b), "batched");
  std::string late = PollUntilContains([&] { return Api(*a_, "GET", "/groups/late"); }, b_id);
  EXPECT_TRUE(absl::StrContains(late, R"("count":1)")) << late;

  // sendToAll with an exclude list, and with a client list, through b.
  EXPECT_EQ(Api(*b_, "POST", "/all?exclude=" + b_id, "not b"), "{\"delivered\":1}\n 200");
  EXPECT_EQ(NextMessage(on_a), "not b");
  EXPECT_EQ(Api(*b_, "POST", absl::StrCat("/all?client=", a_id, "&client=", b_id), "both"),
            "{\"delivered\":2}\n 200");
  EXPECT_EQ(NextMessage(on_a), "both");
  EXPECT_EQ(NextMessage(on_b), "both");
  // sendToGroup for several groups with an exclude list: b's client is in
  // both groups and gets it once.
  EXPECT_EQ(Api(*a_, "POST", "/groups?group=r&group=late&exclude=" + a_id, "groups"),
            "{\"delivered\":1}\n 200");
  EXPECT_EQ(NextMessage(on_b), "groups");
  EXPECT_EQ(on_b.Next(300), "<none>");
  // getAllClientIdList, paged, through b (ids sort by node: a's first).
  EXPECT_EQ(
      Api(*b_, "GET", "/all?limit=1"),
      absl::StrCat(R"({"count":2,"clients":[")", a_id, R"("],"next_cursor":")", a_id, "\"}\n 200"));
  EXPECT_EQ(
      Api(*b_, "GET", "/all?limit=1&cursor=" + a_id),
      absl::StrCat(R"({"count":2,"clients":[")", b_id, R"("],"next_cursor":null})", "\n 200"));
  // getAllGroupIdList, leaveGroup and unbindUid across nodes.
  EXPECT_EQ(Api(*a_, "GET", "/groups"), "{\"count\":2,\"groups\":[\"late\",\"r\"]}\n 200");
  EXPECT_EQ(Api(*a_, "DELETE", "/clients/" + b_id + "/groups/late"), "{\"left\":1}\n 200");
  EXPECT_EQ(PollUntilContains([&] { return Api(*b_, "GET", "/groups"); }, R"("count":1)"),
            "{\"count\":1,\"groups\":[\"r\"]}\n 200");
  EXPECT_EQ(Api(*b_, "DELETE", "/clients/" + a_id + "/uid"), "{\"unbound\":1}\n 200");
  EXPECT_EQ(PollUntilContains([&] { return Api(*a_, "GET", "/uids"); }, R"("count":0)"),
            "{\"count\":0,\"uids\":[]}\n 200");

  // ungroup through b: both nodes' clients leave r.
  EXPECT_EQ(Api(*b_, "DELETE", "/groups/r"), "{\"left\":2}\n 200");
  std::string emptied =
      PollUntilContains([&] { return Api(*a_, "GET", "/groups/r"); }, R"("count":0)");
  EXPECT_TRUE(absl::StrContains(emptied, R"("count":0)")) << emptied;
  EXPECT_EQ(Api(*a_, "POST", "/groups/r", "nobody"), "{\"delivered\":0}\n 200");

  // closeClient through b, with a last message, for a's client.
  EXPECT_EQ(Api(*b_, "DELETE", "/clients/" + a_id, "bye"), "{\"closed\":1}\n 200");
  EXPECT_EQ(NextMessage(on_a), "bye");
  EXPECT_EQ(on_a.NextFrame().first, 0x88);  // then the close
  on_a.Close();  // (the server waits for the closing handshake until then)
  std::string gone =
      PollUntilContains([&] { return Api(*b_, "GET", "/clients/" + a_id); }, R"("online":false)");
  EXPECT_EQ(gone, absl::StrCat(R"({"client_id":")", a_id, R"(","online":false})", "\n 200"));
}

TEST(ClusterConfigTest, RedisUnreachableAtStartIsAClearError) {
  std::string path = WriteTempFile("no_redis.textproto", NodeConfig(FreePort(), "a"));
  CommandResult start = RunSockman({"start", "-c", path});
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(start.err, "global.cluster.redis: cannot reach 127.0.0.1:"))
      << start.err;
}

}  // namespace
}  // namespace sockman::testing
