#include "handlers/router/router.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/ip_limits.h"
#include "handlers/module.h"
#include "handlers/policy/jwt_config.h"
#include "handlers/policy/rate_limit_config.h"
#include "handlers/router/basic_auth.h"
#include "protocols/binding.h"
#include "protocols/http/access_log.h"
#include "protocols/http/compression.h"
#include "protocols/http/http.h"
#include "protocols/http/syntax.h"
#include "protocols/websocket/websocket_codec.h"

namespace sockman {
namespace {

// Handlers that take WebSocket clients on a route; a module does when its
// route has a websocket block.
constexpr const char* kWebSocketHandlers[] = {"echo", "broadcast", "webhook", "exec", "proxy"};

// A route's CORS rules, checked and rendered once.
struct CorsPolicy {
  bool any_origin = false;
  std::vector<std::string> origins;
  std::vector<std::string> methods;
  bool any_header = false;
  std::vector<std::string> headers;  // lower case
  std::string expose;                // "Access-Control-Expose-Headers: ...\r\n" or ""
  bool credentials = false;
  uint32_t max_age = 600;

  bool Allows(absl::string_view origin) const {
    return any_origin || std::find(origins.begin(), origins.end(), origin) != origins.end();
  }
  // The headers every CORS answer to `origin` carries.
  std::string OriginHeaders(absl::string_view origin) const {
    bool star = any_origin && !credentials;
    return absl::StrCat("Access-Control-Allow-Origin: ", star ? "*" : origin, "\r\n",
                        star ? "" : "Vary: Origin\r\n",
                        credentials ? "Access-Control-Allow-Credentials: true\r\n" : "");
  }
};

// Errors are "FIELD: why".
absl::StatusOr<CorsPolicy> MakeCors(const Cors& cors) {
  CorsPolicy policy;
  if (cors.allowed_origins().empty()) {
    return absl::InvalidArgumentError("allowed_origins: name at least one origin (or \"*\")");
  }
  for (const std::string& origin : cors.allowed_origins()) {
    if (origin == "*") {
      policy.any_origin = true;
      continue;
    }
    size_t scheme = origin.find("://");
    bool valid = scheme != std::string::npos && scheme > 0 && origin.size() > scheme + 3 &&
                 origin.find('/', scheme + 3) == std::string::npos && IsHttpFieldValue(origin) &&
                 origin.find(' ') == std::string::npos;
    if (!valid) {
      return absl::InvalidArgumentError(absl::StrCat(
          "allowed_origins: '", origin,
          "' is not an origin (scheme://host[:port], no path or trailing slash) or \"*\""));
    }
    policy.origins.push_back(origin);
  }
  policy.credentials = cors.allow_credentials();
  if (policy.any_origin && policy.credentials) {
    return absl::InvalidArgumentError(
        "allow_credentials: browsers refuse credentials with the \"*\" origin: name the origins");
  }
  for (const std::string& method : cors.allowed_methods()) {
    if (!IsHttpToken(method)) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed_methods: '", method, "' is not a method"));
    }
    policy.methods.push_back(method);
  }
  if (policy.methods.empty()) policy.methods = {"GET", "HEAD", "POST"};
  for (const std::string& header : cors.allowed_headers()) {
    if (header == "*") {
      policy.any_header = true;
    } else if (!IsHttpToken(header)) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed_headers: '", header, "' is not a header name"));
    } else {
      policy.headers.push_back(absl::AsciiStrToLower(header));
    }
  }
  std::vector<std::string> expose;
  for (const std::string& header : cors.expose_headers()) {
    if (!IsHttpToken(header)) {
      return absl::InvalidArgumentError(
          absl::StrCat("expose_headers: '", header, "' is not a header name"));
    }
    expose.push_back(header);
  }
  if (!expose.empty()) {
    policy.expose =
        absl::StrCat("Access-Control-Expose-Headers: ", absl::StrJoin(expose, ", "), "\r\n");
  }
  if (cors.has_max_age()) policy.max_age = cors.max_age();
  return policy;
}

