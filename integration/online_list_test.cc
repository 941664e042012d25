// The online list with 100,000 clients: six helper processes (each under
// the 20,000 open-file limit, each from its own 127.0.0.x) hold the
// connections; GET /all pages through them with a cursor, every id exactly
// once, across the eight workers of the service (reuse_port spreads the
// connections, about 12,500 each: under this machine's 20,000 per process).
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

constexpr int kProcesses = 6;
constexpr int kPerProcess = 16'667;  // 100,002 in all

TEST(OnlineListTest, PagesThroughOneHundredThousandClients) {
  auto server = SockmanProcess::Start(R"(
service { name: "lines" listen: "text://127.0.0.1:0" count: 8 reuse_port: true broadcast {} }
service { name: "api" listen: "http://127.0.0.1:0" push { service: "lines" } }
)",
                                      "online", ShortTempDir());
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<FILE*> holders;
  for (int i = 0; i < kProcesses; ++i) {
    // popen for writing: the helper's stdin; it exits when we close it.
    std::string command = absl::StrCat("python3 integration/testdata/hold_connections.py ",
                                       (*server)->port("lines"), " ", kPerProcess, " 127.0.0.",
                                       i + 2, " > ", getenv("TEST_TMPDIR"), "/holder", i);
    holders.push_back(popen(command.c_str(), "w"));
    ASSERT_NE(holders.back(), nullptr);
  }
  for (int i = 0; i < kProcesses; ++i) {
    std::string out;
    for (int t = 0; t < 1200 && !absl::StartsWith(out, "ready"); ++t) {
      usleep(100'000);
      out = ReadFile(absl::StrCat(getenv("TEST_TMPDIR"), "/holder", i));
    }
    ASSERT_EQ(out, absl::StrCat("ready ", kPerProcess, "\n")) << "holder " << i;
  }
  const int total = kProcesses * kPerProcess;
  auto api = [&](const std::string& path) {
    return Shell(absl::StrCat("curl -s 'http://127.0.0.1:", (*server)->port("api"), path, "'"));
  };
  // Every accepted connection has joined (the workers may still be accepting).
  std::string first;
  for (int t = 0; t < 300; ++t) {
    first = api("/all?limit=10000");
    if (absl::StartsWith(first, absl::StrCat("{\"count\":", total, ","))) break;
    usleep(100'000);
  }
  ASSERT_TRUE(absl::StartsWith(first, absl::StrCat("{\"count\":", total, ","))) << first.substr(0, 80);
  std::set<std::string> seen;
  std::string page = first;
  int pages = 0;
  while (true) {
    ++pages;
    size_t open = page.find("\"clients\":[") + 11;
    size_t close = page.find(']', open);
    for (absl::string_view id : absl::StrSplit(page.substr(open, close - open), ',',
                                               absl::SkipEmpty())) {
      EXPECT_TRUE(seen.insert(std::string(id)).second) << "twice: " << id;
    }
    size_t cursor_at = page.find("\"next_cursor\":\"");
    if (cursor_at == std::string::npos) {
      EXPECT_TRUE(absl::StrContains(page, "\"next_cursor\":null")) << page.substr(close);
      break;
    }
    cursor_at += 15;
    std::string cursor = page.substr(cursor_at, page.find('"', cursor_at) - cursor_at);
    page = api("/all?limit=10000&cursor=" + cursor);
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(total));
  EXPECT_EQ(pages, (total + 9999) / 10000);
  for (FILE* holder : holders) pclose(holder);
}

}  // namespace
}  // namespace sockman::testing
