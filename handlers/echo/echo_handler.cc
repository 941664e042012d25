#include "handlers/echo/echo_handler.h"

#include "config/sockman.pb.h"

namespace sockman {
namespace {

class EchoFactory : public HandlerFactory {
 public:
  explicit EchoFactory(std::string prefix) : prefix_(std::move(prefix)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext&) const override {
    return std::make_unique<EchoHandler>(prefix_);
  }

 private:
  std::string prefix_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateEcho(const EchoOptions& echo,
                                                           const HandlerConfig&) {
  return std::make_unique<EchoFactory>(echo.prefix());
}

SOCKMAN_REGISTER_HANDLER("echo", CreateEcho);

}  // namespace

void EchoHandler::OnMessage(Connection& connection, absl::string_view message, MessageKind kind) {
  absl::string_view reply = message;
  if (!prefix_.empty()) {
    reply_.assign(prefix_);
    reply_.append(message.data(), message.size());
    reply = reply_;
  }
  connection.Send(reply, kind);  // in kind: binary stays binary
}

}  // namespace sockman
