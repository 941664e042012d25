// The built-in dashboard on the real binary: headless Chromium loads it while
// load runs and sees its numbers change (driven over the DevTools protocol,
// in real time: the page keeps updating, so --dump-dom would catch it at
// load); a screenshot goes to the test's outputs.
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

TEST(DashboardTest, ChromiumSeesTheNumbersMoveUnderLoad) {
  const char* modules = getenv("SOCKMAN_NODE_MODULES");
  ASSERT_NE(modules, nullptr) << "run through ./bazelw, which installs Node's ws";
  auto server = SockmanProcess::Start(R"(
service { name: "web" listen: "http://127.0.0.1:0" count: 2 respond { body: "hello" } }
service { name: "ops" listen: "http://127.0.0.1:0"
  route { name: "dash" match { prefix: "/dashboard" } dashboard { interval_ms: 250 } }
  route { name: "locked" match { prefix: "/locked" } dashboard { token: "s3cret" } } }
)",
                                      "dashboard", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t web = (*server)->port("web"), ops = (*server)->port("ops");
  std::atomic<bool> done{false};
  std::thread load([&] {
    while (!done) Shell(absl::StrCat("curl -s -o /dev/null http://127.0.0.1:", web, "/"));
  });
  const char* outputs = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  std::string shot =
      absl::StrCat(outputs != nullptr ? outputs : getenv("TEST_TMPDIR"), "/dashboard.png");
  std::string text = Shell(absl::StrCat("NODE_PATH=", modules,
                                        " timeout 90 node integration/node/chromium_watch.js "
                                        "http://127.0.0.1:",
                                        ops, "/dashboard 'live: numbers moving' 30000 ", shot));
  done = true;
  load.join();
  EXPECT_TRUE(absl::StrContains(text, "live: numbers moving")) << text;
  EXPECT_TRUE(absl::StrContains(text, "version ")) << text;
  EXPECT_TRUE(absl::StrContains(text, "web/1")) << text;  // the workers table
  EXPECT_TRUE(absl::StrContains(text, "master")) << text;
  std::string magic = ReadFile(shot).substr(0, 8);
  EXPECT_EQ(magic, "\x89PNG\r\n\x1a\n") << "no screenshot at " << shot;

  // A token guards the page and its events (a URL parameter, for EventSource).
  auto code = [&](const std::string& path) {
    return Shell(absl::StrCat("curl -s -m 3 -o /dev/null -w '%{http_code}' 'http://127.0.0.1:", ops,
                              path, "'"));
  };
  EXPECT_EQ(code("/locked"), "401");
  EXPECT_EQ(code("/locked?token=wrong"), "401");
  EXPECT_EQ(code("/locked?token=s3cret"), "200");
  std::string events = Shell(absl::StrCat("curl -s -m 2 'http://127.0.0.1:", ops,
                                          "/locked?events&token=s3cret' | head -c 200"));
  EXPECT_TRUE(absl::StrContains(events, "data: sockman_build_info")) << events;
}

}  // namespace
}  // namespace sockman::testing
