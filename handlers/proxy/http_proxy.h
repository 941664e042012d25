// The HTTP reverse proxy: `proxy` with http:// or https:// upstreams on an
// http or https service or route (docs/proxy.md). Each request goes to one
// upstream, picked by the balance policy among those up, over a keep-alive
// connection from the worker's pool; bodies stream both ways with
// backpressure and are never held whole; Upgrade requests (WebSocket) are
// passed through once the upstream answers 101.
#ifndef SOCKMAN_HANDLERS_PROXY_HTTP_PROXY_H_
#define SOCKMAN_HANDLERS_PROXY_HTTP_PROXY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "config/sockman.pb.h"
#include "handlers/handler.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateHttpProxy(const ProxyOptions& options,
                                                                const HandlerConfig& config);

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_PROXY_HTTP_PROXY_H_
