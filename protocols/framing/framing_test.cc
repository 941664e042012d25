#include "protocols/framing/framing.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "protocols/testing/codec_testing.h"

namespace sockman {
namespace {

using testing::DecodeChunks;
using testing::Decoded;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

FramingSpec Finished(FramingSpec spec) {
  std::optional<FramingSpecError> error = spec.Finish();
  EXPECT_FALSE(error.has_value()) << error->field << ": " << error->message;
  return spec;
}

// A 2-byte big-endian length that counts the payload only (not itself).
FramingSpec TwoByteLength() {
  FramingSpec spec;
  spec.length_size = 2;
  spec.strip = 2;
  return Finished(spec);
}

// 0x7e ... 0x7e frames with 0x7d byte stuffing: each rule is {raw, code}.
FramingSpec Stuffed7e(std::initializer_list<std::pair<int, int>> rules, FramingCheckKind check) {
  FramingSpec spec;
  spec.kind = FramingSpec::Kind::kDelimiter;
  spec.delimiters = {"\x7e"};
  spec.opening = true;
  spec.escaping = true;
  spec.escape = 0x7d;
  spec.escaped.fill(-1);
  spec.unescaped.fill(-1);
  for (auto [raw, code] : rules) {
    spec.escaped[raw] = static_cast<int16_t>(code);
    spec.unescaped[code] = static_cast<int16_t>(raw);
  }
  spec.check = check;
  return Finished(spec);
}

// JT808: 0x7e and 0x7d escaped as 0x7d 0x02 / 0x7d 0x01, an XOR check over
// the unescaped frame before the closing 0x7e.
FramingSpec Jt808() { return Stuffed7e({{0x7e, 0x02}, {0x7d, 0x01}}, FramingCheckKind::kXor); }

// Modbus-style: magic 0xaa 0x55, a 2-byte little-endian payload length,
// payload, CRC-16/MODBUS (little-endian) over everything before it.
FramingSpec ModbusStyle() {
  FramingSpec spec;
  spec.magic = Bytes({0xaa, 0x55});
  spec.length_offset = 2;
  spec.length_size = 2;
  spec.length_little = true;
  spec.adjustment = 2;  // the CRC follows the counted payload
  spec.check = FramingCheckKind::kCrc16Modbus;
  spec.check_little = true;
  spec.strip = 4;
  return Finished(spec);
}

// Workerman's frame: a 4-byte length that counts the whole frame.
FramingSpec WorkermanFrame() {
  FramingSpec spec;
  spec.counts_whole_frame = true;
  spec.strip = 4;
  return Finished(spec);
}

FramingSpec TypeByteThenLength() {
  FramingSpec spec;
  spec.length_offset = 1;
  spec.length_size = 1;
  spec.strip = 2;
  spec.header = "\x05";
  return Finished(spec);
}

FramingSpec ThreeByteLittleLength() {
  FramingSpec spec;
  spec.length_size = 3;
  spec.length_little = true;
  spec.strip = 3;
  spec.check = FramingCheckKind::kCrc32;
  return Finished(spec);
}

FramingSpec EightByteLength() {
  FramingSpec spec;
  spec.length_size = 8;
  spec.strip = 8;
  spec.check = FramingCheckKind::kCrc16Ccitt;
  spec.check_from = 8;  // the payload only
  return Finished(spec);
}

FramingSpec HeaderKept() {  // strip 0: handlers see (and send) the header
  FramingSpec spec;
  spec.length_size = 2;
  spec.counts_whole_frame = true;
  spec.strip = 0;
  spec.check = FramingCheckKind::kSum8;
  return Finished(spec);
}

FramingSpec FixedRecords() {
  FramingSpec spec;
  spec.kind = FramingSpec::Kind::kFixed;
  spec.fixed_size = 8;
  spec.magic = "M";
  spec.check = FramingCheckKind::kSum8;
  spec.strip = 1;
  return Finished(spec);
}

FramingSpec Lines() {  // "\r\n" or "\n"
  FramingSpec spec;
  spec.kind = FramingSpec::Kind::kDelimiter;
  spec.delimiters = {"\r\n", "\n"};
  return Finished(spec);
}

FramingSpec HdlcLike() {  // 0x7d escapes with XOR 0x20, CRC-16/XMODEM
  return Stuffed7e({{0x7e, 0x5e}, {0x7d, 0x5d}}, FramingCheckKind::kCrc16Xmodem);
}

std::string EncodeAll(FramingCodec& codec, const std::vector<std::string>& messages,
                      bool framing_path) {
  std::string wire;
  for (const std::string& m : messages) {
    EXPECT_TRUE(codec.Encodable(m, MessageKind::kBinary));
    std::string prefix, suffix;
    if (framing_path && codec.EncodeFraming(m, MessageKind::kBinary, prefix, suffix)) {
      wire += prefix + m + suffix;
    } else {
      codec.Encode(m, MessageKind::kBinary, wire);
    }
  }
  return wire;
}

struct Case {
  const char* name;
  std::function<FramingSpec()> spec;
  std::vector<std::string> messages;
};

std::vector<Case> Cases() {
  std::string binary = Bytes({0x00, 0x7e, 0x7d, 0xff, 0x0a, 0x0d, 0x7e, 0x7e});
  return {
      {"two_byte_length", TwoByteLength, {"hello", "", binary, std::string(300, 'x')}},
      {"jt808", Jt808, {"hello", binary, "\x7e", "\x7d", std::string(70, '\x7e')}},
      {"modbus_style", ModbusStyle, {Bytes({0x01, 0x03, 0x00, 0x00, 0x00, 0x0a}), "", binary}},
      {"workerman_frame", WorkermanFrame, {"a", "", binary}},
      {"type_byte", TypeByteThenLength, {"abc", "", std::string(250, 'y')}},
      {"three_byte_little", ThreeByteLittleLength, {"abc", binary, std::string(70000, 'z')}},
      {"eight_byte", EightByteLength, {"abc", "", binary}},
      {"header_kept", HeaderKept, {Bytes({0, 6, 'a', 'b', 'c'}), Bytes({0, 3})}},  // + the check
      {"fixed", FixedRecords, {"123456", "abcdef"}},
      {"lines", Lines, {"one", "", "three"}},
      {"hdlc", HdlcLike, {"x", binary, std::string(3, '\x7d')}},
  };
}

// Every case: encoded back to back, decoded whole, byte by byte, split at
// every boundary into two reads, and at random.
TEST(FramingCodecTest, DecodesWhatItEncodesHoweverTheBytesArrive) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    FramingSpec spec = c.spec();
    for (bool framing_path : {false, true}) {
      FramingCodec encoder(spec, 1 << 20);
      std::string wire = EncodeAll(encoder, c.messages, framing_path);
      std::vector<std::vector<std::string>> splits = {{wire}};
      std::vector<std::string> bytes;
      for (char ch : wire) bytes.emplace_back(1, ch);
      splits.push_back(bytes);
      for (size_t at = 1; at < wire.size() && wire.size() < 2000; ++at) {
        splits.push_back({wire.substr(0, at), wire.substr(at)});
      }
      for (unsigned seed = 0; seed < 5; ++seed) splits.push_back(testing::RandomChunks(wire, seed));
      for (const auto& chunks : splits) {
        FramingCodec decoder(spec, 1 << 20);
        Decoded d = DecodeChunks(decoder, chunks);
        ASSERT_FALSE(d.error) << "chunks: " << chunks.size();
        EXPECT_EQ(d.leftover, 0u);
        ASSERT_EQ(d.messages.size(), c.messages.size()) << "chunks: " << chunks.size();
        for (size_t i = 0; i < c.messages.size(); ++i) {
          std::string expected = c.messages[i];
          if (spec.kind == FramingSpec::Kind::kFixed) expected.resize(6, '\0');
          EXPECT_EQ(d.messages[i], expected) << i;
        }
      }
      // Decode (not in place) gives the same messages.
      FramingCodec copying(spec, 1 << 20);
      std::string rest = wire;
      size_t n = 0;
      for (;;) {
        DecodeResult r = copying.Decode(rest);
        if (r.status == DecodeStatus::kNeedMore) break;
        ASSERT_NE(r.status, DecodeStatus::kError) << r.reason;
        if (r.status == DecodeStatus::kMessage) ++n;
        rest.erase(0, r.consumed);
      }
      EXPECT_EQ(n, c.messages.size());
    }
  }
}

