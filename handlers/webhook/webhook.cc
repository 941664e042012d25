#include "handlers/webhook/webhook.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/base/json.h"
#include "protocols/http/http_codec.h"
#include "protocols/websocket/websocket.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sockman {
namespace {

bool IsUnreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void AppendFormEncoded(std::string& out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space); malformed
// escapes are kept as they are.
std::string FormDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The session (a JSON object) form-encoded for X-Sockman-Session:
// "key=value&..."; a value that is not a string is its JSON text.
std::string EncodeSession(absl::string_view json) {
  rapidjson::Document session;
  session.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  std::string out;
  if (session.HasParseError() || !session.IsObject()) return out;
  for (const auto& member : session.GetObject()) {
    if (!out.empty()) out.push_back('&');
    AppendFormEncoded(out,
                      absl::string_view(member.name.GetString(), member.name.GetStringLength()));
    out.push_back('=');
    if (member.value.IsString()) {
      AppendFormEncoded(
          out, absl::string_view(member.value.GetString(), member.value.GetStringLength()));
    } else {
      rapidjson::StringBuffer text;
      rapidjson::Writer<rapidjson::StringBuffer> writer(text);
      member.value.Accept(writer);
      AppendFormEncoded(out, absl::string_view(text.GetString(), text.GetSize()));
    }
  }
  return out;
}

void AddHeader(std::string& out, absl::string_view name, absl::string_view value) {
  absl::StrAppend(&out, name, ": ", value, "\r\n");
}

absl::StatusOr<WebhookEndpoint> ParseEndpoint(const std::string& url, const std::string& ca_file) {
  WebhookEndpoint endpoint;
  endpoint.url = url;
  absl::string_view rest = url;
  if (rest.empty()) return absl::InvalidArgumentError("webhook.url is required");
  bool https = absl::ConsumePrefix(&rest, "https://");
  if (!https && !absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "webhook.url '", url, "' must be http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH"));
  }
  if (https) endpoint.port = 443;
  size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  endpoint.target = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  for (unsigned char c : endpoint.target) {
    if (c <= 0x20 || c >= 0x7f || c == '#') {
      return absl::InvalidArgumentError(
          absl::StrCat("webhook.url '", url, "' has a space, control byte or '#' in its path"));
    }
  }
  AuthorityError split = SplitAuthority(authority, endpoint.port, &endpoint.host, &endpoint.port);
  if (split == AuthorityError::kBadPort) {
    return absl::InvalidArgumentError(absl::StrCat("webhook.url '", url, "' needs a port 1-65535"));
  }
  if (split == AuthorityError::kNoHost ||
      !std::all_of(endpoint.host.begin(), endpoint.host.end(), [](unsigned char c) {
        return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == ':' || c == '_';
      })) {
    return absl::InvalidArgumentError(absl::StrCat("webhook.url '", url, "' has no valid host"));
  }
  if (https) {
    auto tls = TlsClientContext::Create(ca_file, {"http/1.1"});
    if (!tls.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("webhook: ", tls.status().message()));
    }
    endpoint.tls = *std::move(tls);
  }
  return endpoint;
}

}  // namespace

