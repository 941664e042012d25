#include "protocols/frame/frame_protocol.h"

#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"

namespace sockman {
namespace {

using ::sockman::testing::DecodeChunks;
using ::sockman::testing::RandomChunks;
using Messages = std::vector<std::string>;

std::string Frame(const std::string& payload) {
  FrameCodec codec(CodecOptions{});
  std::string out;
  codec.Encode(payload, MessageKind::kBinary, out);
  return out;
}

TEST(FrameCodecTest, EncodeCountsTheHeader) {
  EXPECT_EQ(Frame("abc"), std::string("\0\0\0\7abc", 7));
  EXPECT_EQ(Frame(""), std::string("\0\0\0\4", 4));
}

TEST(FrameCodecTest, FramingIsTheLengthPrefix) {
  FrameCodec codec(CodecOptions{});
  std::string prefix, suffix;
  ASSERT_TRUE(codec.EncodeFraming("abc", MessageKind::kBinary, prefix, suffix));
  EXPECT_EQ(prefix + "abc" + suffix, Frame("abc"));
}

TEST(FrameCodecTest, ManyFramesInOneReadAndSplitFrames) {
  FrameCodec codec(CodecOptions{});
  std::string stream = Frame("one") + Frame("") + Frame("three");
  auto d = DecodeChunks(codec, {stream.substr(0, 2), stream.substr(2, 9), stream.substr(11)});
  EXPECT_EQ(d.messages, (Messages{"one", "", "three"}));
  EXPECT_EQ(d.leftover, 0u);
}

TEST(FrameCodecTest, AnySplitGivesTheSameMessages) {
  std::string stream;
  Messages expected;
  for (int i = 0; i < 100; ++i) {
    expected.push_back(std::string(i * 3, static_cast<char>(i)));
    stream += Frame(expected.back());
  }
  for (unsigned seed = 0; seed < 30; ++seed) {
    FrameCodec codec(CodecOptions{});
    auto d = DecodeChunks(codec, RandomChunks(stream, seed));
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.messages, expected);
  }
}

TEST(FrameCodecTest, LengthBelowFourIsMalformed) {
  FrameCodec codec(CodecOptions{});
  auto d = DecodeChunks(codec, {std::string("\0\0\0\3", 4)});
  EXPECT_TRUE(d.error);
  EXPECT_EQ(d.error_kind, ProtocolError::kMalformed);
}

TEST(FrameCodecTest, OversizeIsRejectedFromTheHeaderAlone) {
  FrameCodec codec(CodecOptions{100});
  auto d = DecodeChunks(codec, {std::string("\0\0\0\x65", 4)});  // 101
  EXPECT_TRUE(d.error);
  EXPECT_EQ(d.error_kind, ProtocolError::kTooLarge);
  FrameCodec exact(CodecOptions{100});
  d = DecodeChunks(exact, {Frame(std::string(96, 'x'))});
  EXPECT_FALSE(d.error);
  EXPECT_EQ(d.messages.size(), 1u);
}

}  // namespace
}  // namespace sockman