TEST(FramingCodecTest, KnownWireForms) {
  // The JT808 manual's escaping example: 0x30 0x7e 0x08 0x7d 0x55.
  FramingSpec jt808 = Jt808();
  FramingCodec codec(jt808, 1 << 20);
  std::string out;
  std::string body = Bytes({0x30, 0x7e, 0x08, 0x7d, 0x55});
  codec.Encode(body, MessageKind::kBinary, out);
  int check = 0x30 ^ 0x7e ^ 0x08 ^ 0x7d ^ 0x55;
  EXPECT_EQ(out, Bytes({0x7e, 0x30, 0x7d, 0x02, 0x08, 0x7d, 0x01, 0x55, check, 0x7e}));

  // Modbus RTU's classic request 01 03 00 00 00 0a has CRC c5 cd.
  EXPECT_EQ(ComputeCheck(FramingCheckKind::kCrc16Modbus, Bytes({1, 3, 0, 0, 0, 0x0a})), 0xcdc5u);
  // The catalogue check values over "123456789".
  EXPECT_EQ(ComputeCheck(FramingCheckKind::kCrc16Ccitt, "123456789"), 0x29b1u);
  EXPECT_EQ(ComputeCheck(FramingCheckKind::kCrc16Xmodem, "123456789"), 0x31c3u);
  EXPECT_EQ(ComputeCheck(FramingCheckKind::kCrc16Modbus, "123456789"), 0x4b37u);
  EXPECT_EQ(ComputeCheck(FramingCheckKind::kCrc32, "123456789"), 0xcbf43926u);
  EXPECT_EQ(ComputeCheck(FramingCheckKind::kSum8, "123456789"), 0xddu);
  EXPECT_EQ(ComputeCheck(FramingCheckKind::kXor, "123456789"), 0x31u);

  FramingSpec modbus = ModbusStyle();
  FramingCodec m(modbus, 1 << 20);
  out.clear();
  m.Encode("hi", MessageKind::kBinary, out);
  std::string frame = Bytes({0xaa, 0x55, 0x02, 0x00}) + "hi";
  uint32_t crc = ComputeCheck(FramingCheckKind::kCrc16Modbus, frame);
  EXPECT_EQ(out, frame + Bytes({static_cast<int>(crc & 0xff), static_cast<int>(crc >> 8)}));

  FramingSpec typed = TypeByteThenLength();
  FramingCodec t(typed, 1 << 20);
  out.clear();
  t.Encode("abc", MessageKind::kBinary, out);
  EXPECT_EQ(out, Bytes({0x05, 0x03}) + "abc");

  FramingSpec whole = WorkermanFrame();
  FramingCodec w(whole, 1 << 20);
  out.clear();
  w.Encode("abc", MessageKind::kBinary, out);
  EXPECT_EQ(out, Bytes({0, 0, 0, 7}) + "abc");
}

