// Routes: an http:// service whose `route` blocks each hold a match and a
// handler. The router is the service's handler; it picks the route of each
// request (RouteTable), hands HTTP requests to that route's handler, and
// switches a connection whose upgrade a WebSocket route takes to that
// route's WebSocket codec, after which the route's handler has it alone.
//
// Route handlers see connections as their own service's would: an HTTP
// route's handler gets OnConnect and OnOpen before its first request on a
// connection, and OnClose (and buffer events) for every connection it saw;
// a WebSocket route's handler gets OnConnect, then OnOpen after the
// handshake its route's websocket options decide, and everything after.
// The routes of a service share its client space (its hub), so a push to
// the service, or to any of its broadcast or webhook routes by name,
// reaches their clients.
#ifndef SOCKMAN_HANDLERS_ROUTER_ROUTER_H_
#define SOCKMAN_HANDLERS_ROUTER_ROUTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/sockman.pb.h"
#include "handlers/handler.h"
#include "handlers/router/route_table.h"

namespace sockman {

// Why a service's routes are refused: the field under the service
// ("route[2].match.regex") and the message.
struct RouterError {
  std::string field;
  std::string message;
};

// The handler factory of a service with routes (validated: an http://
// service, every route with a handler). `protocol` is the service's;
// `cluster`, the config's `global { cluster }` (null: none).
absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateRouter(
    const Service& service, const Protocol& protocol, const std::string& config_directory,
    RouterError* error, const ClusterOptions* cluster = nullptr);

// The routes in the order a request considers them, one line each, for
// `sockman check`.
std::vector<std::string> DescribeRoutes(const HandlerFactory& router);

// Digests of the files the routes loaded (htpasswd files), for reload.
std::string RouterLoadedFiles(const HandlerFactory& router);

// Whether a route's handler takes WebSocket clients.
bool IsWebSocketRoute(const Route& route);

// The name of the handler field set in a route ("" if none).
std::string RouteHandlerName(const Route& route);

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_ROUTER_ROUTER_H_
