// Messaging across workers on the real binary: broadcast to every client of
// every worker (Node's ws: 200 clients, 50 senders, exactly once, in
// per-sender order), rooms, templates and join/leave notices, and the push
// API with presence, for each route and its errors.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

class MessagingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = SockmanProcess::Start(R"(
service {
  name: "chat"
  listen: "ws://127.0.0.1:0"
  count: 4
  broadcast {}
}
service {
  name: "rooms"
  listen: "ws://127.0.0.1:0"
  count: 3
  broadcast {
    rooms_from_path: true
    template: "[{room}] {client_id}: {message}"
    notify_join: "join {client_id}"
    notify_leave: "leave {client_id}"
  }
}
service {
  name: "lines"
  listen: "text://127.0.0.1:0"
  count: 2
  broadcast { exclude_sender: true }
}
service { name: "api" listen: "http://127.0.0.1:0" count: 2 push { service: "rooms" } }
service { name: "secured" listen: "http://127.0.0.1:0" push { service: "rooms" token: "s3cret" } }
)",
                                         "messaging", ShortTempDir());
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() { delete server_; }

  // curl against the push API: "STATUS BODY".
  static std::string Api(const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& service = "api",
                         const std::string& extra = "") {
    return Shell(absl::StrCat("curl -s -X ", method, " -w ' %{http_code}' ", extra,
                              body.empty() ? "" : absl::StrCat(" --data-binary '", body, "'"),
                              " 'http://127.0.0.1:", server_->port(service), path, "'"));
  }
  // A rooms client in `room`; its id comes from its own join notice.
  static std::unique_ptr<WebSocketClient> Join(const std::string& room, std::string* id) {
    auto client = std::make_unique<WebSocketClient>(server_->port("rooms"), "/rooms/" + room);
    EXPECT_TRUE(client->ok());
    std::string notice = client->Next();
    EXPECT_TRUE(absl::StartsWith(notice, "join ")) << notice;
    *id = notice.substr(5);
    return client;
  }
  static SockmanProcess* server_;
};

SockmanProcess* MessagingTest::server_ = nullptr;

TEST_F(MessagingTest, EveryClientOfEveryWorkerGetsEveryMessageOnceInOrder) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  ASSERT_NE(modules, nullptr) << "run through ./bazelw, which installs Node's ws";
  std::string out = Shell(absl::StrCat("NODE_PATH=", modules,
                                       " timeout 90 node integration/node/broadcast_clients.js "
                                       "ws://127.0.0.1:",
                                       server_->port("chat"), "/ 200 50 10"));
  EXPECT_EQ(out, "ok 100000\n");  // 200 clients x 50 senders x 10 messages
}

TEST_F(MessagingTest, RoomsAreIsolatedAndNoticesAndTemplatesApply) {
  std::string a1_id, a2_id, b_id;
  auto a1 = Join("a", &a1_id);
  auto a2 = Join("a", &a2_id);
  EXPECT_EQ(a1->Next(), "join " + a2_id);  // a1 hears a2 arrive
  auto b = Join("b", &b_id);
  EXPECT_EQ(a1_id.size(), 20u);
  EXPECT_NE(a1_id, a2_id);
  a1->Send("hi a");
  EXPECT_EQ(a1->Next(), absl::StrCat("[a] ", a1_id, ": hi a"));
  EXPECT_EQ(a2->Next(), absl::StrCat("[a] ", a1_id, ": hi a"));
  b->Send("hi b");
  EXPECT_EQ(b->Next(), absl::StrCat("[b] ", b_id, ": hi b"));
  EXPECT_EQ(a1->Next(300), "<none>");  // nothing from room b
  a2->Close();
  EXPECT_EQ(a1->Next(), "leave " + a2_id);
}

TEST_F(MessagingTest, TextBroadcastExcludesTheSender) {
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 6; ++i)
    clients.push_back(std::make_unique<TestClient>(server_->port("lines")));
  // Every client is registered once it has been served (the echo of a probe
  // is not possible here, so give the workers a moment to accept).
  usleep(300'000);
  ASSERT_TRUE(clients[0]->Send("from zero\n"));
  for (int i = 1; i < 6; ++i) EXPECT_EQ(clients[i]->ReadLine(3000), "from zero") << i;
  EXPECT_EQ(clients[0]->ReadLine(300), "");  // not back to the sender
}