absl::StatusOr<WebhookSettings> ParseWebhookSettings(const WebhookOptions& options,
                                                     const Protocol& protocol, bool datagrams) {
  WebhookSettings settings;
  const ProtocolTraits& traits = protocol.traits();
  // Events are messages (over tcp://, what one read returned), not HTTP
  // requests.
  if (traits.request_response) {
    return absl::InvalidArgumentError(
        "webhooks serve message services (websocket, text, frame, tcp, framings), not HTTP");
  }
  settings.message_kinds = traits.message_kinds;
  settings.datagrams = datagrams;
  if (datagrams) {
    settings.on_connect = settings.on_close = false;
    for (int event : options.events()) {
      if (event != WebhookOptions::MESSAGE) {
        return absl::InvalidArgumentError(
            "webhook.events: a UDP service has only MESSAGE events (no connections)");
      }
    }
    if (options.has_auth_timeout_ms()) {
      return absl::InvalidArgumentError("webhook.auth_timeout_ms does not apply to UDP services");
    }
  }
  if (options.url_size() == 0) return absl::InvalidArgumentError("webhook.url is required");
  bool any_https = false;
  for (const std::string& url : options.url()) {
    absl::StatusOr<WebhookEndpoint> endpoint = ParseEndpoint(url, options.ca_file());
    if (!endpoint.ok()) return endpoint.status();
    any_https = any_https || endpoint->tls != nullptr;
    settings.endpoints.push_back(*std::move(endpoint));
  }
  if (options.has_ca_file() && !any_https) {
    return absl::InvalidArgumentError("webhook.ca_file is for https:// urls");
  }
  absl::StatusOr<Hub::ClientLimits> limits = Hub::LimitsFrom(options);
  if (!limits.ok()) return limits.status();
  settings.limits = *limits;
  if (options.has_retry_ms()) {
    if (options.retry_ms() > 3'600'000) {
      return absl::InvalidArgumentError("webhook.retry_ms must be at most 3600000");
    }
    settings.retry_ms = options.retry_ms();
  }

  if (options.events_size() > 0 && !datagrams) {
    settings.on_connect = settings.on_message = settings.on_close = false;
    for (int event : options.events()) {
      if (event == WebhookOptions::CONNECT) settings.on_connect = true;
      if (event == WebhookOptions::MESSAGE) settings.on_message = true;
      if (event == WebhookOptions::CLOSE) settings.on_close = true;
    }
  }
  if (options.has_timeout_ms()) {
    if (options.timeout_ms() < 10 || options.timeout_ms() > 600'000) {
      return absl::InvalidArgumentError("webhook.timeout_ms must be between 10 and 600000");
    }
    settings.timeout_ms = options.timeout_ms();
  }
  if (options.has_max_connections()) {
    if (options.max_connections() < 1 || options.max_connections() > 4096) {
      return absl::InvalidArgumentError("webhook.max_connections must be between 1 and 4096");
    }
    settings.max_connections = options.max_connections();
  }
  if (options.has_max_queue()) {
    if (options.max_queue() < 1 || options.max_queue() > 10'000'000) {
      return absl::InvalidArgumentError("webhook.max_queue must be between 1 and 10000000");
    }
    settings.max_queue = options.max_queue();
  }
  for (const Header& header : options.header()) {
    if (!IsHttpToken(header.name()) || !IsHttpFieldValue(header.value())) {
      return absl::InvalidArgumentError(
          absl::StrCat("webhook.header '", header.name(),
                       "' needs a token name and a value without control bytes"));
    }
    for (const char* reserved : {"Host", "Content-Length", "Transfer-Encoding", "Connection"}) {
      if (absl::EqualsIgnoreCase(header.name(), reserved)) {
        return absl::InvalidArgumentError(
            absl::StrCat("webhook.header '", header.name(), "' is set by sockman"));
      }
    }
    AddHeader(settings.headers, header.name(), header.value());
  }
  if (options.rooms_from_path() && !traits.handshake) {
    return absl::InvalidArgumentError("webhook.rooms_from_path needs a websocket:// service");
  }
  settings.rooms_from_path = options.rooms_from_path();
  return settings;
}

Webhook::Webhook(const WebhookSettings& settings, const WorkerContext& worker, Hub& hub)
    : settings_(settings),
      reactor_(worker.reactor),
      service_(worker.service),
      worker_id_(absl::StrCat(worker.worker_id)),
      hub_(hub) {
  for (const WebhookEndpoint& endpoint : settings.endpoints) {
    backends_.push_back(std::make_unique<Backend>(worker.reactor, endpoint, settings));
  }
}

Webhook::~Webhook() { reactor_.CancelTimer(retry_timer_); }

Webhook::Backend::Backend(Reactor& reactor, const WebhookEndpoint& endpoint,
                          const WebhookSettings& settings)
    : endpoint(endpoint),
      http(reactor, HttpClientOptions{.host = endpoint.host,
                                      .port = endpoint.port,
                                      .tls = endpoint.tls,
                                      .max_connections = settings.max_connections,
                                      .max_queue = SIZE_MAX,  // bounded by max_queue
                                      .timeout_ms = settings.timeout_ms}) {}

Webhook::Backend* Webhook::PickBackend() {
  int64_t now = reactor_.NowMs();
  for (size_t i = 0; i < backends_.size(); ++i) {
    Backend& backend = *backends_[(next_backend_ + i) % backends_.size()];
    if (backend.down_until_ms <= now) {
      next_backend_ = (next_backend_ + i + 1) % backends_.size();
      return &backend;
    }
  }
  return nullptr;
}

