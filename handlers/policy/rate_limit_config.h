// A `rate_limit { ... }` block (of a service or a WebSocket route) checked
// and turned into the policy its connections apply (RateLimitPolicy).
#ifndef SOCKMAN_HANDLERS_POLICY_RATE_LIMIT_CONFIG_H_
#define SOCKMAN_HANDLERS_POLICY_RATE_LIMIT_CONFIG_H_

#include "absl/status/statusor.h"
#include "config/sockman.pb.h"
#include "handlers/handler.h"
#include "protocols/connection.h"

namespace sockman {

// per_ip maps its shared buckets here: call it in the master, before fork.
// `cluster`: the config's `global { cluster }` (null: none), for `cluster:
// true`, whose Redis buckets are named after `name` (the service, or
// SERVICE/ROUTE).
absl::StatusOr<RateLimitPolicy> RateLimitFromConfig(const RateLimit& config,
                                                    const ClusterOptions* cluster = nullptr,
                                                    const std::string& name = "");

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_POLICY_RATE_LIMIT_CONFIG_H_
