// The `respond { status body content_type header {name value} }` handler: the
// same fixed HTTP response to every request (health checks, hello world,
// benchmarks). Headers are rendered once, when the service is configured.
#ifndef SOCKMAN_HANDLERS_RESPOND_RESPOND_HANDLER_H_
#define SOCKMAN_HANDLERS_RESPOND_RESPOND_HANDLER_H_

#include <string>

#include "handlers/handler.h"

namespace sockman {

class RespondHandler : public Handler {
 public:
  RespondHandler(int status, std::string headers, std::string body)
      : status_(status), headers_(std::move(headers)), body_(std::move(body)) {}
  void OnMessage(Connection& connection, absl::string_view request_body, MessageKind) override;

 private:
  int status_;
  std::string headers_;  // "Name: value\r\n" lines
  std::string body_;
};

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_RESPOND_RESPOND_HANDLER_H_
