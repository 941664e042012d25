// The chat example (examples/chat.textproto with examples/chat_backend.py)
// on the real binary: nicknames are uids, rooms are groups, private
// messages go by uid through the push API; driven by sockman's WebSocket
// test client, a Node `ws` client, and two headless Chromium pages (iframes
// of one page) that see each other's messages.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"
#include "integration/testing/websocket_client.h"

namespace sockman::testing {
namespace {

class ChatExampleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    uint16_t backend_port = FreePort();
    api_port_ = FreePort();
    dir_ = absl::StrCat(getenv("TEST_TMPDIR"), "/chat");
    mkdir(dir_.c_str(), 0755);
    Shell(absl::StrCat("cp -rL examples/www ", dir_, "/"));
    std::ifstream in("examples/chat.textproto");
    std::stringstream text;
    text << in.rdbuf();
    std::string config = absl::StrReplaceAll(
        text.str(), {{"127.0.0.1:8082", "127.0.0.1:0"},
                     {"127.0.0.1:8083", absl::StrCat("127.0.0.1:", api_port_)},
                     {"127.0.0.1:8084", "127.0.0.1:0"},
                     {"127.0.0.1:8090", absl::StrCat("127.0.0.1:", backend_port)}});
    backend_ = fork();
    if (backend_ == 0) {
      std::string port = absl::StrCat(backend_port);
      std::string push = absl::StrCat("http://127.0.0.1:", api_port_);
      execlp("python3", "python3", "examples/chat_backend.py", port.c_str(), push.c_str(),
             nullptr);
      _exit(127);
    }
    auto started = SockmanProcess::Start(config, "chat", dir_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
    for (int i = 0; i < 100; ++i) {  // the backend is up once it answers at all
      std::string code = Shell(absl::StrCat("curl -s -o /dev/null -w '%{http_code}' -X POST "
                                            "http://127.0.0.1:", backend_port, "/events"));
      if (code != "000") break;
      usleep(50'000);
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    kill(backend_, SIGKILL);
    waitpid(backend_, nullptr, 0);
  }
  // A user in `room` with nickname `nick`, past the welcome and the nick.
  static std::unique_ptr<WebSocketClient> User(const std::string& room, const std::string& nick) {
    auto user = std::make_unique<WebSocketClient>(server_->port("chat"), "/rooms/" + room);
    EXPECT_TRUE(user->ok());
    EXPECT_TRUE(absl::StartsWith(user->Next(), "welcome"));
    user->Send("/nick " + nick);
    for (std::string m = user->Next(); m != "<none>"; m = user->Next()) {
      if (m == "you are " + nick) break;
    }
    return user;
  }
  // The next message that is not a notice ("* ...").
  static std::string Said(WebSocketClient& user) {
    std::string m = user.Next();
    while (absl::StartsWith(m, "* ")) m = user.Next();
    return m;
  }
  static SockmanProcess* server_;
  static pid_t backend_;
  static uint16_t api_port_;
  static std::string dir_;
};

SockmanProcess* ChatExampleTest::server_ = nullptr;
pid_t ChatExampleTest::backend_ = 0;
uint16_t ChatExampleTest::api_port_ = 0;
std::string ChatExampleTest::dir_;

TEST_F(ChatExampleTest, RoomsNicknamesAndPrivateMessages) {
  auto ann = User("lobby", "ann");
  auto bob = User("lobby", "bob");
  ann->Send("hi all");
  EXPECT_EQ(Said(*ann), "ann: hi all");
  EXPECT_EQ(Said(*bob), "ann: hi all");
  bob->Send("@ann psst");
  EXPECT_EQ(Said(*ann), "(private) bob: psst");
  EXPECT_EQ(Said(*bob), "(to ann) psst");
  bob->Send("@nobody hello?");
  EXPECT_EQ(Said(*bob), "nobody is called nobody");
  ann->Send("/join side");
  EXPECT_EQ(Said(*ann), "joined side");
  bob->Send("anyone?");
  EXPECT_EQ(Said(*bob), "bob: anyone?");
  EXPECT_EQ(ann->Next(300), "<none>");  // ann left the lobby
  // A Node client (carol) reaches ann privately, wherever she is.
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  std::string node = Shell(absl::StrCat(
      "NODE_PATH=", modules != nullptr ? modules : "",
      " timeout 30 node integration/node/chat_client.js ws://127.0.0.1:", server_->port("chat"),
      "/rooms/lobby carol ann 'from node' 2>&1"));
  EXPECT_EQ(node, "ok\n");
  EXPECT_EQ(Said(*ann), "(private) carol: from node");
}

TEST_F(ChatExampleTest, TwoChromiumPagesSeeEachOther) {
  // One page, two chat pages in iframes: ann speaks once she sees bob
  // arrive, bob answers once he sees her; the parent reports both logs.
  std::string chat = absl::StrCat("/chat.html?ws=", server_->port("chat"), "&room=browsers");
  std::ofstream(dir_ + "/www/pair.html") << absl::StrCat(R"(<!DOCTYPE html><html><body>
<div id="result">pending</div>
<iframe id="ann" src=")", chat, R"(&nick=ann&say=hello+bob&when=is+now+bob"></iframe>
<iframe id="bob" src=")", chat, R"(&nick=bob&say=hi+ann&when=ann:+hello+bob"></iframe>
<script>
// Headless Chromium runs on virtual time, which waits only for fetches:
// keep one going until both pages have the other's message.
const log = (id) => document.getElementById(id).contentDocument?.getElementById('log')?.textContent || '';
let tries = 0;
function poll() {
  const ann = log('ann'), bob = log('bob');
  if (ann.includes('bob: hi ann') && bob.includes('ann: hello bob')) {
    document.getElementById('result').textContent = ['both', 'saw'].join('-') + ' ann[' +
        ann.replace(/\n/g, '|') + '] bob[' + bob.replace(/\n/g, '|') + ']';
    return;
  }
  if (++tries < 400) fetch('/hello.txt?' + tries).then(() => setTimeout(poll, 10), () => setTimeout(poll, 10));
}
poll();
</script></body></html>
)");
  std::string dom = ChromiumDumpDom(
      absl::StrCat("http://127.0.0.1:", server_->port("site"), "/pair.html"), "both-saw");
  EXPECT_TRUE(absl::StrContains(dom, "both-saw")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "ann: hello bob")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "bob: hi ann")) << dom;
}

}  // namespace
}  // namespace sockman::testing
