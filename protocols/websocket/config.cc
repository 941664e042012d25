// The binding of websocket:// (ws://, wss://): `websocket { ... }` and
// `real_ip` in, WebSocketOptions out.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocols/binding.h"
#include "protocols/http/real_ip_config.h"
#include "protocols/websocket/websocket_codec.h"

namespace sockman {
namespace {

class WebSocketBinding : public ProtocolBinding {
 public:
  absl::string_view protocol() const override { return "websocket"; }
  std::vector<std::string> names() const override { return {"websocket", "real_ip"}; }

  std::optional<FieldError> Check(const Service& service) const override {
    const WebSocket& ws = service.websocket();
    if (ws.has_path() && (ws.path().empty() || ws.path()[0] != '/')) {
      return FieldError{"websocket.path", "must start with '/'"};
    }
    return CheckRealIp(service);
  }

  std::unique_ptr<const ProtocolOptions> Options(const Service& service) const override {
    if (!service.has_websocket() && !service.has_real_ip()) return nullptr;
    const WebSocket& config = service.websocket();
    auto options = std::make_unique<WebSocketOptions>();
    options->allowed_origins.assign(config.allowed_origins().begin(),
                                    config.allowed_origins().end());
    options->subprotocols.assign(config.subprotocols().begin(), config.subprotocols().end());
    options->path = config.path();
    options->binary = config.binary();
    options->deflate = config.deflate();
    options->handshake.real_ip = RealIpFromConfig(service);
    return options;
  }
};

SOCKMAN_REGISTER_BINDING(WebSocketBinding);

}  // namespace
}  // namespace sockman
