#include "examples/extending/protocols.h"

#include <string>
#include <vector>

#include "examples/extending/json_check.h"
#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"

namespace example {
namespace {

using sockman::CodecOptions;
using sockman::ProtocolError;
using sockman::testing::DecodeChunks;

// Decodes `bytes` split at every point into two chunks; all splits must agree.
template <typename CodecType>
sockman::testing::Decoded DecodeEverySplit(const std::string& bytes, size_t max = 1 << 20) {
  CodecOptions options;
  options.max_package_size = max;
  CodecType whole(options);
  sockman::testing::Decoded expected = DecodeChunks(whole, {bytes});
  for (size_t split = 0; split <= bytes.size(); ++split) {
    CodecType codec(options);
    sockman::testing::Decoded d =
        DecodeChunks(codec, {bytes.substr(0, split), bytes.substr(split)});
    EXPECT_EQ(d.messages, expected.messages) << split;
    EXPECT_EQ(d.error, expected.error) << split;
  }
  return expected;
}

TEST(JsonCheckTest, AcceptsJsonAndRefusesTheRest) {
  for (const char* ok : {"{}", "[]", "0", "-1.5e+3", "\"a\\u00e9\\n\"", "true", "null",
                         " {\"a\": [1, {\"b\": false}], \"c\": \"d\"} "}) {
    EXPECT_TRUE(IsValidJson(ok)) << ok;
  }
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"\x01\"", "'a'",
                          "{} {}", "\"\\x\"", "[1 2]"}) {
    EXPECT_FALSE(IsValidJson(bad)) << bad;
  }
  EXPECT_FALSE(IsValidJson(std::string(100, '[') + std::string(100, ']')));  // too deep
}

TEST(JsonNlTest, OneJsonValuePerLine) {
  auto d = DecodeEverySplit<JsonNlCodec>("{\"a\":1}\n[2]\r\n\"x\"\n");
  EXPECT_EQ(d.messages, (std::vector<std::string>{"{\"a\":1}", "[2]", "\"x\""}));
  EXPECT_TRUE(DecodeEverySplit<JsonNlCodec>("{\"a\":1}\nnot json\n").error);
  auto big = DecodeEverySplit<JsonNlCodec>(std::string(100, ' '), 50);
  EXPECT_TRUE(big.error);
  EXPECT_EQ(big.error_kind, ProtocolError::kTooLarge);
  std::string out;
  CodecOptions options;
  JsonNlCodec(options).Encode("{}", sockman::MessageKind::kText, out);
  EXPECT_EQ(out, "{}\n");
}

TEST(XmlTest, TenDigitTotalLengthThenXml) {
  std::string encoded;
  CodecOptions options;
  XmlCodec codec(options);
  codec.Encode("<a>hello</a>", sockman::MessageKind::kText, encoded);
  EXPECT_EQ(encoded, "0000000022<a>hello</a>");
  std::string two;
  codec.Encode("<b/>", sockman::MessageKind::kText, two);
  auto d = DecodeEverySplit<XmlCodec>(encoded + two);
  EXPECT_EQ(d.messages, (std::vector<std::string>{"<a>hello</a>", "<b/>"}));
  EXPECT_TRUE(DecodeEverySplit<XmlCodec>("00000000x2<a/>").error);    // not digits
  EXPECT_TRUE(DecodeEverySplit<XmlCodec>("0000000014hello!").error);  // not XML
  EXPECT_TRUE(DecodeEverySplit<XmlCodec>("0000000005").error);        // shorter than its header
  auto big = DecodeEverySplit<XmlCodec>("9999999999", 1000);
  EXPECT_EQ(big.error_kind, ProtocolError::kTooLarge);  // refused before buffering
}

TEST(JsonIntTest, FourByteTotalLengthThenJson) {
  std::string encoded;
  CodecOptions options;
  JsonIntCodec codec(options);
  codec.Encode("{\"x\":1}", sockman::MessageKind::kText, encoded);
  EXPECT_EQ(encoded, std::string("\0\0\0\x0b{\"x\":1}", 11));
  codec.Encode("[]", sockman::MessageKind::kText, encoded);
  auto d = DecodeEverySplit<JsonIntCodec>(encoded);
  EXPECT_EQ(d.messages, (std::vector<std::string>{"{\"x\":1}", "[]"}));
  EXPECT_TRUE(DecodeEverySplit<JsonIntCodec>(std::string("\0\0\0\x07nop", 7)).error);
  EXPECT_TRUE(DecodeEverySplit<JsonIntCodec>(std::string("\0\0\0\x02", 4)).error);
  auto big = DecodeEverySplit<JsonIntCodec>(std::string("\x7f\0\0\0", 4), 1000);
  EXPECT_EQ(big.error_kind, ProtocolError::kTooLarge);
}

}  // namespace
}  // namespace example
