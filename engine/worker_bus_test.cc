#include "engine/worker_bus.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(WorkerBusTest, PeersNoticeRoundTrips) {
  WorkerBus::Peers peers{{"chat", {101, 102}}, {"push", {103}}};
  std::string line = WorkerBus::FormatPeers(peers);
  EXPECT_EQ(line, "peers chat=101,102;push=103");
  EXPECT_EQ(WorkerBus::ParsePeers(line), peers);
  EXPECT_TRUE(WorkerBus::ParsePeers("peers ").empty());
  // Garbage is skipped, not trusted.
  EXPECT_EQ(WorkerBus::ParsePeers("peers chat=1,x,-3;=4;push"), (WorkerBus::Peers{{"chat", {1}}}));
}

// A worker in a child process: echoes every frame back to its sender
// (`parent`), prefixed, until it has echoed `frames` or 10 s passed.
[[noreturn]] void EchoWorker(pid_t parent, int frames) {
  auto reactor = *Reactor::Create(SystemClock());
  int echoed = 0;
  std::unique_ptr<WorkerBus> bus;
  bus = *WorkerBus::Create(*reactor, [&](absl::string_view frame) {
    bus->SendTo(parent, absl::StrCat("echo:", frame));
    if (++echoed == frames) reactor->AddTimer(200, [&] { reactor->Stop(); });
  });
  bus->SetPeers({{"svc", {parent, getpid()}}});
  reactor->AddTimer(10'000, [&] { reactor->Stop(); });
  reactor->Run();
  _exit(echoed == frames ? 0 : 1);
}

TEST(WorkerBusTest, FramesBetweenTwoWorkersArriveOnceInOrder) {
  WorkerBus::NewNamespace();
  auto reactor = *Reactor::Create(SystemClock());
  std::vector<std::string> received;
  auto bus =
      *WorkerBus::Create(*reactor, [&](absl::string_view frame) { received.emplace_back(frame); });
  constexpr int kFrames = 1000;
  pid_t parent = getpid();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) EchoWorker(parent, kFrames + 1);
  bus->SetPeers({{"svc", {parent, child}}});
  EXPECT_EQ(bus->PeerCount("svc"), 1);

  // Until the child listens, frames to it are dropped: knock first.
  int64_t deadline = SystemClock().NowMs() + 5000;
  while (received.empty() && SystemClock().NowMs() < deadline) {
    bus->SendTo(child, "knock");
    for (int i = 0; i < 10 && received.empty(); ++i) reactor->RunOnce(5);
  }
  ASSERT_EQ(received.size(), 1u) << "the child never answered";
  EXPECT_EQ(received[0], "echo:knock");
  received.clear();
  uint64_t knocks = bus->frames_sent(), dropped = bus->frames_dropped();
  EXPECT_GE(knocks + dropped, 1u);
  EXPECT_EQ(bus->frames_received(), 1u);

  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(bus->SendToService("svc", absl::StrCat("frame ", i, std::string(i % 50, 'x'))), 1);
  }
  while (received.size() < static_cast<size_t>(kFrames) &&
         SystemClock().NowMs() < deadline + 5000) {
    reactor->RunOnce(10);
  }
  ASSERT_EQ(received.size(), static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(received[i], absl::StrCat("echo:frame ", i, std::string(i % 50, 'x')));
  }
  EXPECT_EQ(bus->frames_sent(), knocks + kFrames);
  EXPECT_EQ(bus->frames_received(), 1u + kFrames);
  EXPECT_EQ(bus->frames_dropped(), dropped);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(WorkerBusTest, NobodyOutsideThePeersGetsIn) {
  WorkerBus::NewNamespace();
  auto reactor = *Reactor::Create(SystemClock());
  int received = 0;
  auto bus = *WorkerBus::Create(*reactor, [&](absl::string_view) { ++received; });
  bus->SetPeers({{"svc", {getpid()}}});  // nobody else
  pid_t parent = getpid();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto r = *Reactor::Create(SystemClock());
    auto stranger = *WorkerBus::Create(*r, [](absl::string_view) {});
    stranger->SetPeers({{"svc", {parent}}});  // it thinks it belongs
    for (int i = 0; i < 50; ++i) {
      stranger->SendTo(parent, "let me in");
      r->RunOnce(10);
    }
    _exit(0);
  }
  int64_t deadline = SystemClock().NowMs() + 1500;
  while (SystemClock().NowMs() < deadline) reactor->RunOnce(10);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(received, 0);
  // Sending to a pid that is not a peer fails at once.
  EXPECT_FALSE(bus->SendTo(child, "x"));
  EXPECT_EQ(bus->frames_dropped(), 1u);
  EXPECT_EQ(bus->frames_sent(), 0u);
}

}  // namespace
}  // namespace sockman
