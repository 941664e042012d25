// Webhook posts the events of a service's clients to an HTTP backend, the
// way GatewayWorker hands them to a BusinessWorker: the `webhook` handler is
// a gateway built on it, and `broadcast { webhook {} }` adds it to a
// broadcast service.
//
// One POST per event (connect, message, close) with the client's facts in
// X-Sockman-* headers and the message as the body. A client's events go one at
// a time, in order; different clients' go in parallel over a keep-alive pool
// (max_connections). A 2xx reply may carry a body for the client and headers
// that close it, move it to a room or set its session (sent with its later
// events). A backend that is down, slow or answering non-2xx costs only the
// events concerned: they are counted (backend_errors) and logged, rate
// limited.
#ifndef SOCKMAN_HANDLERS_WEBHOOK_WEBHOOK_H_
#define SOCKMAN_HANDLERS_WEBHOOK_WEBHOOK_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "config/sockman.pb.h"
#include "engine/base/logging.h"
#include "handlers/handler.h"
#include "handlers/messaging/hub.h"
#include "protocols/http/http_client.h"

namespace sockman {

// One backend url.
struct WebhookEndpoint {
  std::string host;
  uint16_t port = 80;
  std::shared_ptr<const TlsClientContext> tls;  // https://
  std::string target = "/";                     // path and query
  std::string url;                              // as configured, for logs
};

struct WebhookSettings {
  std::vector<WebhookEndpoint> endpoints;  // at least one
  int64_t retry_ms = 30'000;
  bool on_connect = true;
  bool on_message = true;
  bool on_close = true;
  int64_t timeout_ms = 5000;
  size_t max_connections = 16;
  size_t max_queue = 10'000;
  std::string headers;  // rendered extra request headers
  bool rooms_from_path = false;
  // The service's protocol tells text from binary (WebSocket): replies may
  // say which they are in X-Sockman-Message-Type.
  bool message_kinds = false;
  // A UDP service: every datagram is a client of its own with one message
  // event, answered by the reply's body; no connect or close events.
  bool datagrams = false;
  Hub::ClientLimits limits;
};

// Checks and resolves the config (in the master, before fork) for a service
// of `protocol` (over UDP: `datagrams`).
absl::StatusOr<WebhookSettings> ParseWebhookSettings(const WebhookOptions& options,
                                                     const Protocol& protocol,
                                                     bool datagrams = false);

class Webhook {
 public:
  // Most events one client may have waiting before its reading pauses.
  static constexpr size_t kClientBacklog = 64;

  Webhook(const WebhookSettings& settings, const WorkerContext& worker, Hub& hub);
  ~Webhook();

  // The client is there (for WebSocket: after the upgrade), in `room`.
  void Opened(Connection& connection, const std::string& room);
  void Message(Connection& connection, absl::string_view message, MessageKind kind);
  // Before the client leaves its room.
  void Closed(Connection& connection);

  uint64_t errors() const { return errors_; }
  // Requests to the backends by result, and their round trips, for metrics.
  void AppendMetrics(MetricSamples& samples) const;

 private:
  enum class Kind { kConnect, kMessage, kClose };
  struct Event {
    Kind kind;
    std::string body;
    std::string headers;       // event-specific, rendered
    int64_t first_try_ms = 0;  // when it was queued (retries give up retry_ms later)
  };
  // One backend url and its keep-alive pool; skipped while down.
  struct Backend {
    Backend(Reactor& reactor, const WebhookEndpoint& endpoint, const WebhookSettings& settings);
    const WebhookEndpoint& endpoint;
    HttpClient http;
    int64_t down_until_ms = 0;
    int64_t backoff_ms = 0;  // 0 while healthy
  };
  struct Client {
    uint64_t key = 0;                  // the connection's id
    Connection* connection = nullptr;  // null once closed
    std::string id;
    std::string address;
    uint16_t port = 0;
    std::string forwarded_for;  // the upgrade's X-Forwarded-For, then `address`
    // As the hub last had them (kept for the close event).
    std::vector<std::string> groups;
    std::string session = "{}";
    std::string uid;  // as it is now (as it last was, once closed)
    std::deque<Event> events;
    bool busy = false;  // an event in flight
  };

  void Enqueue(Client& client, Event event);
  // The next backend that is up, round-robin; null while all are down.
  Backend* PickBackend();
  // Retries every client waiting for a backend (the earliest may be back).
  void RetryWaiting();
  // Sends the client's next event if none is in flight; forgets a closed
  // client with nothing left to send.
  void Pump(uint64_t key);
  void Answered(uint64_t key, Backend& backend, Event event,
                absl::StatusOr<HttpClientResponse> response);
  void Apply(Client& client, const HttpClientResponse& response);
  void Error(absl::string_view what);

  const WebhookSettings& settings_;
  Reactor& reactor_;
  std::string service_;
  std::string worker_id_;
  Hub& hub_;
  std::vector<std::unique_ptr<Backend>> backends_;
  size_t next_backend_ = 0;
  absl::flat_hash_set<uint64_t> waiting_for_backend_;  // clients whose next event waits
  TimerId retry_timer_ = kNoTimer;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Client>> clients_;  // by connection id
  size_t waiting_ = 0;  // events queued, over all clients
  uint64_t errors_ = 0;
  uint64_t dropped_ = 0;      // events given up on: no backend within retry_ms
  uint64_t answered_ = 0;     // requests a backend answered (any status)
  uint64_t unanswered_ = 0;   // requests that got no answer (unreachable, timed out)
  LatencyHistogram latency_;  // request sent to its answer
  RateLimitedLog log_;
};

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_WEBHOOK_WEBHOOK_H_