// The worker bus is an abstract unix socket anyone on the host can find in
// /proc/net/unix: a process that is not a worker of this master is refused.
TEST_F(MessagingTest, TheWorkerBusRefusesStrangers) {
  TestClient listener(server_->port("lines"));
  usleep(200'000);
  std::string injected = Shell(absl::StrCat(
      "python3 - <<'PY'\n"
      "import socket, struct\n"
      "names = [l.split()[-1] for l in open('/proc/net/unix') if 'sockman-bus-' in l]\n"
      "sent = 0\n"
      "for name in names:\n"
      "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
      "    try:\n"
      "        s.connect('\\0' + name[1:])\n"
      "        body = b'p' + bytes(8) + bytes(4) + b'a' + bytes(2) + bytes(2) + b'intruder'\n"
      "        s.sendall(struct.pack('>I', len(body)) + body)\n"
      "        sent += 1\n"
      "    except OSError:\n"
      "        pass\n"
      "print(sent)\n"
      "PY\n"));
  EXPECT_NE(injected, "0\n") << "found no bus socket to try";
  EXPECT_EQ(listener.ReadLine(500), "");  // nothing was delivered
}

TEST_F(MessagingTest, PushApiRoutesAndPresence) {
  std::string x_id, y_id, z_id;
  auto x = Join("news", &x_id);
  auto y = Join("news", &y_id);
  EXPECT_EQ(x->Next(), "join " + y_id);
  auto z = Join("other", &z_id);

  // Presence, right after the joins, across the workers of "rooms".
  std::string room = Api("GET", "/rooms/news");
  EXPECT_TRUE(absl::StrContains(room, R"("room":"news","count":2)")) << room;
  EXPECT_TRUE(absl::StrContains(room, x_id) && absl::StrContains(room, y_id)) << room;
  EXPECT_TRUE(absl::EndsWith(room, " 200")) << room;
  std::string info = Api("GET", "/clients/" + z_id);
  EXPECT_TRUE(absl::StartsWith(info, absl::StrCat(R"({"online":true,"client_id":")", z_id, "\"")))
      << info;
  EXPECT_TRUE(absl::StrContains(info, R"("groups":["other"],"session":{},)")) << info;
  EXPECT_EQ(Api("GET", "/clients/0000000000000000dead"),
            "{\"client_id\":\"0000000000000000dead\",\"online\":false}\n 200");

  // Deliveries.
  EXPECT_EQ(Api("POST", "/rooms/news", "extra!"), "{\"delivered\":2}\n 200");
  EXPECT_EQ(x->Next(), "extra!");
  EXPECT_EQ(y->Next(), "extra!");
  EXPECT_EQ(z->Next(300), "<none>");
  EXPECT_EQ(Api("POST", "/clients/" + z_id, "just you"), "{\"delivered\":1}\n 200");
  EXPECT_EQ(z->Next(), "just you");
  std::string all = Api("POST", "/all", "everyone");
  EXPECT_TRUE(absl::EndsWith(all, " 200")) << all;
  EXPECT_EQ(x->Next(), "everyone");
  EXPECT_EQ(y->Next(), "everyone");
  EXPECT_EQ(z->Next(), "everyone");

  // Errors.
  EXPECT_EQ(Api("POST", "/clients/0000000000000000dead", "hello"),
            "{\"error\":\"no such client\"}\n 404");
  EXPECT_EQ(Api("POST", "/rooms/news"), "{\"error\":\"empty body: nothing to push\"}\n 400");
  EXPECT_EQ(Api("GET", "/nowhere"), "{\"error\":\"no such route\"}\n 404");
  EXPECT_EQ(Api("PUT", "/all"), "{\"error\":\"method not allowed\"}\n 405");
  EXPECT_EQ(Api("POST", "/all", "x", "secured"),
            "{\"error\":\"missing or wrong bearer token\"}\n 401");
  EXPECT_EQ(Api("POST", "/all", "x", "secured", "-H 'Authorization: Bearer wrong'"),
            "{\"error\":\"missing or wrong bearer token\"}\n 401");
  std::string authorized =
      Api("POST", "/rooms/other", "with token", "secured", "-H 'Authorization: Bearer s3cret'");
  EXPECT_EQ(authorized, "{\"delivered\":1}\n 200");
  EXPECT_EQ(z->Next(), "with token");

  // Closing a client, and presence after a disconnect.
  EXPECT_EQ(Api("DELETE", "/clients/" + y_id), "{\"closed\":1}\n 200");
  // A WebSocket close frame (1000) first, then the TCP close.
  EXPECT_EQ(y->NextFrame(), std::make_pair(0x88, std::string("\x03\xe8", 2)));
  EXPECT_TRUE(y->WaitClosed());
  y->Close();  // as a real client does on the server's FIN
  EXPECT_EQ(x->Next(), "leave " + y_id);
  EXPECT_TRUE(absl::StrContains(Api("GET", "/rooms/news"), R"("count":1,)"));
  EXPECT_EQ(Api("DELETE", "/clients/" + y_id), "{\"error\":\"no such client\"}\n 404");
}

