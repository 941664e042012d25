#include "protocols/websocket/websocket_codec.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"
#include "protocols/websocket/testing/client_frame.h"

namespace sockman {
namespace {

using ::sockman::testing::ClientFrame;
using ::sockman::testing::DecodeChunks;

constexpr char kUpgrade[] =
    "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

std::string Text(const std::string& s) { return ClientFrame(0x81, s); }

std::unique_ptr<WebSocketCodec> OpenCodec(size_t max = 1 << 20,
                                          const WebSocketOptions* ws = nullptr,
                                          const std::string& upgrade = kUpgrade) {
  CodecOptions options;
  options.max_package_size = max;
  options.options = ws;
  auto codec = std::make_unique<WebSocketCodec>(options);
  DecodeResult r = codec->Decode(upgrade);
  EXPECT_EQ(r.status, DecodeStatus::kConsumed);
  return codec;
}

uint16_t CloseCodeOf(const std::string& bytes, size_t max = 1 << 20) {
  auto codec = OpenCodec(max);
  auto d = DecodeChunks(*codec, {bytes});
  return d.error ? d.error_code : 0;
}

TEST(WebSocketTest, AcceptKeyFromTheRfc) {
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketTest, ASmallMaxPackageSizeStillAcceptsTheHandshake) {
  // max_package_size bounds messages; the upgrade request, max_header_size.
  auto codec = OpenCodec(/*max=*/16);
  EXPECT_TRUE(codec->open());
  EXPECT_EQ(CloseCodeOf(Text(std::string(17, 'x')), 16), 1009);
}

TEST(WebSocketTest, HandshakeAnswers101WithAcceptAndSubprotocol) {
  WebSocketOptions ws;
  ws.subprotocols = {"superchat", "chat"};
  CodecOptions options;
  options.options = &ws;
  WebSocketCodec codec(options);
  DecodeResult r = codec.Decode(kUpgrade);
  ASSERT_EQ(r.status, DecodeStatus::kConsumed);
  EXPECT_EQ(r.consumed, std::string(kUpgrade).size());
  std::string reply(r.reply);
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 101 Switching Protocols\r\n")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
  EXPECT_TRUE(absl::StrContains(reply, "Sec-WebSocket-Protocol: superchat\r\n")) << reply;
  EXPECT_TRUE(codec.open());
}

int HandshakeStatus(const std::string& request, const WebSocketOptions* ws = nullptr) {
  CodecOptions options;
  options.options = ws;
  WebSocketCodec codec(options);
  DecodeResult r = codec.Decode(request);
  if (r.status != DecodeStatus::kError) return 0;
  std::string out;
  codec.EncodeError(r, out);
  EXPECT_TRUE(absl::StrContains(out, "Connection: close")) << out;
  return r.code;
}

TEST(WebSocketTest, BadHandshakesGetHttpAnswers) {
  std::string base = kUpgrade;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_EQ(HandshakeStatus("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 426);
  EXPECT_EQ(HandshakeStatus(with("Version: 13", "Version: 8")), 426);
  EXPECT_EQ(HandshakeStatus(with("dGhlIHNhbXBsZSBub25jZQ==", "tooshort")), 400);
  EXPECT_EQ(HandshakeStatus(with("keep-alive, Upgrade", "keep-alive")), 400);
  EXPECT_EQ(HandshakeStatus(with("GET /chat", "POST /chat")), 400);
  // Each once (RFC 6455 11.3.1): a second key or version is refused.
  EXPECT_EQ(HandshakeStatus(with("Sec-WebSocket-Version: 13\r\n",
                                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                                 "dGhlIHNhbXBsZSBub25jZQ==\r\n")),
            400);
  EXPECT_EQ(HandshakeStatus(with("Sec-WebSocket-Version: 13\r\n",
                                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n")),
            400);
  WebSocketOptions other_path;
  other_path.path = "/other";
  EXPECT_EQ(HandshakeStatus(base, &other_path), 404);
  WebSocketOptions origins;
  origins.allowed_origins = {"https://good.example"};
  EXPECT_EQ(HandshakeStatus(base, &origins), 403);
  origins.allowed_origins.push_back("http://example.com");
  EXPECT_EQ(HandshakeStatus(base, &origins), 0);
}

TEST(WebSocketTest, FramesSplitAtEveryByteBoundary) {
  std::string stream = Text("Hello, wörld") + ClientFrame(0x82, std::string(300, '\x01')) +
                       ClientFrame(0x81, std::string(70000, 'x'));
  for (size_t split = 1; split < stream.size(); split += (split < 400 ? 1 : 997)) {
    auto owned = OpenCodec();
    WebSocketCodec& codec = *owned;
    auto d = DecodeChunks(codec, {stream.substr(0, split), stream.substr(split)});
    ASSERT_FALSE(d.error) << split;
    ASSERT_EQ(d.messages.size(), 3u) << split;
    EXPECT_EQ(d.messages[0], "Hello, wörld");
    EXPECT_EQ(d.messages[1], std::string(300, '\x01'));
    EXPECT_EQ(d.messages[2].size(), 70000u);
  }
}

TEST(WebSocketTest, DecodeWithoutRewritingGivesTheSameMessages) {
  // Decode (read-only input, as the proxy uses it) and DecodeInPlace agree.
  std::string stream = Text("Hello, wörld") + ClientFrame(0x82, std::string(300, '\x01')) +
                       ClientFrame(0x01, "frag") + ClientFrame(0x80, "ment");
  const std::string original = stream;
  auto codec = OpenCodec();
  std::vector<std::string> messages;
  absl::string_view rest = stream;
  while (!rest.empty()) {
    DecodeResult r = codec->Decode(rest);
    ASSERT_NE(r.status, DecodeStatus::kError);
    ASSERT_NE(r.status, DecodeStatus::kNeedMore);
    if (r.status == DecodeStatus::kMessage) messages.emplace_back(r.message);
    rest.remove_prefix(r.consumed);
  }
  EXPECT_EQ(stream, original);  // nothing was rewritten
  EXPECT_EQ(messages,
            (std::vector<std::string>{"Hello, wörld", std::string(300, '\x01'), "fragment"}));
}

TEST(WebSocketTest, UnmaskFindsNonAsciiAtEveryOffset) {
  // The unmasking pass decides whether text needs a UTF-8 check, 32, 8 and 1
  // bytes at a time: a bad byte anywhere must be seen, a good one accepted.
  for (size_t size = 1; size <= 80; ++size) {
    for (size_t at = 0; at < size; ++at) {
      std::string bad(size, 'a');
      bad[at] = '\xff';
      ASSERT_EQ(CloseCodeOf(Text(bad)), 1007) << size << " " << at;
      if (at + 1 < size) {
        std::string good(size, 'a');
        good[at] = '\xc3';
        good[at + 1] = '\xa9';  // é
        auto codec = OpenCodec();
        auto d = DecodeChunks(*codec, {Text(good)});
        ASSERT_FALSE(d.error) << size << " " << at;
        ASSERT_EQ(d.messages, std::vector<std::string>{good});
      }
    }
  }
}

TEST(WebSocketTest, FramingIsTheFrameWithoutItsPayload) {
  auto codec = OpenCodec();
  for (size_t size : {0, 5, 125, 126, 65535, 65536}) {
    std::string message(size, 'm'), prefix, suffix, whole;
    ASSERT_TRUE(codec->EncodeFraming(message, MessageKind::kText, prefix, suffix));
    codec->Encode(message, MessageKind::kText, whole);
    EXPECT_EQ(prefix + message + suffix, whole) << size;
  }
}

TEST(WebSocketTest, FragmentsReassembledWithControlFramesBetween) {
  auto owned = OpenCodec();
  WebSocketCodec& codec = *owned;
  // "wörld" split inside the two-byte "ö": UTF-8 is checked across fragments.
  std::string o = "\xc3\xb6";
  auto d = DecodeChunks(codec, {ClientFrame(0x01, "w" + o.substr(0, 1)), ClientFrame(0x89, "ping!"),
                                ClientFrame(0x80, o.substr(1) + "rld")});
  ASSERT_FALSE(d.error);
  EXPECT_EQ(d.messages, (std::vector<std::string>{"wörld"}));
  ASSERT_EQ(d.replies.size(), 2u);  // the first fragment (no reply), the pong
  EXPECT_EQ(d.replies[1], std::string("\x8a\x05ping!", 7));
  EXPECT_EQ(d.kinds, std::vector<MessageKind>{MessageKind::kText});
}

TEST(WebSocketTest, ProtocolViolationsClose1002) {
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x81, "x", false)), 1002);             // unmasked
  EXPECT_EQ(CloseCodeOf(ClientFrame(0xC1, "x")), 1002);                    // RSV1
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x83, "x")), 1002);                    // opcode 3
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x8B, "x")), 1002);                    // opcode 11
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x89, std::string(126, 'p'))), 1002);  // big ping
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x09, "p")), 1002);                    // fragmented ping
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x80, "x")), 1002);                    // stray continuation
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x01, "a") + Text("b")), 1002);        // new message
  std::string huge("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04", 14);
  EXPECT_EQ(CloseCodeOf(huge), 1002);  // a 64-bit length with the top bit set
}

