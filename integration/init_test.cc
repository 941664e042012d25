// The init-system files in docs/ work as written: the systemd unit's Exec*
// command lines (binary and config paths substituted) under a fake
// $NOTIFY_SOCKET, and every action of the SysV init script.
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

// Runs `command` with sh; returns its exit status.
int Status(const std::string& command) {
  std::string out = Shell(absl::StrCat(command, " >/dev/null 2>&1; echo $?"));
  return std::atoi(out.c_str());
}

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ShortTempDir();
    ASSERT_FALSE(dir_.empty());
    config_ = dir_ + "/sockman.textproto";
    std::ofstream(config_) << "global { pid_file: \"" << dir_ << "/s.pid\" control_socket: \""
                           << dir_ << "/s.sock\" stop_timeout_ms: 1000 }\n"
                           << "service { name: \"web\" listen: \"http://127.0.0.1:0\" "
                              "respond { body: \"hi\" } }\n";
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
    binary_ = absl::StrCat(cwd, "/", SockmanBinary());
  }
  void TearDown() override {
    Shell(absl::StrCat(binary_, " stop -c ", config_));
    Shell(absl::StrCat("rm -rf ", dir_));
  }
  std::string dir_, config_, binary_;
};

// Receives one datagram within `timeout_ms`.
std::string Receive(int fd, int timeout_ms = 10000) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return "";
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, n) : "";
}

TEST_F(InitTest, SystemdUnitCommandsRunAsWrittenWithNotify) {
  std::string unit = ReadFile("docs/sockman.service");
  ASSERT_TRUE(absl::StrContains(unit, "Type=notify")) << unit;
  std::map<std::string, std::string> exec;
  for (absl::string_view line : absl::StrSplit(unit, '\n')) {
    for (const char* key : {"ExecStartPre", "ExecStart", "ExecReload", "ExecStop"}) {
      std::string prefix = absl::StrCat(key, "=");
      if (absl::StartsWith(line, prefix)) {
        exec[key] = absl::StrReplaceAll(
            line.substr(prefix.size()),
            {{"/usr/local/bin/sockman", binary_}, {"/etc/sockman/sockman.textproto", config_}});
      }
    }
  }
  ASSERT_EQ(exec.size(), 4u) << unit;

  std::string notify_path = dir_ + "/notify";
  int notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, notify_path.c_str());
  ASSERT_EQ(bind(notify, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);

  EXPECT_EQ(Status(exec["ExecStartPre"]), 0);
  Shell(absl::StrCat("NOTIFY_SOCKET=", notify_path, " ", exec["ExecStart"], " >", dir_,
                     "/out 2>&1 &"));
  std::string ready = Receive(notify);
  EXPECT_TRUE(absl::StartsWith(ready, "READY=1\nMAINPID=")) << ready;
  std::string pid = ReadFile(dir_ + "/s.pid");
  EXPECT_TRUE(absl::StrContains(ready, absl::StrCat("MAINPID=", std::atoi(pid.c_str()))))
      << ready << " vs " << pid;

  EXPECT_EQ(Status(exec["ExecReload"]), 0);
  EXPECT_EQ(Receive(notify), "RELOADING=1");
  EXPECT_EQ(Receive(notify), "READY=1");

  EXPECT_EQ(Status(exec["ExecStop"]), 0);
  EXPECT_EQ(Receive(notify), "STOPPING=1");
  EXPECT_EQ(ReadFile(dir_ + "/s.pid"), "");
  close(notify);
}

TEST_F(InitTest, SysvScriptActions) {
  std::string script =
      absl::StrCat("DAEMON=", binary_, " CONFIG=", config_, " sh docs/sockman.init");
  EXPECT_EQ(Status(script + " status"), 3);  // not running
  EXPECT_EQ(Status(script + " start"), 0);
  EXPECT_EQ(Status(script + " start"), 0);  // already running: LSB says success
  EXPECT_EQ(Status(script + " status"), 0);
  EXPECT_EQ(Status(script + " reload"), 0);
  std::string before = ReadFile(dir_ + "/s.pid");
  EXPECT_EQ(Status(script + " restart"), 0);
  std::string after = ReadFile(dir_ + "/s.pid");
  EXPECT_FALSE(after.empty());
  EXPECT_NE(before, after);
  EXPECT_EQ(Status(script + " stop"), 0);
  EXPECT_EQ(Status(script + " status"), 3);
  EXPECT_EQ(Status(script + " stop"), 0);  // already stopped: LSB says success
  EXPECT_EQ(Status(script + " bogus"), 2);
}

}  // namespace
}  // namespace sockman::testing
