#include "protocols/http/http_headers.h"

#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(HttpDateTest, FormatsAndParsesImfFixdate) {
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  time_t t = 0;
  ASSERT_TRUE(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", t));
  EXPECT_EQ(t, 784111777);
  EXPECT_FALSE(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", t));
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT trailing", t));
  EXPECT_FALSE(ParseHttpDate("", t));
}

TEST(EtagTest, WeakComparisonAndStar) {
  EXPECT_TRUE(EtagMatches("\"a\", W/\"b\"", "\"b\""));
  EXPECT_TRUE(EtagMatches("*", "\"x\""));
  EXPECT_FALSE(EtagMatches("\"a\"", "\"b\""));
  EXPECT_FALSE(EtagMatches("", "\"b\""));
}

TEST(ByteRangeTest, ParsesOneRange) {
  uint64_t first = 0, last = 0;
  EXPECT_EQ(ParseByteRange("bytes=0-9", 100, first, last), ByteRange::kSatisfiable);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(last, 9u);
  EXPECT_EQ(ParseByteRange("bytes=90-200", 100, first, last), ByteRange::kSatisfiable);
  EXPECT_EQ(last, 99u);
  EXPECT_EQ(ParseByteRange("bytes=-10", 100, first, last), ByteRange::kSatisfiable);
  EXPECT_EQ(first, 90u);
  EXPECT_EQ(ParseByteRange("bytes=50-", 100, first, last), ByteRange::kSatisfiable);
  EXPECT_EQ(last, 99u);
  EXPECT_EQ(ParseByteRange("bytes=100-", 100, first, last), ByteRange::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=-0", 100, first, last), ByteRange::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=0-1,5-6", 100, first, last), ByteRange::kNone);
  EXPECT_EQ(ParseByteRange("bytes=9-1", 100, first, last), ByteRange::kNone);
  EXPECT_EQ(ParseByteRange("items=0-1", 100, first, last), ByteRange::kNone);
  EXPECT_EQ(ParseByteRange("bytes=99999999999999999999-", 100, first, last), ByteRange::kNone);
}

TEST(EscapeTest, HtmlAndUrl) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(UrlEscape("a b/ü~"), "a%20b%2f%c3%bc~");
}

}  // namespace
}  // namespace sockman
