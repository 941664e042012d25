#include "protocols/websocket/frame.h"

#include <cstring>

namespace sockman {

namespace websocket {

ParseStatus ParseFrameHeader(absl::string_view input, FrameHeader& header, const char*& error) {
  if (input.size() < 2) return ParseStatus::kNeedMore;
  const auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
  auto fail = [&](const char* why) {
    error = why;
    return ParseStatus::kError;
  };
  header.fin = bytes[0] & 0x80;
  header.rsv1 = bytes[0] & 0x40;
  if (bytes[0] & 0x30) return fail("RSV2 or RSV3 set");
  uint8_t opcode = bytes[0] & 0x0F;
  if (opcode != kContinuation && opcode != kText && opcode != kBinary && opcode != kClose &&
      opcode != kPing && opcode != kPong) {
    return fail("unknown opcode");
  }
  header.opcode = static_cast<Opcode>(opcode);
  header.masked = bytes[1] & 0x80;
  uint64_t length = bytes[1] & 0x7F;
  size_t size = 2;
  if (length == 126) {
    if (input.size() < 4) return ParseStatus::kNeedMore;
    length = (uint64_t{bytes[2]} << 8) | bytes[3];
    size = 4;
  } else if (length == 127) {
    if (input.size() < 10) return ParseStatus::kNeedMore;
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | bytes[i];
    if (length >> 63) return fail("64-bit length with the top bit set");
    size = 10;
  }
  if (header.control()) {
    if (length > 125) return fail("control frame over 125 bytes");
    if (!header.fin) return fail("fragmented control frame");
  }
  if (header.masked) {
    if (input.size() < size + 4) return ParseStatus::kNeedMore;
    std::memcpy(header.mask, bytes + size, 4);
    size += 4;
  }
  header.length = length;
  header.size = size;
  return ParseStatus::kOk;
}

void AppendFrameHeader(Opcode opcode, uint64_t size, std::string& out, const unsigned char* mask,
                       bool rsv1) {
  char header[14];
  size_t n = 2;
  header[0] = static_cast<char>(0x80 | (rsv1 ? 0x40 : 0) | opcode);
  char masked = mask != nullptr ? static_cast<char>(0x80) : 0;
  if (size < 126) {
    header[1] = static_cast<char>(masked | static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    header[1] = static_cast<char>(masked | 126);
    header[2] = static_cast<char>(size >> 8);
    header[3] = static_cast<char>(size);
    n = 4;
  } else {
    header[1] = static_cast<char>(masked | 127);
    for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<char>(size >> (56 - 8 * i));
    n = 10;
  }
  if (mask != nullptr) {
    std::memcpy(header + n, mask, 4);
    n += 4;
  }
  out.append(header, n);
}

bool ValidCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

CloseFrame ParseClosePayload(absl::string_view payload) {
  CloseFrame close;
  if (payload.empty()) return close;  // 1005: no code
  if (payload.size() == 1) {
    close.fail_code = 1002;
    close.error = "close payload of one byte";
    return close;
  }
  close.code = static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                     static_cast<unsigned char>(payload[1]));
  if (!ValidCloseCode(close.code)) {
    close.fail_code = 1002;
    close.error = "invalid close code";
    return close;
  }
  close.reason = payload.substr(2);
  Utf8Validator utf8;
  if (!utf8.Feed(close.reason) || !utf8.Complete()) {
    close.fail_code = 1007;
    close.error = "close reason is not UTF-8";
  }
  return close;
}

}  // namespace websocket

// 32 bytes at a time in two 16-byte vectors (SSE2 here), then a word, then
// bytes.
bool WebSocketMask(const unsigned char* in, size_t size, const unsigned char* mask, char* out) {
  using Block = uint64_t __attribute__((vector_size(16)));
  uint32_t key4;
  std::memcpy(&key4, mask, 4);
  const uint64_t key = (uint64_t{key4} << 32) | key4;  // the mask twice, in memory order
  const Block keys = {key, key};
  Block high_a = {0, 0}, high_b = {0, 0};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    Block a, b;
    std::memcpy(&a, in + i, 16);
    std::memcpy(&b, in + i + 16, 16);
    a ^= keys;
    b ^= keys;
    high_a |= a;
    high_b |= b;
    std::memcpy(out + i, &a, 16);
    std::memcpy(out + i + 16, &b, 16);
  }
  Block high_block = high_a | high_b;
  uint64_t high = high_block[0] | high_block[1];
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, in + i, 8);
    word ^= key;
    high |= word;
    std::memcpy(out + i, &word, 8);
  }
  unsigned char tail = 0;
  for (; i < size; ++i) {
    out[i] = static_cast<char>(in[i] ^ mask[i & 3]);
    tail |= static_cast<unsigned char>(out[i]);
  }
  return ((high & 0x8080808080808080ull) | (tail & 0x80)) == 0;
}

bool Utf8Validator::Feed(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    unsigned char c = *p++;
    if (need_ == 0) {
      if (c < 0x80) {
        // Skip a run of ASCII eight bytes at a time.
        while (end - p >= 8) {
          uint64_t word;
          std::memcpy(&word, p, 8);
          if (word & 0x8080808080808080ull) break;
          p += 8;
        }
        continue;
      }
      lower_ = 0x80;
      upper_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c == 0xE0) {
        need_ = 2;
        lower_ = 0xA0;
      } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
        need_ = 2;
      } else if (c == 0xED) {
        need_ = 2;
        upper_ = 0x9F;  // no UTF-16 surrogates
      } else if (c == 0xF0) {
        need_ = 3;
        lower_ = 0x90;
      } else if (c >= 0xF1 && c <= 0xF3) {
        need_ = 3;
      } else if (c == 0xF4) {
        need_ = 3;
        upper_ = 0x8F;  // nothing above U+10FFFF
      } else {
        return false;
      }
    } else {
      if (c < lower_ || c > upper_) return false;
      lower_ = 0x80;
      upper_ = 0xBF;
      --need_;
    }
  }
  return true;
}

bool IsUtf8(absl::string_view text) {
  Utf8Validator utf8;
  return utf8.Feed(text) && utf8.Complete();
}

}  // namespace sockman
