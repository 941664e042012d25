// Fuzz target for config framings: the first bytes choose a framing (kind,
// length field, delimiters, escaping, magic, check, strip, limits), the rest
// are both hostile input and messages. Checks the contract:
// - decoding any bytes, in any chunks, never buffers a frame past the
//   framing's maximum (a kNeedMore always holds less than max_frame);
// - every message the codec calls encodable decodes back to itself, in
//   chunks, and nothing else (for unescaped delimiters: unless its frame
//   holds a delimiter, which no such framing can carry).
//
// Built with libFuzzer by //protocols/framing:framing_fuzz_test and replayed
// over the seed corpus by //protocols/framing:framing_fuzz_replay_test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocols/framing/framing.h"

namespace sockman {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::string Bytes(size_t n) {
    std::string s;
    while (n-- > 0 && at_ < size_) s.push_back(static_cast<char>(data_[at_++]));
    return s;
  }
  std::string Rest() { return Bytes(size_ - at_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

FramingSpec SpecFrom(Reader& in) {
  FramingSpec spec;
  uint8_t kind = in.Byte() % 3;
  uint8_t flags = in.Byte();
  spec.kind = kind == 0   ? FramingSpec::Kind::kLengthField
              : kind == 1 ? FramingSpec::Kind::kDelimiter
                          : FramingSpec::Kind::kFixed;
  static constexpr uint32_t kSizes[] = {1, 2, 3, 4, 8};
  spec.length_size = kSizes[in.Byte() % 5];
  spec.length_offset = in.Byte() % 6;
  spec.length_little = flags & 1;
  spec.counts_whole_frame = flags & 2;
  spec.adjustment = static_cast<int8_t>(in.Byte()) % 16;
  size_t delimiters = 1 + in.Byte() % 3;
  for (size_t i = 0; i < delimiters; ++i) spec.delimiters.push_back(in.Bytes(1 + in.Byte() % 3));
  spec.opening = flags & 4;
  spec.keep_delimiter = flags & 8;
  if (flags & 16) {
    spec.escaping = true;
    spec.escape = in.Byte();
    spec.escaped.fill(-1);
    spec.unescaped.fill(-1);
    size_t rules = in.Byte() % 4;
    for (size_t i = 0; i < rules; ++i) {
      uint8_t raw = in.Byte(), code = in.Byte();
      if (spec.escaped[raw] < 0 && spec.unescaped[code] < 0) {
        spec.escaped[raw] = code;
        spec.unescaped[code] = raw;
      }
    }
  }
  spec.fixed_size = 1 + in.Byte() % 32;
  spec.magic = in.Bytes(in.Byte() % 3);
  static constexpr FramingCheckKind kChecks[] = {
      FramingCheckKind::kNone,        FramingCheckKind::kCrc16Ccitt, FramingCheckKind::kCrc16Xmodem,
      FramingCheckKind::kCrc16Modbus, FramingCheckKind::kCrc32,      FramingCheckKind::kXor,
      FramingCheckKind::kSum8};
  spec.check = kChecks[in.Byte() % 7];
  spec.check_from = in.Byte() % 8;
  spec.check_little = flags & 32;
  spec.strip = in.Byte() % 12;
  spec.header = in.Bytes(in.Byte() % 4);
  spec.max_frame = 1 + in.Byte() * 4;
  spec.datagram = flags & 64;
  return spec;
}

// Decodes `input` in chunks of `step` bytes, as a connection would; the
// messages, or false at an error.
bool DecodeAll(const FramingSpec& spec, const std::string& input, size_t step,
               std::vector<std::string>& messages) {
  FramingCodec codec(spec, 1 << 20);
  std::string pending;
  size_t at = 0;
  while (at < input.size() || !pending.empty()) {
    if (spec.datagram) {  // a datagram arrives whole
      pending = input;
      at = input.size();
    } else if (at < input.size()) {
      size_t n = std::min(step, input.size() - at);
      pending.append(input, at, n);
      at += n;
    }
    for (;;) {
      DecodeResult r = codec.DecodeInPlace(absl::MakeSpan(pending));
      if (r.status == DecodeStatus::kError) {
        Check(r.reason != nullptr && r.reason[0] != '\0');
        return false;
      }
      if (r.status == DecodeStatus::kNeedMore) {
        Check(pending.size() < spec.max_frame || pending.empty());
        break;
      }
      Check(r.consumed > 0 && r.consumed <= pending.size());
      if (r.status == DecodeStatus::kMessage) {
        Check(r.message.size() <= spec.max_frame);
        messages.emplace_back(r.message);
      }
      pending.erase(0, r.consumed);
    }
    if (spec.datagram) return true;  // the rest of a datagram is dropped
    if (at >= input.size()) break;
  }
  return true;
}

bool HoldsDelimiter(const FramingSpec& spec, absl::string_view body) {
  for (const std::string& d : spec.delimiters) {
    if (body.find(d) != absl::string_view::npos) return true;
  }
  return false;
}

}  // namespace
}  // namespace sockman

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sockman;
  Reader in(data, size);
  FramingSpec spec = SpecFrom(in);
  if (spec.Finish().has_value()) return 0;
  size_t step = 1 + in.Byte() % 9;
  std::string rest = in.Rest();

  // Hostile bytes.
  std::vector<std::string> ignored;
  DecodeAll(spec, rest, step, ignored);

  // The same bytes as a message: encoded, decoded back.
  FramingCodec codec(spec, 1 << 20);
  const std::string& message = rest;
  if (!codec.Encodable(message, MessageKind::kBinary)) return 0;
  std::string wire;
  codec.Encode(message, MessageKind::kBinary, wire);
  std::string prefix, suffix;
  if (codec.EncodeFraming(message, MessageKind::kBinary, prefix, suffix)) {
    Check(prefix + message + suffix == wire);  // the same bytes either way
  }
  std::string expected = message;
  bool whole_frame = spec.kind == FramingSpec::Kind::kLengthField && spec.strip == 0;
  if (spec.kind == FramingSpec::Kind::kFixed) {
    expected.resize(spec.fixed_size - spec.strip - CheckSize(spec.check), '\0');
  }
  if (spec.kind == FramingSpec::Kind::kDelimiter && !spec.escaping) {
    // Round trips are checked with single-byte delimiters, for frames
    // that hold none (in the message, magic, header or check): a delimiter
    // inside ends an unescaped frame early, so no such framing carries it.
    for (const std::string& d : spec.delimiters) {
      if (d.size() != 1) return 0;
    }
    absl::string_view body(wire);
    if (spec.opening) body.remove_prefix(1);
    body.remove_suffix(1);  // the closing delimiter (or the kept one)
    if (HoldsDelimiter(spec, body)) return 0;
    if (spec.keep_delimiter && !HoldsDelimiter(spec, message)) expected += spec.delimiters[0];
  }
  for (size_t chunk : {size_t{1}, step, wire.size()}) {
    std::vector<std::string> messages;
    Check(DecodeAll(spec, wire, chunk == 0 ? 1 : chunk, messages));
    Check(messages.size() == 1);
    if (whole_frame) {
      // The codec wrote the length field into the message: encoding what
      // came back gives the same frame again.
      std::string again;
      codec.Encode(messages[0], MessageKind::kBinary, again);
      Check(again == wire);
    } else {
      Check(messages[0] == expected);
    }
  }
  return 0;
}
