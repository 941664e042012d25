// push { service token }: GatewayWorker's Lib\Gateway as an HTTP API, for
// the clients of a broadcast or webhook service in every worker (and node),
// through the worker's Hub. Answers are JSON. See docs/config.md for the
// table of routes and the Lib\Gateway call each one is.
//
//   POST   /all            body -> every client (?client=ID... ?exclude=ID...)
//   GET    /all            the client ids, paged (?limit=N&cursor=ID); ?info=1: all info
//   POST   /clients/ID     body -> one client;  POST /clients?client=ID&client=ID
//   GET    /clients/ID     online, uid, groups, session, address, connect time
//   DELETE /clients/ID     close it (a body: sent first)
//   PUT|DELETE /clients/ID/groups/NAME   join or leave a group (.../groups/: the default one)
//   GET|PUT|DELETE /clients/ID/uid       its uid; bind (body: the uid); unbind
//   GET|PUT|PATCH  /clients/ID/session   read; replace; merge (JSON object)
//   POST   /groups/NAME    body -> a group (?exclude=ID...); /rooms/NAME too;
//                          /groups/ is the default group ""
//   POST   /groups?group=A&group=B   body -> several groups, each client once
//   GET    /groups/NAME    its clients (?info=1: their info);  GET /groups: every group
//   DELETE /groups/NAME    ungroup: every client leaves it
//   POST   /uids/UID       body -> every client of a uid; POST /uids?uid=A&uid=B
//   GET    /uids/UID       online and its clients;  GET /uids: every uid
//   POST   /batch          a JSON array of operations, run in order
//
// A body sent with Content-Type: application/octet-stream is delivered as
// binary (a binary WebSocket frame); any other body is text and must be
// UTF-8 (else 400).
//
// With a token, requests need "Authorization: Bearer TOKEN" (else 401);
// without one, only loopback clients are served (else 403).
#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "config/sockman.pb.h"
#include "engine/base/json.h"
#include "handlers/access.h"
#include "handlers/handler.h"
#include "handlers/messaging/hub.h"
#include "protocols/http/http.h"
#include "protocols/websocket/frame.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sockman {
namespace {

constexpr size_t kMaxPage = 10000;  // GET /all: clients per page at most
constexpr size_t kDefaultPage = 1000;
constexpr size_t kMaxBatch = 1000;     // operations per POST /batch
constexpr size_t kMaxTargets = 10000;  // ids, groups or uids in one request

// Percent-decodes a path segment or query part ("%20" -> " "; in a query,
// "+" too); false on a bad escape.
bool Unescape(absl::string_view in, std::string& out, bool query = false) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+' && query) {
      out += ' ';
      continue;
    }
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

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += JsonString(items[i]);
  }
  return out + "]";
}

struct PushSettings {
  std::string service;
  std::string token;
};

// One API call, however it arrived (a request, or one operation of a batch).
struct Call {
  std::string method;
  std::vector<std::string> path;  // decoded segments
  bool trailing_slash = false;    // "/groups/": the default group
  absl::flat_hash_map<std::string, std::vector<std::string>> query;
  std::string body;
  MessageKind kind = MessageKind::kText;
};

struct Answer {
  int status = 200;
  std::string json;
  std::string headers;
};

using Done = std::function<void(Answer)>;

Answer Error(int status, absl::string_view why, std::string headers = "") {
  return Answer{status, absl::StrCat(R"({"error":)", JsonString(why), "}"), std::move(headers)};
}

class PushHandler : public Handler {
 public:
  PushHandler(const PushSettings& settings, const WorkerContext& worker)
      : settings_(settings), reactor_(worker.reactor), hub_(Hub::ForWorker(worker)) {}

  void OnConnect(Connection& connection) override { live_.insert(connection.id()); }
  void OnClose(Connection& connection) override { live_.erase(connection.id()); }

