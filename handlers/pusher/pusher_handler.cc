// pusher { app { id key secret } }: a Pusher Channels server (protocol 7)
// on an http:// or https:// service. WebSocket clients (pusher-js, Laravel
// Echo) connect to /app/KEY; the HTTP API of the Pusher server SDKs is at
// /apps/ID/... on the same port. Channels are groups of the worker's Hub
// (named "APPID:CHANNEL"), so events reach subscribers in every worker and,
// with `global { cluster }`, every node; a presence member is kept in its
// connection's hub session under the channel's name, so member lists are
// the hub's, cluster-wide. See docs/pusher.md.
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "config/sockman.pb.h"
#include "engine/base/json.h"
#include "engine/base/logging.h"
#include "engine/base/read_file.h"
#include "handlers/handler.h"
#include "handlers/messaging/hub.h"
#include "handlers/pusher/pusher_wire.h"
#include "protocols/binding.h"
#include "protocols/http/http.h"
#include "protocols/http/http_codec.h"
#include "protocols/http/syntax.h"
#include "protocols/websocket/websocket.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sockman {
namespace {

constexpr unsigned kJsonFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
constexpr size_t kMaxClientMessage = 1 << 20;  // a WebSocket message from a client, in bytes
constexpr size_t kMaxEventChannels = 100;      // POST /events
constexpr size_t kMaxBatch = 10;               // POST /batch_events

struct App {
  std::string id, key, secret;
  size_t max_event_size = 10240;
  size_t max_presence_members = 100;
  size_t max_channels = 100;
  bool client_events = true;
  double client_events_per_second = 10;
};

struct PusherSettings {
  std::vector<App> apps;
  int64_t activity_timeout_s = 120;
  int64_t timestamp_window_s = 600;
  const Protocol* websocket = nullptr;
  std::shared_ptr<const ProtocolOptions> websocket_options;
};

using pusher::StringMember;

class PusherHandler : public Handler {
 public:
  PusherHandler(const PusherSettings& settings, const WorkerContext& worker)
      : settings_(settings),
        reactor_(worker.reactor),
        service_(worker.service),
        hub_(Hub::ForWorker(worker)),
        websocket_codec_(worker.codec) {
    websocket_codec_.options = settings.websocket_options.get();
    websocket_codec_.access_log = nullptr;
    Hub::ClientLimits limits;
    size_t most = 1;
    for (const App& app : settings.apps) most = std::max(most, app.max_channels);
    limits.max_groups_per_client = most + 1;  // and the default group
    limits.max_session_size = 1 << 20;        // presence members, one per channel
    hub_.SetLimits(limits);
    activity_timer_ = reactor_.AddRepeatingTimer(5000, [this] { CheckActivity(); });
  }
  ~PusherHandler() override { reactor_.CancelTimer(activity_timer_); }

  void OnOpen(Connection& connection) override {
    auto it = pending_.find(connection.id());
    if (it == pending_.end()) return;  // an HTTP connection
    Pending pending = std::move(it->second);
    pending_.erase(it);
    if (pending.app == nullptr || !pending.error.empty()) {
      // Told on the connection, then closed with the code: 4001 (no such
      // app) and 4007 (protocol) mean "do not reconnect" to pusher-js.
      connection.Send(pusher::Error(pending.code, pending.error), MessageKind::kText);
      connection.CloseWithStatus(static_cast<uint16_t>(pending.code), pending.error,
                                 CloseReason::kServer);
      return;
    }
    hub_.Add(connection, "");
    Client client;
    client.app = pending.app;
    client.socket_id = pusher::SocketId(hub_.ClientId(connection));
    client.tokens = pending.app->client_events_per_second;
    client.refilled_ms = reactor_.NowMs();
    hub_.SetAlias(connection, client.socket_id);
    std::string data = absl::StrCat("{\"socket_id\":", JsonString(client.socket_id),
                                    ",\"activity_timeout\":", settings_.activity_timeout_s, "}");
    connection.Send(pusher::Envelope("pusher:connection_established", "", JsonString(data)),
                    MessageKind::kText);
    clients_.emplace(connection.id(), std::move(client));
    connections_[connection.id()] = &connection;
  }

  void OnMessage(Connection& connection, absl::string_view message, MessageKind kind) override {
    if (HttpCodec* http = connection.codec_as<HttpCodec>()) return OnRequest(connection, *http);
    auto it = clients_.find(connection.id());
    if (it == clients_.end()) return;
    it->second.pinged = false;
    OnClientMessage(connection, it->second, message);
  }

  void OnClose(Connection& connection) override {
    pending_.erase(connection.id());
    http_.erase(connection.id());
    auto it = clients_.find(connection.id());
    if (it == clients_.end()) return;
    Client client = std::move(it->second);
    clients_.erase(it);
    connections_.erase(connection.id());
    hub_.Remove(connection);
    for (const auto& [channel, user] : client.presence)
      MemberLeft(*client.app, channel, user.first);
  }