struct RouteEntry {
  std::string name;
  std::string handler;  // its field name ("static")
  std::unique_ptr<HandlerFactory> factory;
  bool websocket = false;
  bool strip_prefix = false;
  // WebSocket routes: the codec options of the upgraded connection.
  std::shared_ptr<const ProtocolOptions> websocket_options;
  // basic_auth: the users, copied into each worker (which remembers good
  // passwords in its copy).
  std::shared_ptr<const BasicAuthFile> auth;
  // jwt: requests need a valid token; upgraded clients keep who it says.
  std::shared_ptr<const JwtGate> jwt;
  std::string jwt_digest;  // of its key files, for reload
  // rate_limit (null: none): on a WebSocket route, of the upgraded
  // connections' messages; on an HTTP route, of requests per client address
  // (over it: 429).
  std::shared_ptr<const RateLimitPolicy> rate_limit;
  std::shared_ptr<const CorsPolicy> cors;
  std::string response_headers;  // rendered lines
  std::shared_ptr<const CompressionPolicy> compression;
  std::vector<std::string> removed_headers;  // lower case
  // WebSocket routes' heartbeat (interval 0: none).
  int64_t heartbeat_ms = 0;
  uint32_t not_response_limit = 0;
  std::string ping_data;
};

class RouterFactory : public HandlerFactory {
 public:
  RouterFactory(RouteTable table, std::vector<RouteEntry> routes, const Protocol* websocket)
      : table_(std::move(table)), routes_(std::move(routes)), websocket_(websocket) {
    for (const RouteEntry& route : routes_) {
      has_websocket_ |= route.websocket;
      has_cors_ |= route.cors != nullptr;
    }
  }
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override;

  const RouteTable& table() const { return table_; }
  const std::vector<RouteEntry>& routes() const { return routes_; }
  const Protocol* websocket() const { return websocket_; }
  bool has_websocket() const { return has_websocket_; }
  bool has_cors() const { return has_cors_; }
  std::string loaded_files() const {
    std::string digests;
    for (const RouteEntry& route : routes_) {
      if (route.auth != nullptr) digests += route.auth->digest();
      digests += route.jwt_digest;
    }
    return digests;
  }

 private:
  RouteTable table_;
  std::vector<RouteEntry> routes_;
  const Protocol* websocket_;
  bool has_websocket_ = false;  // some route upgrades
  bool has_cors_ = false;       // some route has cors
};

class Router : public Handler {
 public:
  Router(const RouterFactory& factory, const WorkerContext& worker)
      : factory_(factory), reactor_(worker.reactor), routes_(factory.routes().size()) {
    for (size_t i = 0; i < routes_.size(); ++i) {
      const RouteEntry& route = factory.routes()[i];
      Live& live = routes_[i];
      live.handler = route.factory->NewHandler(worker);
      live.codec = worker.codec;
      live.codec.options = route.websocket_options.get();
      if (route.auth != nullptr) live.auth = std::make_unique<BasicAuthFile>(*route.auth);
      if (i < worker.route_access_logs.size()) live.log = worker.route_access_logs[i];
      if (route.heartbeat_ms > 0) {
        live.beat_timer = reactor_.AddRepeatingTimer(route.heartbeat_ms, [this, i] { Beat(i); });
      }
      streams_ |= live.handler->streams_request_bodies();
    }
  }
  ~Router() override {
    for (const Live& live : routes_) reactor_.CancelTimer(live.beat_timer);
  }

  void OnWorkerStart(const WorkerContext& worker) override {
    for (Live& live : routes_) live.handler->OnWorkerStart(worker);
  }
  void OnWorkerStop() override {
    for (Live& live : routes_) live.handler->OnWorkerStop();
  }
  void OnWorkerReload() override {
    for (Live& live : routes_) live.handler->OnWorkerReload();
  }
  std::vector<std::pair<std::string, uint64_t>> route_requests() const override {
    std::vector<std::pair<std::string, uint64_t>> counts;
    for (size_t i = 0; i < routes_.size(); ++i) {
      counts.emplace_back(factory_.routes()[i].name, routes_[i].requests);
    }
    return counts;
  }
  std::optional<ClientDescription> DescribeClient(const Connection& connection) const override {
    auto it = states_.find(&connection);
    if (it == states_.end() || it->second.owner < 0) return std::nullopt;
    return routes_[it->second.owner].handler->DescribeClient(connection);
  }
  void AppendMetrics(MetricSamples& samples) const override {
    for (size_t i = 0; i < routes_.size(); ++i) {
      routes_[i].handler->AppendMetrics(samples);
      if (factory_.routes()[i].rate_limit != nullptr && !factory_.routes()[i].websocket) {
        samples.Counter("sockman_route_rate_limited", routes_[i].rate_limited,
                        {{"route", factory_.routes()[i].name}});
      }
    }
  }
  std::vector<UpstreamStatus> upstreams() const override {
    std::vector<UpstreamStatus> all;
    for (const Live& live : routes_) {
      std::vector<UpstreamStatus> some = live.handler->upstreams();
      all.insert(all.end(), some.begin(), some.end());
    }
    return all;
  }
  uint64_t backend_errors() const override {
    uint64_t sum = 0;
    for (const Live& live : routes_) sum += live.handler->backend_errors();
    return sum;
  }