  void OnMessage(Connection& connection, absl::string_view body, MessageKind) override {
    const HttpRequest* request = HttpRequestOf(connection);
    if (request == nullptr) return;
    if (settings_.token.empty()) {
      if (!IsLoopbackClient(connection)) {
        Reply(connection, Error(403, "the push API without a token serves loopback only"));
        return;
      }
    } else if (!BearerMatches(request->Header("Authorization"), settings_.token)) {
      Reply(connection,
            Error(401, "missing or wrong bearer token", "WWW-Authenticate: Bearer\r\n"));
      return;
    }
    Call call;
    call.method = std::string(request->method);
    call.body = std::string(body);
    call.kind = IsBinaryContentType(request->Header("Content-Type")) ? MessageKind::kBinary
                                                                     : MessageKind::kText;
    if (!ParseTarget(request->path, request->query, call)) {
      Reply(connection, Error(400, "bad percent-encoding"));
      return;
    }
    // The answer comes once every worker of the service has answered: hold
    // further (pipelined) requests on this connection until then.
    connection.PauseRecv();
    uint64_t id = connection.id();
    Connection* c = &connection;
    Dispatch(call, [this, id, c](Answer answer) {
      if (!live_.contains(id)) return;  // the client left meanwhile
      Reply(*c, answer);
      c->ResumeRecv();
    });
  }