// GatewayWorker's Lib\Gateway over the push API, across the three workers of
// "rooms": uids, several groups per client, sessions, lists and paging,
// ungroup, and a batch.
TEST_F(MessagingTest, GatewayApiAcrossWorkers) {
  std::string a_id, b_id, c_id;
  auto a = Join("lobby", &a_id);
  auto b = Join("lobby", &b_id);
  EXPECT_EQ(a->Next(), "join " + b_id);
  auto c = Join("side", &c_id);
  // A join notice published just before a client joined (in another worker)
  // may still reach it after its own: let them land, then drop them.
  usleep(100'000);
  for (auto* client : {a.get(), b.get(), c.get()}) {
    for (std::string m = client->Next(50); m != "<none>"; m = client->Next(50)) {
      EXPECT_TRUE(absl::StartsWith(m, "join ")) << m;
    }
  }

  // uids: two clients of one user, sendToUid, isUidOnline, getClientIdByUid.
  EXPECT_EQ(Api("PUT", "/clients/" + a_id + "/uid", "alice"), "{\"bound\":1}\n 200");
  EXPECT_EQ(Api("PUT", "/clients/" + c_id + "/uid", "alice"), "{\"bound\":1}\n 200");
  EXPECT_EQ(Api("PUT", "/clients/" + b_id + "/uid", "bob"), "{\"bound\":1}\n 200");
  EXPECT_EQ(Api("POST", "/uids/alice", "for alice"), "{\"delivered\":2}\n 200");
  EXPECT_EQ(a->Next(), "for alice");
  EXPECT_EQ(c->Next(), "for alice");
  EXPECT_EQ(b->Next(300), "<none>");
  std::string alice = Api("GET", "/uids/alice");
  EXPECT_TRUE(absl::StrContains(alice, R"("uid":"alice","online":true,"count":2)")) << alice;
  EXPECT_TRUE(absl::StrContains(alice, a_id) && absl::StrContains(alice, c_id)) << alice;
  EXPECT_EQ(Api("GET", "/uids/nobody"),
            "{\"uid\":\"nobody\",\"online\":false,\"count\":0,\"clients\":[]}\n 200");
  EXPECT_EQ(Api("GET", "/clients/" + b_id + "/uid"),
            absl::StrCat(R"({"client_id":")", b_id, R"(","uid":"bob"})", "\n 200"));
  EXPECT_EQ(Api("POST", "/uids?uid=alice&uid=bob", "both"), "{\"delivered\":3}\n 200");
  for (auto* client : {a.get(), b.get(), c.get()}) EXPECT_EQ(client->Next(), "both");
  std::string uids = Api("GET", "/uids");
  EXPECT_TRUE(absl::StrContains(uids, R"("uids":["alice","bob"])")) << uids;

  // Several groups per client: c joins lobby too; a group send reaches each
  // client once, and the exclude list is honoured.
  EXPECT_EQ(Api("PUT", "/clients/" + c_id + "/groups/lobby"), "{\"joined\":1}\n 200");
  EXPECT_EQ(Api("POST", "/groups?group=lobby&group=side", "groups"), "{\"delivered\":3}\n 200");
  for (auto* client : {a.get(), b.get(), c.get()}) EXPECT_EQ(client->Next(), "groups");
  EXPECT_EQ(Api("POST", "/groups/lobby?exclude=" + a_id, "not a"), "{\"delivered\":2}\n 200");
  EXPECT_EQ(b->Next(), "not a");
  EXPECT_EQ(c->Next(), "not a");
  EXPECT_EQ(a->Next(300), "<none>");
  std::string c_info = Api("GET", "/clients/" + c_id);
  EXPECT_TRUE(absl::StrContains(c_info, R"("uid":"alice","groups":["lobby","side"])")) << c_info;
  // A client's own messages reach every group it is in.
  c->Send("from c");
  EXPECT_EQ(a->Next(), "[lobby,side] " + c_id + ": from c");
  EXPECT_EQ(b->Next(), "[lobby,side] " + c_id + ": from c");
  EXPECT_EQ(c->Next(), "[lobby,side] " + c_id + ": from c");
  std::string groups = Api("GET", "/groups");
  EXPECT_TRUE(absl::StrContains(groups, R"("lobby")") && absl::StrContains(groups, R"("side")"))
      << groups;
  std::string sessions = Api("GET", "/groups/lobby?info=1");
  EXPECT_TRUE(absl::StrContains(sessions, R"({"count":3,"clients":[{"client_id":")")) << sessions;
  EXPECT_TRUE(absl::StrContains(sessions, R"("uid":"bob")")) << sessions;
  EXPECT_EQ(Api("DELETE", "/clients/" + c_id + "/groups/side"), "{\"left\":1}\n 200");
  // The default group "" through its trailing-slash path.
  EXPECT_EQ(Api("PUT", "/clients/" + c_id + "/groups/"), "{\"joined\":1}\n 200");
  EXPECT_TRUE(absl::StrContains(Api("GET", "/groups/"), c_id));
  EXPECT_EQ(Api("DELETE", "/clients/" + c_id + "/groups/"), "{\"left\":1}\n 200");

  // Sessions: set, merge (null deletes), read.
  EXPECT_EQ(Api("PUT", "/clients/" + a_id + "/session", R"({"name":"Ann","level":1})"),
            "{\"updated\":1}\n 200");
  EXPECT_EQ(Api("PATCH", "/clients/" + a_id + "/session", R"({"level":null,"team":"red"})"),
            "{\"updated\":1}\n 200");
  EXPECT_EQ(Api("GET", "/clients/" + a_id + "/session"),
            "{\"name\":\"Ann\",\"team\":\"red\"}\n 200");
  EXPECT_EQ(Api("PUT", "/clients/" + a_id + "/session", "[1]"),
            "{\"error\":\"a session is a JSON object\"}\n 400");

  // The online list, paged with a cursor.
  std::string first = Api("GET", "/all?limit=2");
  EXPECT_TRUE(absl::StrContains(first, R"("next_cursor":")")) << first;
  size_t at = first.find(R"("next_cursor":")") + 15;
  std::string cursor = first.substr(at, first.find('"', at) - at);
  std::string rest = Api("GET", "/all?limit=1000&cursor=" + cursor);
  EXPECT_TRUE(absl::StrContains(rest, R"("next_cursor":null)")) << rest;
  for (const std::string& id : {a_id, b_id, c_id}) {
    EXPECT_TRUE(absl::StrContains(first, id) != absl::StrContains(rest, id)) << id;
  }

  // Ungroup, then a batch: two operations, run in order.
  EXPECT_EQ(Api("DELETE", "/groups/lobby"), "{\"left\":3}\n 200");
  EXPECT_TRUE(absl::StrContains(Api("GET", "/groups/lobby"), R"("count":0,)"));
  std::string batch = Api(
      "POST", "/batch",
      absl::StrCat(R"([{"method":"PUT","path":"/clients/)", b_id,
                   R"(/groups/late"},{"method":"POST","path":"/groups/late","body":"batched"}])"));
  EXPECT_EQ(batch,
            "{\"results\":[{\"status\":200,\"result\":{\"joined\":1}},"
            "{\"status\":200,\"result\":{\"delivered\":1}}]}\n 200");
  EXPECT_EQ(b->Next(), "batched");

  // Closing with a last message.
  EXPECT_EQ(Api("DELETE", "/clients/" + b_id, "goodbye"), "{\"closed\":1}\n 200");
  EXPECT_EQ(b->Next(), "goodbye");
}

// One hub behind several gateways: browsers on ws:// and devices on
// text://, two workers each, share one client space.
TEST(HubTest, ServicesInAHubShareOneClientSpace) {
  auto server = SockmanProcess::Start(R"(
service { name: "web" listen: "ws://127.0.0.1:0" count: 2 hub: "iot" broadcast {} }
service { name: "devices" listen: "text://127.0.0.1:0" count: 2 hub: "iot" broadcast {} }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "iot" } }
service { name: "web_api" listen: "http://127.0.0.1:0" push { service: "web" } }
)",
                                      "hub", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  auto api = [&](const std::string& service, const std::string& method, const std::string& path,
                 const std::string& body = "") {
    return Shell(absl::StrCat("curl -s -X ", method, " -w ' %{http_code}' ",
                              body.empty() ? "" : absl::StrCat("--data-binary '", body, "' "),
                              "'http://127.0.0.1:", (*server)->port(service), path, "'"));
  };
  WebSocketClient browser((*server)->port("web"), "/");
  ASSERT_TRUE(browser.ok());
  TestClient device((*server)->port("devices"));
  usleep(200'000);  // both registered
  // A device's message reaches the browser (the default group spans the hub).
  ASSERT_TRUE(device.Send("temperature 21\n"));
  EXPECT_EQ(browser.Next(), "temperature 21");
  EXPECT_EQ(device.ReadLine(), "temperature 21");
  browser.Send("hello devices");
  EXPECT_EQ(device.ReadLine(), "hello devices");
  EXPECT_EQ(browser.Next(), "hello devices");
  // The online list spans both services, through either push API.
  std::string all = api("api", "GET", "/all");
  EXPECT_TRUE(absl::StrContains(all, R"("count":2,)")) << all;
  EXPECT_EQ(api("web_api", "POST", "/all", "to everyone"), "{\"delivered\":2}\n 200");
  EXPECT_EQ(browser.Next(), "to everyone");
  EXPECT_EQ(device.ReadLine(), "to everyone");
  // A uid on the device, a command pushed to it by uid.
  size_t at = all.find("\"clients\":[\"") + 12;
  std::string first = all.substr(at, all.find('"', at) - at);
  std::string second_at = all.substr(all.find("\",\"", at) + 3);
  std::string second = second_at.substr(0, second_at.find('"'));
  EXPECT_EQ(api("web_api", "PUT", "/clients/" + first + "/uid", "one"), "{\"bound\":1}\n 200");
  EXPECT_EQ(api("api", "PUT", "/clients/" + second + "/uid", "two"), "{\"bound\":1}\n 200");
  std::string uids = api("api", "GET", "/uids");
  EXPECT_TRUE(absl::StrContains(uids, R"({"count":2,"uids":["one","two"]})")) << uids;
  EXPECT_EQ(api("api", "POST", "/uids?uid=one&uid=two", "by uid"), "{\"delivered\":2}\n 200");
  EXPECT_EQ(browser.Next(), "by uid");
  EXPECT_EQ(device.ReadLine(), "by uid");
}

