// Every example config under examples/ is loaded and served: ports are
// rewritten to 0, the real binary starts it, and each service answers a
// message in its protocol (examples with a backend script: chat_example_test
// and iot_example_test run those whole).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

std::vector<std::string> ExampleFiles() {
  std::vector<std::string> files;
  std::ifstream list("integration/examples.txt");
  std::string line;
  while (std::getline(list, line)) {
    if (absl::EndsWith(line, ".textproto")) files.push_back(line);
  }
  return files;
}

class ExamplesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExamplesTest, StartsAndServesEveryService) {
  std::ifstream in(GetParam());
  ASSERT_TRUE(in) << GetParam();
  std::stringstream text;
  text << in.rdbuf();
  std::string config = std::regex_replace(
      text.str(), std::regex(R"re((listen:\s*"[a-z]+://(\[[^\]]*\]|[^:"]+)):\d+")re"), "$1:0\"");
  // Write the port-rewritten copy into a directory where the example's
  // relative paths (static roots) still resolve: copy the example's siblings.
  std::string example_dir = GetParam().substr(0, GetParam().rfind('/'));
  std::string copy_dir =
      absl::StrCat(getenv("TEST_TMPDIR"), "/example-", std::hash<std::string>()(GetParam()));
  mkdir(copy_dir.c_str(), 0755);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  if (DIR* dir = opendir(example_dir.c_str())) {
    while (dirent* entry = readdir(dir)) {
      std::string entry_name = entry->d_name;
      if (entry_name == "." || entry_name == ".." || absl::EndsWith(entry_name, ".textproto"))
        continue;
      // A copy, not a link: runfiles are symlinks out of the tree, which the
      // static handler rightly refuses to follow.
      Shell(absl::StrCat("cp -rL ", cwd, "/", example_dir, "/", entry_name, " ", copy_dir, "/"));
    }
    closedir(dir);
  }
  // TLS examples name server.pem and server.key beside them (their comment
  // says how to make them): a throwaway pair here.
  if (absl::StrContains(config, "tls {")) {
    ASSERT_TRUE(MakeTestCertificates(copy_dir));
  }
  auto server = SockmanProcess::Start(config, "example", copy_dir);
  ASSERT_TRUE(server.ok()) << server.status();
  // Examples whose answers come from a backend script (examples/*_backend.py,
  // which their own tests start) are only checked to accept connections
  // and upgrades here.
  bool needs_backend = absl::StrContains(text.str(), "_backend.py");
  int services = 0;
  for (const std::string& name : (*server)->services()) {
    std::string uri = (*server)->uri(name);
    uint16_t port = (*server)->port(name);
    ASSERT_NE(port, 0) << name;
    TestClient client(port, absl::StrContains(uri, "[") ? "::1" : "127.0.0.1");
    ASSERT_TRUE(client.connected()) << uri;
    if (needs_backend && !absl::StartsWith(uri, "http") && !absl::StartsWith(uri, "ws")) {
      // nothing answers without the backend; connected is enough
    } else if (absl::StartsWith(uri, "text://")) {
      ASSERT_TRUE(client.Send("tom\n"));
      EXPECT_TRUE(absl::StrContains(client.ReadLine(), "tom")) << uri;
    } else if (absl::StartsWith(uri, "frame://")) {
      ASSERT_TRUE(client.Send(Frame("tom")));
      std::string header = client.ReadExactly(4);
      ASSERT_EQ(header.size(), 4u) << uri;
      size_t length =
          (static_cast<unsigned char>(header[2]) << 8) | static_cast<unsigned char>(header[3]);
      EXPECT_TRUE(absl::StrContains(client.ReadExactly(length - 4), "tom")) << uri;
    } else if (absl::StartsWith(uri, "http://")) {
      ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n"));
      std::string status = client.ReadLine();
      EXPECT_EQ(status, "HTTP/1.1 200 OK\r") << uri;
    } else if (absl::StartsWith(uri, "ws://") || absl::StartsWith(uri, "websocket://")) {
      ASSERT_TRUE(
          client.Send("GET / HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
      EXPECT_EQ(client.ReadLine(), "HTTP/1.1 101 Switching Protocols\r") << uri;
    } else if (absl::StartsWith(uri, "tcp://")) {
      ASSERT_TRUE(client.Send("tom"));
      EXPECT_TRUE(absl::StrContains(client.ReadExactly(3), "tom")) << uri;
    }
    ++services;
  }
  EXPECT_GT(services, 0);
  std::regex service_re(R"re(service\s*\{)re");
  EXPECT_EQ(services, std::distance(std::sregex_iterator(config.begin(), config.end(), service_re),
                                    std::sregex_iterator()));
}

INSTANTIATE_TEST_SUITE_P(All, ExamplesTest, ::testing::ValuesIn(ExampleFiles()),
                         [](const auto& info) {
                           std::string name = info.param.substr(info.param.rfind('/') + 1);
                           name = name.substr(0, name.find('.'));
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(ExamplesListTest, IsNotEmpty) { EXPECT_FALSE(ExampleFiles().empty()); }

}  // namespace
}  // namespace sockman::testing