  std::optional<ClientDescription> DescribeClient(const Connection& connection) const override {
    if (!hub_.Contains(connection)) return std::nullopt;
    return ClientDescription{hub_.ClientId(connection), hub_.UidOf(connection),
                             hub_.GroupsOf(connection)};
  }

 private:
  struct Pending {
    const App* app = nullptr;
    int code = 0;
    std::string error;
  };
  struct Client {
    const App* app = nullptr;
    std::string socket_id;
    std::set<std::string> channels;
    // Presence channels: the member's user_id and user_info (JSON).
    std::map<std::string, std::pair<std::string, std::string>> presence;
    double tokens = 0;  // client events
    int64_t refilled_ms = 0;
    bool pinged = false;
    std::string user_id;  // pusher:signin's, or empty
  };

  static constexpr absl::string_view kUserChannel = "#server-to-user-";
  // The hub uid of a signed-in user of `app`.
  static std::string Uid(const App& app, absl::string_view user) {
    return absl::StrCat(app.id, ":", user);
  }

  const App* AppByKey(absl::string_view key) const {
    for (const App& app : settings_.apps) {
      if (app.key == key) return &app;
    }
    return nullptr;
  }
  const App* AppById(absl::string_view id) const {
    for (const App& app : settings_.apps) {
      if (app.id == id) return &app;
    }
    return nullptr;
  }
  static std::string Group(const App& app, absl::string_view channel) {
    return absl::StrCat(app.id, ":", channel);
  }

  // ---- HTTP: the upgrade at /app/KEY, and the API ----

  void OnRequest(Connection& connection, HttpCodec& codec) {
    const HttpRequest& request = codec.request();
    absl::string_view path = request.path;
    if (absl::StartsWith(path, "/app/") &&
        HttpListHasToken(request.Header("Upgrade"), "websocket")) {
      Pending pending;
      absl::string_view key = path.substr(5);
      pending.app = AppByKey(key);
      if (pending.app == nullptr) {
        pending.code = 4001;
        pending.error = absl::StrCat("App key ", key.substr(0, 100), " not in this cluster");
      } else {
        std::vector<std::pair<std::string, std::string>> params;
        pusher::ParseQuery(request.query, params);
        int protocol = 0;
        bool given = false;
        for (const auto& [name, value] : params) {
          if (name == "protocol") given = absl::SimpleAtoi(value, &protocol);
        }
        if (!given) {
          pending.code = 4008;
          pending.error = "No protocol version supplied";
        } else if (protocol < 5 || protocol > 7) {
          pending.code = 4007;
          pending.error = absl::StrCat("Unsupported protocol version ", protocol);
        }
      }
      pending_[connection.id()] = std::move(pending);
      // The WebSocket codec takes this same request for the handshake.
      connection.SwitchProtocol(*settings_.websocket,
                                settings_.websocket->NewCodec(websocket_codec_));
      return;
    }
    if (absl::StartsWith(path, "/apps/")) return Api(connection, request);
    Reply(connection, 404,
          R"({"error":"not found: WebSocket clients use /app/KEY, the API /apps/ID/..."})");
  }

  static void Reply(Connection& connection, int status, absl::string_view json) {
    SendHttpResponse(connection, status, "Content-Type: application/json\r\n",
                     absl::StrCat(json, "\n"));
  }
  static void ReplyError(Connection& connection, int status, absl::string_view message) {
    Reply(connection, status, absl::StrCat("{\"error\":", JsonString(message), "}"));
  }

