// The `echo { prefix: "hello " }` handler: replies prefix + message to each
// message, through the service's protocol (a line on text, a frame on frame),
// in the message's kind (a binary WebSocket message is echoed binary).
// A client that sends faster than it reads is paused while its send buffer
// is full, so nothing is dropped (Workerman's pipe() to itself).
#ifndef SOCKMAN_HANDLERS_ECHO_ECHO_HANDLER_H_
#define SOCKMAN_HANDLERS_ECHO_ECHO_HANDLER_H_

#include <string>

#include "handlers/handler.h"

namespace sockman {

class EchoHandler : public Handler {
 public:
  explicit EchoHandler(std::string prefix) : prefix_(std::move(prefix)) {}
  void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) override;
  void OnBufferFull(Connection& connection) override { connection.PauseRecv(); }
  void OnBufferDrain(Connection& connection) override { connection.ResumeRecv(); }

 private:
  std::string prefix_;
  std::string reply_;  // reused across messages
};

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_ECHO_ECHO_HANDLER_H_