Decoded DecodeWith(const FramingSpec& spec, const std::vector<std::string>& chunks,
                   size_t max_package = 1 << 20) {
  FramingCodec codec(spec, max_package);
  return DecodeChunks(codec, chunks);
}

TEST(FramingCodecTest, EveryErrorClosesWithItsKind) {
  struct ErrorCase {
    const char* name;
    FramingSpec spec;
    std::string input;
    ProtocolError kind;
  };
  FramingSpec small = TwoByteLength();
  small.max_frame = 100;
  ASSERT_FALSE(small.Finish().has_value());
  FramingSpec short_lines = Lines();
  short_lines.max_frame = 10;
  ASSERT_FALSE(short_lines.Finish().has_value());
  FramingSpec whole = WorkermanFrame();
  std::vector<ErrorCase> cases = {
      // Refused from the header alone, before the payload is buffered.
      {"over_max_from_header", small, Bytes({0, 99}), ProtocolError::kTooLarge},
      {"line_over_max", short_lines, "0123456789", ProtocolError::kTooLarge},
      {"length_below_header", whole, Bytes({0, 0, 0, 3}), ProtocolError::kMalformed},
      {"bad_magic_at_first_byte", ModbusStyle(), "\xab", ProtocolError::kMalformed},
      {"bad_magic_second_byte", ModbusStyle(), Bytes({0xaa, 0x56}), ProtocolError::kMalformed},
      {"bad_crc", ModbusStyle(), Bytes({0xaa, 0x55, 1, 0, 'x', 0, 0}), ProtocolError::kMalformed},
      {"bad_xor", Jt808(), Bytes({0x7e, 'a', 'b', 0x00, 0x7e}), ProtocolError::kMalformed},
      {"escape_at_end", Jt808(), Bytes({0x7e, 'a', 0x7d, 0x7e}), ProtocolError::kMalformed},
      {"invalid_escape", Jt808(), Bytes({0x7e, 'a', 0x7d, 0x03, 'a', 0x7e}),
       ProtocolError::kMalformed},
      {"frame_shorter_than_check", Jt808(), Bytes({0x7e, 0x7e, 0x7e}), ProtocolError::kNone},
      {"fixed_bad_magic", FixedRecords(), "N1234567", ProtocolError::kMalformed},
      {"fixed_bad_sum", FixedRecords(), "M1234567", ProtocolError::kMalformed},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    // Whole, and one byte at a time: the same verdict.
    std::vector<std::string> bytes;
    for (char ch : c.input) bytes.emplace_back(1, ch);
    for (const auto& chunks : {std::vector<std::string>{c.input}, bytes}) {
      Decoded d = DecodeWith(c.spec, chunks);
      if (c.kind == ProtocolError::kNone) {  // not an error: nothing delivered
        EXPECT_FALSE(d.error);
        EXPECT_TRUE(d.messages.empty());
        continue;
      }
      EXPECT_TRUE(d.error);
      EXPECT_EQ(d.error_kind, c.kind);
      EXPECT_TRUE(d.messages.empty());
    }
  }
  // A frame with a single-byte payload is too short for JT808's check only
  // when empty: 0x7e 0x00 0x7e is an empty message with check 0.
  Decoded d = DecodeWith(Jt808(), {Bytes({0x7e, 0x00, 0x7e})});
  ASSERT_FALSE(d.error);
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0], "");
  // Too short for its check: 0x7e 0x7e (empty frames) are skipped; a
  // frame without room for the check is an error.
  FramingSpec crc_lines = Lines();
  crc_lines.check = FramingCheckKind::kCrc16Ccitt;
  ASSERT_FALSE(crc_lines.Finish().has_value());
  d = DecodeWith(crc_lines, {"a\n"});
  EXPECT_TRUE(d.error);
}

