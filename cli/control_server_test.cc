#include "cli/control_server.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sockman-control-XXXXXX";  // unix socket paths must stay short
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/control.sock";
    reactor_ = *Reactor::Create(SystemClock());
    listen_fd_ = *ControlServer::Listen(path_);
    std::vector<ControlVerb> verbs = {
        {"ping", [](ControlReply reply) { reply("pong\n"); }},
        {"later", [this](ControlReply reply) { later_ = std::move(reply); }},
    };
    server_ = *ControlServer::Create(*reactor_, listen_fd_.get(), std::move(verbs));
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  UniqueFd Connect() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    return fd;
  }
  // Sends `request`, runs the loop, returns everything read until EOF.
  std::string Ask(int fd, const std::string& request) {
    EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string in;
    for (int i = 0; i < 200; ++i) {
      reactor_->RunOnce(5);
      char buf[256];
      ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) in.append(buf, n);
      if (n == 0) break;
    }
    return in;
  }

  std::string dir_, path_;
  std::unique_ptr<Reactor> reactor_;
  UniqueFd listen_fd_;
  std::unique_ptr<ControlServer> server_;
  ControlReply later_;
};

TEST_F(ControlServerTest, AnswersAVerbAndCloses) {
  UniqueFd client = Connect();
  EXPECT_EQ(Ask(client.get(), "ping\n"), "pong\n");
}

TEST_F(ControlServerTest, UnknownRequestsGetAnError) {
  UniqueFd client = Connect();
  EXPECT_EQ(Ask(client.get(), "pong\n"), "error: unknown request 'pong'\n");
}

TEST_F(ControlServerTest, ALateReplyReachesItsOwnClientOnly) {
  UniqueFd waiting = Connect();
  ASSERT_EQ(::send(waiting.get(), "later\n", 6, MSG_NOSIGNAL), 6);
  for (int i = 0; i < 50 && !later_; ++i) reactor_->RunOnce(5);
  ASSERT_TRUE(later_);
  UniqueFd other = Connect();
  EXPECT_EQ(Ask(other.get(), "ping\n"), "pong\n");
  later_("at last\n");
  EXPECT_EQ(Ask(waiting.get(), ""), "at last\n");
}

TEST_F(ControlServerTest, AReplyAfterTheClientLeftIsDropped) {
  {
    UniqueFd gone = Connect();
    ASSERT_EQ(::send(gone.get(), "later\n", 6, MSG_NOSIGNAL), 6);
    for (int i = 0; i < 50 && !later_; ++i) reactor_->RunOnce(5);
  }
  for (int i = 0; i < 20; ++i) reactor_->RunOnce(5);  // its close is noticed
  ASSERT_TRUE(later_);
  later_("nobody hears this\n");
  UniqueFd next = Connect();
  EXPECT_EQ(Ask(next.get(), "ping\n"), "pong\n");
}

TEST_F(ControlServerTest, AnOverlongRequestIsCutOff) {
  UniqueFd client = Connect();
  EXPECT_EQ(Ask(client.get(), std::string(ControlServer::kMaxRequest + 10, 'x')), "");
}

}  // namespace
}  // namespace sockman
