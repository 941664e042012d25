#include "handlers/respond/respond_handler.h"

#include "absl/strings/str_cat.h"
#include "config/sockman.pb.h"
#include "protocols/http/http.h"

namespace sockman {
namespace {

class RespondFactory : public HandlerFactory {
 public:
  RespondFactory(int status, std::string headers, std::string body)
      : status_(status), headers_(std::move(headers)), body_(std::move(body)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext&) const override {
    return std::make_unique<RespondHandler>(status_, headers_, body_);
  }

 private:
  int status_;
  std::string headers_;
  std::string body_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateRespond(const RespondOptions& respond,
                                                              const HandlerConfig& config) {
  if (!config.protocol.traits().request_response) {
    return absl::InvalidArgumentError(
        absl::StrCat("needs an http:// service, not ", config.protocol.name(), "://"));
  }
  int status = respond.has_status() ? static_cast<int>(respond.status()) : 200;
  if (status < 200 || status > 599) {
    return absl::InvalidArgumentError(
        absl::StrCat("status: ", status, " is not a final HTTP status (200-599)"));
  }
  std::string content_type =
      respond.has_content_type() ? respond.content_type() : "text/plain; charset=utf-8";
  if (!IsHttpFieldValue(content_type)) {
    return absl::InvalidArgumentError("content_type: contains control characters");
  }
  std::string headers;
  if (!content_type.empty()) absl::StrAppend(&headers, "Content-Type: ", content_type, "\r\n");
  for (const Header& header : respond.header()) {
    if (!IsHttpToken(header.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat("header: '", header.name(), "' is not a valid header name"));
    }
    if (!IsHttpFieldValue(header.value())) {
      return absl::InvalidArgumentError(
          absl::StrCat("header: value of '", header.name(), "' contains control characters"));
    }
    absl::StrAppend(&headers, header.name(), ": ", header.value(), "\r\n");
  }
  return std::make_unique<RespondFactory>(status, std::move(headers), respond.body());
}

SOCKMAN_REGISTER_HANDLER("respond", CreateRespond);

}  // namespace

void RespondHandler::OnMessage(Connection& connection, absl::string_view, MessageKind) {
  SendHttpResponse(connection, status_, headers_, body_);
}

}  // namespace sockman
