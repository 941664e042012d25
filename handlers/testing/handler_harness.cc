#include "handlers/testing/handler_harness.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "config/sockman.pb.h"
#include "google/protobuf/text_format.h"
#include "protocols/websocket/frame.h"

namespace sockman::testing {

FakeClock& HandlerHarness::clock() {
  static FakeClock* clock = new FakeClock();
  return *clock;
}

Reactor& HandlerHarness::reactor() {
  static Reactor* reactor = [] {
    auto made = Reactor::Create(clock());
    if (!made.ok()) std::abort();
    return made->release();
  }();
  return *reactor;
}

absl::StatusOr<std::unique_ptr<HandlerHarness>> HandlerHarness::Create(
    absl::string_view handler, absl::string_view options, absl::string_view scheme,
    absl::string_view service, std::string config_directory) {
  const Protocol* protocol = ProtocolRegistry::Global().Find(scheme);
  if (protocol == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no protocol '", scheme, "'"));
  }
  Service config;
  if (!google::protobuf::TextFormat::ParseFromString(absl::StrCat(handler, " { ", options, " }"),
                                                     &config)) {
    return absl::InvalidArgumentError(absl::StrCat("bad options for ", handler, ": ", options));
  }
  const auto* field = Service::descriptor()->FindFieldByName(std::string(handler));
  const HandlerCreator* creator = HandlerRegistry::Global().Find(handler);
  if (field == nullptr || creator == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no handler '", handler, "'"));
  }
  HandlerConfig handler_config{config.GetReflection()->GetMessage(config, field),
                               std::string(service), *protocol, !protocol->traits().stream,
                               std::move(config_directory)};
  absl::StatusOr<std::unique_ptr<HandlerFactory>> factory = (*creator)(handler_config);
  if (!factory.ok()) return factory.status();
  return FromFactory(std::move(*factory), scheme, service);
}

absl::StatusOr<std::unique_ptr<HandlerHarness>> HandlerHarness::FromFactory(
    std::unique_ptr<HandlerFactory> factory, absl::string_view scheme, absl::string_view service) {
  std::unique_ptr<HandlerHarness> harness(new HandlerHarness());
  harness->service_ = std::string(service);
  harness->protocol_ = ProtocolRegistry::Global().Find(scheme);
  if (harness->protocol_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no protocol '", scheme, "'"));
  }
  harness->factory_ = std::move(factory);
  WorkerContext context{reactor(), harness->service_, 1, nullptr, nullptr};
  harness->handler_ = harness->factory_->NewHandler(context);
  harness->handler_->OnWorkerStart(context);
  return harness;
}

HandlerHarness::~HandlerHarness() {
  if (handler_) handler_->OnWorkerStop();
}

std::unique_ptr<FakePeer> HandlerHarness::Connect() {
  return std::make_unique<FakePeer>(reactor(), *protocol_, *handler_, CodecOptions{}, next_id_++);
}

std::unique_ptr<FakePeer> HandlerHarness::ConnectWebSocket(absl::string_view path) {
  std::unique_ptr<FakePeer> peer = Connect();
  peer->Send(absl::StrCat("GET ", path,
                          " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n"));
  std::string reply = peer->Received();
  if (!absl::StartsWith(reply, "HTTP/1.1 101 ")) return nullptr;
  return peer;
}

std::string ServerFrame(uint8_t first_byte, absl::string_view payload) {
  std::string frame(1, static_cast<char>(first_byte));
  websocket::AppendFrameHeader(websocket::kText, payload.size(), frame);
  frame.erase(1, 1);  // the header's own first byte
  frame.append(payload.data(), payload.size());
  return frame;
}

bool HandlerHarness::RunUntil(const std::function<bool()>& done, int timeout_ms) {
  for (int waited = 0; !done() && waited < timeout_ms; waited += 10) {
    clock().AdvanceMs(10);
    reactor().RunOnce(10);
  }
  return done();
}

void HandlerHarness::Run(int64_t ms) {
  clock().AdvanceMs(ms);
  reactor().RunOnce(0);
}

}  // namespace sockman::testing
