#include "protocols/text/text_protocol.h"

#include <cstring>

namespace sockman {

SOCKMAN_REGISTER_PROTOCOL(TextProtocol);

const ProtocolTraits& TextProtocol::traits() const {
  static const ProtocolTraits kTraits{.datagrams = true};
  return kTraits;
}

DecodeResult TextCodec::Decode(absl::string_view input) {
  // Search only bytes not searched before: a long line arriving in many
  // reads costs O(n), not O(n^2).
  size_t limit = std::min(input.size(), max_);
  const void* newline = nullptr;
  if (scanned_ < limit) {
    newline = std::memchr(input.data() + scanned_, '\n', limit - scanned_);
  }
  if (newline == nullptr) {
    scanned_ = limit;
    if (input.size() >= max_) {
      scanned_ = 0;
      return DecodeResult::Error(ProtocolError::kTooLarge, "line longer than max_package_size");
    }
    return DecodeResult::NeedMore();
  }
  scanned_ = 0;
  size_t end = static_cast<size_t>(static_cast<const char*>(newline) - input.data());
  absl::string_view line = input.substr(0, end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return DecodeResult::Message(end + 1, line, MessageKind::kText);
}

void TextCodec::Encode(absl::string_view message, MessageKind, std::string& out) {
  out.append(message.data(), message.size());
  out.push_back('\n');
}

}  // namespace sockman
