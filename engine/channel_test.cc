#include "engine/channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = *Reactor::Create(SystemClock());
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    master_ = *Channel::Create(
        *reactor_, UniqueFd(fds[0]),
        [this](ChannelMessage m) { at_master_.push_back(std::move(m)); },
        [this] { ++master_closed_; });
    worker_ = *Channel::Create(
        *reactor_, UniqueFd(fds[1]),
        [this](ChannelMessage m) { at_worker_.push_back(std::move(m)); },
        [this] { ++worker_closed_; });
  }

  // Runs the loop until `done` or about a second passed.
  template <typename Done>
  void RunUntil(Done done) {
    for (int i = 0; i < 200 && !done(); ++i) reactor_->RunOnce(5);
  }

  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<Channel> master_, worker_;
  std::vector<ChannelMessage> at_master_, at_worker_;
  int master_closed_ = 0, worker_closed_ = 0;
};

TEST_F(ChannelTest, EveryCommandReachesTheOtherEndWithItsPayload) {
  const ChannelCommand to_worker[] = {ChannelCommand::kStatus, ChannelCommand::kConnections,
                                      ChannelCommand::kPeers, ChannelCommand::kReload,
                                      ChannelCommand::kReopen};
  for (ChannelCommand command : to_worker) {
    ASSERT_TRUE(master_->Send(command, absl::StrCat("to ", ChannelCommandName(command))));
  }
  ASSERT_TRUE(worker_->Send(ChannelCommand::kReply, "answer\nwith newlines\0inside"));
  ASSERT_TRUE(worker_->Send(ChannelCommand::kReply, ""));  // an empty answer is one too
  RunUntil([&] { return at_worker_.size() == 5 && at_master_.size() == 2; });
  ASSERT_EQ(at_worker_.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(at_worker_[i].command, to_worker[i]);
    EXPECT_EQ(at_worker_[i].payload, absl::StrCat("to ", ChannelCommandName(to_worker[i])));
    EXPECT_TRUE(at_worker_[i].fds.empty());
  }
  ASSERT_EQ(at_master_.size(), 2u);
  EXPECT_EQ(at_master_[0].command, ChannelCommand::kReply);
  EXPECT_EQ(at_master_[0].payload, "answer\nwith newlines");
  EXPECT_EQ(at_master_[1].payload, "");
}

TEST_F(ChannelTest, PassesDescriptorsWithTheirMessage) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  ASSERT_TRUE(master_->Send(ChannelCommand::kPeers, "first"));
  const int fds[] = {write_end.get(), write_end.get()};
  ASSERT_TRUE(master_->Send(ChannelCommand::kReopen, "log access", fds));
  ASSERT_TRUE(master_->Send(ChannelCommand::kReload));
  RunUntil([&] { return at_worker_.size() == 3; });
  ASSERT_EQ(at_worker_.size(), 3u);
  EXPECT_TRUE(at_worker_[0].fds.empty());
  ASSERT_EQ(at_worker_[1].fds.size(), 2u);
  EXPECT_TRUE(at_worker_[2].fds.empty());
  // The received copy writes into the same pipe.
  ASSERT_EQ(::write(at_worker_[1].fds[1].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST_F(ChannelTest, QueuesWhatTheSocketCannotTakeInsteadOfBlocking) {
  // Far more than a unix socket buffers: Send returns at once.
  std::string big(8 << 20, 'c');
  ASSERT_TRUE(worker_->Send(ChannelCommand::kReply, big));
  EXPECT_GT(worker_->pending_bytes(), 0u);
  RunUntil([&] { return !at_master_.empty(); });
  ASSERT_EQ(at_master_.size(), 1u);
  EXPECT_EQ(at_master_[0].payload.size(), big.size());
  EXPECT_EQ(worker_->pending_bytes(), 0u);
}

TEST_F(ChannelTest, RefusesWhatCannotBeFramed) {
  std::string too_big(Channel::kMaxPayload + 1, 'x');
  EXPECT_FALSE(master_->Send(ChannelCommand::kPeers, too_big));
  std::vector<int> fds(Channel::kMaxFds + 1, 0);
  EXPECT_FALSE(master_->Send(ChannelCommand::kReopen, "", fds));
  EXPECT_TRUE(master_->open());
}

TEST_F(ChannelTest, PeerClosingIsReportedOnce) {
  worker_.reset();
  RunUntil([&] { return master_closed_ > 0; });
  EXPECT_EQ(master_closed_, 1);
  EXPECT_FALSE(master_->open());
  EXPECT_FALSE(master_->Send(ChannelCommand::kStatus));
  reactor_->RunOnce(5);
  EXPECT_EQ(master_closed_, 1);
}

TEST_F(ChannelTest, GarbageFromThePeerClosesTheChannel) {
  // A raw write of a header with an unknown command.
  const char garbage[] = {static_cast<char>(0x7f), 0, 0, 0, 0, 0};
  ASSERT_EQ(::send(worker_->fd(), garbage, sizeof(garbage), 0),
            static_cast<ssize_t>(sizeof(garbage)));
  RunUntil([&] { return master_closed_ > 0; });
  EXPECT_EQ(master_closed_, 1);
  EXPECT_TRUE(at_master_.empty());
}

TEST_F(ChannelTest, AHandlerMayDestroyItsChannel) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  std::unique_ptr<Channel> doomed;
  int got = 0;
  doomed = *Channel::Create(*reactor_, UniqueFd(fds[0]), [&](ChannelMessage) {
    ++got;
    doomed.reset();
  });
  auto sender = *Channel::Create(*reactor_, UniqueFd(fds[1]), [](ChannelMessage) {});
  sender->Send(ChannelCommand::kReply, "a");
  sender->Send(ChannelCommand::kReply, "b");
  RunUntil([&] { return doomed == nullptr; });
  EXPECT_EQ(got, 1);
}

}  // namespace
}  // namespace sockman
