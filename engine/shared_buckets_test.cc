#include "engine/shared_buckets.h"

#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(SharedBucketsTest, BurstThenRate) {
  auto buckets = *SharedBuckets::Create(64);
  int taken = 0;
  for (int i = 0; i < 20; ++i) {
    taken += buckets->Take(7, SharedBuckets::kMessages, 10, 5, 1, 1000, false) >= 0;
  }
  EXPECT_EQ(taken, 5);  // the burst
  // 300 ms later: three more.
  taken = 0;
  for (int i = 0; i < 20; ++i) {
    taken += buckets->Take(7, SharedBuckets::kMessages, 10, 5, 1, 1300, false) >= 0;
  }
  EXPECT_EQ(taken, 3);
  // Another key has its own bucket; bytes are separate from messages.
  EXPECT_GE(buckets->Take(8, SharedBuckets::kMessages, 10, 5, 1, 1300, false), 0);
  EXPECT_GE(buckets->Take(7, SharedBuckets::kBytes, 100, 100, 60, 1300, false), 0);
  EXPECT_LT(buckets->Take(7, SharedBuckets::kBytes, 100, 100, 60, 1300, false), 0);
}

TEST(SharedBucketsTest, DebtPaysBackAtTheRate) {
  auto buckets = *SharedBuckets::Create(64);
  double left = 0;
  for (int i = 0; i < 8; ++i) left = buckets->Take(1, SharedBuckets::kMessages, 10, 5, 1, 0, true);
  EXPECT_NEAR(left, -3, 0.01);
  EXPECT_NEAR(buckets->Take(1, SharedBuckets::kMessages, 10, 5, 0, 400, true), 1, 0.01);
}

TEST(SharedBucketsTest, WorkersShareBucketsAcrossFork) {
  auto buckets = *SharedBuckets::Create();
  constexpr int kWorkers = 4, kEach = 200;
  int pipes[2];
  ASSERT_EQ(pipe(pipes), 0);
  std::vector<pid_t> children;
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int taken = 0;
      for (int i = 0; i < kEach; ++i) {
        taken += buckets->Take(42, SharedBuckets::kMessages, 1, 100, 1, 5000, false) >= 0;
      }
      (void)write(pipes[1], &taken, sizeof(taken));
      _exit(0);
    }
    children.push_back(pid);
  }
  int total = 0;
  for (int w = 0; w < kWorkers; ++w) {
    int taken = 0;
    ASSERT_EQ(read(pipes[0], &taken, sizeof(taken)), static_cast<ssize_t>(sizeof(taken)));
    total += taken;
  }
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  EXPECT_EQ(total, 100);  // 800 attempts at once, exactly the burst got through
}

// Cluster mode: credit only from leases; a new key starts with one lease.
TEST(SharedBucketsTest, CreditComesFromLeasesNotTheClock) {
  auto buckets = SharedBuckets::Create(1024);
  ASSERT_TRUE(buckets.ok());
  SharedBuckets& b = **buckets;
  const uint64_t key = 42;
  for (int i = 0; i < 5; ++i) {
    EXPECT_GE(b.TakeCredit(key, SharedBuckets::kMessages, 1, 5, 1000, false), 0) << i;
  }
  EXPECT_LT(b.TakeCredit(key, SharedBuckets::kMessages, 1, 5, 1000, false), 0);
  // Time alone refills nothing.
  EXPECT_LT(b.TakeCredit(key, SharedBuckets::kMessages, 1, 5, 60'000, false), 0);
  b.AddCredit(key, SharedBuckets::kMessages, 2, 60'000);
  EXPECT_GE(b.TakeCredit(key, SharedBuckets::kMessages, 1, 5, 60'000, false), 0);
  EXPECT_GE(b.TakeCredit(key, SharedBuckets::kMessages, 1, 5, 60'000, false), 0);
  EXPECT_LT(b.TakeCredit(key, SharedBuckets::kMessages, 1, 5, 60'000, false), 0);
  // Debt (PAUSE) goes below zero and leases pay it back.
  EXPECT_DOUBLE_EQ(b.TakeCredit(key, SharedBuckets::kBytes, 300, 100, 60'000, true), -200);
  b.AddCredit(key, SharedBuckets::kBytes, 250, 60'000);
  EXPECT_DOUBLE_EQ(b.TakeCredit(key, SharedBuckets::kBytes, 50, 100, 60'000, false), 0);
}

TEST(SharedBucketsTest, OneLeaseInFlightPerKey) {
  auto buckets = SharedBuckets::Create(1024);
  ASSERT_TRUE(buckets.ok());
  SharedBuckets& b = **buckets;
  EXPECT_TRUE(b.StartLease(7, SharedBuckets::kMessages, 1000));
  EXPECT_FALSE(b.StartLease(7, SharedBuckets::kMessages, 1001));  // in flight
  EXPECT_TRUE(b.StartLease(7, SharedBuckets::kBytes, 1001));      // the other bucket's own
  EXPECT_TRUE(b.StartLease(7, SharedBuckets::kMessages, 3001));   // lost after 2 s
  b.EndLease(7, SharedBuckets::kMessages, 3002, 100);             // refused: wait 100 ms
  EXPECT_FALSE(b.StartLease(7, SharedBuckets::kMessages, 3050));
  EXPECT_TRUE(b.StartLease(7, SharedBuckets::kMessages, 3103));
  b.EndLease(7, SharedBuckets::kMessages, 3104, 0);
  EXPECT_TRUE(b.StartLease(7, SharedBuckets::kMessages, 3104));
}

}  // namespace
}  // namespace sockman
