// The WebSocket wire format (RFC 6455 5), shared by the server codec and
// the client codec: frame headers both ways, close payloads, masking and
// the UTF-8 rule for text. What depends on the role (clients mask, servers
// do not; RSV1 only with permessage-deflate; message reassembly) stays in
// the codecs.
//
//   websocket::FrameHeader header;
//   const char* error;
//   switch (websocket::ParseFrameHeader(input, header, error)) { ... }
#ifndef SOCKMAN_PROTOCOLS_WEBSOCKET_FRAME_H_
#define SOCKMAN_PROTOCOLS_WEBSOCKET_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sockman {
namespace websocket {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;  // permessage-deflate: a compressed message
  Opcode opcode = kContinuation;
  bool masked = false;
  unsigned char mask[4] = {0, 0, 0, 0};  // when masked
  uint64_t length = 0;                   // payload bytes
  size_t size = 0;                       // header bytes, mask included

  bool control() const { return opcode & 0x8; }
};

enum class ParseStatus { kNeedMore, kOk, kError };

// Parses the frame header at the front of `input`. kError (always close
// code 1002) sets `error` to a static reason: RSV2/RSV3, an unknown opcode,
// a 64-bit length with the top bit set, a long or fragmented control frame.
ParseStatus ParseFrameHeader(absl::string_view input, FrameHeader& header, const char*& error);

// Appends a final frame's header: masked with `mask` (4 bytes) when given,
// RSV1 set when `rsv1`. The shortest length encoding is used.
void AppendFrameHeader(Opcode opcode, uint64_t size, std::string& out,
                       const unsigned char* mask = nullptr, bool rsv1 = false);

// Close codes a peer may send (RFC 6455 7.4): 1000-1003, 1007-1011, 3000-4999.
bool ValidCloseCode(uint16_t code);

struct CloseFrame {
  uint16_t code = 1005;      // 1005: the payload had no code
  absl::string_view reason;  // after the code
  uint16_t fail_code = 0;    // non-zero: invalid, close with this (1002, 1007)
  const char* error = "";
};
// Checks a close frame's payload: empty, or a valid code and a UTF-8 reason.
CloseFrame ParseClosePayload(absl::string_view payload);

}  // namespace websocket

// Incremental UTF-8 validation (RFC 3629: no overlongs, surrogates or code
// points above U+10FFFF), across any split of the input.
class Utf8Validator {
 public:
  // False as soon as the bytes so far cannot be the start of valid UTF-8.
  bool Feed(absl::string_view bytes);
  // True when no multi-byte sequence is left open.
  bool Complete() const { return need_ == 0; }
  void Reset() { need_ = 0; }

 private:
  int need_ = 0;
  unsigned char lower_ = 0x80;
  unsigned char upper_ = 0xBF;
};

// XORs `size` bytes of `in` with the 4-byte `mask` into `out` (which may be
// `in`): masks and unmasks. Returns whether every result byte is ASCII (text
// then needs no further UTF-8 check).
bool WebSocketMask(const unsigned char* in, size_t size, const unsigned char* mask, char* out);

// True if all of `text` is valid UTF-8: what a text frame may carry.
bool IsUtf8(absl::string_view text);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_WEBSOCKET_FRAME_H_