// A text frame that arrives in pieces is checked as its bytes arrive: the
// first invalid byte closes (1007) before the rest of the frame is there.
TEST(WebSocketTest, InvalidUtf8InOneFrameFailsFast) {
  std::string payload = std::string(100, 'a') + "\xff" + std::string(100, 'b');
  std::string frame = Text(payload);
  size_t header = frame.size() - payload.size();
  auto codec = OpenCodec();
  std::string input = frame.substr(0, header + 50);  // valid so far
  EXPECT_EQ(codec->Decode(input).status, DecodeStatus::kNeedMore);
  input = frame.substr(0, header + 101);  // now the 0xff is in
  DecodeResult r = codec->Decode(input);
  ASSERT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(r.code, 1007);
  // Valid text in pieces, with a character split between reads, is fine.
  std::string good = std::string(60, 'x') + "\xce\xba" + std::string(60, 'y');
  std::string good_frame = Text(good);
  size_t good_header = good_frame.size() - good.size();
  auto ok = OpenCodec();
  EXPECT_EQ(ok->Decode(good_frame.substr(0, good_header + 61)).status, DecodeStatus::kNeedMore);
  DecodeResult whole = ok->Decode(good_frame);
  ASSERT_EQ(whole.status, DecodeStatus::kMessage);
  EXPECT_EQ(whole.message, good);
}

