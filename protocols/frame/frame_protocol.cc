#include "protocols/frame/frame_protocol.h"

#include <cstdint>

namespace sockman {

SOCKMAN_REGISTER_PROTOCOL(FrameProtocol);

const ProtocolTraits& FrameProtocol::traits() const {
  static const ProtocolTraits kTraits{.datagrams = true};
  return kTraits;
}

DecodeResult FrameCodec::Decode(absl::string_view input) {
  if (input.size() < 4) return DecodeResult::NeedMore();
  const auto* p = reinterpret_cast<const unsigned char*>(input.data());
  uint64_t length =
      (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | uint64_t{p[3]};
  if (length < 4) {
    return DecodeResult::Error(ProtocolError::kMalformed, "frame length below 4");
  }
  if (length > max_) {
    return DecodeResult::Error(ProtocolError::kTooLarge, "frame larger than max_package_size");
  }
  if (input.size() < length) return DecodeResult::NeedMore();
  return DecodeResult::Message(length, input.substr(4, length - 4));
}

void FrameCodec::Encode(absl::string_view message, MessageKind kind, std::string& out) {
  std::string suffix;
  EncodeFraming(message, kind, out, suffix);
  out.append(message.data(), message.size());
}

bool FrameCodec::EncodeFraming(absl::string_view message, MessageKind, std::string& prefix,
                               std::string& suffix) {
  // Messages are bounded far below 4 GiB by max_send_buffer_size and
  // max_package_size; a larger one would not be representable.
  uint32_t length = static_cast<uint32_t>(message.size() + 4);
  char header[4] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                    static_cast<char>(length >> 8), static_cast<char>(length)};
  prefix.append(header, 4);
  return true;
}

}  // namespace sockman
