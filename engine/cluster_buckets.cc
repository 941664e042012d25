#include "engine/cluster_buckets.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"

namespace sockman {

// Tokens and the time they were counted, in a hash that expires once idle
// long enough to be full again. Redis's own clock (TIME), so the nodes'
// clocks do not matter.
const char kLeaseScript[] = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate / 1000) end
local granted = math.min(want, math.floor(tokens))
if granted < 0 then granted = 0 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - granted), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return granted
)lua";

ClusterBuckets& ClusterBuckets::ForProcess(Reactor& reactor, const SocketAddress& redis) {
  // One per Redis address (a process serves one config, so one in practice).
  static auto* made = new std::map<std::string, ClusterBuckets*>();
  std::string key = redis.ToString();
  auto it = made->find(key);
  if (it == made->end()) it = made->emplace(key, new ClusterBuckets(reactor, redis)).first;
  return *it->second;
}

ClusterBuckets::ClusterBuckets(Reactor& reactor, const SocketAddress& redis)
    : redis_(std::make_unique<RedisClient>(reactor, redis, "cluster rate limits")) {
  redis_->Start();
}

void ClusterBuckets::Lease(const std::string& name, double rate, double burst, double want,
                           std::function<void(double)> done) {
  char numbers[3][32];
  std::snprintf(numbers[0], sizeof(numbers[0]), "%.6f", rate);
  std::snprintf(numbers[1], sizeof(numbers[1]), "%.0f", std::ceil(burst));
  std::snprintf(numbers[2], sizeof(numbers[2]), "%.0f", std::ceil(want));
  redis_->Command({"EVAL", kLeaseScript, "1", name, numbers[0], numbers[1], numbers[2]},
                  [done = std::move(done)](const RedisValue* reply) {
                    if (reply == nullptr || reply->type != RedisValue::kInteger) return done(-1);
                    done(static_cast<double>(reply->integer));
                  });
}

}  // namespace sockman
