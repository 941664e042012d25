#include "protocols/tcp/tcp_protocol.h"

#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"

namespace sockman {
namespace {

TEST(RawCodecTest, EachReadIsOneMessage) {
  RawCodec codec;
  auto d = ::sockman::testing::DecodeChunks(codec, {"abc", "de\nf"});
  EXPECT_EQ(d.messages, (std::vector<std::string>{"abc", "de\nf"}));
  std::string out;
  codec.Encode("raw", MessageKind::kBinary, out);
  EXPECT_EQ(out, "raw");
}

}  // namespace
}  // namespace sockman