  void Api(Connection& connection, const HttpRequest& request) {
    std::vector<absl::string_view> parts = absl::StrSplit(request.path.substr(6), '/');
    const App* app = parts.empty() ? nullptr : AppById(parts[0]);
    if (app == nullptr) return ReplyError(connection, 404, "unknown app id");
    std::string why = pusher::CheckApiRequest(
        request.method, request.path, request.query, request.body, app->key, app->secret,
        absl::ToUnixSeconds(absl::Now()), settings_.timestamp_window_s);
    if (!why.empty()) return ReplyError(connection, 401, why);
    std::vector<std::pair<std::string, std::string>> params;
    pusher::ParseQuery(request.query, params);
    auto param = [&](absl::string_view name) -> std::string {
      for (const auto& [k, v] : params) {
        if (k == name) return v;
      }
      return "";
    };
    parts.erase(parts.begin());
    uint64_t id = connection.id();
    // Answers that come later find the connection only if it is still there.
    auto reply = [this, id](int status, std::string json) {
      auto it = http_.find(id);
      if (it == http_.end()) return;
      Reply(*it->second, status, json);
    };
    http_[id] = &connection;
    if (request.method == "POST" && parts.size() == 1 && parts[0] == "events") {
      return Events(*app, request.body, reply);
    }
    if (request.method == "POST" && parts.size() == 1 && parts[0] == "batch_events") {
      return BatchEvents(*app, request.body, reply);
    }
    if (request.method == "GET" && parts.size() == 1 && parts[0] == "channels") {
      return Channels(*app, param("filter_by_prefix"), param("info"), reply);
    }
    if (request.method == "GET" && parts.size() == 2 && parts[0] == "channels") {
      return ChannelInfo(*app, std::string(parts[1]), param("info"), reply);
    }
    if (request.method == "GET" && parts.size() == 3 && parts[0] == "channels" &&
        parts[2] == "users") {
      return ChannelUsers(*app, std::string(parts[1]), reply);
    }
    if (request.method == "POST" && parts.size() == 3 && parts[0] == "users" &&
        parts[2] == "terminate_connections") {
      std::string user(parts[1]);
      if (user.empty() || user.size() > 128)
        return reply(400, R"({"error":"user id: 1-128 bytes"})");
      // 4009: pusher-js does not reconnect.
      hub_.CloseWithStatus(service_, Hub::Target::Uid(Uid(*app, user)), 4009,
                           "You got disconnected by the app.",
                           pusher::Error(4009, "You got disconnected by the app."), nullptr);
      return reply(200, "{}");
    }
    reply(404, R"({"error":"no such API call"})");
  }

  using ReplyFn = std::function<void(int, std::string)>;

  // One event (as the API takes it) checked and published; "" or the error.
  std::string Publish(const App& app, const rapidjson::Value& event, bool batch) {
    std::string name, data, socket_id, channel;
    if (!StringMember(event, "name", name) || !pusher::ValidEventName(name)) {
      return "name: 1-200 characters, required";
    }
    if (!StringMember(event, "data", data)) return "data: a string, required";
    if (data.size() > app.max_event_size) {
      return absl::StrCat("data is over ", app.max_event_size, " bytes");
    }
    std::vector<std::string> channels;
    if (StringMember(event, "channel", channel)) channels.push_back(channel);
    auto list = event.FindMember("channels");
    if (!batch && list != event.MemberEnd()) {
      if (!list->value.IsArray()) return "channels: an array of channel names";
      for (const auto& c : list->value.GetArray()) {
        if (!c.IsString()) return "channels: an array of channel names";
        channels.emplace_back(c.GetString(), c.GetStringLength());
      }
    }
    if (channels.empty()) return "channel or channels: required";
    if (channels.size() > kMaxEventChannels) {
      return absl::StrCat("at most ", kMaxEventChannels, " channels per event");
    }
    for (const std::string& c : channels) {
      bool user = absl::StartsWith(c, kUserChannel) && c.size() > kUserChannel.size() &&
                  c.size() <= kUserChannel.size() + 128;
      if (!user && !pusher::ValidChannelName(c)) {
        return absl::StrCat("invalid channel name '", c, "'");
      }
    }
    std::vector<std::string> exclude;
    if (StringMember(event, "socket_id", socket_id)) {
      if (!pusher::ValidSocketId(socket_id)) return "socket_id: digits.digits";
      exclude.push_back(socket_id);
    }
    for (const std::string& c : channels) {
      hub_.Publish(service_, Hub::Target::Group(Group(app, c)),
                   pusher::Envelope(name, c, JsonString(data)), MessageKind::kText, exclude);
    }
    return "";
  }

  void Events(const App& app, absl::string_view body, const ReplyFn& reply) {
    rapidjson::Document event;
    event.Parse<kJsonFlags>(body.data(), body.size());
    if (event.HasParseError() || !event.IsObject()) {
      return reply(400, R"({"error":"the body is a JSON object"})");
    }
    std::string why = Publish(app, event, false);
    if (!why.empty()) return reply(400, absl::StrCat("{\"error\":", JsonString(why), "}"));
    reply(200, "{}");
  }

  void BatchEvents(const App& app, absl::string_view body, const ReplyFn& reply) {
    rapidjson::Document doc;
    doc.Parse<kJsonFlags>(body.data(), body.size());
    auto batch = doc.IsObject() ? doc.FindMember("batch") : rapidjson::Value::MemberIterator();
    if (doc.HasParseError() || !doc.IsObject() || batch == doc.MemberEnd() ||
        !batch->value.IsArray()) {
      return reply(400, R"({"error":"the body is {\"batch\":[events]}"})");
    }
    if (batch->value.Size() > kMaxBatch) {
      return reply(400, absl::StrCat(R"({"error":"at most )", kMaxBatch, R"( events per batch"})"));
    }
    // All checked before any is published.
    for (const auto& event : batch->value.GetArray()) {
      std::string name, data, channel;
      if (!event.IsObject() || !StringMember(event, "channel", channel) ||
          !pusher::ValidChannelName(channel) || !StringMember(event, "name", name) ||
          !pusher::ValidEventName(name) || !StringMember(event, "data", data)) {
        return reply(400, R"({"error":"each event needs channel, name and data strings"})");
      }
      if (data.size() > app.max_event_size) {
        return reply(400,
                     absl::StrCat(R"({"error":"data is over )", app.max_event_size, R"( bytes"})"));
      }
    }
    for (const auto& event : batch->value.GetArray()) {
      std::string why = Publish(app, event, true);
      if (!why.empty()) return reply(400, absl::StrCat("{\"error\":", JsonString(why), "}"));
    }
    reply(200, "{}");
  }