void Webhook::RetryWaiting() {
  retry_timer_ = kNoTimer;
  std::vector<uint64_t> keys(waiting_for_backend_.begin(), waiting_for_backend_.end());
  waiting_for_backend_.clear();
  for (uint64_t key : keys) Pump(key);
}

void Webhook::Opened(Connection& connection, const std::string& room) {
  auto client = std::make_unique<Client>();
  client->key = connection.id();
  client->connection = &connection;
  client->id = hub_.ClientId(connection);
  client->address = connection.remote_address().Host();
  client->port = connection.remote_address().port();
  client->groups = {room};
  Client& c = *client;
  clients_[connection.id()] = std::move(client);
  if (!settings_.on_connect) return;
  Event event{Kind::kConnect, "", ""};
  if (const HttpRequest* request = WebSocketHandshake(connection)) {
    // As a proxy does: what the request said, then the hop it came from
    // (the client, or the trusted proxy that named it).
    absl::string_view received = request->Header("X-Forwarded-For");
    std::string hop = connection.peer_address().Host();
    c.forwarded_for = received.empty() ? hop : absl::StrCat(received, ", ", hop);
    AddHeader(event.headers, "X-Sockman-Request-Uri", request->target);
    for (const char* name : {"Origin", "Cookie", "User-Agent"}) {
      absl::string_view value = request->Header(name);
      if (!value.empty()) AddHeader(event.headers, absl::StrCat("X-Sockman-", name), value);
    }
  }
  // A verified client certificate (mTLS).
  if (std::string subject, fingerprint; connection.client_certificate(subject, fingerprint)) {
    AddHeader(event.headers, "X-Sockman-Client-Cert-Subject", subject);
    AddHeader(event.headers, "X-Sockman-Client-Cert-Fingerprint", fingerprint);
  }
  // A verified token's claims (jwt), one line of JSON.
  if (const ClientIdentity* who = connection.identity()) {
    AddHeader(event.headers, "X-Sockman-Auth-Claims", who->claims);
  }
  Enqueue(c, std::move(event));
}

void Webhook::Message(Connection& connection, absl::string_view message, MessageKind kind) {
  if (!settings_.on_message) return;
  auto it = clients_.find(connection.id());
  if (it == clients_.end()) return;
  Event event{Kind::kMessage, std::string(message), ""};
  bool text = kind == MessageKind::kText;
  AddHeader(event.headers, "X-Sockman-Message-Type", text ? "text" : "binary");
  AddHeader(event.headers, "Content-Type",
            text ? "text/plain; charset=utf-8" : "application/octet-stream");
  Enqueue(*it->second, std::move(event));
}

void Webhook::Closed(Connection& connection) {
  auto it = clients_.find(connection.id());
  if (it == clients_.end()) return;
  Client& c = *it->second;
  c.connection = nullptr;
  if (settings_.on_close) {
    Enqueue(c, Event{Kind::kClose, "", ""});
  } else {
    Pump(connection.id());
  }
}

void Webhook::Enqueue(Client& client, Event event) {
  if (waiting_ >= settings_.max_queue) {
    Error(absl::StrCat(settings_.max_queue, " events already waiting; an event of client ",
                       client.id, " was dropped"));
    Pump(client.key);  // forgets a closed client whose close event this was
    return;
  }
  event.first_try_ms = reactor_.NowMs();
  client.events.push_back(std::move(event));
  ++waiting_;
  if (client.connection != nullptr && client.events.size() >= kClientBacklog) {
    client.connection->PauseRecv();  // resumed as its events go out
  }
  Pump(client.key);
}

