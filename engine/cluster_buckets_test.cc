#include "engine/cluster_buckets.h"

#include <functional>
#include <memory>
#include <string>

#include "engine/base/clock.h"
#include "engine/testing/local_servers.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

class ClusterBucketsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = *Reactor::Create(SystemClock());
    port_ = testing::FreeLoopbackPort();
    server_ = std::make_unique<testing::RedisServer>(port_);
  }
  // One lease, waited for.
  double Lease(ClusterBuckets& buckets, const std::string& name, double rate, double burst,
               double want) {
    double granted = -2;
    buckets.Lease(name, rate, burst, want, [&](double g) { granted = g; });
    int64_t deadline = SystemClock().NowMs() + 10'000;
    while (granted == -2 && SystemClock().NowMs() < deadline) reactor_->RunOnce(10);
    return granted;
  }

  std::unique_ptr<Reactor> reactor_;
  uint16_t port_ = 0;
  std::unique_ptr<testing::RedisServer> server_;
};

// The Lua script: a bucket starts full, grants at most what it holds, and
// refills from Redis's clock; Redis gone is -1.
TEST_F(ClusterBucketsTest, LeasesComeFromTheBucketAndItsRefill) {
  ClusterBuckets& buckets =
      ClusterBuckets::ForProcess(*reactor_, *SocketAddress::Parse("127.0.0.1", port_));
  // Asked before the connection is up, a lease is -1 at once: until it is
  // up, ask a bucket of its own, letting the loop connect in between.
  for (int i = 0; i < 500 && Lease(buckets, "t:warmup", 1, 1, 1) < 0; ++i) reactor_->RunOnce(10);
  double first = Lease(buckets, "t:bucket", 100, 10, 6);
  EXPECT_EQ(first, 6);
  EXPECT_EQ(Lease(buckets, "t:bucket", 100, 10, 6), 4);  // what is left of the burst
  EXPECT_LE(Lease(buckets, "t:bucket", 100, 10, 6), 1);  // empty (a ms may have refilled one)
  // 100/s: 50 ms brings five back.
  int64_t until = SystemClock().NowMs() + 60;
  while (SystemClock().NowMs() < until) reactor_->RunOnce(5);
  double refilled = Lease(buckets, "t:bucket", 100, 10, 10);
  EXPECT_GE(refilled, 5);
  EXPECT_LE(refilled, 8);
  // Another bucket is its own.
  EXPECT_EQ(Lease(buckets, "t:other", 1, 3, 5), 3);
  server_.reset();
  double down = 0;
  for (int i = 0; i < 500 && down >= 0; ++i) {
    down = Lease(buckets, "t:bucket", 100, 10, 1);
    reactor_->RunOnce(10);
  }
  EXPECT_EQ(down, -1);
}

}  // namespace
}  // namespace sockman
