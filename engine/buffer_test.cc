#include "engine/buffer.h"

#include <string>

#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(BufferTest, AppendConsumeKeepsOrder) {
  Buffer b;
  b.Append("hello ");
  b.Append("world");
  EXPECT_EQ(b.view(), "hello world");
  b.Consume(6);
  EXPECT_EQ(b.view(), "world");
  b.Consume(5);
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, ReusesFrontSpaceInsteadOfGrowing) {
  Buffer b;
  b.Append(std::string(100, 'a'));
  size_t capacity = b.capacity();
  b.Consume(90);
  b.Append(std::string(80, 'b'));
  EXPECT_EQ(b.capacity(), capacity);
  EXPECT_EQ(b.view(), std::string(10, 'a') + std::string(80, 'b'));
}

TEST(BufferTest, PrepareWriteGivesAtLeastRequestedSpace) {
  Buffer b;
  b.Append("x");
  auto span = b.PrepareWrite(4096);
  ASSERT_GE(span.size(), 4096u);
  span[0] = 'y';
  b.CommitWrite(1);
  EXPECT_EQ(b.view(), "xy");
}

TEST(BufferTest, ShrinkIfEmptyReleasesLargeStorage) {
  Buffer b;
  b.Append(std::string(1 << 20, 'z'));
  b.Consume(1 << 20);
  b.ShrinkIfEmpty(4096);
  EXPECT_EQ(b.capacity(), 0u);
}

}  // namespace
}  // namespace sockman
