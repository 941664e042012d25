// Unit tests of a handler without processes or sockets: the handler is
// created through its registry entry from its options block, exactly as a
// config would create it, and clients are FakePeers of the service's
// protocol.
//
//   auto harness = HandlerHarness::Create("echo", "prefix: '> '", "text");
//   auto client = (*harness)->Connect();
//   client->Send("hi\n");
//   EXPECT_EQ(client->Received(), "> hi\n");
//
// Every harness of a test binary shares one loop (Hub, like a worker, keeps
// one per process); Run() turns it for deferred work and due timers.
#ifndef SOCKMAN_HANDLERS_TESTING_HANDLER_HARNESS_H_
#define SOCKMAN_HANDLERS_TESTING_HANDLER_HARNESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/base/clock.h"
#include "handlers/handler.h"
#include "protocols/testing/fake_transport.h"

namespace sockman::testing {

class HandlerHarness {
 public:
  // `handler` is the Service field's name ("echo"), `options` its block in
  // text format, for a service of `scheme` named `service`. Errors are the
  // creator's (what `sockman check` reports).
  static absl::StatusOr<std::unique_ptr<HandlerHarness>> Create(absl::string_view handler,
                                                                absl::string_view options,
                                                                absl::string_view scheme = "text",
                                                                absl::string_view service = "test",
                                                                std::string config_directory = ".");
  // A harness for a factory made another way (a service's routes, with
  // CreateRouter), serving a service of `scheme` named `service`.
  static absl::StatusOr<std::unique_ptr<HandlerHarness>> FromFactory(
      std::unique_ptr<HandlerFactory> factory, absl::string_view scheme,
      absl::string_view service = "test");
  ~HandlerHarness();

  // A new client, accepted (OnConnect, and OnOpen unless the protocol has a
  // handshake).
  std::unique_ptr<FakePeer> Connect();
  // On a websocket:// service: a client that completed the upgrade to
  // `path` (its 101 already taken), or null if the upgrade was refused.
  std::unique_ptr<FakePeer> ConnectWebSocket(absl::string_view path = "/");
  Handler& handler() { return *handler_; }
  // Runs the loop for `ms` of fake time (at least one pass).
  void Run(int64_t ms = 0);
  // Runs the loop (real time: child processes, sockets) until `done` or
  // `timeout_ms` pass; returns done().
  bool RunUntil(const std::function<bool()>& done, int timeout_ms = 5000);
  static Reactor& reactor();
  static FakeClock& clock();

 private:
  HandlerHarness() = default;
  const Protocol* protocol_ = nullptr;
  std::unique_ptr<HandlerFactory> factory_;
  std::unique_ptr<Handler> handler_;
  std::string service_;
  uint64_t next_id_ = 1;
};

// A server's unmasked WebSocket frame as the client receives it:
// ServerFrame(0x82, "\xff") is a binary message of one byte.
std::string ServerFrame(uint8_t first_byte, absl::string_view payload);

}  // namespace sockman::testing

#endif  // SOCKMAN_HANDLERS_TESTING_HANDLER_HARNESS_H_