  // The distinct members (user_id -> user_info JSON) of a presence channel,
  // from every subscriber's session, in every worker and node.
  void Members(const App& app, const std::string& channel,
               std::function<void(std::map<std::string, std::string>, size_t)> done) {
    hub_.Info(service_, Hub::Target::Group(Group(app, channel)),
              [channel, done = std::move(done)](std::vector<std::string> infos) {
                std::map<std::string, std::string> members;
                for (pusher::PresenceMember& m : pusher::PresenceMembersOf(infos, channel)) {
                  members[m.user_id] = std::move(m.user_info);
                }
                done(std::move(members), infos.size());
              });
  }

  void Channels(const App& app, const std::string& prefix, const std::string& info,
                const ReplyFn& reply) {
    bool users = absl::StrContains(info, "user_count");
    if (users && !absl::StartsWith(prefix, "presence-")) {
      return reply(400, R"({"error":"info=user_count needs filter_by_prefix=presence-"})");
    }
    std::string app_prefix = absl::StrCat(app.id, ":");
    hub_.Names(
        service_, Hub::Scope::kGroup,
        [this, &app, app_prefix, prefix, users, reply](std::vector<std::string> groups) {
          auto names = std::make_shared<std::vector<std::string>>();
          for (const std::string& group : groups) {
            if (!absl::StartsWith(group, app_prefix)) continue;
            std::string channel = group.substr(app_prefix.size());
            if (absl::StartsWith(channel, prefix)) names->push_back(channel);
          }
          if (!users || names->empty()) {
            std::vector<std::string> entries;
            for (const std::string& n : *names) entries.push_back(JsonString(n) + ":{}");
            return reply(200, absl::StrCat("{\"channels\":{", absl::StrJoin(entries, ","), "}}"));
          }
          auto counts = std::make_shared<std::vector<size_t>>(names->size());
          auto left = std::make_shared<size_t>(names->size());
          for (size_t i = 0; i < names->size(); ++i) {
            Members(app, (*names)[i],
                    [names, counts, left, i, reply](std::map<std::string, std::string> m, size_t) {
                      (*counts)[i] = m.size();
                      if (--*left > 0) return;
                      std::vector<std::string> entries;
                      for (size_t j = 0; j < names->size(); ++j) {
                        entries.push_back(absl::StrCat(JsonString((*names)[j]),
                                                       ":{\"user_count\":", (*counts)[j], "}"));
                      }
                      reply(200,
                            absl::StrCat("{\"channels\":{", absl::StrJoin(entries, ","), "}}"));
                    });
          }
        });
  }

  void ChannelInfo(const App& app, const std::string& channel, const std::string& info,
                   const ReplyFn& reply) {
    if (!pusher::ValidChannelName(channel))
      return reply(400, R"({"error":"invalid channel name"})");
    bool users = absl::StrContains(info, "user_count");
    bool subscriptions = absl::StrContains(info, "subscription_count");
    if (users && pusher::KindOf(channel) != pusher::ChannelKind::kPresence) {
      return reply(400, R"({"error":"user_count is for presence channels"})");
    }
    Members(app, channel,
            [users, subscriptions, reply](std::map<std::string, std::string> members,
                                          size_t subscribers) {
              std::string json = absl::StrCat("{\"occupied\":", subscribers > 0 ? "true" : "false");
              if (subscriptions) absl::StrAppend(&json, ",\"subscription_count\":", subscribers);
              if (users) absl::StrAppend(&json, ",\"user_count\":", members.size());
              reply(200, json + "}");
            });
  }

  void ChannelUsers(const App& app, const std::string& channel, const ReplyFn& reply) {
    if (!pusher::ValidChannelName(channel) ||
        pusher::KindOf(channel) != pusher::ChannelKind::kPresence) {
      return reply(400, R"({"error":"users are listed for presence channels"})");
    }
    Members(app, channel, [reply](std::map<std::string, std::string> members, size_t) {
      std::vector<std::string> users;
      for (const auto& [id, info] : members) users.push_back("{\"id\":" + JsonString(id) + "}");
      reply(200, absl::StrCat("{\"users\":[", absl::StrJoin(users, ","), "]}"));
    });
  }

  // ---- WebSocket clients ----

