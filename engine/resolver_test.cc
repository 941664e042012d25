#include "engine/resolver.h"

#include "engine/base/clock.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

absl::StatusOr<std::vector<SocketAddress>> ResolveNow(Reactor& reactor, Resolver& resolver,
                                                      const std::string& host, uint16_t port) {
  std::optional<absl::StatusOr<std::vector<SocketAddress>>> result;
  resolver.Resolve(host, port, [&](absl::StatusOr<std::vector<SocketAddress>> r) { result = r; });
  EXPECT_FALSE(result.has_value());  // never from inside Resolve
  for (int i = 0; i < 200 && !result.has_value(); ++i) reactor.RunOnce(10);
  if (!result.has_value()) return absl::DeadlineExceededError("no answer");
  return *result;
}

TEST(ResolverTest, NumericAddressesAndLocalhost) {
  auto reactor = Reactor::Create(SystemClock());
  ASSERT_TRUE(reactor.ok());
  auto resolver = Resolver::Create(**reactor);
  ASSERT_TRUE(resolver.ok()) << resolver.status();

  auto numeric = ResolveNow(**reactor, **resolver, "::1", 80);
  ASSERT_TRUE(numeric.ok());
  ASSERT_EQ(numeric->size(), 1u);
  EXPECT_EQ(numeric->front().ToString(), "[::1]:80");

  // localhost comes from /etc/hosts, with the port asked for.
  auto local = ResolveNow(**reactor, **resolver, "localhost", 7000);
  ASSERT_TRUE(local.ok()) << local.status();
  ASSERT_FALSE(local->empty());
  bool loopback = false;
  for (const SocketAddress& a : *local) {
    EXPECT_EQ(a.port(), 7000);
    if (a.Host() == "127.0.0.1" || a.Host() == "::1") loopback = true;
  }
  EXPECT_TRUE(loopback);
  // A second lookup is answered from the cache, with its own port.
  auto cached = ResolveNow(**reactor, **resolver, "localhost", 7001);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->front().port(), 7001);
}

}  // namespace
}  // namespace sockman
