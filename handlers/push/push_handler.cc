// push { service token }: an HTTP API (web-msg-sender's) that reaches the
// clients of a broadcast service in every worker, through the worker's Hub:
//
//   POST   /rooms/NAME   body -> everyone in room NAME     {"delivered":N}
//   POST   /clients/ID   body -> one client (404 if gone)   {"delivered":1}
//   POST   /all          body -> every client               {"delivered":N}
//   DELETE /clients/ID   close that client (404 if gone)    {"closed":1}
//   GET    /rooms/NAME   {"room":"NAME","count":N,"clients":["ID",...]}
//   GET    /clients/ID   {"client_id":"ID","online":true|false}
//
// A body sent with Content-Type: application/octet-stream is delivered as
// binary (a binary WebSocket frame); any other body is text and must be
// UTF-8 (else 400).
//
// With a token, requests need "Authorization: Bearer TOKEN" (else 401);
// without one, only loopback clients are served (else 403).
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "config/sockman.pb.h"
#include "engine/base/json.h"
#include "handlers/handler.h"
#include "handlers/messaging/hub.h"
#include "protocols/http/http.h"
#include "protocols/websocket/frame.h"

namespace sockman {
namespace {

// Percent-decodes a path segment ("%20" -> " "); false on a bad escape.
bool Unescape(absl::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int value = 0;
    if (i + 2 >= in.size() || !absl::ascii_isxdigit(in[i + 1]) ||
        !absl::ascii_isxdigit(in[i + 2])) {
      return false;
    }
    for (int k = 1; k <= 2; ++k) {
      char c = absl::ascii_tolower(in[i + k]);
      value = value * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return true;
}

// Content-Type: application/octet-stream (parameters and case aside).
bool IsBinaryContentType(absl::string_view content_type) {
  absl::string_view type = content_type.substr(0, content_type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(type), "application/octet-stream");
}

struct PushSettings {
  std::string service;
  std::string token;
};

class PushHandler : public Handler {
 public:
  PushHandler(const PushSettings& settings, const WorkerContext& worker)
      : settings_(settings), hub_(Hub::ForWorker(worker)) {}

  void OnConnect(Connection& connection) override { live_.insert(connection.id()); }
  void OnClose(Connection& connection) override { live_.erase(connection.id()); }

  void OnMessage(Connection& connection, absl::string_view body, MessageKind) override {
    const HttpRequest* request = HttpRequestOf(connection);
    if (request == nullptr) return;
    if (settings_.token.empty()) {
      // Loopback: 127.0.0.0/8, ::1, and 127/8 mapped into IPv6.
      std::string host = connection.remote_address().Host();
      bool loopback =
          absl::StartsWith(host, "127.") || host == "::1" || absl::StartsWith(host, "::ffff:127.");
      if (!loopback) {
        Reply(connection, 403, R"({"error":"the push API without a token serves loopback only"})");
        return;
      }
    } else if (request->Header("Authorization") != absl::StrCat("Bearer ", settings_.token)) {
      Reply(connection, 401, R"({"error":"missing or wrong bearer token"})",
            "WWW-Authenticate: Bearer\r\n");
      return;
    }
    absl::string_view path = request->path;
    absl::string_view method = request->method;
    std::string name;
    Hub::Scope scope;
    if (path == "/all") {
      scope = Hub::Scope::kAll;
    } else if (absl::ConsumePrefix(&path, "/rooms/") && !path.empty() &&
               path.find('/') == absl::string_view::npos) {
      scope = Hub::Scope::kRoom;
    } else if (absl::ConsumePrefix(&path, "/clients/") && !path.empty() &&
               path.find('/') == absl::string_view::npos) {
      scope = Hub::Scope::kClient;
    } else {
      Reply(connection, 404, R"({"error":"no such route"})");
      return;
    }
    if (scope != Hub::Scope::kAll && !Unescape(path, name)) {
      Reply(connection, 400, R"({"error":"bad percent-encoding"})");
      return;
    }
    bool allowed = method == "POST" || (method == "GET" && scope != Hub::Scope::kAll) ||
                   (method == "DELETE" && scope == Hub::Scope::kClient);
    if (!allowed) {
      Reply(connection, 405, R"({"error":"method not allowed"})",
            scope == Hub::Scope::kClient ? "Allow: GET, POST, DELETE\r\n"
            : scope == Hub::Scope::kRoom ? "Allow: GET, POST\r\n"
                                         : "Allow: POST\r\n");
      return;
    }
    if (method == "POST" && body.empty()) {
      Reply(connection, 400, R"({"error":"empty body: nothing to push"})");
      return;
    }
    // The body's kind: binary when marked so; otherwise text, which must be
    // UTF-8 (a WebSocket text frame can carry nothing else).
    MessageKind kind = IsBinaryContentType(request->Header("Content-Type")) ? MessageKind::kBinary
                                                                            : MessageKind::kText;
    if (method == "POST" && kind == MessageKind::kText && !IsUtf8(body)) {
      Reply(connection, 400,
            R"({"error":"the body is not UTF-8 text: send bytes with Content-Type: application/octet-stream"})");
      return;
    }
    // The answer comes once every worker of the service has answered: hold
    // further (pipelined) requests on this connection until then.
    connection.PauseRecv();
    uint64_t id = connection.id();
    Connection* c = &connection;
    auto respond = [this, id, c](int status, std::string json) {
      if (!live_.contains(id)) return;  // the client left meanwhile
      Reply(*c, status, json);
      c->ResumeRecv();
    };
    Hub::Target target{scope, name};
    if (method == "POST") {
      hub_.Publish(settings_.service, target, std::string(body), kind, "",
                   [respond, scope](int delivered) {
                     if (scope == Hub::Scope::kClient && delivered == 0) {
                       respond(404, R"({"error":"no such client"})");
                     } else {
                       respond(200, absl::StrCat(R"({"delivered":)", delivered, "}"));
                     }
                   });
    } else if (method == "DELETE") {
      hub_.Close(settings_.service, name, [respond](int closed) {
        if (closed == 0) {
          respond(404, R"({"error":"no such client"})");
        } else {
          respond(200, absl::StrCat(R"({"closed":)", closed, "}"));
        }
      });
    } else if (scope == Hub::Scope::kRoom) {
      hub_.Members(settings_.service, target, [respond, name](std::vector<std::string> ids) {
        std::vector<std::string> quoted;
        for (const std::string& client : ids) quoted.push_back(JsonString(client));
        respond(200, absl::StrCat(R"({"room":)", JsonString(name), R"(,"count":)", ids.size(),
                                  R"(,"clients":[)", absl::StrJoin(quoted, ","), "]}"));
      });
    } else {
      hub_.Members(settings_.service, target, [respond, name](std::vector<std::string> ids) {
        respond(200, absl::StrCat(R"({"client_id":)", JsonString(name), R"(,"online":)",
                                  ids.empty() ? "false" : "true", "}"));
      });
    }
  }

 private:
  static void Reply(Connection& connection, int status, absl::string_view json,
                    absl::string_view headers = "") {
    SendHttpResponse(connection, status,
                     absl::StrCat("Content-Type: application/json\r\n", headers),
                     absl::StrCat(json, "\n"));
  }

  const PushSettings& settings_;
  Hub& hub_;
  absl::flat_hash_set<uint64_t> live_;
};

class PushFactory : public HandlerFactory {
 public:
  explicit PushFactory(PushSettings settings) : settings_(std::move(settings)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<PushHandler>(settings_, worker);
  }

 private:
  PushSettings settings_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreatePush(const PushOptions& options,
                                                           const HandlerConfig& config) {
  if (!config.protocol.traits().request_response) {
    return absl::InvalidArgumentError("push serves an HTTP API: use an http:// service");
  }
  if (options.service().empty()) return absl::InvalidArgumentError("service is required");
  return std::make_unique<PushFactory>(PushSettings{options.service(), options.token()});
}

SOCKMAN_REGISTER_HANDLER("push", CreatePush);

}  // namespace
}  // namespace sockman