  void OnClientMessage(Connection& connection, Client& client, absl::string_view message) {
    pusher::ClientMessage m;
    std::string error;
    if (!pusher::ParseClientMessage(message, kMaxClientMessage, m, error)) {
      connection.Send(pusher::Error(0, absl::StrCat("Invalid message: ", error)),
                      MessageKind::kText);
      return;
    }
    const std::string& event = m.event;
    if (event == "pusher:ping") {
      connection.Send(pusher::Envelope("pusher:pong", "", "{}"), MessageKind::kText);
    } else if (event == "pusher:pong") {
      // An answer to our ping: being here was enough.
    } else if (event == "pusher:subscribe") {
      Subscribe(connection, client, m);
    } else if (event == "pusher:unsubscribe") {
      if (!m.data_channel.empty()) Unsubscribe(connection, client, m.data_channel);
    } else if (event == "pusher:signin") {
      Signin(connection, client, m);
    } else if (absl::StartsWith(event, "client-")) {
      ClientEvent(connection, client, m);
    } else if (absl::StartsWith(event, "pusher:")) {
      connection.Send(pusher::Error(0, absl::StrCat("Unsupported event ", event.substr(0, 200))),
                      MessageKind::kText);
    }
  }

  void SubscriptionError(Connection& connection, const std::string& channel, absl::string_view type,
                         absl::string_view error, int status) {
    connection.Send(pusher::Envelope("pusher:subscription_error", channel,
                                     absl::StrCat("{\"type\":", JsonString(type), ",\"error\":",
                                                  JsonString(error), ",\"status\":", status, "}")),
                    MessageKind::kText);
  }

  void Subscribe(Connection& connection, Client& client, const pusher::ClientMessage& m) {
    const std::string& channel = m.data_channel;
    const std::string& auth = m.auth;
    const std::string& channel_data = m.channel_data;
    if (channel.empty()) {
      connection.Send(pusher::Error(0, "pusher:subscribe needs data.channel"), MessageKind::kText);
      return;
    }
    if (absl::StartsWith(channel, kUserChannel)) {
      // The signed-in user's own channel (server-to-user events), no other.
      if (client.user_id.empty() || channel.substr(kUserChannel.size()) != client.user_id) {
        return SubscriptionError(connection, channel, "AuthError",
                                 "sign in as this user first (pusher:signin)", 4009);
      }
      if (client.channels.insert(channel).second) {
        hub_.JoinGroup(connection, Group(*client.app, channel));
      }
      connection.Send(pusher::Envelope("pusher_internal:subscription_succeeded", channel, "\"{}\""),
                      MessageKind::kText);
      return;
    }
    if (!pusher::ValidChannelName(channel)) {
      connection.Send(
          pusher::Error(4009, "Invalid channel name: 1-200 of A-Z a-z 0-9 _ - = @ , . ;"),
          MessageKind::kText);
      return;
    }
    const App& app = *client.app;
    if (client.channels.count(channel) > 0) {
      connection.Send(pusher::Error(0, absl::StrCat("Existing subscription to channel ", channel)),
                      MessageKind::kText);
      return;
    }
    if (client.channels.size() >= app.max_channels) {
      return SubscriptionError(
          connection, channel, "LimitReached",
          absl::StrCat("at most ", app.max_channels, " channels per connection"), 4004);
    }
    pusher::ChannelKind kind = pusher::KindOf(channel);
    if (kind != pusher::ChannelKind::kPublic) {
      if (!pusher::ChannelAuthValid(app.key, app.secret, client.socket_id, channel, channel_data,
                                    auth)) {
        return SubscriptionError(connection, channel, "AuthError",
                                 "Invalid signature: expected HMAC SHA256 hex digest of "
                                 "socket_id:channel (presence: :channel_data)",
                                 401);
      }
    }
    std::string user, user_info = "null";
    if (kind == pusher::ChannelKind::kPresence) {
      rapidjson::Document member;
      member.Parse<kJsonFlags>(channel_data.data(), channel_data.size());
      auto id =
          member.IsObject() ? member.FindMember("user_id") : rapidjson::Value::MemberIterator();
      if (member.HasParseError() || !member.IsObject() || id == member.MemberEnd() ||
          !(id->value.IsString() || id->value.IsNumber())) {
        return SubscriptionError(connection, channel, "AuthError",
                                 "channel_data must be JSON with a user_id", 400);
      }
      user = id->value.IsString() ? std::string(id->value.GetString(), id->value.GetStringLength())
                                  : pusher::CompactJson(id->value);
      if (user.empty() || user.size() > 128) {
        return SubscriptionError(connection, channel, "AuthError", "user_id: 1-128 bytes", 400);
      }
      auto info = member.FindMember("user_info");
      if (info != member.MemberEnd()) user_info = pusher::CompactJson(info->value);
    }
    if (!hub_.JoinGroup(connection, Group(app, channel))) {
      return SubscriptionError(connection, channel, "LimitReached", "too many channels", 4004);
    }
    client.channels.insert(channel);
    if (kind != pusher::ChannelKind::kPresence) {
      connection.Send(pusher::Envelope("pusher_internal:subscription_succeeded", channel, "\"{}\""),
                      MessageKind::kText);
      return;
    }
    client.presence[channel] = {user, user_info};
    hub_.SetSession(connection,
                    absl::StrCat("{", JsonString(channel), ":{\"user_id\":", JsonString(user),
                                 ",\"user_info\":", user_info, "}}"),
                    /*merge=*/true);
    uint64_t id = connection.id();
    std::string socket_id = client.socket_id;
    const App* app_ptr = &app;
    Members(app, channel,
            [this, id, app_ptr, channel, user, user_info, socket_id](
                std::map<std::string, std::string> members, size_t subscribers) {
              auto conn = connections_.find(id);
              if (conn == connections_.end()) return;  // gone meanwhile
              Connection& connection = *conn->second;
              Client& client = clients_[id];
              members[user] = user_info;  // this one, even if the hub had not seen it yet
              if (members.size() > app_ptr->max_presence_members) {
                Unsubscribe(connection, client, channel, /*quiet=*/true);
                return SubscriptionError(
                    connection, channel, "LimitReached",
                    absl::StrCat("at most ", app_ptr->max_presence_members, " members"), 4004);
              }
              std::vector<std::string> ids, hash;
              for (const auto& [member, info] : members) {
                ids.push_back(JsonString(member));
                hash.push_back(absl::StrCat(JsonString(member), ":", info));
              }
              std::string presence =
                  absl::StrCat("{\"presence\":{\"ids\":[", absl::StrJoin(ids, ","), "],\"hash\":{",
                               absl::StrJoin(hash, ","), "},\"count\":", members.size(), "}}");
              connection.Send(pusher::Envelope("pusher_internal:subscription_succeeded", channel,
                                               JsonString(presence)),
                              MessageKind::kText);
              (void)subscribers;
              // The user's first connection in the channel: everyone else hears.
              CountUserConnections(
                  *app_ptr, channel, user,
                  [this, app_ptr, channel, user, user_info, socket_id](size_t count) {
                    if (count > 1) return;
                    std::string data = absl::StrCat("{\"user_id\":", JsonString(user),
                                                    ",\"user_info\":", user_info, "}");
                    hub_.Publish(
                        service_, Hub::Target::Group(Group(*app_ptr, channel)),
                        pusher::Envelope("pusher_internal:member_added", channel, JsonString(data)),
                        MessageKind::kText, {socket_id});
                  });
            });
  }