TEST(WebSocketTest, InvalidUtf8Closes1007) {
  EXPECT_EQ(CloseCodeOf(Text("\xc0\x80")), 1007);          // overlong
  EXPECT_EQ(CloseCodeOf(Text("\xed\xa0\x80")), 1007);      // surrogate
  EXPECT_EQ(CloseCodeOf(Text("\xf4\x90\x80\x80")), 1007);  // above U+10FFFF
  EXPECT_EQ(CloseCodeOf(Text("ok\xce")), 1007);            // ends mid-character
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x01, "\xff") + ClientFrame(0x80, "x")), 1007);  // fast
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x82, "\xff\xfe")), 0);  // binary is not checked
  EXPECT_EQ(CloseCodeOf(Text("\xf0\x9f\x98\x80 emoji")), 0);
}

TEST(WebSocketTest, OversizeMessageCloses1009BeforeBuffering) {
  // Only the header of a 1 MiB frame: refused before any payload arrives.
  std::string header = ClientFrame(0x82, std::string(1 << 20, 'x')).substr(0, 14);
  EXPECT_EQ(CloseCodeOf(header, 1000), 1009);
  EXPECT_EQ(CloseCodeOf(
                ClientFrame(0x02, std::string(600, 'x')) + ClientFrame(0x80, std::string(600, 'x')),
                1000),
            1009);  // the sum of fragments counts
}

TEST(WebSocketTest, CloseHandshakeEchoesValidCodes) {
  auto close_frame = [](uint16_t code, absl::string_view reason = "") {
    std::string payload = {static_cast<char>(code >> 8), static_cast<char>(code)};
    return ClientFrame(0x88, payload + std::string(reason));
  };
  for (uint16_t code : {1000, 1001, 1003, 1007, 1011, 3000, 4999}) {
    auto owned = OpenCodec();
    WebSocketCodec& codec = *owned;
    auto d = DecodeChunks(codec, {close_frame(code, "bye")});
    ASSERT_FALSE(d.error) << code;
    EXPECT_TRUE(d.closed);
    ASSERT_EQ(d.replies.size(), 1u);
    EXPECT_EQ(d.replies[0], std::string("\x88\x02", 2) +
                                std::string(1, static_cast<char>(code >> 8)) +
                                std::string(1, static_cast<char>(code & 0xff)));
  }
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000}) {
    EXPECT_EQ(CloseCodeOf(close_frame(code)), 1002) << code;
  }
  EXPECT_EQ(CloseCodeOf(ClientFrame(0x88, "x")), 1002);     // one byte
  EXPECT_EQ(CloseCodeOf(close_frame(1000, "\xff")), 1007);  // bad reason
  auto owned = OpenCodec();
  WebSocketCodec& codec = *owned;
  auto d = DecodeChunks(codec, {ClientFrame(0x88, "")});
  EXPECT_TRUE(d.closed);
  EXPECT_EQ(d.replies.back(), std::string("\x88\x00", 2));
}

