#include "protocols/websocket/websocket_client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"

namespace sockman {
namespace {

using Kind = WebSocketClientCodec::Kind;

// Server frames (unmasked), as sockman's own server codec writes them.
std::string ServerFrame(uint8_t first, const std::string& payload) {
  std::string out(1, static_cast<char>(first));
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(payload.size()));
  } else {
    out.push_back(126);
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size()));
  }
  return out + payload;
}

// Everything `bytes` decodes to, fed in two pieces split at `split`.
std::vector<std::pair<Kind, std::string>> DecodeAll(WebSocketClientCodec& codec,
                                                    const std::string& bytes, size_t split) {
  std::vector<std::pair<Kind, std::string>> out;
  std::string pending;
  for (absl::string_view piece :
       {absl::string_view(bytes).substr(0, split), absl::string_view(bytes).substr(split)}) {
    pending.append(piece.data(), piece.size());
    while (true) {
      WebSocketClientCodec::Frame f = codec.Decode(pending);
      if (f.kind != Kind::kNeedMore) out.emplace_back(f.kind, std::string(f.payload));
      pending.erase(0, f.consumed);
      if (f.kind == Kind::kNeedMore || f.kind == Kind::kError || f.kind == Kind::kClose) break;
    }
  }
  return out;
}

TEST(WebSocketClientTest, HandshakeWithSockmansServerCodec) {
  WebSocketClientCodec client(1 << 20);
  std::string request = client.HandshakeRequest("upstream:9000", "/chat?x=1");
  EXPECT_TRUE(absl::StartsWith(request, "GET /chat?x=1 HTTP/1.1\r\nHost: upstream:9000\r\n"));

  CodecOptions options;
  WebSocketCodec server(options);
  DecodeResult r = server.Decode(request);
  ASSERT_EQ(r.status, DecodeStatus::kConsumed);
  ASSERT_TRUE(server.open());
  HttpResponseParser parser(1024);
  size_t used = 0;
  ASSERT_EQ(parser.Parse(r.reply, &used), HttpResponseParser::Result::kDone);
  EXPECT_TRUE(client.CheckHandshake(parser.response()).ok());

  // Masked frames the server codec accepts, text and binary.
  std::string out;
  client.EncodeMessage(false, "hello", out);
  client.EncodeMessage(true, std::string(70000, 'b'), out);
  auto decoded = testing::DecodeChunks(server, {out});
  ASSERT_EQ(decoded.messages.size(), 2u);
  EXPECT_EQ(decoded.messages[0], "hello");
  EXPECT_EQ(decoded.messages[1].size(), 70000u);
}

TEST(WebSocketClientTest, RefusesABadHandshake) {
  WebSocketClientCodec client(1 << 20);
  client.HandshakeRequest("h", "/");
  HttpClientResponse response;
  response.status = 101;
  response.headers = {{"Upgrade", "websocket"},
                      {"Connection", "Upgrade"},
                      {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}};
  EXPECT_FALSE(client.CheckHandshake(response).ok());  // not our key
  response.status = 200;
  EXPECT_FALSE(client.CheckHandshake(response).ok());
}

TEST(WebSocketClientTest, DecodesServerFramesAtEverySplit) {
  std::string bytes = ServerFrame(0x81, "one") + ServerFrame(0x02, "tw") + ServerFrame(0x89, "p") +
                      ServerFrame(0x80, "o") + ServerFrame(0x82, std::string(300, 'x')) +
                      ServerFrame(0x8A, "pong") + ServerFrame(0x88, std::string("\x03\xe8", 2));
  for (size_t split = 0; split <= bytes.size(); ++split) {
    WebSocketClientCodec codec(1 << 20);
    auto got = DecodeAll(codec, bytes, split);
    ASSERT_EQ(got.size(), 5u) << split;
    EXPECT_EQ(got[0], std::make_pair(Kind::kMessage, std::string("one")));
    EXPECT_EQ(got[1], std::make_pair(Kind::kPing, std::string("p")));
    EXPECT_EQ(got[2], std::make_pair(Kind::kMessage, std::string("two")));
    EXPECT_EQ(got[3].second.size(), 300u);
    EXPECT_EQ(got[4].first, Kind::kClose);
    // The ping's pong and the close's echo, masked.
    EXPECT_EQ(static_cast<uint8_t>(codec.reply()[0]), 0x8A);
  }
}

TEST(WebSocketClientTest, ViolationsCloseWithTheRightCode) {
  struct Case {
    std::string bytes;
    uint16_t code;
  };
  std::string masked =
      "\x81\x81"
      "abcd"
      "x";
  for (const Case& c : std::vector<Case>{
           {masked, 1002},
           {ServerFrame(0xC1, "x"), 1002},  // RSV1
           {ServerFrame(0x83, "x"), 1002},  // reserved opcode
           {ServerFrame(0x80, "x"), 1002},  // continuation first
           {ServerFrame(0x01, "a") + ServerFrame(0x81, "b"), 1002},
           {ServerFrame(0x09, "x"), 1002},                         // fragmented ping
           {ServerFrame(0x88, "\x03"), 1002},                      // 1-byte close
           {ServerFrame(0x88, std::string("\x03\xed", 2)), 1002},  // 1005
           {ServerFrame(0x81, "\xff"), 1007},
           {ServerFrame(0x81, std::string(200, 'x')), 1009},
       }) {
    WebSocketClientCodec codec(100);
    WebSocketClientCodec::Frame f;
    std::string pending = c.bytes;
    do {
      f = codec.Decode(pending);
      pending.erase(0, f.consumed);
    } while (f.kind == Kind::kMessage || f.kind == Kind::kPing);
    EXPECT_EQ(f.kind, Kind::kError) << c.bytes;
    EXPECT_EQ(f.close_code, c.code) << c.bytes;
    ASSERT_GE(codec.reply().size(), 8u);
    EXPECT_EQ(static_cast<uint8_t>(codec.reply()[0]), 0x88);
  }
}

}  // namespace
}  // namespace sockman
