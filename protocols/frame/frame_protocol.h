// The frame protocol (`frame://`), Workerman's Frame: a 4-byte big-endian
// length that counts itself, then the payload. A length below 4 is
// kMalformed; above max_package_size, kTooLarge (detected from the header,
// before the payload is buffered).
#ifndef SOCKMAN_PROTOCOLS_FRAME_FRAME_PROTOCOL_H_
#define SOCKMAN_PROTOCOLS_FRAME_FRAME_PROTOCOL_H_

#include "protocols/protocol.h"

namespace sockman {

class FrameCodec final : public Codec {
 public:
  explicit FrameCodec(const CodecOptions& options) : max_(options.max_package_size) {}
  DecodeResult Decode(absl::string_view input) override;
  void Encode(absl::string_view message, MessageKind kind, std::string& out) override;
  bool EncodeFraming(absl::string_view message, MessageKind kind, std::string& prefix,
                     std::string& suffix) override;

 private:
  size_t max_;
};

class FrameProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "frame"; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const override {
    return std::make_unique<FrameCodec>(options);
  }
  const ProtocolTraits& traits() const override;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_FRAME_FRAME_PROTOCOL_H_