// Without a token, the push API serves loopback clients only: reached over
// the machine's own non-loopback address, it answers 403.
TEST(PushLoopbackTest, WithoutATokenOnlyLoopbackIsServed) {
  std::string address = Shell(
      "ip -4 -o addr show scope global 2>/dev/null | awk '{split($4, a, \"/\"); print a[1]; "
      "exit}'");
  if (address.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  address.pop_back();
  auto server = SockmanProcess::Start(R"(
service { name: "chat" listen: "ws://127.0.0.1:0" broadcast {} }
service { name: "api" listen: "http://0.0.0.0:0" push { service: "chat" } }
)",
                                      "", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  auto call = [&](const std::string& host) {
    return Shell(absl::StrCat("curl -s -w ' %{http_code}' -X POST --data-binary x http://", host,
                              ":", (*server)->port("api"), "/all"));
  };
  EXPECT_EQ(call("127.0.0.1"), "{\"delivered\":0}\n 200");
  EXPECT_EQ(call(address),
            "{\"error\":\"the push API without a token serves loopback only\"}\n 403");
}

TEST(MessagingConfigTest, PushNeedsABroadcastService) {
  std::string path = WriteTempFile("push_check.textproto", R"(
service { name: "web" listen: "http://127.0.0.1:0" push { service: "nope" } }
)");
  CommandResult check = RunSockman({"check", "-c", path});
  EXPECT_EQ(check.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(
      check.err,
      "push.service: 'nope' is not a broadcast or webhook service (or route) of this config"))
      << check.err;
}

}  // namespace
}  // namespace sockman::testing
