#include "protocols/http/chunked.h"

#include <string>

#include "gtest/gtest.h"

namespace sockman {
namespace {

using Status = ChunkedDecoder::Status;
using Error = ChunkedDecoder::Error;

struct Decoded {
  Status status;
  std::string body;
  size_t pos = 0;
  Error error = Error::kNone;
};

Decoded Decode(const std::string& input, ChunkedDecoder::Limits limits = {}) {
  ChunkedDecoder decoder(limits);
  Decoded d;
  d.status = decoder.Decode(input, d.pos, d.body);
  d.error = decoder.error();
  return d;
}

TEST(ChunkedDecoderTest, DecodesChunksExtensionsAndTrailers) {
  Decoded d = Decode("5;name=value\r\nhello\r\n1\r\n!\r\n0\r\nX-Sum: 1\r\n\r\nNEXT");
  EXPECT_EQ(d.status, Status::kDone);
  EXPECT_EQ(d.body, "hello!");
  EXPECT_EQ(d.pos, std::string("5;name=value\r\nhello\r\n1\r\n!\r\n0\r\nX-Sum: 1\r\n\r\n").size());
}

TEST(ChunkedDecoderTest, EverySplitGivesTheSameBody) {
  const std::string input = "a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n";
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    ChunkedDecoder decoder({});
    std::string body;
    size_t pos = 0;
    Status first = decoder.Decode(absl::string_view(input).substr(0, cut), pos, body);
    if (cut < input.size()) {
      EXPECT_EQ(first, Status::kNeedMore) << cut;
    }
    EXPECT_EQ(decoder.Decode(input, pos, body), Status::kDone) << cut;
    EXPECT_EQ(body, "0123456789abc") << cut;
    EXPECT_EQ(pos, input.size()) << cut;
  }
}

TEST(ChunkedDecoderTest, RefusesMalformedInput) {
  for (const char* bad :
       {"zz\r\n", "\r\n", "5 x\r\nhello\r\n", "1\r\nxy\r\n", "1\r\nx\rz", "0\r\nno colon\r\n\r\n",
        "0\r\nbad name: v\r\n\r\n", "1\r\nx\r\n0\r\nX: \x01\r\n\r\n", "fffffffffffffffff\r\n"}) {
    Decoded d = Decode(bad);
    EXPECT_EQ(d.status, Status::kError) << bad;
    EXPECT_EQ(d.error, Error::kMalformed) << bad;
  }
}

// RFC 9112 7.1: CRLF only inside chunked framing (Go's CVE-2025-22871 and
// nginx's fix: a bare LF is a request-smuggling channel between parsers).
TEST(ChunkedDecoderTest, RefusesBareLfAnywhereInTheFraming) {
  for (const char* bad : {"1\nA\r\n0\r\n\r\n", "1;a=b\nA\r\n0\r\n\r\n", "1\r\nA\n0\r\n\r\n",
                          "1\r\nA\r\n0\n\r\n", "1\r\nA\r\n0\r\n\n", "1\r\nA\r\n0\r\nX: y\n\r\n"}) {
    // Whole, and split at every byte: the same refusal.
    std::string input = bad;
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      ChunkedDecoder decoder({});
      std::string body;
      size_t pos = 0;
      Status first = decoder.Decode(absl::string_view(input).substr(0, cut), pos, body);
      Status last = first == Status::kError ? first : decoder.Decode(input, pos, body);
      EXPECT_EQ(last, Status::kError) << bad << " cut " << cut;
      EXPECT_EQ(decoder.error(), Error::kMalformed) << bad;
    }
  }
}

// RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).
TEST(ChunkedDecoderTest, ChunkExtensionsFollowTheGrammar) {
  for (const char* good : {"2;a\r\nhi\r\n0\r\n\r\n", "2;a=b;c=\"d;e\"\r\nhi\r\n0\r\n\r\n",
                           "2 ; a = b\r\nhi\r\n0\r\n\r\n", "2;q=\"x\\\"y\"\r\nhi\r\n0\r\n\r\n",
                           "2\r\nhi\r\n0;last\r\n\r\n"}) {
    EXPECT_EQ(Decode(good).status, Status::kDone) << good;
  }
  for (const char* bad : {"2;\r\nhi\r\n", "5;a=\"def; ghi\r\n", "2;a b\r\nhi\r\n", "a \r\n",
                          "2;=b\r\n", "2;a=\r\n", "2;a=b c\r\n", " 2\r\n", "2;a=\"x\x01\"\r\n"}) {
    Decoded d = Decode(bad);
    EXPECT_EQ(d.status, Status::kError) << bad;
    EXPECT_EQ(d.error, Error::kMalformed) << bad;
  }
  // An extension is bounded by the size line's limit (4 KiB).
  EXPECT_EQ(Decode("2;a=" + std::string(5000, 'b') + "\r\nhi\r\n0\r\n\r\n").error,
            Error::kMalformed);
}

TEST(ChunkedDecoderTest, EnforcesItsLimits) {
  EXPECT_EQ(Decode("b\r\n", {.max_body = 10}).error, Error::kTooLarge);
  EXPECT_EQ(Decode("5\r\nhello\r\n6\r\n", {.max_body = 10}).error, Error::kTooLarge);
  EXPECT_EQ(Decode("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", {.max_body = 10}).status,
            Status::kDone);
  EXPECT_EQ(Decode("0\r\nX: " + std::string(100, 'v') + "\r\n\r\n", {.max_trailers = 64}).error,
            Error::kTrailersTooLarge);
  // An endless size line or trailer is refused before it ends.
  EXPECT_EQ(Decode(std::string(5000, '1')).error, Error::kMalformed);
  EXPECT_EQ(Decode("0\r\nX: " + std::string(100, 'v'), {.max_trailers = 64}).error,
            Error::kTrailersTooLarge);
}

TEST(ChunkedDecoderTest, ResetStartsANewBody) {
  ChunkedDecoder decoder({});
  std::string body;
  size_t pos = 0;
  EXPECT_EQ(decoder.Decode("zz\r\n", pos, body), Status::kError);
  decoder.Reset();
  pos = 0;
  EXPECT_EQ(decoder.Decode("2\r\nok\r\n0\r\n\r\n", pos, body), Status::kDone);
  EXPECT_EQ(body, "ok");
}

TEST(ChunkedEncoderTest, AppendsChunksAndTheLastChunk) {
  std::string out;
  AppendChunk("hello world, this is sixteen+", out);
  AppendChunk("", out);  // nothing: an empty chunk would end the body
  AppendLastChunk(out);
  EXPECT_EQ(out, "1d\r\nhello world, this is sixteen+\r\n0\r\n\r\n");
  ChunkedDecoder decoder({});
  std::string body;
  size_t pos = 0;
  EXPECT_EQ(decoder.Decode(out, pos, body), Status::kDone);
  EXPECT_EQ(body, "hello world, this is sixteen+");
}

}  // namespace
}  // namespace sockman