TEST(WebSocketTest, ServerFramesAreUnmaskedWithMinimalLengths) {
  std::string out;
  WebSocketCodec::EncodeFrame(WebSocketCodec::kText, "hi", out);
  EXPECT_EQ(out, "\x81\x02hi");
  out.clear();
  WebSocketCodec::EncodeFrame(WebSocketCodec::kBinary, std::string(126, 'b'), out);
  EXPECT_EQ(out.substr(0, 4), std::string("\x82\x7e\x00\x7e", 4));
  out.clear();
  WebSocketCodec::EncodeFrame(WebSocketCodec::kBinary, std::string(65536, 'b'), out);
  EXPECT_EQ(out.substr(0, 10), std::string("\x82\x7f\0\0\0\0\0\x01\0\0", 10));
}

TEST(WebSocketTest, TextThatIsNotUtf8GoesOutAsBinary) {
  auto codec = OpenCodec();
  std::string out;
  codec->Encode("caf\xc3\xa9", MessageKind::kText, out);
  EXPECT_EQ(out, "\x81\x05" "caf\xc3\xa9");
  out.clear();
  codec->Encode("\xff\xfe", MessageKind::kText, out);  // never an invalid text frame
  EXPECT_EQ(out, "\x82\x02\xff\xfe");
  std::string prefix, suffix;
  ASSERT_TRUE(codec->EncodeFraming("\xc3", MessageKind::kText, prefix, suffix));
  EXPECT_EQ(prefix, "\x82\x01");  // a cut-short sequence is not UTF-8 either
  prefix.clear();
  ASSERT_TRUE(codec->EncodeFraming("ok", MessageKind::kText, prefix, suffix));
  EXPECT_EQ(prefix, "\x81\x02");
  out.clear();
  codec->Encode("ok", MessageKind::kBinary, out);
  EXPECT_EQ(out, "\x82\x02ok");
}

// --- permessage-deflate ---

std::string WithOffer(const std::string& offer) {
  std::string upgrade = kUpgrade;
  upgrade.insert(upgrade.size() - 2, "Sec-WebSocket-Extensions: " + offer + "\r\n");
  return upgrade;
}

const WebSocketOptions* DeflateOn() {
  static const WebSocketOptions* ws = [] {
    auto* options = new WebSocketOptions();
    options->deflate = true;
    return options;
  }();
  return ws;
}

std::string Reply101(const WebSocketOptions* ws, const std::string& upgrade) {
  WebSocketCodec codec(CodecOptions{.options = ws});
  DecodeResult r = codec.Decode(upgrade);
  EXPECT_EQ(r.status, DecodeStatus::kConsumed);
  return std::string(r.reply);
}