TEST(FramingCodecTest, NothingIsBufferedPastTheLimit) {
  FramingSpec lines = Lines();
  lines.max_frame = 64;
  ASSERT_FALSE(lines.Finish().has_value());
  FramingCodec codec(lines, 1 << 20);
  std::string pending;
  for (int i = 0; i < 200; ++i) {
    pending.push_back('x');
    DecodeResult r = codec.DecodeInPlace(absl::MakeSpan(pending));
    if (r.status == DecodeStatus::kError) {
      EXPECT_EQ(r.error, ProtocolError::kTooLarge);
      EXPECT_LE(pending.size(), 64u);
      return;
    }
    ASSERT_EQ(r.status, DecodeStatus::kNeedMore);
  }
  FAIL() << "no error after 200 bytes without a delimiter";
}

TEST(FramingCodecTest, OpeningDelimitersAloneAreDropped) {
  FramingSpec spec = Jt808();
  FramingCodec codec(spec, 1 << 20);
  std::string pending(100, '\x7e');
  DecodeResult r = codec.DecodeInPlace(absl::MakeSpan(pending));
  ASSERT_EQ(r.status, DecodeStatus::kConsumed);
  EXPECT_EQ(r.consumed, 100u);
}

TEST(FramingCodecTest, MultiByteDelimiterSplitAcrossReads) {
  FramingSpec spec;
  spec.kind = FramingSpec::Kind::kDelimiter;
  spec.delimiters = {"END"};
  spec = Finished(spec);
  Decoded d = DecodeWith(spec, {"abcE", "N", "DdefEN", "Dx"});
  ASSERT_FALSE(d.error);
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(d.messages[0], "abc");
  EXPECT_EQ(d.messages[1], "def");
  EXPECT_EQ(d.leftover, 1u);
}

TEST(FramingCodecTest, KeepDeliversTheDelimiterAndEncodeDoesNotDoubleIt) {
  FramingSpec spec = Lines();
  spec.keep_delimiter = true;
  spec = Finished(spec);
  Decoded d = DecodeWith(spec, {"a\r\nb\n"});
  ASSERT_EQ(d.messages.size(), 2u);
  EXPECT_EQ(d.messages[0], "a\r\n");
  EXPECT_EQ(d.messages[1], "b\n");
  FramingCodec codec(spec, 1 << 20);
  std::string out;
  codec.Encode("a\r\n", MessageKind::kBinary, out);
  codec.Encode("b", MessageKind::kBinary, out);
  EXPECT_EQ(out, "a\r\nb\r\n");
}

TEST(FramingCodecTest, DatagramsAreOneFrameEach) {
  FramingSpec spec = TwoByteLength();
  spec.datagram = true;
  Decoded d = DecodeWith(spec, {Bytes({0, 2}) + "ab"});
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0], "ab");
  d = DecodeWith(spec, {Bytes({0, 2}) + "abc"});  // trailing byte
  EXPECT_TRUE(d.error);
  d = DecodeWith(spec, {Bytes({0, 3}) + "ab"});  // truncated
  EXPECT_TRUE(d.error);
  d = DecodeWith(spec, {Bytes({0})});
  EXPECT_TRUE(d.error);

  FramingSpec lines = Lines();
  lines.datagram = true;
  d = DecodeWith(lines, {"no newline"});
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0], "no newline");
  d = DecodeWith(lines, {"with\r\n"});
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0], "with");

  FramingSpec jt = Jt808();
  jt.datagram = true;
  d = DecodeWith(jt, {Bytes({0x7e, 'a', 'a' ^ 0, 0x7e})});
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0], "a");
  FramingSpec fixed = FixedRecords();
  fixed.datagram = true;
  d = DecodeWith(fixed, {"M1234"});
  EXPECT_TRUE(d.error);
}

