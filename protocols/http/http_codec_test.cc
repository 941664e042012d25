#include "protocols/http/http_codec.h"

#include <zlib.h>

#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"

namespace sockman {
namespace {

using ::sockman::testing::RandomChunks;

TEST(HttpCodecTest, StrictLineEndingsRefuseBareLf) {
  static HttpOptions strict;
  strict.strict_line_endings = true;
  CodecOptions options;
  options.options = &strict;
  auto status = [&](const std::string& bytes) {
    HttpCodec codec(options);
    DecodeResult r = codec.Decode(bytes);
    return r.status == DecodeStatus::kError ? static_cast<int>(r.code) : 0;
  };
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
  EXPECT_EQ(status("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: h\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400);
  HttpCodec lenient(CodecOptions{});  // the default accepts them (RFC 9112 2.2)
  EXPECT_EQ(lenient.Decode("GET / HTTP/1.1\nHost: h\n\n").status, DecodeStatus::kMessage);
}

// The options of an HttpCodec; what they point to lives as long as the test.
CodecOptions Options(size_t max_package = 1 << 20, size_t max_header = 16 * 1024) {
  static std::deque<HttpOptions>* kept = new std::deque<HttpOptions>();
  HttpOptions& http = kept->emplace_back();
  http.max_header_size = max_header;
  CodecOptions options;
  options.max_package_size = max_package;
  options.options = &http;
  return options;
}

// Decodes one request from `bytes`; returns its HTTP error code, or 0 when a
// request was decoded, or -1 when more bytes are needed.
int StatusOf(const std::string& bytes, CodecOptions options = Options()) {
  HttpCodec codec(options);
  DecodeResult r = codec.Decode(bytes);
  if (r.status == DecodeStatus::kError) return r.code;
  if (r.status == DecodeStatus::kNeedMore) return -1;
  return 0;
}

TEST(HttpCodecTest, ParsesRequestLineHeadersAndQuery) {
  HttpCodec codec(Options());
  std::string bytes =
      "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nX-Two: a\r\nx-two: b\r\n\r\n";
  DecodeResult r = codec.Decode(bytes);
  ASSERT_EQ(r.status, DecodeStatus::kMessage);
  EXPECT_EQ(r.consumed, bytes.size());
  const HttpRequest& q = codec.request();
  EXPECT_EQ(q.method, "GET");
  EXPECT_EQ(q.path, "/a/b");
  EXPECT_EQ(q.query, "x=1&y=2");
  EXPECT_EQ(q.host, "example.com");
  EXPECT_EQ(q.Header("HOST"), "example.com");
  EXPECT_EQ(q.Header("x-TWO"), "a");
  EXPECT_EQ(q.headers.size(), 3u);
  EXPECT_TRUE(q.keep_alive);
  EXPECT_FALSE(codec.CloseAfterSend());
}

TEST(HttpCodecTest, KeepAliveRules) {
  auto keep_alive = [](const std::string& bytes) {
    HttpCodec codec(Options());
    EXPECT_EQ(codec.Decode(bytes).status, DecodeStatus::kMessage) << bytes;
    return codec.request().keep_alive;
  };
  EXPECT_TRUE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

TEST(HttpCodecTest, ContentLengthBodyAcrossReadsAndPipelining) {
  std::string stream =
      "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
      "\r\nPUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n";
  for (unsigned seed = 0; seed < 40; ++seed) {
    HttpCodec codec(Options());
    std::vector<std::string> bodies, paths;
    std::string pending;
    for (const std::string& chunk : RandomChunks(stream, seed)) {
      pending += chunk;
      for (;;) {
        DecodeResult r = codec.Decode(pending);
        ASSERT_NE(r.status, DecodeStatus::kError) << r.reason;
        if (r.status == DecodeStatus::kNeedMore) break;
        bodies.emplace_back(r.message);
        paths.emplace_back(codec.request().path);
        pending.erase(0, r.consumed);
      }
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"/up", "/next", "/x"}));
    EXPECT_EQ(bodies, (std::vector<std::string>{"hello world", "", "hello world"}));
    EXPECT_TRUE(pending.empty());
  }
}

TEST(HttpCodecTest, AbsoluteFormAndAsteriskForm) {
  HttpCodec codec(Options());
  ASSERT_EQ(codec.Decode("GET http://other.example/p?q HTTP/1.1\r\nHost: h\r\n\r\n").status,
            DecodeStatus::kMessage);
  EXPECT_EQ(codec.request().host, "other.example");
  EXPECT_EQ(codec.request().path, "/p");
  EXPECT_EQ(codec.request().query, "q");
  EXPECT_EQ(StatusOf("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
  EXPECT_EQ(StatusOf("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(HttpCodecTest, MalformedRequestsAre400) {
  const char* cases[] = {
      "GET / HTTP/1.1\r\n\r\n",                        // no Host in 1.1
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
      "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",           // invalid Host (RFC 9112 3.2)
      "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
      "GET /  HTTP/1.1\r\nHost: h\r\n\r\n",                // double space
      "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",                // trailing space
      "GET\r\nHost: h\r\n\r\n",                            // no target
      "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",                 // bad method
      "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n",            // control in target
      "GET / HTTX/1.1\r\nHost: h\r\n\r\n",                 // bad version
      "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",  // space in name
      "GET / HTTP/1.1\r\nHost: h\r\nName : x\r\n\r\n",     // space before colon
      "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n",  // obs-fold
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",        // NUL in value
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",          // bare CR
      "GET relative HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abcdef0\r\n",
  };
  for (const char* c : cases) {
    std::string bytes(c, c + std::char_traits<char>::length(c));
    if (absl::string_view(c).find("a\x00b") == 0) continue;
    EXPECT_EQ(StatusOf(bytes), 400) << bytes;
  }
  std::string nul("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 36);
  EXPECT_EQ(StatusOf(nul), 400);
}

TEST(HttpCodecTest, OtherErrorStatuses) {
  EXPECT_EQ(StatusOf("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(StatusOf("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            501);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n"), 417);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n", Options(1000)),
            413);
  EXPECT_EQ(
      StatusOf(absl::StrCat("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
                            "800\r\n", std::string(0x800, 'x')),
               Options(1000)),
      413);
  // A head over max_package_size (but under max_header_size) in one read.
  EXPECT_EQ(
      StatusOf(absl::StrCat("GET / HTTP/1.1\r\nHost: h\r\nX: ", std::string(100, 'a'), "\r\n\r\n"),
               Options(64)),
      413);
  EXPECT_EQ(StatusOf(absl::StrCat("GET /", std::string(9000, 'a'), " HTTP/1.1\r\nHost: h\r\n\r\n")),
            414);
  EXPECT_EQ(StatusOf(absl::StrCat("GET /", std::string(9000, 'a'))), 414);  // incomplete
  EXPECT_EQ(StatusOf(absl::StrCat("GET / HTTP/1.1\r\nHost: h\r\nX: ", std::string(20000, 'a'),
                                  "\r\n\r\n")),
            431);
  EXPECT_EQ(StatusOf(absl::StrCat("GET / HTTP/1.1\r\nHost: h\r\nX: ", std::string(20000, 'a'))),
            431);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 150; ++i) many += absl::StrCat("X", i, ": y\r\n");
  EXPECT_EQ(StatusOf(many + "\r\n"), 431);
}

TEST(HttpCodecTest, ExpectContinueIsAnsweredOnceBeforeTheBody) {
  HttpCodec codec(Options());
  std::string head =
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
  DecodeResult r = codec.Decode(head);
  EXPECT_EQ(r.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(r.reply, "HTTP/1.1 100 Continue\r\n\r\n");
  r = codec.Decode(head + "a");
  EXPECT_EQ(r.reply, "");
  std::string whole = head + "abc";  // the message points into the input
  r = codec.Decode(whole);
  EXPECT_EQ(r.status, DecodeStatus::kMessage);
  EXPECT_EQ(r.message, "abc");
}

TEST(HttpCodecTest, HeaderDeadlineOnlyWhileReadingTheHead) {
  HttpCodec codec(Options());
  EXPECT_EQ(codec.PendingTimeoutMs(), 10000);
  codec.Decode("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(codec.PendingTimeoutMs(), 0);  // body phase
}

TEST(HttpCodecTest, ResponsesFollowTheRequest) {
  HttpCodec codec(Options());
  codec.Decode("HEAD / HTTP/1.0\r\n\r\n");
  std::string out;
  codec.Encode("hello", MessageKind::kText, out);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\nServer: sockman\r\nDate: ", 0), 0u) << out;
  EXPECT_NE(out.find("\r\nContent-Length: 5\r\nConnection: close\r\n"), std::string::npos) << out;
  EXPECT_TRUE(absl::EndsWith(out, "\r\n\r\n")) << "HEAD has no body: " << out;
  EXPECT_TRUE(codec.CloseAfterSend());

  HttpCodec keep(Options());
  keep.Decode("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  out.clear();
  keep.EncodeResponse(404, "X-A: b\r\n", "nope", out);
  EXPECT_NE(out.find("HTTP/1.1 404 Not Found\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: keep-alive\r\nX-A: b\r\n\r\nnope"), std::string::npos) << out;
}

TEST(HttpCodecTest, ErrorResponseClosesAndTimeoutWithoutBytesIsSilent) {
  HttpCodec codec(Options());
  DecodeResult r = codec.Decode("BAD\r\n\r\n");
  ASSERT_EQ(r.status, DecodeStatus::kError);
  std::string out;
  codec.EncodeError(r, out);
  EXPECT_EQ(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);

  HttpCodec idle(Options());
  out.clear();
  idle.EncodeError(DecodeResult::Error(ProtocolError::kTimeout, "t"), out);
  EXPECT_EQ(out, "");
  HttpCodec slow(Options());
  slow.Decode("GET / HT");
  slow.EncodeError(DecodeResult::Error(ProtocolError::kTimeout, "t"), out);
  EXPECT_EQ(out.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u);
}

TEST(HttpCodecTest, StreamedBodiesAreChunkedFor11AndCloseDelimitedFor10) {
  HttpCodec codec(Options());
  ASSERT_EQ(codec.Decode("GET / HTTP/1.1\r\nHost: h\r\n\r\n").status, DecodeStatus::kMessage);
  std::string out;
  codec.EncodeStreamHead(200, "Content-Type: text/plain\r\n", out);
  codec.EncodeChunk("hello", out);
  codec.EncodeChunk("", out);
  codec.EncodeChunk(std::string(26, 'x'), out);
  codec.EncodeStreamEnd(out);
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                     "5\r\nhello\r\n1a\r\nxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n0\r\n\r\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("Content-Length"), std::string::npos);
  EXPECT_FALSE(codec.CloseAfterSend());

  HttpCodec old(Options());
  ASSERT_EQ(old.Decode("GET / HTTP/1.0\r\n\r\n").status, DecodeStatus::kMessage);
  out.clear();
  old.EncodeStreamHead(200, "", out);
  old.EncodeChunk("raw", out);
  old.EncodeStreamEnd(out);
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos);
  EXPECT_TRUE(absl::EndsWith(out, "\r\n\r\nraw")) << out;
  EXPECT_TRUE(codec.CloseAfterSend() || old.CloseAfterSend());
  EXPECT_TRUE(old.CloseAfterSend());
}

// Decodes a chunked body (the test's own bytes, well formed).
std::string Dechunk(absl::string_view body) {
  std::string out;
  while (!body.empty()) {
    size_t eol = body.find("\r\n");
    size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
    if (size == 0) break;
    absl::StrAppend(&out, body.substr(eol + 2, size));
    body.remove_prefix(eol + 2 + size + 2);
  }
  return out;
}

std::string Gunzip(const std::string& data) {
  z_stream s{};
  inflateInit2(&s, 15 + 16);
  std::string out(1 << 20, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  inflate(&s, Z_SYNC_FLUSH);
  out.resize(s.total_out);
  inflateEnd(&s);
  return out;
}

TEST(HttpCodecTest, CompressionOfWholeAndStreamedBodies) {
  CompressionPolicy policy;
  std::string text;
  for (int i = 0; i < 200; ++i) absl::StrAppend(&text, "line ", i, " of some text\n");
  auto respond = [&](const std::string& request, int status, const std::string& headers,
                     const std::string& body, Coding coding) {
    HttpCodec codec(Options());
    EXPECT_EQ(codec.Decode(request).status, DecodeStatus::kMessage);
    codec.SetCompression(&policy, coding);
    std::string out;
    codec.EncodeResponse(status, headers, body, out);
    return out;
  };
  const std::string get = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string gz =
      respond(get, 200, "Content-Type: text/plain\r\nETag: \"abc\"\r\n", text, Coding::kGzip);
  EXPECT_TRUE(absl::StrContains(gz, "\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n"))
      << gz;
  EXPECT_TRUE(absl::StrContains(gz, "\r\nETag: W/\"abc\"\r\n")) << gz;  // another representation
  std::string body = gz.substr(gz.find("\r\n\r\n") + 4);
  EXPECT_TRUE(absl::StrContains(gz, absl::StrCat("Content-Length: ", body.size(), "\r\n")));
  EXPECT_EQ(Gunzip(body), text);
  // Not compressed: too small, a type not listed, already encoded, HEAD,
  // 204/206/304, identity (which still says Vary).
  EXPECT_FALSE(
      absl::StrContains(respond(get, 200, "Content-Type: text/plain\r\n", "tiny", Coding::kGzip),
                        "Content-Encoding"));
  EXPECT_FALSE(absl::StrContains(
      respond(get, 200, "Content-Type: image/png\r\n", text, Coding::kGzip), "Vary"));
  EXPECT_FALSE(
      absl::StrContains(respond(get, 200, "Content-Type: text/plain\r\nContent-Encoding: br\r\n",
                                text, Coding::kGzip),
                        "gzip"));
  EXPECT_FALSE(absl::StrContains(respond("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", 200,
                                         "Content-Type: text/plain\r\n", text, Coding::kGzip),
                                 "Content-Encoding"));
  EXPECT_FALSE(absl::StrContains(
      respond(get, 206, "Content-Type: text/plain\r\n", text, Coding::kGzip), "Content-Encoding"));
  std::string identity = respond(get, 200, "Content-Type: text/plain\r\n", text, Coding::kIdentity);
  EXPECT_TRUE(absl::StrContains(identity, "Vary: Accept-Encoding\r\n")) << identity;
  EXPECT_FALSE(absl::StrContains(identity, "Content-Encoding")) << identity;

  // Streamed: each piece is flushed (decodable as it arrives).
  HttpCodec codec(Options());
  ASSERT_EQ(codec.Decode(get).status, DecodeStatus::kMessage);
  codec.SetCompression(&policy, Coding::kGzip);
  std::string out;
  codec.EncodeStreamHead(200, "Content-Type: text/event-stream\r\n", out);
  EXPECT_TRUE(absl::StrContains(out, "Content-Encoding: gzip\r\n")) << out;
  size_t head_end = out.size();
  codec.EncodeChunk("data: one\n\n", out);
  EXPECT_EQ(Gunzip(Dechunk(out.substr(head_end))), "data: one\n\n");  // already whole
  codec.EncodeChunk("data: two\n\n", out);
  codec.EncodeStreamEnd(out);
  EXPECT_TRUE(absl::EndsWith(out, "\r\n0\r\n\r\n")) << out;
  EXPECT_EQ(Gunzip(Dechunk(out.substr(head_end))), "data: one\n\ndata: two\n\n");
  // The next request on the connection is not compressed unless asked again.
  ASSERT_EQ(codec.Decode(get).status, DecodeStatus::kMessage);
  out.clear();
  codec.EncodeResponse(200, "Content-Type: text/plain\r\n", text, out);
  EXPECT_FALSE(absl::StrContains(out, "Content-Encoding")) << out;
}

TEST(HttpDateTest, FormatsImfFixdate) {
  HttpDate::Update(784111777);
  EXPECT_EQ(HttpDate::Now(), "Sun, 06 Nov 1994 08:49:37 GMT");
}

// A bad request line is answered as soon as it is complete, not once the
// whole head has arrived; the answer is the one the whole head gets.
TEST(HttpCodecTest, ABadRequestLineFailsBeforeTheHeadIsComplete) {
  for (const auto& [line, status] :
       std::vector<std::pair<std::string, int>>{{"G(T / HTTP/1.1\r\n", 400},
                                                {"GET / HTTP/2.0\r\n", 505},
                                                {"GET  / HTTP/1.1\r\n", 400},
                                                {"GET / HTTX\r\n", 400}}) {
    HttpCodec codec(Options());
    DecodeResult r = codec.Decode(line + "Host: h\r\n");  // the head goes on...
    ASSERT_EQ(r.status, DecodeStatus::kError) << line;
    EXPECT_EQ(r.code, status) << line;
    EXPECT_EQ(StatusOf(line + "Host: h\r\n\r\n"), status) << line;  // the same when whole
  }
  HttpCodec good(Options());
  EXPECT_EQ(good.Decode("GET / HTTP/1.1\r\nHost: h\r\n").status, DecodeStatus::kNeedMore);
}

// So is a bad header line: the connection is cut off at that line.
TEST(HttpCodecTest, ABadHeaderLineFailsBeforeTheHeadIsComplete) {
  for (const auto& [field, status] :
       std::vector<std::pair<std::string, int>>{{"Bad Name: x", 400},
                                                {"NoColon", 400},
                                                {" folded", 400},
                                                {"X: a\rb", 400},
                                                {"Host: a b", 400},
                                                {"Content-Length: 1, 2", 400},
                                                {"Content-Length: x", 400},
                                                {"Transfer-Encoding: gzip", 501},
                                                {"Expect: magic", 417}}) {
    std::string head = absl::StrCat("POST / HTTP/1.1\r\nHost: h\r\n", field, "\r\nX-More: y\r\n");
    HttpCodec codec(Options());
    DecodeResult r = codec.Decode(head);
    ASSERT_EQ(r.status, DecodeStatus::kError) << field;
    EXPECT_EQ(r.code, status) << field;
    EXPECT_EQ(StatusOf(head + "\r\n"), status) << field;
  }
  // Whole-head checks (a second Host, CL with TE) wait for the blank line.
  HttpCodec two_hosts(Options());
  EXPECT_EQ(two_hosts.Decode("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n").status,
            DecodeStatus::kNeedMore);
}

// Feeds `bytes` as the connection would, one more byte each time (the buffer
// grows, nothing is consumed); the status as StatusOf gives it.
int StatusFedBytewise(const std::string& bytes, CodecOptions options = Options()) {
  HttpCodec codec(options);
  for (size_t n = 1; n <= bytes.size(); ++n) {
    DecodeResult r = codec.Decode(absl::string_view(bytes).substr(0, n));
    if (r.status == DecodeStatus::kError) return r.code;
    if (r.status == DecodeStatus::kMessage) return 0;
  }
  return -1;
}

// The answer to a head does not depend on how it is split into reads.
TEST(HttpCodecTest, EveryErrorIsTheSameAtEverySplit) {
  std::vector<std::pair<std::string, CodecOptions>> cases;
  for (const char* c : {
           "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: [::1\r\nX: a\x01\r\n\r\n",
           "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTP/2.0\r\nBad Name: x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
           "chunked\r\nX\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\nNoColon\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\nA\r\n0\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\nAB\r\n0\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
       }) {
    cases.emplace_back(c, Options());
  }
  cases.emplace_back(absl::StrCat("GET / HTTP/1.1\r\nHost: h\r\nX: ", std::string(100, 'a'),
                                  "\r\nBad Name: y\r\n\r\n"),
                     Options(64));
  cases.emplace_back(
      absl::StrCat("GET / HTTP/1.1\r\nBad Name: y\r\nX: ", std::string(100, 'a'), "\r\n\r\n"),
      Options(1 << 20, 64));
  cases.emplace_back(
      absl::StrCat("GET / HTTP/1.1\r\nHost: h\r\nX: ", std::string(100, 'a'), "\r\n\r\n"),
      Options(1 << 20, 64));
  cases.emplace_back(absl::StrCat("GET /", std::string(9000, 'a'), " HTTP/1.1\r\nHost: h\r\n\r\n"),
                     Options());
  for (const auto& [bytes, options] : cases) {
    int whole = StatusOf(bytes, options);
    EXPECT_EQ(StatusFedBytewise(bytes, options), whole) << bytes;
    for (size_t split = 1; split < bytes.size(); ++split) {
      HttpCodec codec(options);
      DecodeResult first = codec.Decode(absl::string_view(bytes).substr(0, split));
      int status = first.status == DecodeStatus::kError     ? first.code
                   : first.status == DecodeStatus::kMessage ? 0
                                                            : -2;
      if (status == -2) {
        DecodeResult r = codec.Decode(bytes);
        status = r.status == DecodeStatus::kError     ? r.code
                 : r.status == DecodeStatus::kMessage ? 0
                                                      : -1;
      }
      ASSERT_EQ(status, whole) << "split at " << split << ": " << bytes;
    }
  }
}

// Drives a codec as Connection does: bytes arrive, messages are taken in
// order, each recorded as "H target" (a head alone), "P data" (a piece),
// "L data" (the last piece) or "W body" (a whole request).
struct StreamDriver {
  explicit StreamDriver(CodecOptions options, bool stream = true, uint64_t max_body = 0)
      : codec(options), stream(stream), max_body(max_body) {
    codec.set_announce_heads(true);
  }
  // Returns the HTTP error code, or 0.
  int Feed(absl::string_view bytes) {
    input.append(bytes.data(), bytes.size());
    while (true) {
      DecodeResult r = codec.Decode(input);
      if (r.status == DecodeStatus::kError) return r.code;
      replies.append(r.reply.data(), r.reply.size());
      if (r.status == DecodeStatus::kNeedMore) return 0;
      if (r.status == DecodeStatus::kMessage) {
        std::string message(r.message);
        switch (codec.body_part()) {
          case HttpCodec::BodyPart::kHead:
            events.push_back(absl::StrCat("H ", codec.request().target));
            if (stream) streamed = codec.StreamBody(max_body);
            break;
          case HttpCodec::BodyPart::kPiece:
            body += message;
            ++pieces;
            break;
          case HttpCodec::BodyPart::kLast:
            body += message;
            events.push_back(absl::StrCat("L ", body));
            body.clear();
            break;
          case HttpCodec::BodyPart::kWhole:
            events.push_back(absl::StrCat("W ", codec.request().target, " ", message));
            break;
        }
      }
      input.erase(0, r.consumed);
    }
  }
  HttpCodec codec;
  bool stream;
  uint64_t max_body;
  bool streamed = false;
  std::string input, body, replies;
  int pieces = 0;
  std::vector<std::string> events;
};

TEST(HttpCodecTest, StreamsContentLengthAndChunkedBodiesInPieces) {
  std::string bytes =
      "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
      "POST /chunks HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  for (unsigned seed = 0; seed < 50; ++seed) {
    StreamDriver driver(Options(/*max_package=*/64));
    for (const std::string& chunk : RandomChunks(bytes, seed)) ASSERT_EQ(driver.Feed(chunk), 0);
    EXPECT_EQ(driver.events, (std::vector<std::string>{"H /up", "L hello world", "H /chunks",
                                                       "L hello world", "W /next "}))
        << seed;
    EXPECT_TRUE(driver.input.empty());
  }
  StreamDriver whole(Options(64));  // in one read, each body is its last piece alone
  ASSERT_EQ(whole.Feed(bytes), 0);
  EXPECT_EQ(whole.pieces, 0);
  EXPECT_EQ(whole.events.size(), 5u);
}

TEST(HttpCodecTest, StreamedBodiesAreNotBoundByMaxPackageSize) {
  StreamDriver driver(Options(/*max_package=*/1024));
  ASSERT_EQ(driver.Feed("PUT /big HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n"), 0);
  EXPECT_TRUE(driver.streamed);
  std::string block(4096, 'x');
  for (int i = 0; i < 256; ++i) ASSERT_EQ(driver.Feed(block), 0);
  EXPECT_EQ(driver.events.size(), 2u);
  EXPECT_EQ(driver.events[1].size(), 2 + 1048576u);
}

TEST(HttpCodecTest, HeadsNotStreamedGetTheWholeRequestUnderTheUsualLimits) {
  StreamDriver driver(Options(/*max_package=*/256), /*stream=*/false);
  ASSERT_EQ(driver.Feed("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"), 0);
  EXPECT_EQ(driver.events, (std::vector<std::string>{"H /a", "W /a abc"}));
  StreamDriver big(Options(/*max_package=*/256), /*stream=*/false);
  EXPECT_EQ(big.Feed("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n"), 413);
  EXPECT_EQ(big.events, (std::vector<std::string>{"H /a"}));
  StreamDriver chunked(Options(/*max_package=*/256), /*stream=*/false);
  ASSERT_EQ(chunked.Feed("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "3\r\nabc\r\n0\r\n\r\n"),
            0);
  EXPECT_EQ(chunked.events, (std::vector<std::string>{"H /c", "W /c abc"}));
}

TEST(HttpCodecTest, StreamBodyHonoursItsLimit) {
  StreamDriver declared(Options(), /*stream=*/true, /*max_body=*/10);
  ASSERT_EQ(declared.Feed("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"), 0);
  EXPECT_FALSE(declared.streamed);  // the handler answers 413 itself
  StreamDriver chunked(Options(), /*stream=*/true, /*max_body=*/10);
  EXPECT_EQ(chunked.Feed("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "6\r\nabcdef\r\n6\r\nghijkl\r\n"),
            413);
}

TEST(HttpCodecTest, StreamedBodyAnswersExpectContinue) {
  StreamDriver driver(Options());
  ASSERT_EQ(driver.Feed("PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                        "Content-Length: 2\r\n\r\n"),
            0);
  EXPECT_EQ(driver.replies, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(driver.Feed("ok"), 0);
  EXPECT_EQ(driver.events.back(), "L ok");
}

TEST(HttpCodecTest, AnAnswerBeforeTheBodyEndsClosesTheConnection) {
  StreamDriver driver(Options());
  ASSERT_EQ(driver.Feed("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"), 0);
  std::string out;
  driver.codec.EncodeResponse(413, "", "too big", out);
  EXPECT_TRUE(absl::StrContains(out, "Connection: close\r\n")) << out;
  EXPECT_TRUE(driver.codec.CloseAfterSend());
  std::string error;  // a broken body now adds nothing to the response under way
  driver.codec.EncodeError(DecodeResult::Error(ProtocolError::kMalformed, "x", 400), error);
  EXPECT_EQ(error, "");
}

}  // namespace
}  // namespace sockman
