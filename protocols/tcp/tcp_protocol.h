// The tcp protocol (`tcp://`): no framing. Every chunk read from the socket
// is one message and messages are sent as they are (Workerman's raw TCP).
#ifndef SOCKMAN_PROTOCOLS_TCP_TCP_PROTOCOL_H_
#define SOCKMAN_PROTOCOLS_TCP_TCP_PROTOCOL_H_

#include "protocols/protocol.h"

namespace sockman {

class RawCodec final : public Codec {
 public:
  DecodeResult Decode(absl::string_view input) override {
    if (input.empty()) return DecodeResult::NeedMore();
    return DecodeResult::Message(input.size(), input);
  }
  void Encode(absl::string_view message, MessageKind, std::string& out) override {
    out.append(message.data(), message.size());
  }
};

class TcpProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "tcp"; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const override {
    return std::make_unique<RawCodec>();
  }
  const ProtocolTraits& traits() const override {
    static const ProtocolTraits kTraits{.message_boundaries = false};
    return kTraits;
  }
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_TCP_TCP_PROTOCOL_H_