TEST(WebSocketDeflateTest, NegotiatedOnlyWhenEnabledAndOffered) {
  std::string offer = WithOffer("permessage-deflate; client_max_window_bits");
  EXPECT_TRUE(absl::StrContains(Reply101(DeflateOn(), offer),
                                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"));
  EXPECT_FALSE(absl::StrContains(Reply101(nullptr, offer), "Extensions"));
  EXPECT_FALSE(absl::StrContains(Reply101(DeflateOn(), kUpgrade), "Extensions"));
  EXPECT_FALSE(
      absl::StrContains(Reply101(DeflateOn(), WithOffer("permessage-deflate; x=1")), "Extensions"));
  // Offers may be spread over several header lines.
  std::string two = WithOffer("foo");
  two.insert(two.size() - 2,
             "Sec-WebSocket-Extensions: permessage-deflate; "
             "server_no_context_takeover\r\n");
  EXPECT_TRUE(absl::StrContains(
      Reply101(DeflateOn(), two),
      "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"));
  // Without a negotiated extension RSV1 is a protocol error.
  auto codec = OpenCodec(1 << 20, DeflateOn());
  EXPECT_FALSE(codec->deflate());
  EXPECT_EQ(DecodeChunks(*codec, {ClientFrame(0xC1, "x")}).error_code, 1002);
}

std::unique_ptr<WebSocketCodec> DeflateCodec(size_t max = 1 << 20) {
  auto codec = OpenCodec(max, DeflateOn(), WithOffer("permessage-deflate"));
  EXPECT_TRUE(codec->deflate());
  return codec;
}

// "Hello" compressed (RFC 7692 7.2.3.1) and the same again with the shared window.
const std::string kHello("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
const std::string kHelloAgain("\xf2\x00\x11\x00\x00", 5);

TEST(WebSocketDeflateTest, CompressedMessagesSplitAtEveryByte) {
  std::string stream = ClientFrame(0xC1, kHello) + ClientFrame(0x81, "plain") +
                       ClientFrame(0x41, kHello.substr(0, 3)) + ClientFrame(0x89, "p") +
                       ClientFrame(0x80, kHello.substr(3)) + ClientFrame(0xC2, kHelloAgain);
  for (size_t split = 1; split < stream.size(); ++split) {
    auto codec = DeflateCodec();
    auto d = DecodeChunks(*codec, {stream.substr(0, split), stream.substr(split)});
    ASSERT_FALSE(d.error) << split;
    EXPECT_EQ(d.messages, (std::vector<std::string>{"Hello", "plain", "Hello", "Hello"})) << split;
    EXPECT_EQ(d.kinds, (std::vector<MessageKind>{MessageKind::kText, MessageKind::kText,
                                                 MessageKind::kText, MessageKind::kBinary}))
        << split;
  }
}

TEST(WebSocketDeflateTest, Violations) {
  auto code = [](const std::string& bytes, size_t max = 1 << 20) {
    auto codec = DeflateCodec(max);
    auto d = DecodeChunks(*codec, {bytes});
    return d.error ? d.error_code : 0;
  };
  EXPECT_EQ(code(ClientFrame(0x41, kHello.substr(0, 3)) + ClientFrame(0xC0, kHello.substr(3))),
            1002);                                           // RSV1 on a continuation
  EXPECT_EQ(code(ClientFrame(0xC9, "")), 1002);              // RSV1 on a ping
  EXPECT_EQ(code(ClientFrame(0xA1, "x")), 1002);             // RSV2
  EXPECT_EQ(code(ClientFrame(0x91, "x")), 1002);             // RSV3
  EXPECT_EQ(code(ClientFrame(0xC1, "\xff\xff\xff")), 1007);  // not DEFLATE data
  // Compressed text that inflates to invalid UTF-8.
  MessageDeflater deflater(15, false);
  std::string bad;
  ASSERT_TRUE(deflater.Deflate("ok \xc0\x80", bad));
  EXPECT_EQ(code(ClientFrame(0xC1, bad)), 1007);
  // A deflate bomb: 16 MiB of zeros in under 128 KiB, against a 1 MiB limit.
  MessageDeflater bomber(15, false);
  std::string bomb;
  ASSERT_TRUE(bomber.Deflate(std::string(16 << 20, '\0'), bomb));
  ASSERT_LT(bomb.size(), 128u << 10);
  EXPECT_EQ(code(ClientFrame(0xC2, bomb)), 1009);
}

TEST(WebSocketDeflateTest, NoFramingForMessagesToCompress) {
  auto codec = OpenCodec(1 << 20, DeflateOn(), WithOffer("permessage-deflate"));
  ASSERT_TRUE(codec->deflate());
  std::string prefix, suffix;
  EXPECT_FALSE(codec->EncodeFraming(std::string(1000, 'z'), MessageKind::kText, prefix, suffix));
  EXPECT_TRUE(
      codec->EncodeFraming("short", MessageKind::kText, prefix, suffix));  // under kMinDeflateSize
  EXPECT_EQ(prefix, "\x81\x05");
}

TEST(WebSocketDeflateTest, LargeMessagesAreSentCompressed) {
  auto codec = DeflateCodec();
  std::string message;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&message, "{\"seq\":", i, "}");
  std::string out;
  codec->EncodeMessage(false, message, out);
  ASSERT_EQ(static_cast<unsigned char>(out[0]), 0xC1);  // FIN | RSV1 | text
  ASSERT_LT(out.size(), message.size() / 2);
  size_t header = (out[1] & 0x7F) == 126 ? 4 : 2;
  MessageInflater inflater(false);
  std::string back;
  ASSERT_EQ(inflater.Inflate(absl::string_view(out).substr(header), true, 1 << 20, back),
            MessageInflater::Result::kOk);
  EXPECT_EQ(back, message);
  // Short messages are not worth it.
  out.clear();
  codec->EncodeMessage(true, "tiny", out);
  EXPECT_EQ(out, "\x82\x04tiny");
}

TEST(Utf8ValidatorTest, AcceptsAnySplitOfValidText) {
  std::string text = "aé€😀z";
  for (size_t split = 0; split <= text.size(); ++split) {
    Utf8Validator v;
    EXPECT_TRUE(v.Feed(text.substr(0, split)));
    EXPECT_TRUE(v.Feed(text.substr(split)));
    EXPECT_TRUE(v.Complete());
  }
}

}  // namespace
}  // namespace sockman
