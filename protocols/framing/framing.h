// Config framings (`framing { ... }`, docs/protocols.md#framings): the
// common shapes of device protocols as one codec driven by a FramingSpec, so
// a wire format needs a config block instead of a C++ build.
//
//   length field:  [header: magic, ..., length, ...][payload][check]
//   delimiter:     [opening delimiter][escaped: magic ... payload check][delimiter]
//   fixed:         [size bytes: magic ... payload check]
//
// A frame's first `strip` bytes are cut before delivery; encode writes
// them back from `header` (with the length field filled in) and appends the
// check. Every error (a frame over max_frame, a bad magic, a failed check, an
// invalid escape) is a protocol error of that connection alone; no frame is
// buffered past max_frame.
//
// Over UDP (`datagram`), a datagram is exactly one frame: its delimiters
// are optional and a length field must match its size.
#ifndef SOCKMAN_PROTOCOLS_FRAMING_FRAMING_H_
#define SOCKMAN_PROTOCOLS_FRAMING_FRAMING_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocols/protocol.h"

namespace sockman {

enum class FramingCheckKind : uint8_t {
  kNone,
  kCrc16Ccitt,   // CRC-16/CCITT-FALSE: poly 0x1021, init 0xffff ("123456789" -> 0x29b1)
  kCrc16Xmodem,  // poly 0x1021, init 0 (0x31c3)
  kCrc16Modbus,  // poly 0x8005 reflected, init 0xffff (0x4b37)
  kCrc32,        // IEEE 802.3, zlib's (0xcbf43926)
  kXor,          // XOR of the bytes (one byte)
  kSum8,         // their sum modulo 256 (one byte)
};

// The check's size on the wire: 0, 1, 2 or 4 bytes.
size_t CheckSize(FramingCheckKind kind);
// The check of `data` (fits in CheckSize bytes).
uint32_t ComputeCheck(FramingCheckKind kind, absl::string_view data);

// A problem in a framing's settings: the field ("length_field.size") and
// what is wrong with it.
struct FramingSpecError {
  std::string field;
  std::string message;
};

struct FramingSpec {
  enum class Kind : uint8_t { kLengthField, kDelimiter, kFixed };
  Kind kind = Kind::kLengthField;

  // kLengthField: where the length is and what it counts.
  uint32_t length_offset = 0;
  uint32_t length_size = 4;  // 1, 2, 3, 4 or 8
  bool length_little = false;
  bool counts_whole_frame = false;  // else the bytes after the field
  int64_t adjustment = 0;           // added to the field's value

  // kDelimiter.
  std::vector<std::string> delimiters;  // encode writes the first
  bool keep_delimiter = false;
  bool opening = false;  // frames start with a delimiter too; empty frames skipped
  bool escaping = false;
  uint8_t escape = 0;
  // With escaping: the raw byte each code after `escape` stands for (-1:
  // not a code), and the code each raw byte is sent as (-1: sent as is).
  std::array<int16_t, 256> unescaped{};
  std::array<int16_t, 256> escaped{};

  // kFixed.
  uint32_t fixed_size = 0;

  std::string magic;
  FramingCheckKind check = FramingCheckKind::kNone;
  uint32_t check_from = 0;
  bool check_little = false;
  uint32_t strip = 0;
  // What encode writes for the stripped bytes: `strip` bytes (the length
  // field's place zeroed).
  std::string header;
  // The largest frame, its framing included, decoded or encoded.
  uint64_t max_frame = 10 * 1024 * 1024;
  bool datagram = false;

  // The frame sizes the length field can express, given its size and
  // adjustment (what max_frame may be at most).
  uint64_t MaxExpressible() const;
  // The smallest valid frame's content: header, magic, check.
  uint64_t MinFrame() const;
  // Checks the spec and completes it (header padded to strip, max_frame
  // bounded by what the length field expresses); the first problem, if any.
  std::optional<FramingSpecError> Finish();
};

// One FramingSpec for one service (or declared framing), shared by the
// codecs of all its connections.
class FramingOptions final : public ProtocolOptions {
 public:
  explicit FramingOptions(FramingSpec spec) : spec_(std::move(spec)) {}
  const FramingSpec& spec() const { return spec_; }

 private:
  FramingSpec spec_;
};

class FramingCodec final : public Codec {
 public:
  // `spec` must have been Finish()ed and outlive the codec.
  FramingCodec(const FramingSpec& spec, size_t max_package_size);

  DecodeResult Decode(absl::string_view input) override;
  DecodeResult DecodeInPlace(absl::Span<char> input) override;
  void Encode(absl::string_view message, MessageKind kind, std::string& out) override;
  bool EncodeFraming(absl::string_view message, MessageKind kind, std::string& prefix,
                     std::string& suffix) override;
  bool Encodable(absl::string_view message, MessageKind kind) const override;

 private:
  // `writable`: the same bytes as `input`, which may be rewritten (unescaped
  // in place); null when they must not be.
  DecodeResult DecodeFrom(absl::string_view input, char* writable);
  DecodeResult DecodeLength(absl::string_view input);
  DecodeResult DecodeDelimited(absl::string_view input, char* writable);
  DecodeResult DecodeFixed(absl::string_view input);
  // Checks magic and check of a whole frame `frame` (already unescaped)
  // and returns it as the message, `consumed` bytes of input.
  DecodeResult Deliver(absl::string_view frame, size_t consumed);
  // The earliest delimiter in `input` at or after `from`: its position and
  // size, or npos.
  std::pair<size_t, size_t> FindDelimiter(absl::string_view input, size_t from) const;
  size_t EscapedSize(absl::string_view bytes) const;
  void AppendEscaped(absl::string_view bytes, std::string& out) const;
  // The length field's value for a frame of `total` bytes.
  void PutLength(uint64_t total, char* field) const;
  void AppendCheck(uint32_t check, std::string& out) const;
  // The bytes a message's frame carries before it (the stripped header, with
  // its length field), appended to `out`.
  void AppendHeader(uint64_t total, std::string& out) const;

  const FramingSpec& spec_;
  uint64_t max_;        // spec.max_frame, bounded by max_package_size
  uint64_t min_frame_;  // spec.MinFrame()
  // Length fields: the field's end, what to add to its value for the frame's
  // size, and 2 or 4 for a plain big-endian field with nothing else to check
  // (the fast path), else 0.
  size_t field_end_ = 0;
  int64_t length_delta_ = 0;
  uint32_t fast_length_ = 0;
  size_t check_size_;           // CheckSize(spec.check)
  size_t scanned_ = 0;          // delimiter: bytes searched before, from the input's start
  size_t max_delimiter_ = 0;    // the longest delimiter
  std::string scratch_;         // Decode (not in place): an unescaped frame
  std::string encode_scratch_;  // Encode: a frame before it is escaped
};

class FramingProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "framing"; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const override;
  const ProtocolTraits& traits() const override;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_FRAMING_FRAMING_H_