  // How many subscribers of a presence channel are `user` (in every worker).
  void CountUserConnections(const App& app, const std::string& channel, const std::string& user,
                            std::function<void(size_t)> done) {
    hub_.Info(service_, Hub::Target::Group(Group(app, channel)),
              [channel, user, done = std::move(done)](std::vector<std::string> infos) {
                size_t count = 0;
                for (const pusher::PresenceMember& m : pusher::PresenceMembersOf(infos, channel)) {
                  count += m.user_id == user;
                }
                done(count);
              });
  }

  void Unsubscribe(Connection& connection, Client& client, const std::string& channel,
                   bool quiet = false) {
    if (client.channels.erase(channel) == 0) return;
    hub_.LeaveGroup(connection, Group(*client.app, channel));
    auto presence = client.presence.find(channel);
    if (presence == client.presence.end()) return;
    std::string user = presence->second.first;
    client.presence.erase(presence);
    hub_.SetSession(connection, absl::StrCat("{", JsonString(channel), ":null}"), /*merge=*/true);
    if (!quiet) MemberLeft(*client.app, channel, user);
  }

  // A presence subscriber left: if it was the user's last connection there,
  // the others hear member_removed.
  void MemberLeft(const App& app, const std::string& channel, const std::string& user) {
    const App* app_ptr = &app;
    CountUserConnections(app, channel, user, [this, app_ptr, channel, user](size_t count) {
      if (count > 0) return;
      hub_.Publish(
          service_, Hub::Target::Group(Group(*app_ptr, channel)),
          pusher::Envelope("pusher_internal:member_removed", channel,
                           JsonString(absl::StrCat("{\"user_id\":", JsonString(user), "}"))),
          MessageKind::kText);
    });
  }

