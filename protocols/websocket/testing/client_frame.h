// Builds WebSocket frames as a client sends them (masked unless asked not
// to), for tests of the codec and of the running server.
#ifndef SOCKMAN_PROTOCOLS_WEBSOCKET_TESTING_CLIENT_FRAME_H_
#define SOCKMAN_PROTOCOLS_WEBSOCKET_TESTING_CLIENT_FRAME_H_

#include <cstdint>
#include <string>

namespace sockman::testing {

// `first_byte` is FIN | RSV | opcode (0x81: a final text frame).
inline std::string ClientFrame(uint8_t first_byte, const std::string& payload, bool masked = true) {
  std::string out(1, static_cast<char>(first_byte));
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size()));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) {
      out.push_back(static_cast<char>(uint64_t{payload.size()} >> (8 * i)));
    }
  }
  if (!masked) return out + payload;
  const char mask[4] = {'\x5a', '\x13', '\x7f', '\x01'};
  out.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) out.push_back(payload[i] ^ mask[i & 3]);
  return out;
}

}  // namespace sockman::testing

#endif  // SOCKMAN_PROTOCOLS_WEBSOCKET_TESTING_CLIENT_FRAME_H_
