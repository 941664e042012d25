#include "protocols/http/http_response_parser.h"

#include <string>

#include "gtest/gtest.h"

namespace sockman {
namespace {

struct Parsed {
  HttpResponseParser::Result result;
  HttpClientResponse response;
  std::string error;
  size_t left = 0;  // unconsumed bytes after the response
};

// Feeds `bytes` in two pieces split at `split`, as a connection would (the
// unconsumed tail is offered again with the new bytes); `eof` then closes.
Parsed Feed(const std::string& bytes, size_t split, bool eof = false, bool head = false,
            size_t max_body = 1 << 20) {
  split = std::min(split, bytes.size());
  HttpResponseParser parser(max_body, head);
  std::string pending;
  Parsed out;
  out.result = HttpResponseParser::Result::kNeedMore;
  for (absl::string_view piece :
       {absl::string_view(bytes).substr(0, split), absl::string_view(bytes).substr(split)}) {
    pending.append(piece.data(), piece.size());
    size_t used = 0;
    out.result = parser.Parse(pending, &used);
    pending.erase(0, used);
    if (out.result != HttpResponseParser::Result::kNeedMore) break;
  }
  if (out.result == HttpResponseParser::Result::kNeedMore && eof) out.result = parser.Finish();
  if (out.result == HttpResponseParser::Result::kDone) out.response = parser.response();
  out.error = parser.error();
  out.left = pending.size();
  return out;
}

// Every split of `bytes` gives the same answer.
void ExpectEverySplit(const std::string& bytes, HttpResponseParser::Result result,
                      const std::string& body = "", bool eof = false, bool head = false) {
  for (size_t split = 0; split <= bytes.size(); ++split) {
    Parsed p = Feed(bytes, split, eof, head);
    ASSERT_EQ(p.result, result) << "split at " << split << ": " << p.error;
    if (result == HttpResponseParser::Result::kDone) {
      EXPECT_EQ(p.response.body, body) << split;
    }
  }
}

using R = HttpResponseParser::Result;

TEST(HttpResponseParserTest, ContentLength) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello";
  ExpectEverySplit(r, R::kDone, "hello");
  Parsed p = Feed(r, 3);
  EXPECT_EQ(p.response.status, 200);
  EXPECT_TRUE(p.response.keep_alive);
  EXPECT_EQ(p.response.Header("x-a"), "1");
  EXPECT_EQ(p.response.Headers("X-A").size(), 2u);
}

TEST(HttpResponseParserTest, LeavesTheNextResponseUnconsumed) {
  Parsed p = Feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n", 1000);
  EXPECT_EQ(p.result, R::kDone);
  EXPECT_EQ(p.left, 17u);
}

TEST(HttpResponseParserTest, Chunked) {
  ExpectEverySplit(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\n"
      "Trailer: x\r\n\r\n",
      R::kDone, "hello!");
  ExpectEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", R::kDone,
                   "");
}

TEST(HttpResponseParserTest, BareLineFeedsAreAccepted) {
  ExpectEverySplit("HTTP/1.1 200 OK\nContent-Length: 1\n\nx", R::kDone, "x");
}

TEST(HttpResponseParserTest, UntilClose) {
  ExpectEverySplit("HTTP/1.0 200 OK\r\n\r\nall of it", R::kDone, "all of it", /*eof=*/true);
  Parsed p = Feed("HTTP/1.0 200 OK\r\n\r\nall", 5, true);
  EXPECT_FALSE(p.response.keep_alive);
  // Unknown final coding: read until close.
  ExpectEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", R::kDone, "zz", true);
}

TEST(HttpResponseParserTest, KeepAliveRules) {
  EXPECT_FALSE(Feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 99)
                   .response.keep_alive);
  EXPECT_FALSE(Feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 99).response.keep_alive);
  EXPECT_TRUE(Feed("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 99)
                  .response.keep_alive);
}

TEST(HttpResponseParserTest, NoBodyStatusesAndHead) {
  ExpectEverySplit("HTTP/1.1 204 No Content\r\n\r\n", R::kDone, "");
  ExpectEverySplit("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", R::kDone, "");
  ExpectEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", R::kDone, "", false,
                   /*head=*/true);
}