TEST(FramingCodecTest, MessagesTheFramingCannotCarryAreNotEncodable) {
  FramingSpec typed = TypeByteThenLength();  // a 1-byte length: 255 at most
  FramingCodec codec(typed, 1 << 20);
  EXPECT_TRUE(codec.Encodable(std::string(255, 'x'), MessageKind::kBinary));
  EXPECT_FALSE(codec.Encodable(std::string(256, 'x'), MessageKind::kBinary));
  FramingSpec records = FixedRecords();
  FramingCodec fixed(records, 1 << 20);
  EXPECT_TRUE(fixed.Encodable("123456", MessageKind::kBinary));
  EXPECT_FALSE(fixed.Encodable("1234567", MessageKind::kBinary));
  FramingSpec small = TwoByteLength();
  small.max_frame = 10;
  ASSERT_FALSE(small.Finish().has_value());
  FramingCodec limited(small, 1 << 20);
  EXPECT_TRUE(limited.Encodable("12345678", MessageKind::kBinary));
  EXPECT_FALSE(limited.Encodable("123456789", MessageKind::kBinary));
  // max_package_size bounds it too.
  FramingSpec two = TwoByteLength();
  FramingCodec package(two, 6);
  EXPECT_FALSE(package.Encodable("12345", MessageKind::kBinary));
}

TEST(FramingSpecTest, RefusesWhatCannotWork) {
  struct Bad {
    const char* field;
    std::function<void(FramingSpec&)> edit;
  };
  std::vector<Bad> bad = {
      {"length_field.size", [](FramingSpec& s) { s.length_size = 5; }},
      {"strip", [](FramingSpec& s) { s.strip = 2; }},  // cuts the 4-byte field in half
      {"magic",
       [](FramingSpec& s) {
         s.magic = "ab";
         s.length_offset = 1;
         s.strip = 5;
       }},
      {"header",
       [](FramingSpec& s) {
         s.magic = "ab";
         s.length_offset = 2;
         s.strip = 6;
         s.header = "xy";
       }},
      {"delimiter.delimiter", [](FramingSpec& s) { s.kind = FramingSpec::Kind::kDelimiter; }},
      {"delimiter.escape",
       [](FramingSpec& s) {
         s.kind = FramingSpec::Kind::kDelimiter;
         s.delimiters = {"\x7e"};
         s.escaping = true;
         s.escape = 0x7d;
         s.escaped.fill(-1);
         s.unescaped.fill(-1);
       }},
      {"delimiter.keep",
       [](FramingSpec& s) {
         s.kind = FramingSpec::Kind::kDelimiter;
         s.delimiters = {"\n"};
         s.keep_delimiter = true;
         s.check = FramingCheckKind::kXor;
       }},
      {"fixed.size",
       [](FramingSpec& s) {
         s.kind = FramingSpec::Kind::kFixed;
         s.fixed_size = 2;
         s.check = FramingCheckKind::kCrc32;
       }},
      {"max_frame_length", [](FramingSpec& s) { s.max_frame = 4; }},
  };
  for (const Bad& b : bad) {
    FramingSpec spec;
    spec.strip = 4;
    b.edit(spec);
    std::optional<FramingSpecError> error = spec.Finish();
    ASSERT_TRUE(error.has_value()) << b.field;
    EXPECT_EQ(error->field, b.field);
  }
}

TEST(FramingSpecTest, MaxFrameIsWhatTheLengthFieldCanSay) {
  FramingSpec spec;
  spec.length_size = 1;
  spec.strip = 1;
  ASSERT_FALSE(spec.Finish().has_value());
  EXPECT_EQ(spec.max_frame, 256u);  // 255 after the 1-byte field
  FramingSpec whole;
  whole.length_size = 2;
  whole.counts_whole_frame = true;
  whole.strip = 2;
  ASSERT_FALSE(whole.Finish().has_value());
  EXPECT_EQ(whole.max_frame, 65535u);
}

}  // namespace
}  // namespace sockman
