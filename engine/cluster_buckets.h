// Token buckets held in Redis, shared by every node of a cluster (config
// `rate_limit { cluster: true }`): a node leases tokens from a bucket (a Lua
// script refills it from Redis's clock and grants at most what it holds) and
// spends them locally (SharedBuckets' credit), so the cluster as a whole
// never passes more than the bucket's rate and burst.
//
//   ClusterBuckets& buckets = ClusterBuckets::ForProcess(reactor, redis);
//   buckets.Lease("sockman:rl:chat:m:1f2e", 100, 100, 5, [](double granted) { ... });
#ifndef SOCKMAN_ENGINE_CLUSTER_BUCKETS_H_
#define SOCKMAN_ENGINE_CLUSTER_BUCKETS_H_

#include <functional>
#include <memory>
#include <string>

#include "engine/reactor.h"
#include "engine/redis_client.h"
#include "engine/socket_address.h"

namespace sockman {

class ClusterBuckets {
 public:
  // This process's client of the Redis at `redis`, made (and connected) on
  // first use: in a worker, on its loop.
  static ClusterBuckets& ForProcess(Reactor& reactor, const SocketAddress& redis);

  // Asks for up to `want` tokens of bucket `name` (refilled at `rate` per
  // second up to `burst`). `done(granted)`: what was granted (0 when the
  // bucket is empty), or -1 when Redis could not be asked.
  void Lease(const std::string& name, double rate, double burst, double want,
             std::function<void(double granted)> done);

 private:
  ClusterBuckets(Reactor& reactor, const SocketAddress& redis);
  std::unique_ptr<RedisClient> redis_;
};

// The Lua script a lease runs (KEYS[1] bucket; ARGV rate, burst, want).
extern const char kLeaseScript[];

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_CLUSTER_BUCKETS_H_
