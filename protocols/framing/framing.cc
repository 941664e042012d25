#include "protocols/framing/framing.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sockman {

SOCKMAN_REGISTER_PROTOCOL(FramingProtocol);

namespace {

constexpr size_t npos = absl::string_view::npos;

// Table-driven CRC-16s: the MSB-first one (poly 0x1021) and the reflected
// one (poly 0x8005, reflected 0xa001).
struct Crc16Tables {
  uint16_t msb_first[256];
  uint16_t reflected[256];
  Crc16Tables() {
    for (int i = 0; i < 256; ++i) {
      uint16_t a = static_cast<uint16_t>(i << 8);
      uint16_t b = static_cast<uint16_t>(i);
      for (int bit = 0; bit < 8; ++bit) {
        a = static_cast<uint16_t>((a & 0x8000) ? (a << 1) ^ 0x1021 : a << 1);
        b = static_cast<uint16_t>((b & 1) ? (b >> 1) ^ 0xa001 : b >> 1);
      }
      msb_first[i] = a;
      reflected[i] = b;
    }
  }
};

const Crc16Tables& Tables() {
  static const Crc16Tables* tables = new Crc16Tables();
  return *tables;
}

uint32_t InitialCheck(FramingCheckKind kind) {
  switch (kind) {
    case FramingCheckKind::kCrc16Ccitt:
    case FramingCheckKind::kCrc16Modbus:
      return 0xffff;
    default:
      return 0;
  }
}

uint32_t UpdateCheck(FramingCheckKind kind, uint32_t state, absl::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  switch (kind) {
    case FramingCheckKind::kNone:
      return 0;
    case FramingCheckKind::kCrc16Ccitt:
    case FramingCheckKind::kCrc16Xmodem: {
      const uint16_t* table = Tables().msb_first;
      uint16_t crc = static_cast<uint16_t>(state);
      for (size_t i = 0; i < n; ++i) {
        crc = static_cast<uint16_t>((crc << 8) ^ table[((crc >> 8) ^ p[i]) & 0xff]);
      }
      return crc;
    }
    case FramingCheckKind::kCrc16Modbus: {
      const uint16_t* table = Tables().reflected;
      uint16_t crc = static_cast<uint16_t>(state);
      for (size_t i = 0; i < n; ++i)
        crc = static_cast<uint16_t>((crc >> 8) ^ table[(crc ^ p[i]) & 0xff]);
      return crc;
    }
    case FramingCheckKind::kCrc32: {
      uLong crc = state;
      while (n > 0) {  // zlib takes uInt lengths
        uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
      }
      return static_cast<uint32_t>(crc);
    }
    case FramingCheckKind::kXor: {
      uint8_t x = static_cast<uint8_t>(state);
      for (size_t i = 0; i < n; ++i) x ^= p[i];
      return x;
    }
    case FramingCheckKind::kSum8: {
      uint8_t s = static_cast<uint8_t>(state);
      for (size_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + p[i]);
      return s;
    }
  }
  return 0;
}

uint64_t ReadUint(const char* data, size_t size, bool little) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) {
    value = (value << 8) | p[little ? size - 1 - i : i];
  }
  return value;
}