  // pusher:signin {auth, user_data}: auth signs "SOCKET_ID::user::USER_DATA";
  // user_data is JSON with a string id. The connection is then the user's
  // (the hub uid APPID:ID): server-to-user events, terminate_connections.
  void Signin(Connection& connection, Client& client, const pusher::ClientMessage& m) {
    const App& app = *client.app;
    const std::string& auth = m.auth;
    const std::string& user_data = m.user_data;
    if (auth.empty() || user_data.empty()) {
      connection.Send(pusher::Error(0, "pusher:signin needs data.auth and data.user_data"),
                      MessageKind::kText);
      return;
    }
    std::string expected = absl::StrCat(
        app.key, ":",
        pusher::Sign(app.secret, absl::StrCat(client.socket_id, "::user::", user_data)));
    rapidjson::Document user;
    user.Parse<kJsonFlags>(user_data.data(), user_data.size());
    std::string id;
    if (!pusher::SafeEquals(auth, expected)) {
      connection.Send(pusher::Error(4009, "Invalid signature for pusher:signin"),
                      MessageKind::kText);
      return;
    }
    if (user.HasParseError() || !StringMember(user, "id", id) || id.empty() || id.size() > 128) {
      connection.Send(pusher::Error(4009, "user_data must be JSON with a string id"),
                      MessageKind::kText);
      return;
    }
    client.user_id = id;
    hub_.BindUid(connection, Uid(app, id));
    connection.Send(pusher::Envelope("pusher:signin_success", "",
                                     absl::StrCat("{\"user_data\":", JsonString(user_data), "}")),
                    MessageKind::kText);
  }

  void ClientEvent(Connection& connection, Client& client, const pusher::ClientMessage& m) {
    const App& app = *client.app;
    const std::string& event = m.event;
    const std::string& channel = m.channel;
    if (!app.client_events) {
      connection.Send(pusher::Error(0, "Client events are not enabled for this app"),
                      MessageKind::kText);
      return;
    }
    if (channel.empty() || client.channels.count(channel) == 0) {
      connection.Send(pusher::Error(0, "Client event on a channel not subscribed to"),
                      MessageKind::kText);
      return;
    }
    pusher::ChannelKind kind = pusher::KindOf(channel);
    if (kind != pusher::ChannelKind::kPrivate && kind != pusher::ChannelKind::kPresence) {
      connection.Send(pusher::Error(0, "Client events are for private and presence channels only"),
                      MessageKind::kText);
      return;
    }
    const std::string& data_json = m.data_json;
    if (data_json.size() > app.max_event_size) {
      connection.Send(pusher::Error(0, absl::StrCat("Client event data is over ",
                                                    app.max_event_size, " bytes")),
                      MessageKind::kText);
      return;
    }
    if (!pusher::ValidEventName(event)) return;
    // A token bucket: the rate, with a second's worth of burst.
    int64_t now = reactor_.NowMs();
    double rate = app.client_events_per_second;
    client.tokens =
        std::min(std::max(rate, 1.0),
                 client.tokens + static_cast<double>(now - client.refilled_ms) / 1000 * rate);
    client.refilled_ms = now;
    if (client.tokens < 1) {
      connection.Send(pusher::Error(4301, "Client event rejected due to rate limit"),
                      MessageKind::kText);
      return;
    }
    client.tokens -= 1;
    std::string out = absl::StrCat("{\"event\":", JsonString(event),
                                   ",\"channel\":", JsonString(channel), ",\"data\":", data_json);
    auto presence = client.presence.find(channel);
    if (presence != client.presence.end()) {
      absl::StrAppend(&out, ",\"user_id\":", JsonString(presence->second.first));
    }
    out += "}";
    hub_.Publish(service_, Hub::Target::Group(Group(app, channel)), out, MessageKind::kText,
                 {client.socket_id});
  }

  // Pings clients silent for activity_timeout; closes those that stay silent
  // 30 s more (4201: reconnect now).
  void CheckActivity() {
    int64_t now = reactor_.NowMs();
    int64_t idle_ms = settings_.activity_timeout_s * 1000;
    std::vector<Connection*> stale;
    for (auto& [id, client] : clients_) {
      Connection& connection = *connections_[id];
      int64_t silent = now - connection.last_recv_ms();
      if (client.pinged && silent > idle_ms + 30'000) {
        stale.push_back(&connection);
      } else if (!client.pinged && silent > idle_ms) {
        client.pinged = true;
        connection.Send(pusher::Envelope("pusher:ping", "", "{}"), MessageKind::kText);
      }
    }
    for (Connection* connection : stale) {
      connection->CloseWithStatus(4201, "Pong reply not received", CloseReason::kHeartbeat);
    }
  }

 public:
  void OnConnect(Connection& connection) override {
    if (connection.codec_as<HttpCodec>() != nullptr) http_[connection.id()] = &connection;
  }

 private:
  const PusherSettings& settings_;
  Reactor& reactor_;
  std::string service_;
  Hub& hub_;
  CodecOptions websocket_codec_;
  TimerId activity_timer_ = kNoTimer;
  absl::flat_hash_map<uint64_t, Pending> pending_;
  absl::flat_hash_map<uint64_t, Client> clients_;
  absl::flat_hash_map<uint64_t, Connection*> connections_;
  absl::flat_hash_map<uint64_t, Connection*> http_;  // API requests' connections
};

class PusherFactory : public HandlerFactory {
 public:
  explicit PusherFactory(PusherSettings settings) : settings_(std::move(settings)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<PusherHandler>(settings_, worker);
  }