void Webhook::Pump(uint64_t key) {
  auto it = clients_.find(key);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  if (c.busy) return;
  Backend* backend = nullptr;
  while (!c.events.empty()) {
    backend = PickBackend();
    if (backend != nullptr) break;
    // Every backend is down: the event waits, unless it waited long enough.
    if (reactor_.NowMs() - c.events.front().first_try_ms < settings_.retry_ms) {
      waiting_for_backend_.insert(key);
      if (retry_timer_ == kNoTimer) {
        int64_t soonest = INT64_MAX;
        for (const auto& b : backends_) soonest = std::min(soonest, b->down_until_ms);
        retry_timer_ = reactor_.AddTimer(std::max<int64_t>(1, soonest - reactor_.NowMs()),
                                         [this] { RetryWaiting(); });
      }
      return;
    }
    c.events.pop_front();
    --waiting_;
    ++dropped_;
    Error(absl::StrCat("no backend reachable for ", settings_.retry_ms, " ms: an event of client ",
                       c.id, " was dropped (", dropped_, " dropped so far)"));
  }
  if (c.events.empty()) {
    if (c.connection == nullptr) {
      clients_.erase(it);
    } else if (settings_.datagrams) {
      // A datagram's event is answered: its OnClose forgets the client.
      c.connection->Close();
    }
    return;
  }
  Event event = std::move(c.events.front());
  c.events.pop_front();
  --waiting_;
  if (c.connection != nullptr && c.events.size() == kClientBacklog / 2) c.connection->ResumeRecv();
  c.busy = true;

  static constexpr const char* kNames[] = {"connect", "message", "close"};
  HttpClientRequest request;
  request.target = backend->endpoint.target;
  std::string& h = request.headers;
  AddHeader(h, "X-Sockman-Event", kNames[static_cast<int>(event.kind)]);
  AddHeader(h, "X-Sockman-Service", service_);
  AddHeader(h, "X-Sockman-Client-Id", c.id);
  AddHeader(h, "X-Sockman-Worker-Id", worker_id_);
  AddHeader(h, "X-Sockman-Remote-Addr", c.address);
  AddHeader(h, "X-Sockman-Remote-Port", absl::StrCat(c.port));
  AddHeader(h, "X-Forwarded-For", c.forwarded_for.empty() ? c.address : c.forwarded_for);
  // Groups and session as they are now (as they last were, for a closed
  // client's close event).
  if (c.connection != nullptr && hub_.Contains(*c.connection)) {
    c.groups = hub_.GroupsOf(*c.connection);
    c.session = hub_.SessionOf(*c.connection);
    c.uid = hub_.UidOf(*c.connection);
  }
  if (!c.uid.empty()) {
    h += "X-Sockman-Uid: ";
    AppendFormEncoded(h, c.uid);
    h += "\r\n";
  }
  if (!(c.groups.empty() || (c.groups.size() == 1 && c.groups[0].empty()))) {
    h += "X-Sockman-Room: ";
    for (size_t i = 0; i < c.groups.size(); ++i) {
      if (i > 0) h += ',';
      AppendFormEncoded(h, c.groups[i]);
    }
    h += "\r\n";
  }
  if (c.session != "{}") AddHeader(h, "X-Sockman-Session", EncodeSession(c.session));
  h += settings_.headers;
  h += event.headers;
  request.body = event.body;  // the event is kept: a backend down means another try
  int64_t sent_ns = MonotonicNanos();
  backend->http.Send(std::move(request), [this, key, backend, sent_ns, event = std::move(event)](
                                             absl::StatusOr<HttpClientResponse> response) mutable {
    ++(response.ok() ? answered_ : unanswered_);
    latency_.Observe(static_cast<double>(MonotonicNanos() - sent_ns) / 1e9);
    Answered(key, *backend, std::move(event), std::move(response));
  });
}

void Webhook::AppendMetrics(MetricSamples& samples) const {
  samples.Counter("sockman_webhook_requests", answered_, {{"result", "answered"}});
  samples.Counter("sockman_webhook_requests", unanswered_, {{"result", "error"}});
  samples.Counter("sockman_webhook_events_dropped", dropped_);
  samples.Histogram("sockman_webhook_response_seconds", latency_);
}

