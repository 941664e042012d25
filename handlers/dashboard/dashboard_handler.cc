// dashboard { token }: a live page of every sockman process (services,
// workers, connections, rates, recent errors), served from the binary:
// plain HTML, CSS and JS embedded at build time (dashboard.html), no
// external scripts. The page opens `?events` on its own URL: Server-Sent
// Events carrying, once a second, the same samples a metrics scrape gets
// (gathered through the master, see handlers/metrics).
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "config/sockman.pb.h"
#include "engine/metrics.h"
#include "handlers/access.h"
#include "handlers/handler.h"
#include "protocols/http/http.h"

namespace sockman {
namespace {

constexpr char kPage[] =
#include "handlers/dashboard/dashboard_page.inc"
    ;

// One SSE stream gets at most this much queued before updates are skipped.
constexpr size_t kMaxQueued = 256 * 1024;

class DashboardHandler : public Handler {
 public:
  DashboardHandler(std::string token, int64_t interval_ms, const WorkerContext& worker)
      : token_(std::move(token)), interval_ms_(interval_ms), gather_(worker.gather_metrics) {}

  void OnMessage(Connection& connection, absl::string_view, MessageKind) override {
    const HttpRequest* request = HttpRequestOf(connection);
    if (request == nullptr || streams_.contains(connection.id())) return;
    if (request->method != "GET" && request->method != "HEAD") {
      SendHttpErrorPage(connection, 405, "Allow: GET, HEAD\r\n");
      return;
    }
    if (!Allowed(connection, *request)) return;
    bool events = false;
    for (absl::string_view part : absl::StrSplit(request->query, '&')) {
      events |= part == "events" || absl::StartsWith(part, "events=");
    }
    if (!events) {
      SendHttpResponse(connection, 200,
                       "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
                       "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
                       "style-src 'unsafe-inline'; connect-src 'self'\r\n"
                       "X-Content-Type-Options: nosniff\r\n",
                       absl::string_view(kPage, sizeof(kPage) - 1));
      return;
    }
    if (!gather_) {
      SendHttpErrorPage(connection, 503);
      return;
    }
    BeginHttpStream(connection, 200,
                    "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n");
    if (request->head) {
      EndHttpStream(connection);
      return;
    }
    SendHttpChunk(connection, absl::StrCat("retry: ", interval_ms_ * 2, "\n\n"));
    streams_.insert(connection.id());
    Push(connection);
    // The connection's timers end with it.
    connection.AddRepeatingTimer(interval_ms_, [this, &connection] { Push(connection); });
  }
  void OnClose(Connection& connection) override { streams_.erase(connection.id()); }

 private:
  bool Allowed(Connection& connection, const HttpRequest& request) {
    if (token_.empty()) {
      if (IsLoopbackClient(connection)) return true;
      SendHttpErrorPage(connection, 403);
      return false;
    }
    // A browser cannot set headers on an EventSource: the token may come
    // as ?token= too (or as the Authorization header).
    bool ok = BearerMatches(request.Header("Authorization"), token_);
    for (absl::string_view part : absl::StrSplit(request.query, '&')) {
      ok |= absl::ConsumePrefix(&part, "token=") && SecretEquals(part, token_);
    }
    if (!ok) SendHttpErrorPage(connection, 401, "WWW-Authenticate: Bearer\r\n");
    return ok;
  }

  void Push(Connection& connection) {
    uint64_t id = connection.id();
    if (!connection.open() || pending_.contains(id) || connection.send_buffer_size() > kMaxQueued) {
      return;  // a slow page skips updates rather than queueing them
    }
    pending_.insert(id);
    gather_([this, id, &connection](std::string samples) {
      pending_.erase(id);
      if (!streams_.contains(id) || samples.empty()) return;  // gone, or no answer in time
      std::string text = RenderExposition(samples, /*openmetrics=*/false);
      std::string event;
      event.reserve(text.size() + text.size() / 8 + 16);
      for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
        if (absl::StartsWith(line, "#")) continue;  // the page needs samples only
        absl::StrAppend(&event, "data: ", line, "\n");
      }
      event += "\n";
      SendHttpChunk(connection, event);
    });
  }

  std::string token_;
  int64_t interval_ms_;
  std::function<void(std::function<void(std::string)>)> gather_;
  absl::flat_hash_set<uint64_t> streams_;  // connections with an open event stream
  absl::flat_hash_set<uint64_t> pending_;  // ... whose next update is being gathered
};

class DashboardFactory : public HandlerFactory {
 public:
  DashboardFactory(std::string token, int64_t interval_ms)
      : token_(std::move(token)), interval_ms_(interval_ms) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<DashboardHandler>(token_, interval_ms_, worker);
  }

 private:
  std::string token_;
  int64_t interval_ms_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateDashboard(const DashboardOptions& options,
                                                                const HandlerConfig& config) {
  if (!config.protocol.traits().request_response) {
    return absl::InvalidArgumentError(
        absl::StrCat("dashboard answers HTTP requests: an http:// service or route, not ",
                     config.protocol.name()));
  }
  for (char c : options.token()) {
    if (c <= ' ' || c > '~' || c == '&' || c == '%' || c == '#') {
      return absl::InvalidArgumentError(
          "token: printable characters without spaces, '&', '%' or '#' (it may travel in a URL)");
    }
  }
  int64_t interval = options.has_interval_ms() ? options.interval_ms() : 1000;
  if (interval < 200 || interval > 60'000) {
    return absl::InvalidArgumentError("interval_ms: must be between 200 and 60000");
  }
  return std::make_unique<DashboardFactory>(options.token(), interval);
}

SOCKMAN_REGISTER_HANDLER("dashboard", CreateDashboard);

}  // namespace
}  // namespace sockman