 private:
  static bool ParseTarget(absl::string_view path, absl::string_view query, Call& call) {
    call.trailing_slash = absl::EndsWith(path, "/") && path.size() > 1;
    for (absl::string_view segment : absl::StrSplit(path, '/', absl::SkipEmpty())) {
      std::string decoded;
      if (!Unescape(segment, decoded)) return false;
      call.path.push_back(std::move(decoded));
    }
    for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(part, absl::MaxSplits('=', 1));
      std::string key, value;
      if (!Unescape(kv.first, key, true) || !Unescape(kv.second, value, true)) return false;
      call.query[key].push_back(std::move(value));
    }
    return true;
  }

  const std::vector<std::string>& QueryList(const Call& call, const std::string& key) {
    static const std::vector<std::string> kNone;
    auto it = call.query.find(key);
    return it == call.query.end() ? kNone : it->second;
  }

  // Routes one call; `done` runs exactly once, later.
  void Dispatch(const Call& call, Done done) {
    const std::vector<std::string>& p = call.path;
    const std::string& m = call.method;
    auto not_allowed = [&](const char* allow) {
      done(Error(405, "method not allowed", absl::StrCat("Allow: ", allow, "\r\n")));
    };
    if (p.empty()) {
      // GET /: what this API reaches (a health check, and the examples' probe).
      if (m != "GET") return not_allowed("GET");
      return done(Answer{200, absl::StrCat(R"({"service":)", JsonString(settings_.service),
                                           R"(,"api":"sockman push"})")});
    }
    const std::string& resource = p[0];
    if (resource == "all" && p.size() == 1) {
      if (m == "POST") {
        const auto& clients = QueryList(call, "client");
        Hub::Target target =
            clients.empty() ? Hub::Target::All() : Hub::Target{Hub::Scope::kClient, clients};
        return Send(call, target, std::move(done));
      }
      if (m == "GET" && !QueryList(call, "info").empty()) {
        return InfoList(Hub::Target::All(), std::move(done));
      }
      if (m == "GET") return ListAll(call, std::move(done));
      return not_allowed("GET, POST");
    }
    if (resource == "batch" && p.size() == 1) {
      if (m != "POST") return not_allowed("POST");
      return Batch(call.body, std::move(done));
    }
    if (resource == "clients") {
      if (p.size() == 1) {
        if (m != "POST") return not_allowed("POST");
        return Send(call, {Hub::Scope::kClient, QueryList(call, "client")}, std::move(done));
      }
      return Client(call, std::move(done));
    }
    if (resource == "groups" || resource == "rooms") {
      if (p.size() == 1 && !call.trailing_slash) {
        if (m == "POST") {
          return Send(call, {Hub::Scope::kGroup, QueryList(call, "group")}, std::move(done));
        }
        if (m == "GET") return ListNames(Hub::Scope::kGroup, std::move(done));
        return not_allowed("GET, POST");
      }
      if (p.size() > 2) return done(Error(404, "no such route"));
      std::string group = p.size() == 2 ? p[1] : "";  // "/groups/": the default group
      if (!group.empty() && !Hub::ValidName(group)) return done(BadName("group"));
      if (m == "POST") return Send(call, Hub::Target::Group(group), std::move(done));
      if (m == "GET" && !QueryList(call, "info").empty()) {
        return InfoList(Hub::Target::Group(group), std::move(done));
      }
      if (m == "GET") {
        return hub_.Members(
            settings_.service, Hub::Target::Group(group),
            [group, done](std::vector<std::string> ids) {
              done(Answer{200, absl::StrCat(R"({"group":)", JsonString(group), R"(,"room":)",
                                            JsonString(group), R"(,"count":)", ids.size(),
                                            R"(,"clients":)", JsonList(ids), "}")});
            });
      }
      if (m == "DELETE") {
        return Change(Hub::Change::kDissolve, Hub::Target::Group(group), "", "left",
                      std::move(done));
      }
      return not_allowed("GET, POST, DELETE");
    }
    if (resource == "uids") {
      if (p.size() == 1) {
        if (m == "POST")
          return Send(call, {Hub::Scope::kUid, QueryList(call, "uid")}, std::move(done));
        if (m == "GET") return ListNames(Hub::Scope::kUid, std::move(done));
        return not_allowed("GET, POST");
      }
      if (p.size() != 2) return done(Error(404, "no such route"));
      const std::string& uid = p[1];
      if (!Hub::ValidName(uid)) return done(BadName("uid"));
      if (m == "POST") return Send(call, Hub::Target::Uid(uid), std::move(done));
      if (m == "GET") {
        return hub_.Members(
            settings_.service, Hub::Target::Uid(uid), [uid, done](std::vector<std::string> ids) {
              done(Answer{200, absl::StrCat(R"({"uid":)", JsonString(uid), R"(,"online":)",
                                            ids.empty() ? "false" : "true", R"(,"count":)",
                                            ids.size(), R"(,"clients":)", JsonList(ids), "}")});
            });
      }
      return not_allowed("GET, POST");
    }
    done(Error(404, "no such route"));
  }

  static Answer BadName(const char* what) {
    return Error(400, absl::StrCat("a ", what, " is 1-", Hub::kMaxNameSize,
                                   " bytes of UTF-8 without control characters"));
  }

  // /clients/ID[/groups/NAME | /uid | /session]
  void Client(const Call& call, Done done) {
    const std::vector<std::string>& p = call.path;
    const std::string& m = call.method;
    const std::string& id = p[1];
    // Ids are what the hub made (hex, a node prefix): anything else, such as
    // bytes that are not UTF-8, names no client.
    if (!Hub::ValidName(id)) return done(Error(404, "no such client"));
    Hub::Target client = Hub::Target::Client(id);
    auto not_allowed = [&](const char* allow) {
      done(Error(405, "method not allowed", absl::StrCat("Allow: ", allow, "\r\n")));
    };
    if (p.size() == 2) {
      if (m == "POST") return Send(call, client, std::move(done));
      if (m == "GET") return Info(id, std::move(done));
      if (m == "DELETE") {
        return hub_.Close(settings_.service, client, call.body, [done](int closed) {
          done(closed == 0 ? Error(404, "no such client")
                           : Answer{200, absl::StrCat(R"({"closed":)", closed, "}")});
        });
      }
      return not_allowed("GET, POST, DELETE");
    }
    // /clients/ID/groups/NAME, and /clients/ID/groups/ for the default group.
    if ((p.size() == 4 || (p.size() == 3 && call.trailing_slash)) && p[2] == "groups") {
      std::string group = p.size() == 4 ? p[3] : "";
      if (!group.empty() && !Hub::ValidName(group)) return done(BadName("group"));
      if (m == "PUT") return Change(Hub::Change::kJoin, client, group, "joined", std::move(done));
      if (m == "DELETE") return Change(Hub::Change::kLeave, client, group, "left", std::move(done));
      return not_allowed("PUT, DELETE");
    }
    if (p.size() == 3 && p[2] == "uid") {
      if (m == "PUT") {
        std::string uid(absl::StripAsciiWhitespace(call.body));
        if (!Hub::ValidName(uid)) return done(BadName("uid"));
        return Change(Hub::Change::kBind, client, uid, "bound", std::move(done));
      }
      if (m == "DELETE")
        return Change(Hub::Change::kUnbind, client, "", "unbound", std::move(done));
      if (m == "GET") {
        return hub_.Info(settings_.service, client, [id, done](std::vector<std::string> infos) {
          if (infos.empty()) return done(Error(404, "no such client"));
          rapidjson::Document info;
          info.Parse(infos[0].data(), infos[0].size());
          std::string uid = info.HasMember("uid") && info["uid"].IsString()
                                ? JsonString(info["uid"].GetString())
                                : "null";
          done(Answer{200,
                      absl::StrCat(R"({"client_id":)", JsonString(id), R"(,"uid":)", uid, "}")});
        });
      }
      return not_allowed("GET, PUT, DELETE");
    }
    if (p.size() == 3 && p[2] == "session") {
      if (m == "PUT" || m == "PATCH") {
        rapidjson::Document session;
        session.Parse<rapidjson::kParseIterativeFlag>(call.body.data(), call.body.size());
        if (session.HasParseError() || !session.IsObject()) {
          return done(Error(400, "a session is a JSON object"));
        }
        if (call.body.size() > Hub::kMaxSessionLimit) {
          return done(
              Error(413, absl::StrCat("a session is at most ", Hub::kMaxSessionLimit, " bytes")));
        }
        return Change(m == "PUT" ? Hub::Change::kSetSession : Hub::Change::kUpdateSession, client,
                      call.body, "updated", std::move(done));
      }
      if (m == "GET") {
        return hub_.Info(settings_.service, client, [done](std::vector<std::string> infos) {
          if (infos.empty()) return done(Error(404, "no such client"));
          rapidjson::Document info;
          info.Parse(infos[0].data(), infos[0].size());
          if (info.HasParseError() || !info.HasMember("session")) {
            return done(Error(500, "bad client info"));
          }
          rapidjson::StringBuffer text;
          rapidjson::Writer<rapidjson::StringBuffer> writer(text);
          info["session"].Accept(writer);
          done(Answer{200, std::string(text.GetString(), text.GetSize())});
        });
      }
      return not_allowed("GET, PUT, PATCH");
    }
    done(Error(404, "no such route"));
  }

  void Send(const Call& call, const Hub::Target& target, Done done) {
    if (call.body.empty()) return done(Error(400, "empty body: nothing to push"));
    if (call.kind == MessageKind::kText && !IsUtf8(call.body)) {
      return done(Error(400,
                        "the body is not UTF-8 text: send bytes with Content-Type: "
                        "application/octet-stream"));
    }
    if (target.scope != Hub::Scope::kAll && target.names.empty()) {
      return done(Error(400, "no target: name clients, groups or uids in the query"));
    }
    if (target.names.size() > kMaxTargets) {
      return done(Error(400, absl::StrCat("at most ", kMaxTargets, " targets per request")));
    }
    for (const std::string& name : target.names) {
      if (target.scope != Hub::Scope::kClient && !name.empty() && !Hub::ValidName(name)) {
        return done(BadName(target.scope == Hub::Scope::kUid ? "uid" : "group"));
      }
    }
    const std::vector<std::string>& exclude = QueryList(call, "exclude");
    bool one_client = target.scope == Hub::Scope::kClient && target.names.size() == 1;
    hub_.Publish(settings_.service, target, call.body, call.kind, exclude,
                 [one_client, done](int delivered) {
                   if (one_client && delivered == 0) return done(Error(404, "no such client"));
                   done(Answer{200, absl::StrCat(R"({"delivered":)", delivered, "}")});
                 });
  }

  void Change(Hub::Change change, const Hub::Target& target, const std::string& argument,
              const char* field, Done done) {
    bool one_client = target.scope == Hub::Scope::kClient;
    hub_.Apply(settings_.service, change, target, argument, [one_client, field, done](int changed) {
      if (one_client && changed == 0) {
        return done(Error(404,
                          "no such client, or nothing to change (or over a limit: "
                          "groups per client, session size)"));
      }
      done(Answer{200, absl::StrCat("{", JsonString(field), ":", changed, "}")});
    });
  }

  void Info(const std::string& id, Done done) {
    hub_.Info(
        settings_.service, Hub::Target::Client(id),
        [this, id, done](std::vector<std::string> infos) {
          if (!infos.empty()) {
            // {"client_id":..., ...} -> {"client_id":...,"online":true, ...}
            std::string json = infos[0];
            json.insert(1, R"("online":true,)");
            return done(Answer{200, json});
          }
          // No info (a cluster whose Redis lost it): online anywhere?
          hub_.Members(
              settings_.service, Hub::Target::Client(id), [id, done](std::vector<std::string> ids) {
                done(Answer{200, absl::StrCat(R"({"client_id":)", JsonString(id), R"(,"online":)",
                                              ids.empty() ? "false" : "true", "}")});
              });
        });
  }

  // GET /all?info=1, GET /groups/NAME?info=1: every client's info (from
  // every node, in a cluster).
  void InfoList(const Hub::Target& target, Done done) {
    hub_.Info(settings_.service, target, [done](std::vector<std::string> infos) {
      done(Answer{200, absl::StrCat(R"({"count":)", infos.size(), R"(,"clients":[)",
                                    absl::StrJoin(infos, ","), "]}")});
    });
  }

  // GET /all?limit=N&cursor=ID: ids after the cursor, sorted.
  void ListAll(const Call& call, Done done) {
    size_t limit = kDefaultPage;
    const auto& limits = QueryList(call, "limit");
    if (!limits.empty() &&
        (!absl::SimpleAtoi(limits.back(), &limit) || limit == 0 || limit > kMaxPage)) {
      return done(Error(400, absl::StrCat("limit is 1-", kMaxPage)));
    }
    const auto& cursors = QueryList(call, "cursor");
    std::string cursor = cursors.empty() ? "" : cursors.back();
    hub_.Members(
        settings_.service, Hub::Target::All(), [limit, cursor, done](std::vector<std::string> ids) {
          auto from =
              cursor.empty() ? ids.begin() : std::upper_bound(ids.begin(), ids.end(), cursor);
          size_t left = static_cast<size_t>(ids.end() - from);
          std::vector<std::string> page(from, from + std::min(left, limit));
          std::string next = left > limit ? JsonString(page.back()) : "null";
          done(Answer{200, absl::StrCat(R"({"count":)", ids.size(), R"(,"clients":)",
                                        JsonList(page), R"(,"next_cursor":)", next, "}")});
        });
  }

  void ListNames(Hub::Scope scope, Done done) {
    const char* key = scope == Hub::Scope::kUid ? "uids" : "groups";
    hub_.Names(settings_.service, scope, [key, done](std::vector<std::string> names) {
      done(Answer{200, absl::StrCat(R"({"count":)", names.size(), ",", JsonString(key), ":",
                                    JsonList(names), "}")});
    });
  }

  // POST /batch: [{"method":"POST","path":"/groups/a","body":"hi","binary":false}, ...]
  // run one after another; the answer lists each one's status and result.
  void Batch(const std::string& body, Done done) {
    rapidjson::Document batch;
    batch.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
        body.data(), body.size());
    if (batch.HasParseError() || !batch.IsArray()) {
      return done(Error(400, "a batch is a JSON array of operations"));
    }
    if (batch.Size() > kMaxBatch) {
      return done(Error(400, absl::StrCat("at most ", kMaxBatch, " operations per batch")));
    }
    auto calls = std::make_shared<std::vector<Call>>();
    for (const auto& op : batch.GetArray()) {
      Call call;
      if (!op.IsObject() || !op.HasMember("method") || !op["method"].IsString() ||
          !op.HasMember("path") || !op["path"].IsString()) {
        return done(Error(400, "each operation needs \"method\" and \"path\" strings"));
      }
      call.method = op["method"].GetString();
      absl::string_view target(op["path"].GetString(), op["path"].GetStringLength());
      size_t question = target.find('?');
      absl::string_view query =
          question == absl::string_view::npos ? "" : target.substr(question + 1);
      if (!absl::StartsWith(target, "/") || !ParseTarget(target.substr(0, question), query, call)) {
        return done(Error(400, "an operation's path is a percent-encoded /route"));
      }
      if (op.HasMember("body")) {
        if (!op["body"].IsString()) return done(Error(400, "an operation's body is a string"));
        call.body.assign(op["body"].GetString(), op["body"].GetStringLength());
      }
      if (op.HasMember("binary") && op["binary"].IsBool() && op["binary"].GetBool()) {
        call.kind = MessageKind::kBinary;
      }
      if (!call.path.empty() && call.path[0] == "batch") {
        return done(Error(400, "a batch cannot hold a batch"));
      }
      calls->push_back(std::move(call));
    }
    auto results = std::make_shared<std::vector<std::string>>();
    RunBatch(calls, results, 0, std::move(done));
  }

  void RunBatch(std::shared_ptr<std::vector<Call>> calls,
                std::shared_ptr<std::vector<std::string>> results, size_t next, Done done) {
    if (next == calls->size()) {
      return done(Answer{200, absl::StrCat(R"({"results":[)", absl::StrJoin(*results, ","), "]}")});
    }
    Dispatch((*calls)[next], [this, calls, results, next, done](Answer answer) {
      results->push_back(
          absl::StrCat(R"({"status":)", answer.status, R"(,"result":)", answer.json, "}"));
      // The next operation on the next loop pass: never deeper in the stack.
      reactor_.Defer(
          [this, calls, results, next, done] { RunBatch(calls, results, next + 1, done); });
    });
  }

  static void Reply(Connection& connection, const Answer& answer) {
    SendHttpResponse(connection, answer.status,
                     absl::StrCat("Content-Type: application/json\r\n", answer.headers),
                     absl::StrCat(answer.json, "\n"));
  }

  const PushSettings& settings_;
  Reactor& reactor_;
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
