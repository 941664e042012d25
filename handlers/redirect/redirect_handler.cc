// The `redirect { status location }` handler: every request answered with a
// redirect whose Location is a template over the request ("https://{host}
// {uri}" sends plain HTTP to HTTPS).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "config/sockman.pb.h"
#include "handlers/handler.h"
#include "protocols/http/http.h"

namespace sockman {
namespace {

// The template, split into literal text and placeholders.
struct Part {
  enum Kind { kText, kScheme, kHost, kPort, kUri, kPath, kQuery } kind = kText;
  std::string text;
};

struct Redirect {
  int status = 301;
  std::vector<Part> parts;
  bool tls = false;  // the service's scheme is https
};

absl::StatusOr<std::vector<Part>> ParseTemplate(absl::string_view location) {
  static const std::pair<const char*, Part::Kind> kNames[] = {
      {"scheme", Part::kScheme}, {"host", Part::kHost}, {"port", Part::kPort},
      {"uri", Part::kUri},       {"path", Part::kPath}, {"query", Part::kQuery}};
  std::vector<Part> parts;
  while (!location.empty()) {
    size_t open = location.find('{');
    if (open == absl::string_view::npos) {
      parts.push_back({Part::kText, std::string(location)});
      break;
    }
    if (open > 0) parts.push_back({Part::kText, std::string(location.substr(0, open))});
    size_t close = location.find('}', open);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("location: a '{' without its '}'");
    }
    absl::string_view name = location.substr(open + 1, close - open - 1);
    bool known = false;
    for (const auto& [n, kind] : kNames) {
      if (name == n) {
        parts.push_back({kind, ""});
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("location: unknown placeholder {", name,
                       "} (known: scheme, host, port, uri, path, query)"));
    }
    location.remove_prefix(close + 1);
  }
  return parts;
}

class RedirectHandler : public Handler {
 public:
  explicit RedirectHandler(const Redirect& redirect) : redirect_(redirect) {}
  void OnMessage(Connection& connection, absl::string_view, MessageKind) override {
    const HttpRequest* request = HttpRequestOf(connection);
    if (request == nullptr) return;
    absl::string_view host, port;
    SplitHostPort(request->host, host, port);
    // The target as sent, for {uri}: origin-form, or the path of an
    // absolute-form target.
    absl::string_view uri = request->target;
    if (uri.empty() || uri[0] != '/') {
      uri = request->query.empty() ? request->path : absl::string_view();
    }
    std::string location;
    for (const Part& part : redirect_.parts) {
      switch (part.kind) {
        case Part::kText:
          location += part.text;
          break;
        case Part::kScheme:
          location += redirect_.tls ? "https" : "http";
          break;
        case Part::kHost:
          location.append(host.data(), host.size());
          break;
        case Part::kPort:
          if (port.empty()) {
            location += redirect_.tls ? "443" : "80";
          } else {
            location.append(port.data(), port.size());
          }
          break;
        case Part::kUri:
          if (uri.empty()) {
            absl::StrAppend(&location, request->path, "?", request->query);
          } else {
            location.append(uri.data(), uri.size());
          }
          break;
        case Part::kPath:
          location.append(request->path.data(), request->path.size());
          break;
        case Part::kQuery:
          location.append(request->query.data(), request->query.size());
          break;
      }
    }
    // Every byte placed came from the template or a request line and Host
    // the parser checked (no CR, LF or spaces): the header cannot be split.
    SendHttpErrorPage(connection, redirect_.status, absl::StrCat("Location: ", location, "\r\n"));
  }

 private:
  const Redirect& redirect_;
};

class RedirectFactory : public HandlerFactory {
 public:
  explicit RedirectFactory(Redirect redirect) : redirect_(std::move(redirect)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext&) const override {
    return std::make_unique<RedirectHandler>(redirect_);
  }

 private:
  Redirect redirect_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateRedirect(const RedirectOptions& options,
                                                               const HandlerConfig& config) {
  if (!config.protocol.traits().request_response) {
    return absl::InvalidArgumentError(
        absl::StrCat("needs an http:// service, not ", config.protocol.name(), "://"));
  }
  Redirect redirect;
  redirect.status = options.has_status() ? static_cast<int>(options.status()) : 301;
  if (redirect.status != 301 && redirect.status != 302 && redirect.status != 303 &&
      redirect.status != 307 && redirect.status != 308) {
    return absl::InvalidArgumentError(
        absl::StrCat("status: ", redirect.status, " is not a redirect (301, 302, 303, 307, 308)"));
  }
  if (options.location().empty()) return absl::InvalidArgumentError("location: is required");
  if (!IsHttpFieldValue(options.location())) {
    return absl::InvalidArgumentError("location: contains control characters");
  }
  absl::StatusOr<std::vector<Part>> parts = ParseTemplate(options.location());
  if (!parts.ok()) return parts.status();
  redirect.parts = std::move(*parts);
  redirect.tls = config.tls;
  return std::make_unique<RedirectFactory>(std::move(redirect));
}

SOCKMAN_REGISTER_HANDLER("redirect", CreateRedirect);

}  // namespace
}  // namespace sockman