void WriteUint(uint64_t value, size_t size, bool little, char* out) {
  for (size_t i = 0; i < size; ++i) {
    out[little ? i : size - 1 - i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

}  // namespace

size_t CheckSize(FramingCheckKind kind) {
  switch (kind) {
    case FramingCheckKind::kNone:
      return 0;
    case FramingCheckKind::kXor:
    case FramingCheckKind::kSum8:
      return 1;
    case FramingCheckKind::kCrc32:
      return 4;
    default:
      return 2;
  }
}

uint32_t ComputeCheck(FramingCheckKind kind, absl::string_view data) {
  return UpdateCheck(kind, InitialCheck(kind), data);
}

uint64_t FramingSpec::MaxExpressible() const {
  if (kind != Kind::kLengthField) return std::numeric_limits<uint64_t>::max();
  __int128 value_max = length_size >= 8 ? __int128{std::numeric_limits<uint64_t>::max()}
                                        : (__int128{1} << (8 * length_size)) - 1;
  __int128 total = value_max + adjustment + (counts_whole_frame ? 0 : length_offset + length_size);
  if (total < 0) return 0;
  return total > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                      : static_cast<uint64_t>(total);
}

uint64_t FramingSpec::MinFrame() const {
  uint64_t header = std::max<uint64_t>({strip, magic.size(), check_from});
  if (kind == Kind::kLengthField) header = std::max<uint64_t>(header, length_offset + length_size);
  uint64_t least = header + CheckSize(check);
  if (kind == Kind::kLengthField) {
    // A field value of 0 still means this much.
    __int128 zero = __int128{adjustment} + (counts_whole_frame ? 0 : length_offset + length_size);
    if (zero > 0 && static_cast<uint64_t>(zero) > least) least = static_cast<uint64_t>(zero);
  }
  return least;
}

std::optional<FramingSpecError> FramingSpec::Finish() {
  if (kind != Kind::kDelimiter) {  // those settings are the delimiter's alone
    delimiters.clear();
    keep_delimiter = opening = escaping = false;
  }
  switch (kind) {
    case Kind::kLengthField: {
      if (length_size < 1 || (length_size > 4 && length_size != 8)) {
        return FramingSpecError{"length_field.size", "must be 1, 2, 3, 4 or 8"};
      }
      if (length_offset > 1024) {
        return FramingSpecError{"length_field.offset", "must be at most 1024"};
      }
      if (adjustment < -(int64_t{1} << 32) || adjustment > (int64_t{1} << 32)) {
        return FramingSpecError{"length_field.adjustment",
                                "must be between -4294967296 and 4294967296"};
      }
      uint32_t field_end = length_offset + length_size;
      if (strip != 0 && strip < field_end) {
        return FramingSpecError{
            "strip",
            absl::StrCat("must be 0 or at least ", field_end,
                         " (offset + size: the whole length field), so encode can write it")};
      }
      if (!magic.empty() && length_offset < magic.size()) {
        return FramingSpecError{
            "magic", "must fit before the length field (length_field.offset >= its size)"};
      }
      break;
    }
    case Kind::kDelimiter: {
      if (delimiters.empty()) {
        return FramingSpecError{"delimiter.delimiter", "needs at least one byte string"};
      }
      for (const std::string& d : delimiters) {
        if (d.empty() || d.size() > 16) {
          return FramingSpecError{"delimiter.delimiter", "must be 1-16 bytes each"};
        }
      }
      if (keep_delimiter && (escaping || check != FramingCheckKind::kNone || opening)) {
        return FramingSpecError{"delimiter.keep", "does not go with escape, check or opening"};
      }
      if (escaping) {
        for (const std::string& d : delimiters) {
          if (d.size() != 1) {
            return FramingSpecError{"delimiter.escape", "needs single-byte delimiters"};
          }
          if (escaped[static_cast<uint8_t>(d[0])] < 0) {
            return FramingSpecError{"delimiter.escape", "needs a rule for every delimiter byte"};
          }
          if (static_cast<uint8_t>(d[0]) == escape) {
            return FramingSpecError{"delimiter.escape.escape", "may not be a delimiter"};
          }
          if (unescaped[static_cast<uint8_t>(d[0])] >= 0) {
            return FramingSpecError{"delimiter.escape.rule", "a code may not be a delimiter"};
          }
        }
        if (escaped[escape] < 0) {
          return FramingSpecError{"delimiter.escape", "needs a rule for the escape byte itself"};
        }
      }
      break;
    }
    case Kind::kFixed:
      if (fixed_size == 0) return FramingSpecError{"fixed.size", "must be at least 1"};
      if (MinFrame() > fixed_size) {
        return FramingSpecError{"fixed.size", "is smaller than its magic, strip and check"};
      }
      break;
  }
  if (check_from > 1024) return FramingSpecError{"check.from", "must be at most 1024"};
  if (strip > 1024) return FramingSpecError{"strip", "must be at most 1024"};
  if (strip != 0 && strip < magic.size()) {
    return FramingSpecError{"strip", "must be 0 or cover the whole magic"};
  }
  if (magic.size() > 64) return FramingSpecError{"magic", "must be at most 64 bytes"};
  if (header.size() > strip) return FramingSpecError{"header", "must be at most strip bytes long"};
  if (!header.empty() && !absl::StartsWith(header, magic) && strip >= magic.size()) {
    return FramingSpecError{"header", "must start with the magic"};
  }
  if (header.empty()) header = strip >= magic.size() ? magic : std::string();
  header.resize(strip, '\0');
  if (kind == Kind::kLengthField && strip > 0) {
    std::memset(header.data() + length_offset, 0, length_size);
  }
  if (max_frame < MinFrame() + 1 && !(kind == Kind::kFixed)) {
    return FramingSpecError{
        "max_frame_length",
        absl::StrCat("must be larger than the smallest frame (", MinFrame(), " bytes)")};
  }
  if (kind == Kind::kFixed) max_frame = fixed_size;
  max_frame = std::min(max_frame, MaxExpressible());
  if (max_frame < MinFrame()) {
    return FramingSpecError{"length_field",
                            "cannot express a frame of this framing's header and check"};
  }
  return std::nullopt;
}

FramingCodec::FramingCodec(const FramingSpec& spec, size_t max_package_size)
    : spec_(spec),
      max_(std::min<uint64_t>(spec.max_frame, max_package_size)),
      min_frame_(spec.MinFrame()),
      check_size_(CheckSize(spec.check)) {
  for (const std::string& d : spec.delimiters) max_delimiter_ = std::max(max_delimiter_, d.size());
  if (spec.kind == FramingSpec::Kind::kLengthField) {
    field_end_ = spec.length_offset + spec.length_size;
    length_delta_ =
        spec.adjustment + (spec.counts_whole_frame ? 0 : static_cast<int64_t>(field_end_));
    if (spec.magic.empty() && check_size_ == 0 && !spec.datagram && !spec.length_little &&
        (spec.length_size == 2 || spec.length_size == 4)) {
      fast_length_ = spec.length_size;
    }
  }
}

DecodeResult FramingCodec::Decode(absl::string_view input) { return DecodeFrom(input, nullptr); }

DecodeResult FramingCodec::DecodeInPlace(absl::Span<char> input) {
  if (fast_length_ != 0) {
    // A plain big-endian 2- or 4-byte length over a stream, no magic or
    // check: as few steps as the built-in frame protocol takes.
    size_t have = input.size();
    if (have < field_end_) return DecodeResult::NeedMore();
    const auto* p = reinterpret_cast<const unsigned char*>(input.data() + spec_.length_offset);
    int64_t value = fast_length_ == 4
                        ? static_cast<int64_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                                               (uint32_t{p[2]} << 8) | p[3])
                        : static_cast<int64_t>((uint32_t{p[0]} << 8) | p[1]);
    int64_t total = value + length_delta_;
    if (total < static_cast<int64_t>(min_frame_)) {
      return DecodeResult::Error(ProtocolError::kMalformed,
                                 "frame length below its header and check");
    }
    if (static_cast<uint64_t>(total) > max_) {
      return DecodeResult::Error(ProtocolError::kTooLarge, "frame larger than max_frame_length");
    }
    if (have < static_cast<size_t>(total)) return DecodeResult::NeedMore();
    size_t strip = spec_.strip;
    return DecodeResult::Message(static_cast<size_t>(total),
                                 absl::string_view(input.data() + strip, total - strip));
  }
  return DecodeFrom(absl::string_view(input.data(), input.size()), input.data());
}

DecodeResult FramingCodec::DecodeFrom(absl::string_view input, char* writable) {
  if (input.empty()) return DecodeResult::NeedMore();  // (an empty datagram has no frame)
  switch (spec_.kind) {
    case FramingSpec::Kind::kLengthField:
      return DecodeLength(input);
    case FramingSpec::Kind::kDelimiter:
      return DecodeDelimited(input, writable);
    case FramingSpec::Kind::kFixed:
      return DecodeFixed(input);
  }
  return DecodeResult::NeedMore();
}

DecodeResult FramingCodec::DecodeLength(absl::string_view input) {
  size_t have = input.size();
  const std::string& magic = spec_.magic;
  if (!magic.empty() &&
      std::memcmp(input.data(), magic.data(), std::min(have, magic.size())) != 0) {
    return DecodeResult::Error(ProtocolError::kMalformed, "frame without its magic");
  }
  size_t offset = spec_.length_offset, size = spec_.length_size;
  if (have < offset + size) {
    if (spec_.datagram) {
      return DecodeResult::Error(ProtocolError::kMalformed, "datagram shorter than its header");
    }
    return DecodeResult::NeedMore();
  }
  const auto* p = reinterpret_cast<const unsigned char*>(input.data() + offset);
  uint64_t value;
  if (!spec_.length_little && size == 4) {  // the common cases, without a loop
    value = (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | p[3];
  } else if (!spec_.length_little && size == 2) {
    value = (uint64_t{p[0]} << 8) | p[1];
  } else {
    value = ReadUint(input.data() + offset, size, spec_.length_little);
  }
  // Far above any frame allowed (max_ is at most max_package_size), and
  // small enough that the sums below cannot overflow.
  if (value > (uint64_t{1} << 62)) {
    return DecodeResult::Error(ProtocolError::kTooLarge, "frame larger than max_frame_length");
  }
  int64_t total = static_cast<int64_t>(value) + spec_.adjustment +
                  (spec_.counts_whole_frame ? 0 : static_cast<int64_t>(offset + size));
  if (total < static_cast<int64_t>(min_frame_)) {
    return DecodeResult::Error(ProtocolError::kMalformed,
                               "frame length below its header and check");
  }
  if (static_cast<uint64_t>(total) > max_) {
    return DecodeResult::Error(ProtocolError::kTooLarge, "frame larger than max_frame_length");
  }
  size_t length = static_cast<size_t>(total);
  if (spec_.datagram && length != have) {
    return DecodeResult::Error(ProtocolError::kMalformed,
                               "datagram size does not match its length field");
  }
  if (have < length) return DecodeResult::NeedMore();
  return Deliver(absl::string_view(input.data(), length), length);
}

DecodeResult FramingCodec::DecodeFixed(absl::string_view input) {
  size_t have = input.size();
  const std::string& magic = spec_.magic;
  if (!magic.empty() &&
      std::memcmp(input.data(), magic.data(), std::min(have, magic.size())) != 0) {
    return DecodeResult::Error(ProtocolError::kMalformed, "frame without its magic");
  }
  size_t size = spec_.fixed_size;
  if (spec_.datagram && have != size) {
    return DecodeResult::Error(ProtocolError::kMalformed, "datagram is not fixed.size bytes");
  }
  if (have < size) return DecodeResult::NeedMore();
  return Deliver(input.substr(0, size), size);
}

std::pair<size_t, size_t> FramingCodec::FindDelimiter(absl::string_view input, size_t from) const {
  const std::vector<std::string>& delimiters = spec_.delimiters;
  if (delimiters.size() == 1 && delimiters[0].size() == 1) {
    if (from >= input.size()) return {npos, 0};
    const void* hit = std::memchr(input.data() + from, delimiters[0][0], input.size() - from);
    if (hit == nullptr) return {npos, 0};
    return {static_cast<size_t>(static_cast<const char*>(hit) - input.data()), 1};
  }
  size_t best = npos, best_size = 0;
  for (const std::string& d : delimiters) {
    // Only up to the best so far: a later match cannot win.
    absl::string_view window = best == npos ? input : input.substr(0, best + d.size());
    size_t at = window.find(d, from);
    if (at != npos && (at < best || (at == best && d.size() > best_size))) {
      best = at;
      best_size = d.size();
    }
  }
  return {best, best_size};
}

DecodeResult FramingCodec::DecodeDelimited(absl::string_view input, char* writable) {
  size_t start = 0;
  // The delimiter a frame starts with (and any empty frames).
  if (spec_.opening) {
    for (bool skipped = true; skipped;) {
      skipped = false;
      for (const std::string& d : spec_.delimiters) {
        if (absl::StartsWith(input.substr(start), d)) {
          start += d.size();
          skipped = true;
          break;
        }
      }
    }
  }
  size_t end, delimiter_size;
  if (spec_.datagram) {
    // The datagram is the frame; its closing delimiter may be left out.
    delimiter_size = 0;
    for (const std::string& d : spec_.delimiters) {
      if (d.size() > delimiter_size && absl::EndsWith(input.substr(start), d)) {
        delimiter_size = d.size();
      }
    }
    end = input.size() - delimiter_size;
    if (spec_.opening && end == start) return DecodeResult::Consumed(input.size());
  } else {
    auto [at, size] = FindDelimiter(input, std::max(scanned_, start));
    if (at == npos) {
      if (input.size() - start >= max_) {
        scanned_ = 0;
        return DecodeResult::Error(ProtocolError::kTooLarge,
                                   "frame longer than max_frame_length without its delimiter");
      }
      // A delimiter may have begun in the last bytes searched.
      size_t tail = max_delimiter_ - 1;
      scanned_ = input.size() > start + tail ? input.size() - tail : start;
      if (start > 0) {  // drop the opening delimiters now
        scanned_ -= start;
        return DecodeResult::Consumed(start);
      }
      return DecodeResult::NeedMore();
    }
    end = at;
    delimiter_size = size;
  }
  scanned_ = 0;
  size_t consumed = end + delimiter_size;
  if (end - start + delimiter_size > max_) {
    return DecodeResult::Error(ProtocolError::kTooLarge, "frame larger than max_frame_length");
  }
  absl::string_view frame = input.substr(start, end - start);
  if (spec_.keep_delimiter) {
    absl::string_view with = input.substr(start, consumed - start);
    if (!absl::StartsWith(with, spec_.magic) || with.size() < min_frame_) {
      return DecodeResult::Error(ProtocolError::kMalformed, "frame without its magic");
    }
    return DecodeResult::Message(consumed, with.substr(spec_.strip));
  }
  if (spec_.escaping) {
    char* out;
    if (writable != nullptr) {
      out = writable + start;
    } else {
      scratch_.resize(frame.size());
      out = scratch_.data();
    }
    size_t n = 0;
    for (size_t i = 0; i < frame.size(); ++i) {
      uint8_t c = static_cast<uint8_t>(frame[i]);
      if (c == spec_.escape) {
        if (++i == frame.size()) {
          return DecodeResult::Error(ProtocolError::kMalformed,
                                     "escape byte at the end of a frame");
        }
        int16_t raw = spec_.unescaped[static_cast<uint8_t>(frame[i])];
        if (raw < 0) {
          return DecodeResult::Error(ProtocolError::kMalformed, "invalid escape sequence");
        }
        c = static_cast<uint8_t>(raw);
      }
      out[n++] = static_cast<char>(c);
    }
    frame = absl::string_view(out, n);
  }
  return Deliver(frame, consumed);
}

DecodeResult FramingCodec::Deliver(absl::string_view frame, size_t consumed) {
  size_t size = frame.size();
  if (size < min_frame_) {
    return DecodeResult::Error(ProtocolError::kMalformed,
                               "frame shorter than its header and check");
  }
  const std::string& magic = spec_.magic;
  if (!magic.empty() && std::memcmp(frame.data(), magic.data(), magic.size()) != 0) {
    return DecodeResult::Error(ProtocolError::kMalformed, "frame without its magic");
  }
  size_t body = size - check_size_;  // min_frame_ covers the check, strip and check_from
  if (check_size_ > 0) {
    uint32_t stored =
        static_cast<uint32_t>(ReadUint(frame.data() + body, check_size_, spec_.check_little));
    size_t from = spec_.check_from;
    uint32_t computed =
        ComputeCheck(spec_.check, absl::string_view(frame.data() + from, body - from));
    if (stored != computed) {
      return DecodeResult::Error(ProtocolError::kMalformed, "frame check failed");
    }
  }
  size_t strip = spec_.strip;
  return DecodeResult::Message(consumed, absl::string_view(frame.data() + strip, body - strip));
}

// ---- Encoding ----

void FramingCodec::PutLength(uint64_t total, char* field) const {
  __int128 value = __int128{total} - spec_.adjustment -
                   (spec_.counts_whole_frame ? 0 : spec_.length_offset + spec_.length_size);
  WriteUint(static_cast<uint64_t>(value), spec_.length_size, spec_.length_little, field);
}

void FramingCodec::AppendHeader(uint64_t total, std::string& out) const {
  size_t at = out.size();
  out.append(spec_.header);
  if (spec_.kind == FramingSpec::Kind::kLengthField && spec_.strip > 0) {
    PutLength(total, out.data() + at + spec_.length_offset);
  }
}

void FramingCodec::AppendCheck(uint32_t check, std::string& out) const {
  char bytes[4];
  WriteUint(check, check_size_, spec_.check_little, bytes);
  out.append(bytes, check_size_);
}

size_t FramingCodec::EscapedSize(absl::string_view bytes) const {
  size_t n = bytes.size();
  for (char c : bytes) n += spec_.escaped[static_cast<uint8_t>(c)] >= 0;
  return n;
}

void FramingCodec::AppendEscaped(absl::string_view bytes, std::string& out) const {
  for (char c : bytes) {
    int16_t code = spec_.escaped[static_cast<uint8_t>(c)];
    if (code >= 0) {
      out.push_back(static_cast<char>(spec_.escape));
      out.push_back(static_cast<char>(code));
    } else {
      out.push_back(c);
    }
  }
}

namespace {

// The frame of a message (before escaping, delimiters excluded): its size.
uint64_t FrameSize(const FramingSpec& spec, size_t message, size_t check_size) {
  if (spec.kind == FramingSpec::Kind::kFixed) return spec.fixed_size;
  if (spec.kind == FramingSpec::Kind::kLengthField && spec.strip == 0) {
    return std::max<uint64_t>(message, spec.length_offset + spec.length_size) + check_size;
  }
  return uint64_t{spec.strip} + message + check_size;
}

}  // namespace

bool FramingCodec::Encodable(absl::string_view message, MessageKind) const {
  const FramingSpec& spec = spec_;
  // Not stripped, the magic is the message's to carry.
  if (spec.strip == 0 && !absl::StartsWith(message, spec.magic)) return false;
  if (spec.kind == FramingSpec::Kind::kFixed) {
    return uint64_t{spec.strip} + message.size() + check_size_ <= spec.fixed_size;
  }
  uint64_t frame = FrameSize(spec, message.size(), check_size_);
  if (frame < min_frame_) return false;
  if (spec.kind == FramingSpec::Kind::kLengthField) return frame <= max_;
  // Between opening delimiters an empty frame is no frame.
  if (spec.opening && frame == 0) return false;
  // Delimited: what decode would count against the limit.
  uint64_t wire = frame + spec.delimiters[0].size();
  if (spec.escaping) {
    wire += EscapedSize(spec.header) - spec.header.size() + EscapedSize(message) - message.size() +
            check_size_;  // at worst every check byte escaped
  }
  return wire <= max_;
}

bool FramingCodec::EncodeFraming(absl::string_view message, MessageKind, std::string& prefix,
                                 std::string& suffix) {
  const FramingSpec& spec = spec_;
  if (spec.escaping || (spec.kind == FramingSpec::Kind::kLengthField && spec.strip == 0)) {
    return false;  // Encode transforms the message
  }
  uint64_t total = FrameSize(spec, message.size(), check_size_);
  const std::string* delimiter =
      spec.kind == FramingSpec::Kind::kDelimiter ? &spec.delimiters[0] : nullptr;
  if (delimiter != nullptr && spec.opening) prefix.append(*delimiter);
  size_t header_at = prefix.size();
  AppendHeader(total, prefix);
  size_t padding = 0;
  if (spec.kind == FramingSpec::Kind::kFixed) {
    padding = spec.fixed_size - check_size_ - spec.strip - message.size();
    suffix.append(padding, '\0');
  }
  if (check_size_ > 0) {
    // Over [check_from, end of body): the header's part, the message's,
    // then the padding's.
    absl::string_view pieces[] = {absl::string_view(prefix).substr(header_at), message,
                                  absl::string_view(suffix).substr(suffix.size() - padding)};
    uint32_t state = InitialCheck(spec.check);
    size_t skip = spec.check_from;
    for (absl::string_view piece : pieces) {
      size_t cut = std::min(skip, piece.size());
      skip -= cut;
      state = UpdateCheck(spec.check, state, piece.substr(cut));
    }
    AppendCheck(state, suffix);
  }
  if (delimiter != nullptr) {
    bool ends = false;
    if (spec.keep_delimiter) {
      for (const std::string& d : spec.delimiters) ends = ends || absl::EndsWith(message, d);
    }
    if (!ends) suffix.append(*delimiter);
  }
  return true;
}

void FramingCodec::Encode(absl::string_view message, MessageKind kind, std::string& out) {
  const FramingSpec& spec = spec_;
  if (!spec.escaping && !(spec.kind == FramingSpec::Kind::kLengthField && spec.strip == 0)) {
    std::string suffix;
    EncodeFraming(message, kind, out, suffix);
    out.append(message.data(), message.size());
    out.append(suffix);
    return;
  }
  if (spec.kind == FramingSpec::Kind::kLengthField) {  // strip 0: the message holds the header
    uint64_t total = FrameSize(spec, message.size(), check_size_);
    size_t at = out.size();
    out.append(message.data(), message.size());
    size_t field_end = spec.length_offset + spec.length_size;
    if (message.size() < field_end) out.resize(at + field_end, '\0');
    PutLength(total, out.data() + at + spec.length_offset);
    if (check_size_ > 0) {
      AppendCheck(ComputeCheck(spec.check, absl::string_view(out).substr(at + spec.check_from)),
                  out);
    }
    return;
  }
  // Escaped: the frame is built, then escaped between its delimiters.
  std::string& frame = encode_scratch_;
  frame.clear();
  AppendHeader(FrameSize(spec, message.size(), check_size_), frame);
  frame.append(message.data(), message.size());
  if (check_size_ > 0) {
    uint32_t check = ComputeCheck(spec.check, absl::string_view(frame).substr(
                                                  std::min<size_t>(spec.check_from, frame.size())));
    AppendCheck(check, frame);
  }
  const std::string& delimiter = spec.delimiters[0];
  if (spec.opening) out.append(delimiter);
  AppendEscaped(frame, out);
  out.append(delimiter);
  if (frame.capacity() > 64 * 1024) std::string().swap(frame);
}

// ---- The protocol ----

const ProtocolTraits& FramingProtocol::traits() const {
  static const ProtocolTraits kTraits{.datagrams = true};
  return kTraits;
}

std::unique_ptr<Codec> FramingProtocol::NewCodec(const CodecOptions& options) const {
  const FramingOptions* framing = OptionsAs<FramingOptions>(options.options);
  if (framing == nullptr) {
    // Config validation requires a framing; this is Workerman's frame.
    static const FramingSpec* fallback = [] {
      auto* spec = new FramingSpec();
      spec->counts_whole_frame = true;
      spec->strip = 4;
      (void)spec->Finish();
      return spec;
    }();
    return std::make_unique<FramingCodec>(*fallback, options.max_package_size);
  }
  return std::make_unique<FramingCodec>(framing->spec(), options.max_package_size);
}

}  // namespace sockman
