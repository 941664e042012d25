// The udp protocol (`udp://`): no framing, over datagrams. Every datagram is
// one message and every message is sent as one datagram (Workerman's raw
// UDP). Other protocols (text, frame) run over UDP with `transport: UDP`.
#include "protocols/protocol.h"
#include "protocols/tcp/tcp_protocol.h"

namespace sockman {
namespace {

class UdpProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "udp"; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions& options) const override {
    return std::make_unique<RawCodec>();
  }
  // Datagrams only: a `udp://` service is UDP by its scheme.
  const ProtocolTraits& traits() const override {
    static const ProtocolTraits kTraits{.stream = false, .datagrams = true};
    return kTraits;
  }
};

SOCKMAN_REGISTER_PROTOCOL(UdpProtocol);

}  // namespace
}  // namespace sockman
