#include "cli/runtime.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

std::string TempPath(const std::string& name) {
  return std::string(getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(PidFileTest, LockedWhileHeldStaleAfter) {
  std::string path = TempPath("master.pid");
  EXPECT_EQ(ReadLivePid(path), 0) << "no file";
  {
    absl::StatusOr<PidFile> held = PidFile::Acquire(path);
    ASSERT_TRUE(held.ok()) << held.status();
    ASSERT_TRUE(held->Write(getpid()).ok());
    EXPECT_EQ(ReadLivePid(path), getpid());
    absl::StatusOr<PidFile> second = PidFile::Acquire(path);
    EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_TRUE(absl::StrContains(second.status().message(), "already running")) << second.status();
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "removed on release";
  std::ofstream(path) << "12345\n";  // left by a crash: nobody holds the lock
  EXPECT_EQ(ReadLivePid(path), 0);
  EXPECT_TRUE(PidFile::Acquire(path).ok());
}

TEST(RuntimePathsTest, ExplicitFieldsResolveFromTheConfigDirectory) {
  auto file = ConfigFile::Parse(
      "t",
      "global { pid_file: \"run/x.pid\" control_socket: \"/abs/x.sock\" log_file: \"x.log\" }");
  ASSERT_TRUE(file.ok());
  RuntimePaths paths = DeriveRuntimePaths(**file, "/etc/sockman/web.textproto", false, "");
  EXPECT_EQ(paths.pid_file, "./run/x.pid");  // parsed text: its directory is "."
  EXPECT_EQ(paths.control_socket, "/abs/x.sock");
  EXPECT_EQ(paths.log_file, "./x.log");
  EXPECT_EQ(paths.stdout_file, "");
}

TEST(RuntimePathsTest, DefaultsAreNamedAfterTheConfigAndDistinct) {
  auto file = ConfigFile::Parse("t", "");
  ASSERT_TRUE(file.ok());
  std::string dir = TempPath("");
  RuntimePaths a = DeriveRuntimePaths(**file, "/etc/a/web.textproto", false, dir);
  RuntimePaths b = DeriveRuntimePaths(**file, "/etc/b/web.textproto", true, dir);
  EXPECT_TRUE(absl::StrContains(a.pid_file, "/web-")) << a.pid_file;
  EXPECT_TRUE(absl::EndsWith(a.pid_file, ".pid"));
  EXPECT_TRUE(absl::EndsWith(a.control_socket, ".sock"));
  EXPECT_NE(a.pid_file, b.pid_file) << "same name, different directories";
  EXPECT_EQ(a.log_file, "") << "foreground logs to stderr";
  EXPECT_TRUE(absl::StrContains(b.log_file, "/web-")) << b.log_file;
  EXPECT_TRUE(absl::EndsWith(b.log_file, ".log")) << b.log_file;
  RuntimePaths c = DeriveRuntimePaths(**file, "/etc/c/web.textproto", true, dir);
  EXPECT_NE(b.log_file, c.log_file) << "two web.textproto share no daemon log";
}

TEST(RuntimePathsTest, AConfigIsKnownByItsCanonicalPath) {
  auto file = ConfigFile::Parse("t", "");
  ASSERT_TRUE(file.ok());
  std::string dir = TempPath("canon");
  mkdir(dir.c_str(), 0755);
  std::string real = dir + "/x.textproto";
  FILE* f = fopen(real.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  std::string link = dir + "/link.textproto";
  unlink(link.c_str());
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  RuntimePaths direct = DeriveRuntimePaths(**file, real, false, dir);
  RuntimePaths dotted = DeriveRuntimePaths(**file, dir + "/../canon/./x.textproto", false, dir);
  RuntimePaths linked = DeriveRuntimePaths(**file, link, false, dir);
  EXPECT_EQ(dotted.pid_file, direct.pid_file);
  EXPECT_EQ(linked.pid_file, direct.pid_file);
  EXPECT_EQ(linked.control_socket, direct.control_socket);
}

TEST(ControlRequestTest, SendsOneLineAndReadsTheWholeReply) {
  std::string path = TempPath("c.sock");
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) GTEST_SKIP() << "TEST_TMPDIR too long for a socket";
  std::strcpy(address.sun_path, path.c_str());
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  std::thread server([&] {
    int client = accept(listener, nullptr, nullptr);
    char buf[64];
    ssize_t n = read(client, buf, sizeof(buf));
    std::string reply = "got " + std::string(buf, n > 0 ? n : 0);
    write(client, reply.data(), reply.size());
    close(client);
  });
  absl::StatusOr<std::string> reply = ControlRequest(path, "status");
  server.join();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "got status\n");
  close(listener);
  EXPECT_EQ(ControlRequest(TempPath("none.sock"), "status").status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sockman