  bool streams_request_bodies() const override { return streams_; }

  void OnConnect(Connection& connection) override {
    if (!streams_) return;
    if (HttpCodec* codec = connection.codec_as<HttpCodec>()) codec->set_announce_heads(true);
  }

  void OnOpen(Connection& connection) override {
    // The HTTP connection opens at accept (nothing to tell a route yet);
    // an upgraded one after its handshake.
    if (State* state = Find(connection); state != nullptr && state->owner >= 0) {
      Live& live = routes_[state->owner];
      if (live.beat_timer != kNoTimer) live.beating.insert(&connection);
      live.handler->OnOpen(connection);
    }
  }

  void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) override {
    State& state = states_[&connection];
    if (state.owner >= 0) return routes_[state.owner].handler->OnMessage(connection, message, kind);
    HttpCodec* codec = connection.codec_as<HttpCodec>();
    if (codec == nullptr) {  // the route that had the last request switched protocols
      if (state.current >= 0) routes_[state.current].handler->OnMessage(connection, message, kind);
      return;
    }
    HttpCodec::BodyPart part = codec->body_part();
    if (part == HttpCodec::BodyPart::kPiece || part == HttpCodec::BodyPart::kLast) {
      if (state.discarding) {  // the body of a request answered at its head
        state.discarding = part != HttpCodec::BodyPart::kLast;
      } else if (state.current >= 0) {
        routes_[state.current].handler->OnMessage(connection, message, kind);
      }
      return;
    }
    // A head alone is taken only by a route that streams bodies; others get
    // the whole request once its body is in.
    bool head = part == HttpCodec::BodyPart::kHead;
    const HttpRequest& request = codec->request();
    if (int refused = NormalizeRoutePath(request.path, path_)) {
      if (head) return;
      SendHttpErrorPage(connection, refused);
      return;
    }
    // Headers looked at only when some route needs them.
    bool upgrade =
        factory_.has_websocket() && HttpListHasToken(request.Header("Upgrade"), "websocket");
    // A CORS preflight is matched as the request it announces.
    absl::string_view origin, announced;
    bool preflight = false;
    if (factory_.has_cors()) {
      origin = request.Header("Origin");
      if (request.method == "OPTIONS") announced = request.Header("Access-Control-Request-Method");
      preflight = !announced.empty() && request.HasHeader("Origin");
    }
    int index = factory_.table().Match(
        {request.host, path_, preflight ? announced : request.method, request.headers, upgrade});
    if (preflight && (index < 0 || factory_.routes()[index].cors == nullptr)) {
      preflight = false;  // no CORS there: an OPTIONS request like any other
      index =
          factory_.table().Match({request.host, path_, request.method, request.headers, upgrade});
    }
    if (head && (index < 0 || !routes_[index].handler->streams_request_bodies())) return;
    if (index == RouteTable::kNotFound) {
      SendHttpErrorPage(connection, 404);
      return;
    }
    if (index == RouteTable::kUpgradeRequired) {
      SendHttpErrorPage(connection, 426, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
      return;
    }
    const RouteEntry& route = factory_.routes()[index];
    Live& live = routes_[index];
    ++live.requests;
    if (preflight) {
      AnswerPreflight(connection, request, *route.cors, origin, announced);
      if (head) Discard(*codec, state);
      return;
    }
    if (BasicAuthFile* auth = live.auth.get();
        auth != nullptr &&
        !auth->Allows(request.Header("Authorization"), connection.reactor().NowMs())) {
      SendHttpErrorPage(connection, 401, auth->challenge());
      if (head) Discard(*codec, state);
      return;
    }
    std::unique_ptr<ClientIdentity> identity;
    if (route.jwt != nullptr) {
      JwtGate::Verdict verdict = route.jwt->Admit(request, absl::ToUnixSeconds(absl::Now()));
      if (verdict.status != 0) {
        SendHttpErrorPage(connection, verdict.status, verdict.headers);
        if (head) Discard(*codec, state);
        return;
      }
      identity = std::move(verdict.identity);
    }
    if (!route.websocket && route.rate_limit != nullptr &&
        !AdmitRequest(connection, index, route)) {
      if (head) Discard(*codec, state);
      return;
    }
    Handler& handler = *live.handler;
    if (route.websocket) {
      // The route's own codec does the handshake (origins, subprotocols,
      // deflate) on this same request, then the route has the connection.
      state.owner = index;
      if (live.log != nullptr) {
        state.upgrade_log = std::make_unique<AccessLogRequest>();
        state.upgrade_log->Capture(request.method, request.target, request.version_minor,
                                   request.Header("Referer"), request.Header("User-Agent"));
      }
      if (identity != nullptr) connection.set_identity(std::move(identity));
      if (route.rate_limit != nullptr) connection.set_rate_limit(route.rate_limit.get());
      handler.OnConnect(connection);
      if (!connection.open()) return;
      connection.SwitchProtocol(*factory_.websocket(), factory_.websocket()->NewCodec(live.codec));
      return;
    }
    if (std::find(state.engaged.begin(), state.engaged.end(), index) == state.engaged.end()) {
      state.engaged.push_back(static_cast<uint16_t>(index));
      handler.OnConnect(connection);
      if (!connection.open()) return;
      handler.OnOpen(connection);
      if (!connection.open()) return;
    }
    if (route.strip_prefix) {  // a prefix route: path_ starts with the prefix
      const std::string& prefix = factory_.table().spec(index).path;
      path_ = absl::StrCat("/", absl::StripPrefix(path_.substr(prefix.size()), "/"));
    }
    codec->OverridePath(path_);
    if (live.log != nullptr) codec->SetAccessLog(live.log, connection.remote_address());
    if (!route.response_headers.empty()) codec->AddResponseHeaders(route.response_headers);
    if (!route.removed_headers.empty()) codec->RemoveResponseHeaders(&route.removed_headers);
    if (route.compression != nullptr) {
      codec->SetCompression(
          route.compression.get(),
          NegotiateCoding(request.Header("Accept-Encoding"), route.compression->codings));
    }
    if (route.cors != nullptr && !origin.empty() && route.cors->Allows(origin)) {
      codec->AddResponseHeaders(route.cors->OriginHeaders(origin));
      if (!route.cors->expose.empty()) codec->AddResponseHeaders(route.cors->expose);
    }
    state.current = index;
    handler.OnMessage(connection, message, kind);
  }

  void OnClose(Connection& connection) override {
    auto it = states_.find(&connection);
    if (it == states_.end()) return;
    State state = std::move(it->second);
    states_.erase(it);
    if (state.owner >= 0) routes_[state.owner].beating.erase(&connection);
    if (state.upgrade_log != nullptr && routes_[state.owner].log != nullptr) {
      // As nginx logs an upgrade: when the connection ends, 101 (or the
      // refusal; 499 when the client left first) and every byte sent.
      const WebSocketCodec* ws = connection.codec_as<WebSocketCodec>();
      int status = ws != nullptr ? ws->handshake_status() : 0;
      AppendAccessLog(*routes_[state.owner].log, connection.remote_address().Host(),
                      HttpDate::LogTime(), state.upgrade_log.get(), status == 0 ? 499 : status,
                      connection.bytes_written());
    }
    ForEach(state, [&](Handler& h) { h.OnClose(connection); });
  }
  void OnBufferFull(Connection& connection) override {
    if (State* state = Find(connection))
      ForEach(*state, [&](Handler& h) { h.OnBufferFull(connection); });
  }
  void OnBufferDrain(Connection& connection) override {
    if (State* state = Find(connection)) {
      ForEach(*state, [&](Handler& h) { h.OnBufferDrain(connection); });
    }
  }
  void OnError(Connection& connection, ConnectionError error, absl::string_view text) override {
    if (State* state = Find(connection)) {
      ForEach(*state, [&](Handler& h) { h.OnError(connection, error, text); });
    }
  }

 private:
  // 204 with what the preflight may do, or 403 when the origin, method or
  // a header is not allowed (without CORS headers: the browser refuses).
  void AnswerPreflight(Connection& connection, const HttpRequest& request, const CorsPolicy& cors,
                       absl::string_view origin, absl::string_view method) {
    bool method_ok =
        method == "GET" || method == "HEAD" || method == "POST" ||
        std::find(cors.methods.begin(), cors.methods.end(), method) != cors.methods.end();
    std::vector<std::string> asked;
    for (absl::string_view header :
         absl::StrSplit(request.Header("Access-Control-Request-Headers"), ',', absl::SkipEmpty())) {
      header = absl::StripAsciiWhitespace(header);
      if (!header.empty()) asked.push_back(absl::AsciiStrToLower(header));
    }
    bool headers_ok =
        cors.any_header || std::all_of(asked.begin(), asked.end(), [&](const std::string& h) {
          return std::find(cors.headers.begin(), cors.headers.end(), h) != cors.headers.end();
        });
    if (!cors.Allows(origin) || !method_ok || !headers_ok) {
      SendHttpErrorPage(connection, 403);
      return;
    }
    std::string headers = absl::StrCat(
        cors.OriginHeaders(origin),
        "Access-Control-Allow-Methods: ", absl::StrJoin(cors.methods, ", "), "\r\n",
        asked.empty()
            ? ""
            : absl::StrCat("Access-Control-Allow-Headers: ", absl::StrJoin(asked, ", "), "\r\n"),
        "Access-Control-Max-Age: ", cors.max_age, "\r\n");
    SendHttpResponse(connection, 204, headers, "");
  }

  // An HTTP route's rate_limit: a request over its client address's budget
  // is answered 429 (and with CLOSE, the connection closed); false then.
  bool AdmitRequest(Connection& connection, size_t index, const RouteEntry& route) {
    const RateLimitPolicy& p = *route.rate_limit;
    double left = p.shared->Take(AddressKey(connection.remote_address()), SharedBuckets::kMessages,
                                 p.messages_per_second, p.message_burst, 1, reactor_.NowMs(),
                                 /*allow_debt=*/false);
    if (left >= 0) return true;
    ++routes_[index].rate_limited;
    bool close = p.action == RateLimitPolicy::Action::kClose;
    int retry = static_cast<int>(std::ceil(-left / p.messages_per_second));
    SendHttpErrorPage(connection, 429,
                      absl::StrCat("Retry-After: ", std::max(retry, 1), "\r\n",
                                   close ? "Connection: close\r\n" : ""));
    if (close) connection.Close();
    return false;
  }

  // A WebSocket route's heartbeat: pings each of its open connections every
  // interval, and closes those silent for interval * not_response_limit.
  void Beat(size_t index) {
    const RouteEntry& route = factory_.routes()[index];
    int64_t now = reactor_.NowMs();
    int64_t silence = route.heartbeat_ms * route.not_response_limit;
    std::vector<Connection*> silent;
    for (Connection* connection : routes_[index].beating) {
      if (route.not_response_limit > 0 && now - connection->last_recv_ms() >= silence) {
        silent.push_back(connection);
      } else {
        connection->SendHeartbeat(route.ping_data);
      }
    }
    for (Connection* connection : silent) connection->DestroySilent();  // OnClose forgets it
  }

  // A route in this worker.
  struct Live {
    std::unique_ptr<Handler> handler;
    CodecOptions codec;                        // WebSocket routes: the upgraded connection's
    std::unique_ptr<BasicAuthFile> auth;       // remembers good passwords; null: none
    LogAppender* log = nullptr;                // the route's access log; null: the service's
    TimerId beat_timer = kNoTimer;             // heartbeat
    uint64_t rate_limited = 0;                 // HTTP requests answered 429 by rate_limit
    absl::flat_hash_set<Connection*> beating;  // its open WebSocket connections
    uint64_t requests = 0;                     // requests (upgrades included) it took
  };

  struct State {
    int owner = -1;    // the WebSocket route that has the connection
    int current = -1;  // the HTTP route that took the last request
    // A WebSocket route with an access log: the upgrade request's line,
    // written when the connection closes.
    std::unique_ptr<AccessLogRequest> upgrade_log;
    bool discarding = false;                   // see Discard
    absl::InlinedVector<uint16_t, 2> engaged;  // HTTP routes that saw it
  };
  // A request answered at its head: its body is read and dropped.
  static void Discard(HttpCodec& codec, State& state) {
    if (codec.StreamBody(0)) state.discarding = true;
  }

  State* Find(const Connection& connection) {
    auto it = states_.find(&connection);
    return it == states_.end() ? nullptr : &it->second;
  }
  template <typename F>
  void ForEach(const State& state, F f) {
    if (state.owner >= 0) f(*routes_[state.owner].handler);
    for (uint16_t index : state.engaged) f(*routes_[index].handler);
  }

  const RouterFactory& factory_;
  Reactor& reactor_;
  std::vector<Live> routes_;  // as factory_.routes()
  bool streams_ = false;      // some route's handler streams request bodies
  absl::flat_hash_map<const Connection*, State> states_;
  std::string path_;  // the current request's normalised path
};

