#include "protocols/text/text_protocol.h"

#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"

namespace sockman {
namespace {

using ::sockman::testing::DecodeChunks;
using ::sockman::testing::RandomChunks;
using Messages = std::vector<std::string>;

TextCodec Codec(size_t max = 1024) { return TextCodec(CodecOptions{max}); }

TEST(TextCodecTest, ManyMessagesInOneRead) {
  auto codec = Codec();
  auto d = DecodeChunks(codec, {"a\nbb\n\nccc\n"});
  EXPECT_EQ(d.messages, (Messages{"a", "bb", "", "ccc"}));
  EXPECT_EQ(d.leftover, 0u);
}

TEST(TextCodecTest, MessageSplitAcrossReads) {
  auto codec = Codec();
  auto d = DecodeChunks(codec, {"hel", "lo wo", "rld", "\nne", "xt\n", "part"});
  EXPECT_EQ(d.messages, (Messages{"hello world", "next"}));
  EXPECT_EQ(d.leftover, 4u);
}

TEST(TextCodecTest, StripsOneTrailingCarriageReturn) {
  auto codec = Codec();
  auto d = DecodeChunks(codec, {"tom\r\n", "a\r\r\n", "\r\n"});
  EXPECT_EQ(d.messages, (Messages{"tom", "a\r", ""}));
}

TEST(TextCodecTest, AnySplitGivesTheSameMessages) {
  std::string stream;
  Messages expected;
  for (int i = 0; i < 200; ++i) {
    expected.push_back(std::string(i % 37, static_cast<char>('a' + i % 26)));
    stream += expected.back() + (i % 3 == 0 ? "\r\n" : "\n");
  }
  for (unsigned seed = 0; seed < 50; ++seed) {
    auto codec = Codec();
    auto d = DecodeChunks(codec, RandomChunks(stream, seed));
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.messages, expected) << "seed " << seed;
  }
}

TEST(TextCodecTest, LineOfExactlyMaxIsAccepted) {
  auto codec = Codec(8);
  auto d = DecodeChunks(codec, {"1234567\n"});
  EXPECT_EQ(d.messages, (Messages{"1234567"}));
}

TEST(TextCodecTest, RejectsLineAboveMaxPackageSize) {
  auto codec = Codec(8);
  auto d = DecodeChunks(codec, {"1234", "5678", "\n"});
  EXPECT_TRUE(d.error);
  EXPECT_EQ(d.error_kind, ProtocolError::kTooLarge);
}

TEST(TextCodecTest, EncodeAppendsNewline) {
  auto codec = Codec();
  std::string out = "x";
  codec.Encode("hello", MessageKind::kText, out);
  EXPECT_EQ(out, "xhello\n");
  std::string prefix, suffix;
  ASSERT_TRUE(codec.EncodeFraming("hello", MessageKind::kText, prefix, suffix));
  EXPECT_EQ(prefix + "hello" + suffix, "hello\n");
}

}  // namespace
}  // namespace sockman
