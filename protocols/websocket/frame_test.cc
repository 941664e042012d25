#include "protocols/websocket/frame.h"

#include <string>

#include "gtest/gtest.h"

namespace sockman::websocket {
namespace {

TEST(FrameHeaderTest, ParsesEveryLengthEncoding) {
  for (uint64_t length : {uint64_t{0}, uint64_t{125}, uint64_t{126}, uint64_t{65535},
                          uint64_t{65536}, uint64_t{1} << 40}) {
    for (bool masked : {false, true}) {
      const unsigned char mask[4] = {1, 2, 3, 4};
      std::string bytes;
      AppendFrameHeader(kBinary, length, bytes, masked ? mask : nullptr);
      FrameHeader header;
      const char* error = "";
      ASSERT_EQ(ParseFrameHeader(bytes, header, error), ParseStatus::kOk) << length;
      EXPECT_EQ(header.length, length);
      EXPECT_EQ(header.size, bytes.size());
      EXPECT_EQ(header.masked, masked);
      EXPECT_TRUE(header.fin);
      EXPECT_EQ(header.opcode, kBinary);
      if (masked) {
        EXPECT_EQ(std::string(reinterpret_cast<char*>(header.mask), 4), "\1\2\3\4");
      }
      for (size_t cut = 0; cut < bytes.size(); ++cut) {
        EXPECT_EQ(ParseFrameHeader(bytes.substr(0, cut), header, error), ParseStatus::kNeedMore);
      }
    }
  }
}

TEST(FrameHeaderTest, RefusesWhatNoRoleAllows) {
  struct Case {
    std::string bytes;
    const char* error;
  } cases[] = {
      {std::string("\xA1\x00", 2), "RSV2 or RSV3 set"},
      {std::string("\x83\x00", 2), "unknown opcode"},
      {std::string("\x8B\x00", 2), "unknown opcode"},
      {std::string("\x89\x7E\x00\x7E", 4), "control frame over 125 bytes"},
      {std::string("\x09\x00", 2), "fragmented control frame"},
      {std::string("\x82\x7F\x80\x00\x00\x00\x00\x00\x00\x00", 10),
       "64-bit length with the top bit set"},
  };
  for (const Case& c : cases) {
    FrameHeader header;
    const char* error = "";
    EXPECT_EQ(ParseFrameHeader(c.bytes, header, error), ParseStatus::kError) << c.error;
    EXPECT_STREQ(error, c.error);
  }
}

TEST(FrameHeaderTest, RsvOneIsLeftToTheCodec) {
  std::string bytes;
  AppendFrameHeader(kText, 3, bytes, nullptr, /*rsv1=*/true);
  FrameHeader header;
  const char* error = "";
  ASSERT_EQ(ParseFrameHeader(bytes, header, error), ParseStatus::kOk);
  EXPECT_TRUE(header.rsv1);
}

TEST(ClosePayloadTest, ChecksCodeAndReason) {
  EXPECT_EQ(ParseClosePayload("").code, 1005);
  EXPECT_EQ(ParseClosePayload("").fail_code, 0);
  EXPECT_EQ(ParseClosePayload("\x03").fail_code, 1002);
  CloseFrame ok = ParseClosePayload(
      "\x03\xE8"
      "bye");
  EXPECT_EQ(ok.code, 1000);
  EXPECT_EQ(ok.reason, "bye");
  EXPECT_EQ(ok.fail_code, 0);
  EXPECT_EQ(ParseClosePayload("\x03\xEC").fail_code, 1002);  // 1004: reserved
  EXPECT_EQ(ParseClosePayload("\x0B\xB8").fail_code, 0);     // 3000
  EXPECT_EQ(ParseClosePayload("\x03\xE8\xFF").fail_code, 1007);
  EXPECT_FALSE(ValidCloseCode(1005));
  EXPECT_FALSE(ValidCloseCode(1015));
  EXPECT_FALSE(ValidCloseCode(5000));
}

TEST(Utf8Test, IsUtf8FollowsRfc3629) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("plain ascii, long enough to take the eight-byte path"));
  EXPECT_TRUE(IsUtf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));
  EXPECT_TRUE(IsUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_FALSE(IsUtf8("\xFF"));
  EXPECT_FALSE(IsUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsUtf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(IsUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsUtf8("\xCE"));              // cut short
}

}  // namespace
}  // namespace sockman::websocket