 private:
  PusherSettings settings_;
};

// A field set to a value in [least, most] goes to `out`; unset, `out`
// keeps its default.
template <typename T>
absl::Status Bounded(bool has, uint64_t value, uint64_t least, uint64_t most,
                     absl::string_view name, T& out) {
  if (!has) return absl::OkStatus();
  if (value < least || value > most) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", least, "-", most));
  }
  out = static_cast<T>(value);
  return absl::OkStatus();
}

bool ValidIdentifier(absl::string_view s, size_t most) {
  if (s.empty() || s.size() > most) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreatePusher(const PusherOptions& options,
                                                             const HandlerConfig& config) {
  if (!config.protocol.traits().request_response) {
    return absl::InvalidArgumentError(
        "pusher serves WebSocket clients and its HTTP API on one http:// or https:// service");
  }
  PusherSettings settings;
  if (options.app_size() == 0) return absl::InvalidArgumentError("pusher needs at least one app");
  for (const PusherApp& a : options.app()) {
    App app;
    app.id = a.id();
    app.key = a.key();
    if (!ValidIdentifier(app.id, 50)) {
      return absl::InvalidArgumentError("pusher.app.id: 1-50 characters of [a-zA-Z0-9_-]");
    }
    if (!ValidIdentifier(app.key, 100)) {
      return absl::InvalidArgumentError("pusher.app.key: 1-100 characters of [a-zA-Z0-9_-]");
    }
    if (a.has_secret() == a.has_secret_file()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pusher.app '", app.id, "': give secret or secret_file (one of them)"));
    }
    if (a.has_secret()) {
      app.secret = a.secret();
    } else {
      std::string path = a.secret_file();
      if (path.empty() || path[0] != '/') path = absl::StrCat(config.config_directory, "/", path);
      std::string content = ReadFileOrEmpty(path);
      app.secret = std::string(absl::StripTrailingAsciiWhitespace(
          absl::string_view(content).substr(0, content.find('\n'))));
      if (app.secret.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("pusher.app.secret_file: '", path, "' is missing or empty"));
      }
    }
    if (app.secret.size() < 8) {
      return absl::InvalidArgumentError("pusher.app.secret: at least 8 characters");
    }
    for (const App& other : settings.apps) {
      if (other.id == app.id || other.key == app.key) {
        return absl::InvalidArgumentError("pusher.app: ids and keys must be unique");
      }
    }
    for (absl::Status bounded :
         {Bounded(a.has_max_event_size(), a.max_event_size(), 1, 1 << 20,
                  "pusher.app.max_event_size", app.max_event_size),
          Bounded(a.has_max_presence_members(), a.max_presence_members(), 1, 100000,
                  "pusher.app.max_presence_members", app.max_presence_members),
          Bounded(a.has_max_channels_per_connection(), a.max_channels_per_connection(), 1, 4000,
                  "pusher.app.max_channels_per_connection", app.max_channels)}) {
      if (!bounded.ok()) return bounded;
    }
    if (a.has_client_events()) app.client_events = a.client_events();
    if (a.has_client_events_per_second()) {
      if (!(a.client_events_per_second() > 0 && a.client_events_per_second() <= 10000)) {
        return absl::InvalidArgumentError(
            "pusher.app.client_events_per_second: above 0, at most 10000");
      }
      app.client_events_per_second = a.client_events_per_second();
    }
    settings.apps.push_back(std::move(app));
  }
  for (absl::Status bounded :
       {Bounded(options.has_activity_timeout_s(), options.activity_timeout_s(), 10, 3600,
                "pusher.activity_timeout_s", settings.activity_timeout_s),
        Bounded(options.has_timestamp_window_s(), options.timestamp_window_s(), 1, 3600,
                "pusher.timestamp_window_s", settings.timestamp_window_s)}) {
    if (!bounded.ok()) return bounded;
  }
  // The upgrade: the WebSocket protocol, with its defaults (any path).
  settings.websocket = ProtocolRegistry::Global().Find("websocket");
  const ProtocolBinding* binding = BindingRegistry::Global().Find("websocket");
  if (settings.websocket == nullptr || binding == nullptr) {
    return absl::InvalidArgumentError("pusher needs the websocket protocol in this binary");
  }
  Service as_service;
  as_service.mutable_websocket();
  binding->FillDefaults(as_service);
  settings.websocket_options = binding->Options(as_service);
  return std::make_unique<PusherFactory>(std::move(settings));
}

SOCKMAN_REGISTER_HANDLER("pusher", CreatePusher);

}  // namespace
}  // namespace sockman
