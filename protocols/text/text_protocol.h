// The text protocol (`text://`): one message per line. Decode splits on "\n"
// and strips one trailing "\r"; Encode appends "\n". A line longer than
// max_package_size (its "\n" included) is a kTooLarge error. Lines are
// delivered as MessageKind::kText (not checked as UTF-8). Runs over UDP too.
#ifndef SOCKMAN_PROTOCOLS_TEXT_TEXT_PROTOCOL_H_
#define SOCKMAN_PROTOCOLS_TEXT_TEXT_PROTOCOL_H_

#include "protocols/protocol.h"

namespace sockman {

class TextCodec final : public Codec {
 public:
  explicit TextCodec(const CodecOptions& options) : max_(options.max_package_size) {}
  DecodeResult Decode(absl::string_view input) override;
  void Encode(absl::string_view message, MessageKind kind, std::string& out) override;
  bool EncodeFraming(absl::string_view message, MessageKind kind, std::string& prefix,
                     std::string& suffix) override {
    suffix.push_back('\n');
    return true;
  }

 private:
  size_t max_;
  size_t scanned_ = 0;  // bytes of the pending line already searched for "\n"
};

class TextProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "text"; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const override {
    return std::make_unique<TextCodec>(options);
  }
  const ProtocolTraits& traits() const override;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_TEXT_TEXT_PROTOCOL_H_