TEST(HttpResponseParserTest, InterimResponsesAreSkipped) {
  std::string r =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  ExpectEverySplit(r, R::kDone, "ok");
  EXPECT_EQ(Feed(r, 7).response.status, 201);
}

TEST(HttpResponseParserTest, SwitchingProtocolsEndsTheResponse) {
  Parsed p = Feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi", 1000);
  EXPECT_EQ(p.result, R::kDone);
  EXPECT_EQ(p.response.status, 101);
  EXPECT_EQ(p.left, 4u);
}

TEST(HttpResponseParserTest, BadResponsesAreErrors) {
  for (const char* bad : {
           "HTTP/2 200 OK\r\n\r\n",
           "HTTP/1.1 20 OK\r\n\r\n",
           "HTTP/1.1 2000 OK\r\n\r\n",
           "HTTP/1.1 600 Odd\r\n\r\n",
           "ICY 200 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
           "HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
       }) {
    Parsed p = Feed(bad, 1000);
    EXPECT_EQ(p.result, R::kError) << bad;
    EXPECT_FALSE(p.error.empty()) << bad;
  }
}

TEST(HttpResponseParserTest, LimitsAreEnforced) {
  EXPECT_EQ(Feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 1000, false, false, 10).result,
            R::kError);
  EXPECT_EQ(
      Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", 1000, false, false, 10)
          .result,
      R::kError);
  EXPECT_EQ(Feed("HTTP/1.0 200 OK\r\n\r\n01234567890", 1000, true, false, 10).result, R::kError);
  std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a');
  EXPECT_EQ(Feed(huge, 1000).result, R::kError);
}

TEST(HttpResponseParserTest, EarlyCloseIsAnError) {
  EXPECT_EQ(Feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", 1000, true).result, R::kError);
  EXPECT_EQ(Feed("HTTP/1.1 200", 1000, true).result, R::kError);
  HttpResponseParser parser(100);
  EXPECT_EQ(parser.Finish(), R::kError);
  EXPECT_FALSE(parser.started());
}

// Streams `bytes` through a parser in `step`-byte reads; returns the
// events ("head 200", then the body, then "done" or "error: why").
std::string StreamAll(const std::string& bytes, size_t step, bool eof = false) {
  HttpResponseParser parser(0);
  parser.set_stream_body();
  std::string input, out;
  for (size_t at = 0;; at += step) {
    bool last = at >= bytes.size();
    if (!last) input += bytes.substr(at, step);
    while (true) {
      size_t used = 0;
      HttpResponseParser::Result r = parser.Parse(input, &used);
      std::string piece(parser.piece());  // a view into the input: taken before consuming
      input.erase(0, used);
      if (r == HttpResponseParser::Result::kHead) {
        out += "head " + std::to_string(parser.response().status) + "|";
      } else if (r == HttpResponseParser::Result::kData) {
        out += piece;
      } else if (r == HttpResponseParser::Result::kDone) {
        return out + "|done";
      } else if (r == HttpResponseParser::Result::kError) {
        return out + "|error: " + parser.error();
      } else {
        break;
      }
    }
    if (last) {
      if (!eof) return out + "|cut";
      return out + (parser.Finish() == HttpResponseParser::Result::kDone ? "|done" : "|cut");
    }
  }
}

TEST(HttpResponseParserTest, StreamsBodiesInPieces) {
  for (size_t step : {1, 3, 7, 1000}) {
    EXPECT_EQ(StreamAll("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step),
              "head 200|hello|done");
    EXPECT_EQ(StreamAll("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                        step),
              "head 201|abcde|done");
    EXPECT_EQ(StreamAll("HTTP/1.0 200 OK\r\n\r\nuntil close", step, /*eof=*/true),
              "head 200|until close|done");
    EXPECT_EQ(StreamAll("HTTP/1.1 204 No Content\r\n\r\n", step), "head 204||done");
    EXPECT_EQ(StreamAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", step),
              "head 200||error: bad chunk size");
  }
  // A body of any length: nothing is held.
  std::string big =
      "HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n" + std::string(3000000, 'b');
  EXPECT_EQ(StreamAll(big, 65536).size(), std::string("head 200||done").size() + 3000000);
}

}  // namespace
}  // namespace sockman
