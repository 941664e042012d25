// metrics { token }: Prometheus metrics of every process of this sockman
// (docs/metrics.md). A scrape asks the master, which asks every worker over
// its channel (each answers with its samples between two loop passes) and
// adds its own; the answer is rendered here, as the text exposition format
// 0.0.4 or, when the scraper's Accept asks for it, OpenMetrics 1.0.
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "config/sockman.pb.h"
#include "engine/metrics.h"
#include "handlers/access.h"
#include "handlers/handler.h"
#include "protocols/http/http.h"

namespace sockman {
namespace {

class MetricsHandler : public Handler {
 public:
  MetricsHandler(std::string token, const WorkerContext& worker)
      : token_(std::move(token)), gather_(worker.gather_metrics) {}

  void OnMessage(Connection& connection, absl::string_view, MessageKind) override {
    const HttpRequest* request = HttpRequestOf(connection);
    if (request == nullptr) return;
    if (request->method != "GET" && request->method != "HEAD") {
      SendHttpErrorPage(connection, 405, "Allow: GET, HEAD\r\n");
      return;
    }
    if (token_.empty()) {
      if (!IsLoopbackClient(connection)) {
        SendHttpErrorPage(connection, 403);
        return;
      }
    } else if (!BearerMatches(request->Header("Authorization"), token_)) {
      SendHttpErrorPage(connection, 401, "WWW-Authenticate: Bearer\r\n");
      return;
    }
    if (!gather_) {
      SendHttpErrorPage(connection, 503);
      return;
    }
    bool openmetrics = WantsOpenMetrics(request->Header("Accept"));
    uint64_t id = connection.id();
    waiting_[id] = &connection;
    connection.PauseRecv();  // one scrape at a time per connection
    gather_([this, id, openmetrics](std::string samples) {
      auto it = waiting_.find(id);
      if (it == waiting_.end()) return;  // the scraper left
      Connection& c = *it->second;
      waiting_.erase(it);
      c.ResumeRecv();
      if (samples.empty()) {
        SendHttpErrorPage(c, 503);
        return;
      }
      std::string body = RenderExposition(samples, openmetrics);
      SendHttpResponse(c, 200,
                       absl::StrCat("Content-Type: ",
                                    openmetrics ? kOpenMetricsContentType : kPrometheusContentType,
                                    "\r\nCache-Control: no-store\r\n"),
                       body);
    });
  }
  void OnClose(Connection& connection) override { waiting_.erase(connection.id()); }

 private:
  std::string token_;
  std::function<void(std::function<void(std::string)>)> gather_;
  absl::flat_hash_map<uint64_t, Connection*> waiting_;
};

class MetricsFactory : public HandlerFactory {
 public:
  explicit MetricsFactory(std::string token) : token_(std::move(token)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<MetricsHandler>(token_, worker);
  }

 private:
  std::string token_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateMetrics(const MetricsOptions& options,
                                                              const HandlerConfig& config) {
  if (!config.protocol.traits().request_response) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics answers HTTP requests: an http:// service or route, not ",
                     config.protocol.name()));
  }
  for (char c : options.token()) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError("token: printable characters without spaces only");
    }
  }
  return std::make_unique<MetricsFactory>(options.token());
}

SOCKMAN_REGISTER_HANDLER("metrics", CreateMetrics);

}  // namespace
}  // namespace sockman
