#include "handlers/policy/rate_limit_config.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace sockman {

absl::StatusOr<RateLimitPolicy> RateLimitFromConfig(const RateLimit& config,
                                                    const ClusterOptions* cluster,
                                                    const std::string& name) {
  RateLimitPolicy policy;
  double rate = config.messages_per_second();
  if (!(rate >= 0 && rate <= 1e6)) {
    return absl::InvalidArgumentError("messages_per_second must be between 0 and 1000000");
  }
  if (config.bytes_per_second() > (uint64_t{1} << 30)) {
    return absl::InvalidArgumentError("bytes_per_second must be at most 1073741824");
  }
  if (rate == 0 && config.bytes_per_second() == 0) {
    return absl::InvalidArgumentError("needs messages_per_second or bytes_per_second");
  }
  policy.messages_per_second = rate;
  policy.message_burst = config.has_burst() ? config.burst() : std::max(1.0, std::ceil(rate));
  if (rate > 0 && policy.message_burst < 1) {
    return absl::InvalidArgumentError("burst must be at least 1");
  }
  policy.bytes_per_second = static_cast<double>(config.bytes_per_second());
  policy.byte_burst = static_cast<double>(config.has_bytes_burst() ? config.bytes_burst()
                                                                   : config.bytes_per_second());
  switch (config.action()) {
    case RateLimit::PAUSE:
      policy.action = RateLimitPolicy::Action::kPause;
      break;
    case RateLimit::CLOSE:
      policy.action = RateLimitPolicy::Action::kClose;
      break;
    default:
      policy.action = RateLimitPolicy::Action::kDrop;
  }
  policy.per_ip = config.per_ip();
  policy.per_uid = config.per_uid();
  if (config.per_ip() || config.per_uid()) {
    // Mapped here, before fork: every worker of the service shares them.
    absl::StatusOr<std::shared_ptr<SharedBuckets>> shared = SharedBuckets::Create();
    if (!shared.ok()) return shared.status();
    policy.shared = std::move(*shared);
  }
  if (config.cluster()) {
    if (!config.per_ip() && !config.per_uid()) {
      return absl::InvalidArgumentError(
          "cluster shares per_ip or per_uid buckets across nodes: set one of them");
    }
    if (cluster == nullptr) {
      return absl::InvalidArgumentError("cluster needs `global { cluster { redis node_id } }`");
    }
    policy.cluster_redis = cluster->redis;
    policy.cluster_namespace = name;
  }
  return policy;
}

}  // namespace sockman