std::unique_ptr<Handler> RouterFactory::NewHandler(const WorkerContext& worker) const {
  return std::make_unique<Router>(*this, worker);
}

}  // namespace

std::string RouteHandlerName(const Route& route) {
  const auto* oneof = Route::descriptor()->FindOneofByName("handler");
  const auto* field = route.GetReflection()->GetOneofFieldDescriptor(route, oneof);
  return field == nullptr ? "" : field->name();
}

bool IsWebSocketRoute(const Route& route) {
  std::string handler = RouteHandlerName(route);
  if (handler == "module") return route.has_websocket();
  if (handler == "proxy") {  // http(s):// upstreams: the HTTP proxy (it passes upgrades itself)
    const ProxyOptions& proxy = route.proxy();
    const std::string& first = !proxy.upstream().empty() ? proxy.upstream(0)
                               : !proxy.server().empty() ? proxy.server(0).url()
                                                         : std::string();
    return !(absl::StartsWith(first, "http://") || absl::StartsWith(first, "https://"));
  }
  return std::find(std::begin(kWebSocketHandlers), std::end(kWebSocketHandlers), handler) !=
         std::end(kWebSocketHandlers);
}

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateRouter(const Service& service,
                                                             const Protocol& protocol,
                                                             const std::string& config_directory,
                                                             RouterError* error,
                                                             const ClusterOptions* cluster) {
  auto fail = [&](int index, absl::string_view field, absl::string_view message) {
    std::string path = absl::StrCat("route[", index, "]", field.empty() ? "" : ".", field);
    std::string text = absl::StrCat("route '", RouteName(service, index), "': ", message);
    if (error != nullptr) *error = RouterError{path, text};
    return absl::InvalidArgumentError(text);
  };
  const Protocol* websocket = ProtocolRegistry::Global().Find("websocket");
  const ProtocolBinding* websocket_binding = BindingRegistry::Global().Find("websocket");
  std::vector<RouteSpec> specs;
  std::vector<RouteEntry> routes;
  for (int i = 0; i < service.route_size(); ++i) {
    const Route& route = service.route(i);
    RouteEntry entry;
    entry.name = RouteName(service, i);
    entry.handler = RouteHandlerName(route);
    entry.websocket = IsWebSocketRoute(route);
    if (entry.handler.empty()) return fail(i, "", "no handler (set exactly one)");
    if (entry.websocket && (websocket == nullptr || websocket_binding == nullptr)) {
      return fail(i, entry.handler, "this binary has no WebSocket protocol");
    }
    const RouteMatch& match = route.match();
    int path_conditions = match.has_path() + match.has_prefix() + match.has_regex();
    if (path_conditions > 1) {
      return fail(i, "match", "set at most one of path, prefix and regex");
    }
    if (route.has_websocket() && !entry.websocket) {
      return fail(i, "websocket",
                  absl::StrCat(entry.handler,
                               " answers HTTP requests and never upgrades: a websocket block "
                               "belongs on a route whose handler takes WebSocket clients (",
                               "echo, broadcast, webhook, exec, proxy, or a module)"));
    }
    if (route.websocket().has_path()) {
      return fail(i, "websocket.path", "the route's match decides the path: leave it out here");
    }
    if (route.strip_prefix() && !match.has_prefix()) {
      return fail(i, "strip_prefix", "needs a match.prefix to strip");
    }
    if (route.has_cors()) {
      absl::StatusOr<CorsPolicy> cors = MakeCors(route.cors());
      if (!cors.ok()) {
        std::string message(cors.status().message());
        size_t colon = message.find(": ");
        return fail(i, absl::StrCat("cors.", message.substr(0, colon)), message.substr(colon + 2));
      }
      entry.cors = std::make_shared<const CorsPolicy>(std::move(*cors));
    }
    for (const Header& header : route.response_header()) {
      if (!IsHttpToken(header.name())) {
        return fail(i, "response_header",
                    absl::StrCat("'", header.name(), "' is not a header name"));
      }
      if (!IsHttpFieldValue(header.value())) {
        return fail(i, "response_header",
                    absl::StrCat("the value of '", header.name(), "' has control characters"));
      }
      absl::StrAppend(&entry.response_headers, header.name(), ": ", header.value(), "\r\n");
    }
    if (route.has_access_log() && route.access_log().empty()) {
      return fail(i, "access_log", "must be a file path");
    }
    if (route.has_heartbeat()) {
      const Heartbeat& heartbeat = route.heartbeat();
      if (!entry.websocket) {
        return fail(i, "heartbeat", "pings WebSocket clients: this route answers HTTP requests");
      }
      if (heartbeat.interval_ms() < 10 || heartbeat.interval_ms() > 86'400'000) {
        return fail(i, "heartbeat.interval_ms", "must be between 10 and 86400000");
      }
      if (uint64_t{heartbeat.interval_ms()} * heartbeat.not_response_limit() > 864'000'000) {
        return fail(i, "heartbeat.not_response_limit",
                    "interval_ms * not_response_limit must be at most 10 days");
      }
      entry.heartbeat_ms = heartbeat.interval_ms();
      entry.not_response_limit = heartbeat.not_response_limit();
      entry.ping_data = heartbeat.ping_data();
    }
    for (const std::string& name : route.remove_response_header()) {
      std::string lower = absl::AsciiStrToLower(name);
      if (!IsHttpToken(name)) {
        return fail(i, "remove_response_header", absl::StrCat("'", name, "' is not a header name"));
      }
      for (const char* framing : {"date", "content-length", "transfer-encoding", "connection"}) {
        if (lower == framing) {
          return fail(i, "remove_response_header",
                      absl::StrCat("'", name, "' frames the response (or is required): it stays"));
        }
      }
      entry.removed_headers.push_back(std::move(lower));
    }
    if (route.has_compress()) {
      if (entry.websocket) {
        return fail(i, "compress",
                    "compresses HTTP responses: a WebSocket route has `websocket { deflate }`");
      }
      const Compression& config = route.compress();
      auto policy = std::make_shared<CompressionPolicy>();
      if (config.coding_size() > 0) policy->codings.clear();
      for (const std::string& name : config.coding()) {
        Coding coding;
        if (!ParseCoding(name, coding)) {
          return fail(i, "compress.coding",
                      absl::StrCat("'", name,
                                   "' is not a coding sockman compresses with (br, zstd, gzip)"));
        }
        if (std::find(policy->codings.begin(), policy->codings.end(), coding) !=
            policy->codings.end()) {
          return fail(i, "compress.coding", absl::StrCat("'", name, "' is listed twice"));
        }
        policy->codings.push_back(coding);
      }
      struct Level {
        bool has;
        uint32_t value;
        const char* field;
        int low, high;
        int* target;
      };
      for (const Level& level : {Level{config.has_gzip_level(), config.gzip_level(), "gzip_level",
                                       1, 9, &policy->gzip_level},
                                 Level{config.has_brotli_level(), config.brotli_level(),
                                       "brotli_level", 0, 11, &policy->brotli_level},
                                 Level{config.has_zstd_level(), config.zstd_level(), "zstd_level",
                                       1, 19, &policy->zstd_level}}) {
        if (!level.has) continue;
        if (static_cast<int>(level.value) < level.low ||
            static_cast<int>(level.value) > level.high) {
          return fail(i, absl::StrCat("compress.", level.field),
                      absl::StrCat("must be between ", level.low, " and ", level.high));
        }
        *level.target = static_cast<int>(level.value);
      }
      if (config.has_min_size()) policy->min_size = config.min_size();
      if (config.type_size() > 0) {
        policy->types.assign(config.type().begin(), config.type().end());
      }
      entry.compression = std::move(policy);
    }
    if (route.has_basic_auth()) {
      const BasicAuth& auth = route.basic_auth();
      if (auth.htpasswd_file().empty()) return fail(i, "basic_auth.htpasswd_file", "is required");
      std::string path = auth.htpasswd_file();
      if (path[0] != '/') path = absl::StrCat(config_directory, "/", path);
      absl::StatusOr<std::unique_ptr<BasicAuthFile>> loaded =
          BasicAuthFile::Load(path, auth.realm());
      if (!loaded.ok()) return fail(i, "basic_auth.htpasswd_file", loaded.status().message());
      entry.auth = std::move(*loaded);
    }
    if (route.has_rate_limit()) {
      const RateLimit& limit = route.rate_limit();
      if (!entry.websocket) {
        // HTTP routes: requests per client address, as nginx's limit_req.
        if (!limit.per_ip()) {
          return fail(i, "rate_limit.per_ip",
                      "HTTP routes limit requests per client address: set per_ip: true");
        }
        if (limit.per_uid() || limit.cluster() || limit.bytes_per_second() > 0 ||
            limit.action() == RateLimit::PAUSE) {
          return fail(i, "rate_limit",
                      "HTTP routes take messages_per_second, burst and DROP or CLOSE (per_uid, "
                      "cluster, bytes and PAUSE are for WebSocket routes)");
        }
      }
      absl::StatusOr<RateLimitPolicy> policy = RateLimitFromConfig(
          route.rate_limit(), cluster, absl::StrCat(service.name(), "/", RouteName(service, i)));
      if (!policy.ok()) return fail(i, "rate_limit", policy.status().message());
      entry.rate_limit = std::make_shared<const RateLimitPolicy>(std::move(*policy));
    }
    if (route.has_jwt()) {
      absl::StatusOr<std::shared_ptr<const JwtGate>> gate =
          JwtGateFromConfig(route.jwt(), config_directory);
      if (!gate.ok()) return fail(i, "jwt", gate.status().message());
      entry.jwt = std::move(*gate);
      entry.jwt_digest = JwtKeyFilesDigest(route.jwt(), config_directory);
    }

    RouteSpec spec;
    spec.name = entry.name;
    spec.hosts.assign(match.host().begin(), match.host().end());
    if (match.has_path()) {
      spec.path_kind = RouteSpec::kExact;
      spec.path = match.path();
    } else if (match.has_prefix()) {
      spec.path_kind = RouteSpec::kPrefix;
      spec.path = match.prefix();
      entry.strip_prefix = route.strip_prefix();
    } else if (match.has_regex()) {
      spec.path_kind = RouteSpec::kRegex;
      spec.path = match.regex();
    }
    spec.methods.assign(match.method().begin(), match.method().end());
    for (const HeaderMatch& header : match.header()) {
      spec.headers.emplace_back(header.name(), header.has_value()
                                                   ? std::optional<std::string>(header.value())
                                                   : std::nullopt);
    }
    spec.websocket = entry.websocket;
    specs.push_back(std::move(spec));

    // The route's handler, made as a service's would be.
    std::string registered = entry.handler == "module" ? route.module().name() : entry.handler;
    const HandlerCreator* creator = HandlerRegistry::Global().Find(registered);
    if (creator == nullptr) {
      return fail(i, entry.handler == "module" ? "module.name" : entry.handler,
                  absl::StrCat("no handler '", registered, "' in this binary"));
    }
    const auto* field = Route::descriptor()->FindFieldByName(entry.handler);
    const Protocol& route_protocol = entry.websocket ? *websocket : protocol;
    HandlerConfig config{route.GetReflection()->GetMessage(route, field),
                         service.name(),
                         route_protocol,
                         false,
                         config_directory,
                         service.transport() == SSL};
    absl::StatusOr<std::unique_ptr<HandlerFactory>> factory = (*creator)(config);
    if (!factory.ok()) return fail(i, entry.handler, factory.status().message());
    entry.factory = std::move(*factory);

    if (entry.websocket) {
      // The upgrade's options, through the WebSocket binding, as a ws://
      // service with this websocket block (and the service's real_ip).
      Service as_service;
      *as_service.mutable_websocket() = route.websocket();
      if (route.has_jwt()) {
        std::vector<std::string> offered(route.websocket().subprotocols().begin(),
                                         route.websocket().subprotocols().end());
        AddJwtSubprotocol(route.jwt(), offered);
        as_service.mutable_websocket()->mutable_subprotocols()->Assign(offered.begin(),
                                                                       offered.end());
      }
      if (service.has_real_ip()) *as_service.mutable_real_ip() = service.real_ip();
      if (std::optional<FieldError> bad = websocket_binding->Check(as_service)) {
        return fail(i, bad->field, bad->message);
      }
      websocket_binding->FillDefaults(as_service);
      std::unique_ptr<const ProtocolOptions> options = websocket_binding->Options(as_service);
      // The upgrade request is the one the service's HTTP codec took: the
      // same limits judge it again (http { max_header_size ... }).
      if (auto* ws = dynamic_cast<const WebSocketOptions*>(options.get());
          ws != nullptr && service.has_http()) {
        auto copy = std::make_unique<WebSocketOptions>(*ws);
        const Http& http = service.http();
        if (http.has_max_header_size()) copy->handshake.max_header_size = http.max_header_size();
        if (http.has_header_timeout_ms()) {
          copy->handshake.header_timeout_ms = http.header_timeout_ms();
        }
        copy->handshake.strict_line_endings = http.strict_line_endings();
        options = std::move(copy);
      }
      entry.websocket_options = std::shared_ptr<const ProtocolOptions>(std::move(options));
    }
    routes.push_back(std::move(entry));
  }
  RouteError route_error;
  absl::StatusOr<RouteTable> table = RouteTable::Build(std::move(specs), &route_error);
  if (!table.ok()) return fail(route_error.route, route_error.field, route_error.message);
  return std::make_unique<RouterFactory>(std::move(*table), std::move(routes), websocket);
}

std::string RouterLoadedFiles(const HandlerFactory& router) {
  const auto* factory = dynamic_cast<const RouterFactory*>(&router);
  return factory == nullptr ? "" : factory->loaded_files();
}

std::vector<std::string> DescribeRoutes(const HandlerFactory& router) {
  const auto* factory = dynamic_cast<const RouterFactory*>(&router);
  if (factory == nullptr) return {};
  std::vector<std::string> lines = factory->table().Describe();
  // "... -> NAME" gains the handler: "... -> NAME (static)".
  for (std::string& line : lines) {
    size_t arrow = line.rfind(" -> ");
    std::string name = line.substr(arrow + 4);
    for (const RouteEntry& route : factory->routes()) {
      if (route.name == name) absl::StrAppend(&line, " (", route.handler, ")");
    }
  }
  return lines;
}

}  // namespace sockman
