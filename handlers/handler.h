// A handler is what a service does with its connections: Workerman's
// callbacks (OnWorkerStart/Stop/Reload plus the connection events). Each
// handler is configured by one field of the service's `oneof handler` in
// config/sockman.proto, and registered under that field's name:
//
//   class EchoFactory : public HandlerFactory {
//    public:
//     std::unique_ptr<Handler> NewHandler(const WorkerContext&) const override;
//   };
//   absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateEcho(const EchoOptions& options,
//                                                              const HandlerConfig& config);
//   SOCKMAN_REGISTER_HANDLER("echo", CreateEcho);   // library with alwayslink
//
// A creator that takes its own options message (EchoOptions) is handed the
// service's field already checked to be of that type; one that takes only
// the HandlerConfig reads `config.message` itself (modules do).
//
// The factory is created (and the config validated) in the master, before
// fork; each worker then asks it for its own Handler.
#ifndef SOCKMAN_HANDLERS_HANDLER_H_
#define SOCKMAN_HANDLERS_HANDLER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/metrics.h"
#include "engine/reactor.h"
#include "engine/worker_bus.h"
#include "google/protobuf/message.h"
#include "protocols/connection.h"
#include "protocols/protocol.h"

namespace sockman {

// Messaging between sockman instances (config `global { cluster }`).
struct ClusterOptions {
  SocketAddress redis;
  std::string node_id;
};

// What a worker tells its handler about where it runs.
struct WorkerContext {
  Reactor& reactor;
  std::string service;
  int worker_id = 0;
  // The bus to the other workers of this master (see handlers/messaging).
  WorkerBus* bus = nullptr;
  // Set when this instance is one node of a cluster.
  const ClusterOptions* cluster = nullptr;
  // Services in a hub (config `hub`) -> the hub's name; a service in none
  // is its own hub. Null: none.
  const std::map<std::string, std::string>* hubs = nullptr;
  // The service's codec options in this worker (its access log), for a
  // handler that makes codecs of its own (routes upgrading to WebSocket).
  CodecOptions codec;
  // A service with routes: each route's own access log in this worker, in
  // route order (null: none, the service's applies).
  std::vector<LogAppender*> route_access_logs;
  // Asks the master for every process's metric samples (a scrape); `done`
  // runs on this loop with them, or with "" after a timeout. Empty outside
  // a worker (tests).
  std::function<void(std::function<void(std::string samples)> done)> gather_metrics;
};

// The client space `service` belongs to: its hub's name, or its own.
inline const std::string& HubOf(const WorkerContext& worker, const std::string& service) {
  if (worker.hubs != nullptr) {
    auto it = worker.hubs->find(service);
    if (it != worker.hubs->end()) return it->second;
  }
  return service;
}

// One upstream of a proxy, for `status`.
struct UpstreamStatus {
  std::string url;
  bool up = true;          // not marked down by passive or active health
  uint64_t requests = 0;   // sent to it by this worker
  uint64_t failures = 0;   // failed exchanges in this worker
  size_t connections = 0;  // open (busy and idle) in this worker
};

// Who a connection is to a handler that gives clients ids (broadcast,
// webhook), for `connections`.
struct ClientDescription {
  std::string client_id;
  std::string uid;  // "" when none is bound
  std::vector<std::string> groups;
};

class Handler : public ConnectionEvents {
 public:
  // After the worker's listeners are ready, before the first connection.
  virtual void OnWorkerStart(const WorkerContext& worker) {}
  // When the worker is about to exit; connections are still open.
  virtual void OnWorkerStop() {}
  virtual void OnWorkerReload() {}

  // Failed exchanges with a backend (webhook requests, proxy upstreams), for
  // `status`.
  virtual uint64_t backend_errors() const { return 0; }
  // The handler's own metric samples (engine/metrics.h), for a scrape; the
  // samples carry the worker's labels already.
  virtual void AppendMetrics(MetricSamples& samples) const {}

  // The client `connection` is to this handler, if it gives clients ids.
  virtual std::optional<ClientDescription> DescribeClient(const Connection& connection) const {
    return std::nullopt;
  }

  // The upstreams of an HTTP proxy and their health, for `status`.
  virtual std::vector<UpstreamStatus> upstreams() const { return {}; }

  // An HTTP handler that takes request bodies in pieces as they arrive
  // (HttpCodec::StreamBody), so its service announces request heads.
  virtual bool streams_request_bodies() const { return false; }

  // Requests each route took, in config order (a service with routes), for
  // `status`.
  virtual std::vector<std::pair<std::string, uint64_t>> route_requests() const { return {}; }
};

// Built once per service in the master; immutable after fork.
class HandlerFactory {
 public:
  virtual ~HandlerFactory() = default;
  virtual std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const = 0;
};

// What a handler's creator gets: its own config message and the service.
struct HandlerConfig {
  const google::protobuf::Message& message;  // e.g. sockman::EchoOptions
  std::string service;
  // The service's protocol: ask its traits() what it can carry; its name()
  // is for error messages.
  const Protocol& protocol;
  bool datagrams = false;  // the service runs over UDP
  // Relative paths in handler configs are relative to this directory (the
  // config file's).
  std::string config_directory = ".";
  bool tls = false;  // the service speaks TLS (https://, wss://, transport: SSL)
};

using HandlerCreator =
    std::function<absl::StatusOr<std::unique_ptr<HandlerFactory>>(const HandlerConfig&)>;

class HandlerRegistry {
 public:
  static HandlerRegistry& Global();
  // Returns true so it can initialize a static; dies on a duplicate name.
  bool Register(std::string name, HandlerCreator creator);
  // A creator of a handler configured by its own message type `Options`.
  // The config field is checked to be an `Options` once, here, so creators
  // never cast.
  template <typename Options>
  bool Register(std::string name,
                absl::StatusOr<std::unique_ptr<HandlerFactory>> (*create)(const Options&,
                                                                          const HandlerConfig&)) {
    return Register(
        std::move(name),
        [create](const HandlerConfig& config) -> absl::StatusOr<std::unique_ptr<HandlerFactory>> {
          if (config.message.GetDescriptor() != Options::descriptor()) {
            return absl::InternalError(absl::StrCat("handler configured by ",
                                                    config.message.GetDescriptor()->full_name(),
                                                    ", not ", Options::descriptor()->full_name()));
          }
          return create(static_cast<const Options&>(config.message), config);
        });
  }
  const HandlerCreator* Find(absl::string_view name) const;
  std::vector<std::string> Names() const;  // sorted

 private:
  absl::flat_hash_map<std::string, HandlerCreator> creators_;
};

#define SOCKMAN_HANDLER_CONCAT_INNER_(a, b) a##b
#define SOCKMAN_HANDLER_CONCAT_(a, b) SOCKMAN_HANDLER_CONCAT_INNER_(a, b)
#define SOCKMAN_REGISTER_HANDLER(name, creator)                                    \
  static const bool SOCKMAN_HANDLER_CONCAT_(sockman_handler_registered_, __LINE__) \
      [[maybe_unused]] = ::sockman::HandlerRegistry::Global().Register(name, creator)

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_HANDLER_H_