void Webhook::Answered(uint64_t key, Backend& backend, Event event,
                       absl::StatusOr<HttpClientResponse> response) {
  auto it = clients_.find(key);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  c.busy = false;
  const std::string& url = backend.endpoint.url;
  if (!response.ok() && absl::IsUnavailable(response.status())) {
    // Unreachable (or gone while answering): skip this backend for a while,
    // backing off, and send the event again, to another backend if one is up.
    backend.backoff_ms = std::clamp<int64_t>(backend.backoff_ms * 2, 250, 10'000);
    backend.down_until_ms = reactor_.NowMs() + backend.backoff_ms;
    // Not an error yet: the event is tried again (counted if finally dropped).
    log_.Log(LogSeverity::kWarning, reactor_.NowMs(),
             absl::StrCat("webhook ", service_, ": POST ", url, ": ", response.status().message(),
                          " (skipped for ", backend.backoff_ms, " ms)"));
    c.events.push_front(std::move(event));
    ++waiting_;
    Pump(key);
    return;
  }
  backend.backoff_ms = 0;  // it answered
  if (!response.ok()) {
    Error(absl::StrCat("POST ", url, ": ", response.status().message()));
  } else if (response->status < 200 || response->status > 299) {
    Error(absl::StrCat("POST ", url, ": HTTP ", response->status));
  } else if (c.connection != nullptr) {
    Apply(c, *response);  // may close the client, which queues its close event
  }
  Pump(key);
}

void Webhook::Apply(Client& client, const HttpClientResponse& response) {
  Connection& connection = *client.connection;
  // The backend vouches for the client (auth_timeout_ms stops counting).
  if (absl::EqualsIgnoreCase(response.Header("X-Sockman-Auth"), "ok")) {
    hub_.MarkAuthenticated(connection);
  }
  std::vector<absl::string_view> updates = response.Headers("X-Sockman-Set-Session");
  if (!updates.empty()) {
    // "key=value&gone=" -> {"key":"value","gone":null}, merged into the session.
    std::vector<std::string> members;
    for (absl::string_view update : updates) {
      for (absl::string_view pair : absl::StrSplit(update, '&', absl::SkipEmpty())) {
        std::pair<absl::string_view, absl::string_view> kv =
            absl::StrSplit(pair, absl::MaxSplits('=', 1));
        std::string key = FormDecode(absl::StripAsciiWhitespace(kv.first));
        if (key.empty()) continue;
        std::string value = FormDecode(kv.second);
        members.push_back(
            absl::StrCat(JsonString(key), ":", value.empty() ? "null" : JsonString(value)));
      }
    }
    std::string update = absl::StrCat("{", absl::StrJoin(members, ","), "}");
    if (!hub_.SetSession(connection, update, /*merge=*/true)) {
      Error(absl::StrCat("session update of client ", client.id, " refused (not UTF-8, or over ",
                         hub_.max_session_size(), " bytes)"));
    }
  }
  // Groups: any number of X-Sockman-Leave and X-Sockman-Join (in that order).
  for (absl::string_view leave : response.Headers("X-Sockman-Leave")) {
    hub_.LeaveGroup(connection, FormDecode(leave));
  }
  for (absl::string_view join : response.Headers("X-Sockman-Join")) {
    std::string group = FormDecode(join);
    if (!group.empty() && !Hub::ValidName(group)) {
      Error(absl::StrCat("client ", client.id, ": group name refused (1-", Hub::kMaxNameSize,
                         " bytes of UTF-8, no control characters)"));
    } else if (!hub_.JoinGroup(connection, group)) {
      Error(absl::StrCat("client ", client.id, " is in ", hub_.max_groups_per_client(),
                         " groups already; join refused"));
    }
  }
  std::vector<absl::string_view> binds = response.Headers("X-Sockman-Bind-Uid");
  if (!binds.empty()) {
    std::string uid = FormDecode(binds.back());
    if (uid.empty()) {
      hub_.UnbindUid(connection);
    } else if (Hub::ValidName(uid)) {
      hub_.BindUid(connection, uid);
    } else {
      Error(absl::StrCat("client ", client.id, ": uid refused (1-", Hub::kMaxNameSize,
                         " bytes of UTF-8, no control characters)"));
    }
  }
  if (!response.body.empty()) {
    bool binary = absl::EqualsIgnoreCase(response.Header("X-Sockman-Message-Type"), "binary");
    connection.Send(response.body, binary ? MessageKind::kBinary : MessageKind::kText);
  }
  absl::string_view close = response.Header("X-Sockman-Close");
  if (!close.empty() && close != "0" && !absl::EqualsIgnoreCase(close, "false")) connection.Close();
}

void Webhook::Error(absl::string_view what) {
  ++errors_;
  log_.Log(LogSeverity::kWarning, reactor_.NowMs(),
           absl::StrCat("webhook ", service_, ": ", what, " (", errors_, " errors so far)"));
}

}  // namespace sockman
