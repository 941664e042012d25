#include "handlers/proxy/http_proxy.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/base/logging.h"
#include "engine/connector.h"
#include "engine/resolver.h"
#include "engine/shared_memory.h"
#include "engine/tcp_connection.h"
#include "engine/tls.h"
#include "protocols/http/chunked.h"
#include "protocols/http/http.h"
#include "protocols/http/http_client.h"
#include "protocols/http/http_response_parser.h"
#include "protocols/http/syntax.h"
#include "protocols/tcp/tcp_protocol.h"

namespace sockman {
namespace {

// What an upstream connection queues before the client is paused (and
// what a client queues is the service's max_send_buffer_size): with one
// read buffer each way, the memory of one proxied request (docs/proxy.md).
constexpr size_t kUpstreamSendBuffer = 256 * 1024;

int64_t MonotonicMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

// FNV-1a, then a 64-bit finaliser: stable across processes and restarts
// (a sticky client stays on its upstream when sockman restarts).
uint64_t StableHash(absl::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

struct HttpUpstream {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  uint32_t weight = 1;
  std::string url;  // as configured, for logs and status
};

absl::StatusOr<HttpUpstream> ParseHttpUpstream(const std::string& url) {
  HttpUpstream upstream;
  absl::string_view rest = url;
  upstream.tls = absl::ConsumePrefix(&rest, "https://");
  if (!upstream.tls && !absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", url, "' must be http://HOST:PORT or https://HOST:PORT"));
  }
  absl::ConsumeSuffix(&rest, "/");
  if (rest.find_first_of("/?#@ ,|\\") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", url, "': an upstream is HOST:PORT only (the request's path is passed as it is)"));
  }
  switch (SplitAuthority(rest, upstream.tls ? 443 : 80, &upstream.host, &upstream.port)) {
    case AuthorityError::kBadPort:
      return absl::InvalidArgumentError(absl::StrCat("'", url, "' needs a port 1-65535"));
    case AuthorityError::kNoHost:
      return absl::InvalidArgumentError(absl::StrCat("'", url, "' has no host"));
    case AuthorityError::kNone:
      break;
  }
  upstream.url = url;
  return upstream;
}

// One upstream's health as every worker of the service sees it: a page
// mapped shared before the workers fork.
struct SharedHealth {
  std::atomic<int64_t> down_until_ms{0};  // passive: CLOCK_MONOTONIC
  std::atomic<int64_t> window_start_ms{0};
  std::atomic<uint32_t> fails{0};
  std::atomic<bool> check_ok{true};  // active checks
  std::atomic<int32_t> streak{0};    // active: passes (> 0) or failures (< 0) in a row
};
static_assert(std::atomic<int64_t>::is_always_lock_free);

class SharedHealthTable {
 public:
  static absl::StatusOr<std::shared_ptr<SharedHealthTable>> Create(size_t count) {
    absl::StatusOr<std::unique_ptr<SharedMemory>> memory = SharedMemory::Map(
        std::max<size_t>(count, 1) * sizeof(SharedHealth), "the upstream health table");
    if (!memory.ok()) return memory.status();
    auto* slots = static_cast<SharedHealth*>((*memory)->data());
    for (size_t i = 0; i < count; ++i) new (&slots[i]) SharedHealth();
    return std::shared_ptr<SharedHealthTable>(new SharedHealthTable(std::move(*memory)));
  }
  SharedHealth& at(size_t i) const { return static_cast<SharedHealth*>(memory_->data())[i]; }

 private:
  explicit SharedHealthTable(std::unique_ptr<SharedMemory> memory) : memory_(std::move(memory)) {}
  std::unique_ptr<SharedMemory> memory_;
};

enum class HashKind { kClientIp, kHeader, kCookie };

struct HttpProxySettings {
  std::vector<HttpUpstream> upstreams;
  ProxyOptions::Balance balance = ProxyOptions::ROUND_ROBIN;
  HashKind hash_kind = HashKind::kClientIp;
  std::string hash_name;
  std::vector<std::pair<uint64_t, uint16_t>> ring;  // HASH: points, sorted
  size_t max_idle = 32;
  size_t max_connections = 0;
  int64_t pool_idle_ms = 60'000;
  uint32_t max_fails = 3;
  int64_t fail_window_ms = 10'000;
  int64_t down_ms = 10'000;
  bool health_check = false;
  int64_t check_interval_ms = 5000;
  int64_t check_timeout_ms = 2000;
  std::string check_path = "/";
  int expect_status = 0;  // 0: any 2xx or 3xx
  std::string body_contains;
  int rise = 2;
  int fall = 3;
  uint32_t retries = 2;
  int64_t retry_timeout_ms = 10'000;
  int64_t connect_timeout_ms = 3000;
  int64_t response_timeout_ms = 60'000;
  int64_t idle_timeout_ms = 60'000;
  std::string host;                  // "" : the client's
  std::string set_headers;           // rendered lines
  std::vector<std::string> removed;  // lower case
  bool via = false;
  uint64_t max_body = 0;
  std::vector<std::string> upgrades = {"websocket"};  // lower case
  std::string scheme = "http";                        // the service's, for X-Forwarded-Proto
  std::shared_ptr<const TlsClientContext> tls;
  std::shared_ptr<SharedHealthTable> health;
};

bool IsHopByHop(absl::string_view name) {
  static constexpr absl::string_view kNames[] = {"connection", "keep-alive", "proxy-connection",
                                                 "te",         "trailer",    "transfer-encoding",
                                                 "upgrade"};
  for (absl::string_view hop : kNames) {
    if (absl::EqualsIgnoreCase(name, hop)) return true;
  }
  return false;
}

// Whether `name` is one of the tokens of the Connection header values.
bool NamedByConnection(const std::vector<absl::string_view>& connection, absl::string_view name) {
  for (absl::string_view value : connection) {
    if (HttpListHasToken(value, name)) return true;
  }
  return false;
}

bool IsIdempotent(absl::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

// A node of RFC 7239's Forwarded: an IPv6 address quoted in brackets.
// (`host`: the address, formatted once per request.)
std::string ForwardedNode(const SocketAddress& address, const std::string& host) {
  return address.is_ipv6() ? absl::StrCat("\"[", host, "]\"") : host;
}

// A Forwarded parameter value: a token, or else a quoted string.
std::string ForwardedValue(absl::string_view value) {
  if (IsHttpToken(value)) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

class HttpProxy;
class Exchange;

// One connection to an upstream: busy with one exchange, or idle in the
// pool. Never two requests on it at once.
class Link final : public PeerTransport::Delegate {
 public:
  Link(HttpProxy& proxy, size_t upstream) : proxy_(proxy), upstream_(upstream) {}
  void OnData(PeerTransport& transport, Buffer& input) override;
  void OnBufferFull(PeerTransport& transport) override;
  void OnBufferDrain(PeerTransport& transport) override;
  void OnClosed(PeerTransport& transport) override;

  HttpProxy& proxy_;
  size_t upstream_;
  std::unique_ptr<TcpConnection> tcp;
  Exchange* owner = nullptr;
  TimerId idle_timer = kNoTimer;
  bool reused = false;  // it carried an exchange before this one
};

// One client request and its way through an upstream.
class Exchange {
 public:
  Exchange(HttpProxy& proxy, Connection& client);
  ~Exchange();

  // The request (a head alone, or a whole request without a body).
  void Begin(const HttpRequest& request, HttpCodec& codec, absl::string_view body);
  void FromClient(absl::string_view data, bool last);  // body pieces
  void ClientBytes(absl::string_view bytes);           // after an Upgrade
  void ClientFull();
  void ClientDrained();
  // The client is gone: the upstream link is dropped (or pooled if done).
  void ClientGone();

  void UpstreamData(Buffer& input);
  void UpstreamFull() { client_.PauseRecv(); }
  void UpstreamDrained();
  void UpstreamClosed();

 private:
  enum class Phase { kConnecting, kSending, kWaiting, kResponding, kTunnel, kDone };

  void Attempt();
  void Connect(size_t upstream);
  void Ready(Link* link);
  // The exchange failed before a response began: another upstream when it
  // may, else `status` (502, 503, 504) to the client (see `sent_` for
  // reached the upstream.
  void Failed(int status, const std::string& why);
  void ParseUpstream(Buffer& input);
  void RespondHead(HttpClientResponse& response);
  void Tunnel(Buffer& input);
  // `clean`: nothing followed the response on its connection.
  void Finish(bool clean);
  void DropLink();
  // The try on upstream_ is over (for least-connections' count).
  void EndAttempt();
  // The connect under way for upstream_ is over (made, failed or dropped).
  void EndConnecting();
  void ArmTimer(int64_t ms);

  HttpProxy& proxy_;
  Connection& client_;
  Phase phase_ = Phase::kConnecting;
  std::string head_;  // the request head for upstreams, framing included
  std::string body_;  // a whole request's body (no piece follows)
  bool idempotent_ = false;
  bool head_request_ = false;
  bool body_pending_ = false;  // pieces still to come from the client
  bool chunked_up_ = false;    // the body goes up chunked
  bool body_started_ = false;  // a piece went up: the request cannot be replayed
  bool sent_ = false;          // the head went to the upstream of this try
  int64_t sent_ns_ = 0;        // when (MonotonicNanos)
  bool upgrade_ = false;
  uint64_t hash_ = 0;
  bool have_hash_ = false;
  std::vector<bool> tried_;
  uint32_t attempts_ = 0;
  int64_t started_ms_ = 0;
  size_t upstream_ = 0;
  bool counted_ = false;     // upstream_ counts this exchange as in flight
  bool connecting_ = false;  // upstream_ counts a connect of this exchange
  Link* link_ = nullptr;
  std::unique_ptr<Connector> connector_;
  uint64_t resolve_generation_ = 0;  // a resolve answer for an abandoned attempt is ignored
  HttpResponseParser parser_{0};
  bool known_length_ = false;  // the response body goes down as it came (Content-Length)
  TimerId timer_ = kNoTimer;
  std::string out_;
};

class HttpProxy : public Handler {
 public:
  HttpProxy(const HttpProxySettings& settings, const WorkerContext& worker)
      : settings_(settings),
        reactor_(worker.reactor),
        live_(settings.upstreams.size()),
        rng_(static_cast<uint32_t>(getpid() ^ MonotonicMs())) {}
  ~HttpProxy() override {
    exchanges_.clear();  // each drops the link it holds
    for (TimerId id : check_timers_) reactor_.CancelTimer(id);
    // The rest are idle. Taken out of links_ first: closing one calls
    // LinkClosed, which must not find it there.
    auto links = std::move(links_);
    links_.clear();
    for (auto& [raw, link] : links) {
      reactor_.CancelTimer(link->idle_timer);
      link->owner = nullptr;
      if (link->tcp) {
        link->tcp->Destroy();
        reactor_.DeleteLater(std::move(link->tcp));
      }
      reactor_.DeleteLater(std::move(link));
    }
  }

  void OnWorkerStart(const WorkerContext& worker) override {
    if (settings_.health_check && worker.worker_id == 0) StartChecks();
  }
  void OnWorkerStop() override {
    for (TimerId id : check_timers_) reactor_.CancelTimer(id);
    check_timers_.clear();
    checkers_.clear();
  }

  bool streams_request_bodies() const override { return true; }
  uint64_t backend_errors() const override { return errors_; }
  void AppendMetrics(MetricSamples& samples) const override {
    int64_t now = MonotonicMs();
    for (size_t i = 0; i < live_.size(); ++i) {
      const std::string& url = settings_.upstreams[i].url;
      const Live& live = live_[i];
      samples.Counter("sockman_upstream_requests", live.responses,
                      {{"upstream", url}, {"result", "ok"}});
      samples.Counter("sockman_upstream_requests", live.failures,
                      {{"upstream", url}, {"result", "error"}});
      samples.Histogram("sockman_upstream_response_seconds", live.latency, {{"upstream", url}});
      samples.Gauge("sockman_upstream_up", Healthy(i, now) ? 1 : 0, {{"upstream", url}});
      samples.Gauge("sockman_upstream_connections", static_cast<double>(live.open),
                    {{"upstream", url}});
    }
  }
  std::vector<UpstreamStatus> upstreams() const override {
    std::vector<UpstreamStatus> out;
    int64_t now = MonotonicMs();
    for (size_t i = 0; i < live_.size(); ++i) {
      out.push_back({settings_.upstreams[i].url, Healthy(i, now), live_[i].requests,
                     live_[i].failures, live_[i].open});
    }
    return out;
  }

  void OnConnect(Connection& connection) override {
    if (HttpCodec* codec = connection.codec_as<HttpCodec>()) codec->set_announce_heads(true);
  }
  void OnMessage(Connection& connection, absl::string_view message, MessageKind) override {
    auto it = exchanges_.find(connection.id());
    HttpCodec* codec = connection.codec_as<HttpCodec>();
    if (codec == nullptr) {  // upgraded: bytes for the upstream
      if (it != exchanges_.end()) it->second->ClientBytes(message);
      return;
    }
    switch (codec->body_part()) {
      case HttpCodec::BodyPart::kPiece:
      case HttpCodec::BodyPart::kLast:
        if (it != exchanges_.end()) {
          it->second->FromClient(message, codec->body_part() == HttpCodec::BodyPart::kLast);
        }
        return;
      case HttpCodec::BodyPart::kHead:
        if (!codec->StreamBody(settings_.max_body)) {
          codec->set_close_after_send();  // the body is not read
          SendHttpErrorPage(connection, 413);
          return;
        }
        break;
      case HttpCodec::BodyPart::kWhole:
        break;
    }
    if (it != exchanges_.end()) {  // cannot happen: the client is paused meanwhile
      connection.Destroy();
      return;
    }
    auto exchange = std::make_unique<Exchange>(*this, connection);
    Exchange* raw = exchange.get();
    exchanges_[connection.id()] = std::move(exchange);
    raw->Begin(codec->request(), *codec, message);
  }
  void OnBufferFull(Connection& connection) override {
    if (Exchange* e = Find(connection)) e->ClientFull();
  }
  void OnBufferDrain(Connection& connection) override {
    if (Exchange* e = Find(connection)) e->ClientDrained();
  }
  void OnClose(Connection& connection) override {
    auto it = exchanges_.find(connection.id());
    if (it == exchanges_.end()) return;
    std::unique_ptr<Exchange> exchange = std::move(it->second);
    exchanges_.erase(it);
    exchange->ClientGone();
    reactor_.DeleteLater(std::move(exchange));
  }

  // The exchange of `client` is over (it stays alive until the loop's pass ends).
  void Done(Connection& client) {
    auto it = exchanges_.find(client.id());
    if (it == exchanges_.end()) return;
    reactor_.DeleteLater(std::move(it->second));
    exchanges_.erase(it);
  }

  // The upstream for the next try, or -1: none left that is up (and not
  // full, and not tried). `hash`: the request's sticky key, if any.
  int Pick(const std::vector<bool>& tried, const uint64_t* hash) {
    int64_t now = MonotonicMs();
    size_t n = live_.size();
    auto usable = [&](size_t i) {
      return !tried[i] && Healthy(i, now) &&
             (settings_.max_connections == 0 ||
              live_[i].open + live_[i].connecting < settings_.max_connections ||
              !live_[i].idle.empty());
    };
    if (settings_.balance == ProxyOptions::HASH && hash != nullptr && !settings_.ring.empty()) {
      const auto& ring = settings_.ring;
      auto at = std::lower_bound(ring.begin(), ring.end(), std::make_pair(*hash, uint16_t{0}));
      for (size_t step = 0; step < ring.size(); ++step, ++at) {
        if (at == ring.end()) at = ring.begin();
        if (usable(at->second)) return at->second;
      }
      return -1;
    }
    // Per weight, fewer in flight is better: a/wa < b/wb.
    auto lighter = [&](size_t a, size_t b) {
      return static_cast<uint64_t>(live_[a].active) * settings_.upstreams[b].weight <
             static_cast<uint64_t>(live_[b].active) * settings_.upstreams[a].weight;
    };
    if (settings_.balance == ProxyOptions::LEAST_CONN) {
      int best = -1;
      for (size_t k = 0; k < n; ++k) {
        size_t i = (rotate_ + k) % n;
        if (usable(i) && (best < 0 || lighter(i, best))) best = static_cast<int>(i);
      }
      ++rotate_;
      return best;
    }
    if (settings_.balance == ProxyOptions::RANDOM_TWO) {
      uint64_t total = 0;
      for (size_t i = 0; i < n; ++i) total += usable(i) ? settings_.upstreams[i].weight : 0;
      if (total == 0) return -1;
      auto draw = [&] {
        uint64_t r = std::uniform_int_distribution<uint64_t>(0, total - 1)(rng_);
        for (size_t i = 0; i < n; ++i) {
          if (!usable(i)) continue;
          if (r < settings_.upstreams[i].weight) return i;
          r -= settings_.upstreams[i].weight;
        }
        return n - 1;
      };
      size_t a = draw(), b = draw();
      return static_cast<int>(lighter(b, a) ? b : a);
    }
    // Smooth weighted round-robin.
    int64_t total = 0;
    int best = -1;
    for (size_t i = 0; i < n; ++i) {
      if (!usable(i)) continue;
      live_[i].current += settings_.upstreams[i].weight;
      total += settings_.upstreams[i].weight;
      if (best < 0 || live_[i].current > live_[best].current) best = static_cast<int>(i);
    }
    if (best >= 0) live_[best].current -= total;
    return best;
  }

  // Whether an upstream not in `tried` is up but at pool.max_connections.
  bool SomeFull(const std::vector<bool>& tried) const {
    if (settings_.max_connections == 0) return false;
    int64_t now = MonotonicMs();
    for (size_t i = 0; i < live_.size(); ++i) {
      if (!tried[i] && Healthy(i, now) &&
          live_[i].open + live_[i].connecting >= settings_.max_connections &&
          live_[i].idle.empty()) {
        return true;
      }
    }
    return false;
  }

  // An idle connection to `upstream`, taken from the pool, or null.
  Link* TakeIdle(size_t upstream) {
    std::vector<Link*>& idle = live_[upstream].idle;
    while (!idle.empty()) {
      Link* link = idle.back();
      idle.pop_back();
      reactor_.CancelTimer(link->idle_timer);
      link->idle_timer = kNoTimer;
      if (link->tcp && link->tcp->open()) return link;
      CloseLink(link);
    }
    return nullptr;
  }
  // A new connection to `upstream` over `fd`.
  absl::StatusOr<Link*> NewLink(size_t upstream, UniqueFd fd) {
    auto link = std::make_unique<Link>(*this, upstream);
    ConnectionLimits limits;
    limits.max_package_size = 1 << 20;  // a response head, or a chunk-size line
    limits.max_send_buffer_size = kUpstreamSendBuffer;
    const HttpUpstream& to = settings_.upstreams[upstream];
    absl::StatusOr<std::unique_ptr<TcpConnection>> tcp =
        to.tls
            ? TcpConnection::CreateTlsClient(reactor_, std::move(fd), SocketAddress(), limits,
                                             link.get(), *settings_.tls, to.host)
            : TcpConnection::Create(reactor_, std::move(fd), SocketAddress(), limits, link.get());
    if (!tcp.ok()) return tcp.status();
    link->tcp = std::move(*tcp);
    Link* raw = link.get();
    links_[raw] = std::move(link);
    ++live_[upstream].open;
    return raw;
  }
  // The exchange on `link` is over; `reusable`: it may carry another.
  void Release(Link* link, bool reusable) {
    link->owner = nullptr;
    Live& live = live_[link->upstream_];
    if (!reusable || live.idle.size() >= settings_.max_idle || !link->tcp || !link->tcp->open()) {
      CloseLink(link);
      return;
    }
    link->reused = true;
    live.idle.push_back(link);
    link->idle_timer = reactor_.AddTimer(settings_.pool_idle_ms, [this, link] {
      link->idle_timer = kNoTimer;
      auto& idle = live_[link->upstream_].idle;
      idle.erase(std::remove(idle.begin(), idle.end(), link), idle.end());
      CloseLink(link);
    });
  }
  // Closes `link` now; it is forgotten in its OnClosed.
  void CloseLink(Link* link) {
    link->owner = nullptr;
    if (link->tcp && !link->tcp->closed()) {
      link->tcp->Destroy();
    } else {
      LinkClosed(link);
    }
  }
  void LinkClosed(Link* link) {
    auto it = links_.find(link);
    if (it == links_.end()) return;
    reactor_.CancelTimer(link->idle_timer);
    Live& live = live_[link->upstream_];
    live.idle.erase(std::remove(live.idle.begin(), live.idle.end(), link), live.idle.end());
    --live.open;
    if (link->tcp) reactor_.DeleteLater(std::move(link->tcp));
    reactor_.DeleteLater(std::move(it->second));
    links_.erase(it);
  }

  // Passive health: a failed exchange with `upstream`.
  void CountFailure(size_t upstream) {
    ++errors_;
    ++live_[upstream].failures;
    if (settings_.max_fails == 0) return;
    SharedHealth& health = settings_.health->at(upstream);
    int64_t now = MonotonicMs();
    if (now - health.window_start_ms.load() > settings_.fail_window_ms) {
      health.window_start_ms.store(now);
      health.fails.store(0);
    }
    if (health.fails.fetch_add(1) + 1 >= settings_.max_fails) {
      health.fails.store(0);
      health.down_until_ms.store(now + settings_.down_ms);
      LogWarning(absl::StrCat("proxy: upstream ", settings_.upstreams[upstream].url,
                              " is down for ", settings_.down_ms, " ms after ", settings_.max_fails,
                              " failures"));
    }
  }
  void CountRequest(size_t upstream) { ++live_[upstream].requests; }
  // A response head came `seconds` after the request went up.
  void CountResponse(size_t upstream, double seconds) {
    ++live_[upstream].responses;
    live_[upstream].latency.Observe(seconds);
  }
  void CountError() { ++errors_; }
  void Active(size_t upstream, int delta) { live_[upstream].active += delta; }
  void Connecting(size_t upstream, int delta) { live_[upstream].connecting += delta; }

  const HttpProxySettings& settings() const { return settings_; }
  Reactor& reactor() { return reactor_; }
  Resolver* resolver() {
    if (resolver_ == nullptr) {
      auto created = Resolver::Create(reactor_);
      if (created.ok()) resolver_ = std::move(*created);
    }
    return resolver_.get();
  }

 private:
  bool Healthy(size_t i, int64_t now) const {
    const SharedHealth& health = settings_.health->at(i);
    return health.down_until_ms.load() <= now && health.check_ok.load();
  }
  Exchange* Find(Connection& connection) {
    auto it = exchanges_.find(connection.id());
    return it == exchanges_.end() ? nullptr : it->second.get();
  }

  // Active checks: one GET per upstream per interval, from this worker;
  // what they find is shared by every worker.
  void StartChecks() {
    for (size_t i = 0; i < settings_.upstreams.size(); ++i) {
      const HttpUpstream& to = settings_.upstreams[i];
      HttpClientOptions options{.host = to.host,
                                .port = to.port,
                                .tls = to.tls ? settings_.tls : nullptr,
                                .max_connections = 1,
                                .max_queue = 1,
                                .timeout_ms = settings_.check_timeout_ms,
                                .max_response_size = 1 << 20};
      checkers_.push_back(std::make_unique<HttpClient>(reactor_, options));
      Check(i);
      check_timers_.push_back(
          reactor_.AddRepeatingTimer(settings_.check_interval_ms, [this, i] { Check(i); }));
    }
  }
  void Check(size_t i) {
    if (i >= checkers_.size() || checkers_[i]->in_flight() + checkers_[i]->queued() > 0) return;
    HttpClientRequest request{.method = "GET",
                              .target = settings_.check_path,
                              .headers = "User-Agent: sockman-health-check\r\n",
                              .body = ""};
    checkers_[i]->Send(std::move(request), [this, i](absl::StatusOr<HttpClientResponse> r) {
      bool pass =
          r.ok() &&
          (settings_.expect_status != 0 ? r->status == settings_.expect_status
                                        : r->status >= 200 && r->status < 400) &&
          (settings_.body_contains.empty() || absl::StrContains(r->body, settings_.body_contains));
      SharedHealth& health = settings_.health->at(i);
      int32_t streak = health.streak.load();
      streak = pass ? std::max(streak, 0) + 1 : std::min(streak, 0) - 1;
      health.streak.store(streak);
      bool ok = health.check_ok.load();
      const std::string& url = settings_.upstreams[i].url;
      if (ok && !pass && -streak >= settings_.fall) {
        health.check_ok.store(false);
        LogWarning(absl::StrCat(
            "proxy: upstream ", url, " failed ", -streak, " health checks in a row: out (",
            r.ok() ? absl::StrCat("status ", r->status) : std::string(r.status().message()), ")"));
      } else if (!ok && pass && streak >= settings_.rise) {
        health.check_ok.store(true);
        LogInfo(absl::StrCat("proxy: upstream ", url, " passed ", streak,
                             " health checks in a row: back in"));
      }
    });
  }

  struct Live {
    int64_t current = 0;    // smooth round-robin
    uint32_t active = 0;    // exchanges in flight
    size_t open = 0;        // connections, busy and idle
    size_t connecting = 0;  // connections being made
    std::vector<Link*> idle;
    uint64_t requests = 0;
    uint64_t failures = 0;
    uint64_t responses = 0;    // tries that got a response head
    LatencyHistogram latency;  // request sent to response head
  };

  const HttpProxySettings& settings_;
  Reactor& reactor_;
  std::vector<Live> live_;
  std::mt19937_64 rng_;
  size_t rotate_ = 0;
  uint64_t errors_ = 0;
  std::unique_ptr<Resolver> resolver_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Exchange>> exchanges_;
  absl::flat_hash_map<Link*, std::unique_ptr<Link>> links_;
  std::vector<std::unique_ptr<HttpClient>> checkers_;
  std::vector<TimerId> check_timers_;
};

void Link::OnData(PeerTransport& transport, Buffer& input) {
  if (owner != nullptr) {
    owner->UpstreamData(input);
    return;
  }
  input.Consume(input.size());  // an idle upstream has nothing to say
  proxy_.CloseLink(this);
}
void Link::OnBufferFull(PeerTransport&) {
  if (owner != nullptr) owner->UpstreamFull();
}
void Link::OnBufferDrain(PeerTransport&) {
  if (owner != nullptr) owner->UpstreamDrained();
}
void Link::OnClosed(PeerTransport&) {
  Exchange* exchange = owner;
  owner = nullptr;
  if (exchange != nullptr) exchange->UpstreamClosed();
  proxy_.LinkClosed(this);
}

Exchange::Exchange(HttpProxy& proxy, Connection& client)
    : proxy_(proxy), client_(client), tried_(proxy.settings().upstreams.size(), false) {}

Exchange::~Exchange() {
  proxy_.reactor().CancelTimer(timer_);
  connector_.reset();
  EndConnecting();
  DropLink();
  EndAttempt();
}

void Exchange::EndAttempt() {
  if (counted_) proxy_.Active(upstream_, -1);
  counted_ = false;
}

void Exchange::EndConnecting() {
  if (connecting_) proxy_.Connecting(upstream_, -1);
  connecting_ = false;
}

void Exchange::DropLink() {
  if (link_ == nullptr) return;
  Link* link = link_;
  link_ = nullptr;
  proxy_.CloseLink(link);
}

void Exchange::ArmTimer(int64_t ms) {
  Reactor& reactor = proxy_.reactor();
  reactor.CancelTimer(timer_);
  timer_ = reactor.AddTimer(ms, [this] {
    timer_ = kNoTimer;
    switch (phase_) {
      case Phase::kSending:
        if (!body_started_) {  // the client's body is late, not the upstream
          LogWarning("proxy: the client sent no body in time; answering 408");
          phase_ = Phase::kDone;
          DropLink();
          Connection& client = client_;
          proxy_.Done(client);
          if (HttpCodec* codec = client.codec_as<HttpCodec>()) codec->set_close_after_send();
          SendHttpErrorPage(client, 408);
          return;
        }
        [[fallthrough]];
      case Phase::kConnecting:
      case Phase::kWaiting:
        proxy_.CountFailure(upstream_);
        DropLink();
        Failed(504, "timed out");
        return;
      case Phase::kResponding:
        proxy_.CountFailure(upstream_);
        LogWarning(absl::StrCat("proxy: ", proxy_.settings().upstreams[upstream_].url,
                                ": response body timed out; closing the client"));
        client_.Destroy();  // OnClose ends the exchange
        return;
      default:
        return;
    }
  });
}

void Exchange::Begin(const HttpRequest& request, HttpCodec& codec, absl::string_view body) {
  const HttpProxySettings& s = proxy_.settings();
  started_ms_ = proxy_.reactor().NowMs();
  idempotent_ = IsIdempotent(request.method);
  head_request_ = request.head;
  body_pending_ = codec.body_part() == HttpCodec::BodyPart::kHead;
  body_ = std::string(body);
  parser_ = HttpResponseParser(0, head_request_);
  parser_.set_stream_body();

  // The target: as the client sent it (origin form), or the route's path.
  absl::string_view target = request.target;
  bool own_path = request.path.data() >= target.data() &&
                  request.path.data() + request.path.size() <= target.data() + target.size();
  std::string rebuilt;
  if (!absl::StartsWith(target, "/") || !own_path) {
    if (target == "*") {
      rebuilt = "*";
    } else {
      rebuilt = request.path.empty() ? "/" : std::string(request.path);
      if (!request.query.empty()) absl::StrAppend(&rebuilt, "?", request.query);
    }
    target = rebuilt;
  }
  std::vector<absl::string_view> connection;
  for (const auto& [name, value] : request.headers) {
    if (absl::EqualsIgnoreCase(name, "connection")) connection.push_back(value);
  }
  absl::string_view upgrade = request.Header("Upgrade");
  if (!upgrade.empty() && NamedByConnection(connection, "upgrade") && !body_pending_) {
    absl::string_view protocol = absl::StripAsciiWhitespace(upgrade.substr(0, upgrade.find(',')));
    protocol = protocol.substr(0, protocol.find('/'));
    for (const std::string& allowed : s.upgrades) {
      if (absl::EqualsIgnoreCase(protocol, allowed)) upgrade_ = true;
    }
  }

  head_.reserve(512 + request.target.size());
  absl::StrAppend(&head_, request.method, " ", target, " HTTP/1.1\r\n");
  absl::string_view client_host = request.host;
  absl::StrAppend(&head_, "Host: ", !s.host.empty() ? absl::string_view(s.host) : client_host,
                  "\r\n");
  std::string forwarded_for, forwarded, via;
  absl::string_view cookie;
  for (const auto& [name, value] : request.headers) {
    if (IsHopByHop(name) || NamedByConnection(connection, name) ||
        absl::EqualsIgnoreCase(name, "host") || absl::EqualsIgnoreCase(name, "content-length") ||
        absl::EqualsIgnoreCase(name, "expect") ||
        absl::EqualsIgnoreCase(name, "x-forwarded-proto") ||
        absl::EqualsIgnoreCase(name, "x-forwarded-host")) {
      continue;
    }
    bool removed = std::any_of(s.removed.begin(), s.removed.end(), [&](const std::string& r) {
      return absl::EqualsIgnoreCase(r, name);
    });
    if (removed) continue;
    auto append = [&](std::string& list) {
      if (!list.empty()) list += ", ";
      list.append(value.data(), value.size());
    };
    if (absl::EqualsIgnoreCase(name, "x-forwarded-for")) {
      append(forwarded_for);
    } else if (absl::EqualsIgnoreCase(name, "forwarded")) {
      append(forwarded);
    } else if (absl::EqualsIgnoreCase(name, "via")) {
      append(via);
    } else {
      if (absl::EqualsIgnoreCase(name, "cookie")) cookie = value;
      absl::StrAppend(&head_, name, ": ", value, "\r\n");
    }
  }
  // The hop this request came from joins the chains.
  const SocketAddress& hop = client_.peer_address();
  std::string hop_host = hop.Host();
  absl::StrAppend(&head_, "X-Forwarded-For: ", forwarded_for, forwarded_for.empty() ? "" : ", ",
                  hop_host, "\r\n");
  absl::StrAppend(&head_, "X-Forwarded-Proto: ", s.scheme, "\r\n");
  if (!client_host.empty()) absl::StrAppend(&head_, "X-Forwarded-Host: ", client_host, "\r\n");
  absl::StrAppend(&head_, "Forwarded: ", forwarded, forwarded.empty() ? "" : ", ",
                  "for=", ForwardedNode(hop, hop_host),
                  client_host.empty() ? "" : absl::StrCat(";host=", ForwardedValue(client_host)),
                  ";proto=", s.scheme, "\r\n");
  if (s.via) {
    absl::StrAppend(&head_, "Via: ", via, via.empty() ? "" : ", ", "1.1 sockman\r\n");
  } else if (!via.empty()) {
    absl::StrAppend(&head_, "Via: ", via, "\r\n");
  }
  head_ += s.set_headers;
  if (upgrade_) absl::StrAppend(&head_, "Connection: upgrade\r\nUpgrade: ", upgrade, "\r\n");
  // One framing, whatever the client's was: no upstream can read it twice.
  if (body_pending_) {
    absl::string_view length = request.Header("Content-Length");
    chunked_up_ = length.empty();
    absl::StrAppend(&head_, chunked_up_ ? "Transfer-Encoding: chunked\r\n"
                                        : absl::StrCat("Content-Length: ", length, "\r\n"));
  } else if (!body_.empty() || request.method == "POST" || request.method == "PUT" ||
             request.method == "PATCH") {
    absl::StrAppend(&head_, "Content-Length: ", body_.size(), "\r\n");
  }
  head_ += "\r\n";

  if (s.balance == ProxyOptions::HASH) {
    absl::string_view key;
    std::string ip;
    switch (s.hash_kind) {
      case HashKind::kClientIp:
        ip = client_.remote_address().Host();
        key = ip;
        break;
      case HashKind::kHeader:
        key = request.Header(s.hash_name);
        break;
      case HashKind::kCookie:
        key = CookieValue(cookie, s.hash_name);
        break;
    }
    if (!key.empty()) {
      hash_ = StableHash(key);
      have_hash_ = true;
    }
  }
  Attempt();
}

void Exchange::Attempt() {
  phase_ = Phase::kConnecting;
  client_.PauseRecv();  // no piece of a body arrives while no upstream takes it
  int pick = proxy_.Pick(tried_, have_hash_ ? &hash_ : nullptr);
  if (pick < 0) {
    // 503 when a live upstream was only full, 502 when none is live.
    int status = proxy_.SomeFull(tried_) ? 503 : 502;
    if (std::find(tried_.begin(), tried_.end(), true) == tried_.end()) {  // else Failed logged
      proxy_.CountError();
      LogWarning(absl::StrCat(
          "proxy: ", status == 503 ? "every live upstream is full" : "no live upstream",
          "; answering ", status));
    }
    phase_ = Phase::kDone;
    proxy_.Done(client_);  // this exchange is over: answer and let the client go on
    client_.ResumeRecv();
    SendHttpErrorPage(client_, status);
    return;
  }
  upstream_ = static_cast<size_t>(pick);
  tried_[upstream_] = true;
  ++attempts_;
  proxy_.CountRequest(upstream_);
  proxy_.Active(upstream_, +1);
  counted_ = true;
  if (Link* idle = proxy_.TakeIdle(upstream_)) {
    Ready(idle);
    return;
  }
  Connect(upstream_);
}

void Exchange::Connect(size_t upstream) {
  const HttpProxySettings& s = proxy_.settings();
  const HttpUpstream& to = s.upstreams[upstream];
  Resolver* resolver = proxy_.resolver();
  if (resolver == nullptr) {
    Failed(502, "no resolver");
    return;
  }
  ArmTimer(s.connect_timeout_ms + 1000);  // the resolver's part; the connector has its own
  proxy_.Connecting(upstream, +1);
  connecting_ = true;
  uint64_t generation = ++resolve_generation_;
  resolver->Resolve(
      to.host, to.port, [this, upstream, generation](absl::StatusOr<std::vector<SocketAddress>> r) {
        if (generation != resolve_generation_ || phase_ != Phase::kConnecting) return;
        if (!r.ok() || r->empty()) {
          EndConnecting();
          proxy_.CountFailure(upstream);
          Failed(502, absl::StrCat("cannot resolve: ", r.status().message()));
          return;
        }
        connector_ = Connector::Connect(
            proxy_.reactor(), r->front(), proxy_.settings().connect_timeout_ms,
            [this, upstream](absl::StatusOr<UniqueFd> fd) {
              connector_.reset();  // the Connector touches nothing after this
              EndConnecting();
              absl::StatusOr<Link*> link = fd.ok() ? proxy_.NewLink(upstream, std::move(*fd))
                                                   : absl::StatusOr<Link*>(fd.status());
              if (!link.ok()) {
                proxy_.CountFailure(upstream);
                Failed(502, absl::StrCat("connect: ", link.status().message()));
                return;
              }
              Ready(*link);
            });
      });
}

// A pooled resolver answer may arrive for an exchange already gone: the
// Exchange lives until the loop's pass after its end, and the generation
// check above drops answers for tries it abandoned.
void Exchange::Ready(Link* link) {
  const HttpProxySettings& s = proxy_.settings();
  link_ = link;
  link->owner = this;
  phase_ = Phase::kSending;
  sent_ = false;
  if (body_pending_) {
    // The head leaves with the body's first piece: a body malformed from
    // its start never reaches the upstream at all.
    ArmTimer(s.idle_timeout_ms);
    client_.ResumeRecv();  // the body's pieces follow
    return;
  }
  absl::string_view parts[] = {head_, body_};
  link->tcp->SendParts(parts);
  sent_ = true;
  sent_ns_ = MonotonicNanos();
  phase_ = Phase::kWaiting;
  ArmTimer(s.response_timeout_ms);
}

void Exchange::FromClient(absl::string_view data, bool last) {
  if (link_ == nullptr || phase_ == Phase::kDone) return;
  const HttpProxySettings& s = proxy_.settings();
  body_started_ = true;
  out_.clear();
  if (chunked_up_) {
    AppendChunk(data, out_);
    if (last) AppendLastChunk(out_);
  } else {
    out_.append(data.data(), data.size());
  }
  if (!sent_) {
    absl::string_view parts[] = {head_, out_};
    link_->tcp->SendParts(parts);
    sent_ = true;
    sent_ns_ = MonotonicNanos();
  } else if (!out_.empty()) {
    link_->tcp->Send(out_);
  }
  if (last) {
    body_pending_ = false;
    client_.PauseRecv();  // no next request until this one is answered
    if (phase_ == Phase::kSending) {
      phase_ = Phase::kWaiting;
      ArmTimer(s.response_timeout_ms);
    }
  } else if (phase_ == Phase::kSending) {
    ArmTimer(s.idle_timeout_ms);
  }
}

void Exchange::ClientBytes(absl::string_view bytes) {
  if (phase_ == Phase::kTunnel && link_ != nullptr) link_->tcp->Send(bytes);
}

void Exchange::ClientFull() {
  if (link_ != nullptr) link_->tcp->PauseRecv();
}

void Exchange::ClientDrained() {
  if (link_ != nullptr) link_->tcp->ResumeRecv();
}

void Exchange::UpstreamDrained() {
  if (body_pending_ || phase_ == Phase::kTunnel) client_.ResumeRecv();
}

void Exchange::ClientGone() {
  bool tunnel = phase_ == Phase::kTunnel;
  phase_ = Phase::kDone;
  connector_.reset();
  ++resolve_generation_;
  EndConnecting();
  EndAttempt();
  if (link_ == nullptr) return;
  Link* link = link_;
  link_ = nullptr;
  link->owner = nullptr;
  if (tunnel && link->tcp->open()) {
    link->tcp->Close();  // after what the client sent last; OnClosed forgets it
  } else {
    proxy_.CloseLink(link);
  }
}

void Exchange::Failed(int status, const std::string& why) {
  const HttpProxySettings& s = proxy_.settings();
  const std::string& url = s.upstreams[upstream_].url;
  if (phase_ == Phase::kDone) return;
  connector_.reset();
  ++resolve_generation_;
  EndConnecting();
  EndAttempt();
  // Another upstream when the request did not reach this one, or it is
  // idempotent and nothing of its body is gone.
  bool replayable = !sent_ || (idempotent_ && !body_started_);
  bool untried = std::find(tried_.begin(), tried_.end(), false) != tried_.end();
  int64_t elapsed = proxy_.reactor().NowMs() - started_ms_;
  if (replayable && untried && attempts_ <= s.retries && elapsed < s.retry_timeout_ms &&
      client_.open()) {
    LogWarning(absl::StrCat("proxy: ", url, ": ", why, "; trying another upstream"));
    Attempt();
    return;
  }
  LogWarning(absl::StrCat("proxy: ", url, ": ", why, "; answering ", status));
  phase_ = Phase::kDone;
  proxy_.reactor().CancelTimer(timer_);
  timer_ = kNoTimer;
  Connection& client = client_;
  proxy_.Done(client);
  if (!client.open()) return;
  client.ResumeRecv();
  SendHttpErrorPage(client, status);
}

void Exchange::UpstreamData(Buffer& input) {
  if (phase_ == Phase::kTunnel) {
    Tunnel(input);
    return;
  }
  // A response's head and body (of one read) leave in one write. The
  // client Connection outlives this call even if it closes meanwhile.
  Connection& client = client_;
  client.Cork();
  ParseUpstream(input);
  client.Uncork();
}

void Exchange::ParseUpstream(Buffer& input) {
  const HttpProxySettings& s = proxy_.settings();
  while (link_ != nullptr && !link_->tcp->recv_paused() && phase_ != Phase::kDone) {
    size_t used = 0;
    HttpResponseParser::Result r = parser_.Parse(input.view(), &used);
    switch (r) {
      case HttpResponseParser::Result::kNeedMore:
        input.Consume(used);
        return;
      case HttpResponseParser::Result::kError: {
        input.Consume(input.size());
        proxy_.CountFailure(upstream_);
        if (phase_ == Phase::kResponding) {
          LogWarning(absl::StrCat("proxy: ", s.upstreams[upstream_].url, ": ", parser_.error(),
                                  "; closing the client"));
          DropLink();
          client_.Destroy();
          return;
        }
        std::string why = parser_.error();
        DropLink();
        Failed(502, absl::StrCat("bad response: ", why));
        return;
      }
      case HttpResponseParser::Result::kHead:
        input.Consume(used);
        RespondHead(parser_.response());
        if (phase_ == Phase::kTunnel) {
          Tunnel(input);
          return;
        }
        break;
      case HttpResponseParser::Result::kData: {
        out_.clear();
        if (known_length_) {
          client_.SendRaw(parser_.piece());
        } else if (HttpCodec* codec = client_.codec_as<HttpCodec>()) {
          codec->EncodeChunk(parser_.piece(), out_);
          if (!out_.empty()) client_.SendRaw(out_);
        }
        input.Consume(used);
        ArmTimer(s.idle_timeout_ms);
        break;
      }
      case HttpResponseParser::Result::kDone: {
        bool clean = used == input.size();
        input.Consume(input.size());
        Finish(clean);
        return;
      }
    }
  }
}

void Exchange::RespondHead(HttpClientResponse& response) {
  const HttpProxySettings& s = proxy_.settings();
  HttpCodec* codec = client_.codec_as<HttpCodec>();
  if (codec == nullptr) return;
  std::vector<absl::string_view> connection = response.Headers("Connection");
  bool switching = response.status == 101;
  if (switching && !upgrade_) {
    proxy_.CountFailure(upstream_);
    DropLink();
    Failed(502, "101 Switching Protocols to a request that did not ask");
    return;
  }
  std::string headers;
  std::string via;
  for (const auto& [name, value] : response.headers) {
    if (IsHopByHop(name) || NamedByConnection(connection, name) ||
        absl::EqualsIgnoreCase(name, "content-length") || absl::EqualsIgnoreCase(name, "date") ||
        absl::EqualsIgnoreCase(name, "server")) {
      continue;
    }
    if (s.via && absl::EqualsIgnoreCase(name, "via")) {
      via = value;
      continue;
    }
    absl::StrAppend(&headers, name, ": ", value, "\r\n");
  }
  if (s.via) absl::StrAppend(&headers, "Via: ", via, via.empty() ? "" : ", ", "1.1 sockman\r\n");
  phase_ = Phase::kResponding;
  proxy_.CountResponse(upstream_, static_cast<double>(MonotonicNanos() - sent_ns_) / 1e9);
  out_.clear();
  if (switching) {
    absl::StrAppend(&headers, "Connection: upgrade\r\nUpgrade: ", response.Header("Upgrade"),
                    "\r\n");
    codec->EncodeResponse(101, headers, "", out_);
    client_.SendRaw(out_);
    phase_ = Phase::kTunnel;
    proxy_.reactor().CancelTimer(timer_);
    timer_ = kNoTimer;
    static const TcpProtocol kTcp;
    client_.ContinueWithProtocol(kTcp, kTcp.NewCodec(CodecOptions{}));
    client_.ResumeRecv();
    return;
  }
  uint64_t length = 0;
  absl::string_view declared = response.Header("Content-Length");
  bool chunked = !response.Headers("Transfer-Encoding").empty();
  bool bodiless = head_request_ || response.status == 204 || response.status == 304;
  known_length_ = !chunked && absl::SimpleAtoi(declared.substr(0, declared.find(',')), &length);
  if (bodiless || known_length_) {
    known_length_ = true;
    codec->EncodeResponse(response.status, headers, "", out_,
                          static_cast<int64_t>(bodiless && declared.empty() ? 0 : length));
  } else {
    codec->EncodeStreamHead(response.status, headers, out_);
  }
  client_.SendRaw(out_);
  ArmTimer(s.idle_timeout_ms);
}

void Exchange::Tunnel(Buffer& input) {
  if (!input.empty()) client_.SendRaw(input.view());
  input.Consume(input.size());
}

void Exchange::UpstreamClosed() {
  // The link is going: forget it first (the proxy deletes it).
  Link* link = link_;
  link_ = nullptr;
  if (phase_ == Phase::kDone) return;
  if (phase_ == Phase::kTunnel) {
    phase_ = Phase::kDone;
    client_.Close();  // after what is queued for it
    return;
  }
  if (phase_ == Phase::kResponding) {
    if (parser_.Finish() == HttpResponseParser::Result::kDone) {
      Finish(/*clean=*/false);
      return;
    }
    proxy_.CountFailure(upstream_);
    LogWarning(absl::StrCat("proxy: ", proxy_.settings().upstreams[upstream_].url,
                            ": closed in the middle of the response; closing the client"));
    phase_ = Phase::kDone;
    client_.Destroy();
    return;
  }
  if (link != nullptr && !link->tcp->tls_error().empty()) {
    proxy_.CountFailure(upstream_);
    Failed(502, absl::StrCat("TLS: ", link->tcp->tls_error()));
    return;
  }
  proxy_.CountFailure(upstream_);
  Failed(502, parser_.started() ? "closed in the middle of the response head"
                                : "closed without a response");
}

void Exchange::Finish(bool clean) {
  HttpCodec* codec = client_.codec_as<HttpCodec>();
  if (!known_length_ && codec != nullptr) {
    out_.clear();
    codec->EncodeStreamEnd(out_);
    if (!out_.empty()) client_.SendRaw(out_);
  }
  phase_ = Phase::kDone;
  proxy_.reactor().CancelTimer(timer_);
  timer_ = kNoTimer;
  EndAttempt();
  if (link_ != nullptr) {
    Link* link = link_;
    link_ = nullptr;
    // The request must be all sent, and the upstream willing, to reuse it.
    proxy_.Release(link, clean && parser_.response().keep_alive && !body_pending_);
  }
  // (Answered before the client's body ended, the codec closes after it.)
  Connection& client = client_;
  proxy_.Done(client);
  client.CloseIfCodecDone();
  if (client.open()) client.ResumeRecv();
}

class HttpProxyFactory : public HandlerFactory {
 public:
  explicit HttpProxyFactory(HttpProxySettings settings) : settings_(std::move(settings)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext& worker) const override {
    return std::make_unique<HttpProxy>(settings_, worker);
  }

 private:
  HttpProxySettings settings_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateHttpProxy(const ProxyOptions& options,
                                                                const HandlerConfig& config) {
  HttpProxySettings s;
  auto add = [&](const std::string& url, uint32_t weight,
                 const std::string& field) -> absl::Status {
    absl::StatusOr<HttpUpstream> upstream = ParseHttpUpstream(url);
    if (!upstream.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", upstream.status().message()));
    }
    if (weight < 1 || weight > 1000) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": weight must be 1-1000"));
    }
    upstream->weight = weight;
    s.upstreams.push_back(*std::move(upstream));
    return absl::OkStatus();
  };
  for (int i = 0; i < options.upstream_size(); ++i) {
    absl::Status added = add(options.upstream(i), 1, absl::StrCat("upstream[", i, "]"));
    if (!added.ok()) return added;
  }
  for (int i = 0; i < options.server_size(); ++i) {
    const ProxyServer& server = options.server(i);
    if (!server.has_url()) {
      return absl::InvalidArgumentError(absl::StrCat("server[", i, "].url: required"));
    }
    absl::Status added = add(server.url(), server.has_weight() ? server.weight() : 1,
                             absl::StrCat("server[", i, "]"));
    if (!added.ok()) return added;
  }
  if (s.upstreams.empty()) return absl::InvalidArgumentError("needs an upstream (or a server)");
  if (s.upstreams.size() > 1000) return absl::InvalidArgumentError("at most 1000 upstreams");

  s.balance = options.balance();
  if (options.has_hash_key() && s.balance != ProxyOptions::HASH) {
    return absl::InvalidArgumentError("hash_key: only with balance: HASH");
  }
  if (s.balance == ProxyOptions::HASH) {
    // (Both sides views: a std::string temporary would not outlive the line.)
    absl::string_view key = options.has_hash_key() ? absl::string_view(options.hash_key())
                                                   : absl::string_view("client_ip");
    if (key == "client_ip") {
      s.hash_kind = HashKind::kClientIp;
    } else if (absl::ConsumePrefix(&key, "header:") && IsHttpToken(key)) {
      s.hash_kind = HashKind::kHeader;
      s.hash_name = std::string(key);
    } else if (absl::ConsumePrefix(&key, "cookie:") && !key.empty() &&
               key.find_first_of("=; ,") == absl::string_view::npos) {
      s.hash_kind = HashKind::kCookie;
      s.hash_name = std::string(key);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("hash_key: '", options.hash_key(),
                       "' must be \"client_ip\", \"header:NAME\" or \"cookie:NAME\""));
    }
    // 160 points per unit of weight: a dead upstream's clients spread over
    // the others, and the rest stay where they were.
    for (size_t i = 0; i < s.upstreams.size(); ++i) {
      for (uint32_t k = 0; k < 160 * s.upstreams[i].weight; ++k) {
        s.ring.emplace_back(StableHash(absl::StrCat(s.upstreams[i].url, "#", k)),
                            static_cast<uint16_t>(i));
      }
    }
    std::sort(s.ring.begin(), s.ring.end());
  }
  auto range = [](const char* field, uint64_t value, uint64_t low, uint64_t high) -> absl::Status {
    if (value < low || value > high) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": must be between ", low, " and ", high));
    }
    return absl::OkStatus();
  };
#define SOCKMAN_PROXY_RANGE(field, low, high)                                    \
  if (options.has_##field()) {                                                   \
    if (absl::Status in = range(#field, options.field(), low, high); !in.ok()) { \
      return in;                                                                 \
    }                                                                            \
  }
  SOCKMAN_PROXY_RANGE(connect_timeout_ms, 10, 600'000)
  SOCKMAN_PROXY_RANGE(max_fails, 0, 1000)
  SOCKMAN_PROXY_RANGE(fail_window_ms, 100, 3'600'000)
  SOCKMAN_PROXY_RANGE(down_ms, 100, 3'600'000)
  SOCKMAN_PROXY_RANGE(retries, 0, 10)
  SOCKMAN_PROXY_RANGE(retry_timeout_ms, 10, 600'000)
  SOCKMAN_PROXY_RANGE(response_timeout_ms, 10, 3'600'000)
  SOCKMAN_PROXY_RANGE(idle_timeout_ms, 10, 3'600'000)
#undef SOCKMAN_PROXY_RANGE
  if (options.has_connect_timeout_ms()) s.connect_timeout_ms = options.connect_timeout_ms();
  if (options.has_max_fails()) s.max_fails = options.max_fails();
  if (options.has_fail_window_ms()) s.fail_window_ms = options.fail_window_ms();
  if (options.has_down_ms()) s.down_ms = options.down_ms();
  if (options.has_retries()) s.retries = options.retries();
  if (options.has_retry_timeout_ms()) s.retry_timeout_ms = options.retry_timeout_ms();
  if (options.has_response_timeout_ms()) s.response_timeout_ms = options.response_timeout_ms();
  if (options.has_idle_timeout_ms()) s.idle_timeout_ms = options.idle_timeout_ms();
  if (options.has_pool()) {
    const ProxyPool& pool = options.pool();
    if (pool.has_max_idle()) {
      if (pool.max_idle() > 10'000) {
        return absl::InvalidArgumentError("pool.max_idle: at most 10000");
      }
      s.max_idle = pool.max_idle();
    }
    s.max_connections = pool.max_connections();
    if (pool.has_idle_timeout_ms()) {
      if (pool.idle_timeout_ms() < 100 || pool.idle_timeout_ms() > 3'600'000) {
        return absl::InvalidArgumentError("pool.idle_timeout_ms: must be between 100 and 3600000");
      }
      s.pool_idle_ms = pool.idle_timeout_ms();
    }
  }
  if (options.has_health_check()) {
    const HealthCheck& check = options.health_check();
    s.health_check = true;
    if (check.has_interval_ms()) {
      if (check.interval_ms() < 100 || check.interval_ms() > 3'600'000) {
        return absl::InvalidArgumentError(
            "health_check.interval_ms: must be between 100 and 3600000");
      }
      s.check_interval_ms = check.interval_ms();
    }
    if (check.has_timeout_ms()) {
      if (check.timeout_ms() < 10 || check.timeout_ms() > 600'000) {
        return absl::InvalidArgumentError("health_check.timeout_ms: must be between 10 and 600000");
      }
      s.check_timeout_ms = check.timeout_ms();
    }
    if (check.has_path()) {
      if (!absl::StartsWith(check.path(), "/") || !IsHttpFieldValue(check.path()) ||
          check.path().find(' ') != std::string::npos) {
        return absl::InvalidArgumentError(
            "health_check.path: must start with / and hold no space or control byte");
      }
      s.check_path = check.path();
    }
    if (check.has_expect_status()) {
      if (check.expect_status() < 100 || check.expect_status() > 599) {
        return absl::InvalidArgumentError("health_check.expect_status: must be 100-599");
      }
      s.expect_status = static_cast<int>(check.expect_status());
    }
    s.body_contains = check.body_contains();
    if (check.has_rise()) {
      if (check.rise() < 1 || check.rise() > 100) {
        return absl::InvalidArgumentError("health_check.rise: must be 1-100");
      }
      s.rise = static_cast<int>(check.rise());
    }
    if (check.has_fall()) {
      if (check.fall() < 1 || check.fall() > 100) {
        return absl::InvalidArgumentError("health_check.fall: must be 1-100");
      }
      s.fall = static_cast<int>(check.fall());
    }
  }
  if (options.has_host()) {
    if (options.host().empty() || !IsHttpFieldValue(options.host()) ||
        options.host().find(' ') != std::string::npos) {
      return absl::InvalidArgumentError("host: must be a host name, without spaces");
    }
    s.host = options.host();
  }
  for (int i = 0; i < options.set_header_size(); ++i) {
    const std::string& line = options.set_header(i);
    size_t colon = line.find(':');
    absl::string_view name = absl::string_view(line).substr(0, colon);
    absl::string_view value =
        colon == std::string::npos
            ? ""
            : absl::StripAsciiWhitespace(absl::string_view(line).substr(colon + 1));
    if (colon == std::string::npos || !IsHttpToken(name) || !IsHttpFieldValue(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("set_header[", i, "]: '", line, "' is not a \"Name: value\" header line"));
    }
    if (IsHopByHop(name) || absl::EqualsIgnoreCase(name, "host") ||
        absl::EqualsIgnoreCase(name, "content-length")) {
      return absl::InvalidArgumentError(
          absl::StrCat("set_header[", i, "]: the proxy sets ", name, " itself"));
    }
    absl::StrAppend(&s.set_headers, name, ": ", value, "\r\n");
  }
  for (int i = 0; i < options.remove_header_size(); ++i) {
    if (!IsHttpToken(options.remove_header(i))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "remove_header[", i, "]: '", options.remove_header(i), "' is not a header name"));
    }
    s.removed.push_back(absl::AsciiStrToLower(options.remove_header(i)));
  }
  s.via = options.via();
  s.max_body = options.max_body_size();
  if (options.upgrade_size() > 0) {
    s.upgrades.clear();
    for (int i = 0; i < options.upgrade_size(); ++i) {
      if (!IsHttpToken(options.upgrade(i))) {
        return absl::InvalidArgumentError(
            absl::StrCat("upgrade[", i, "]: '", options.upgrade(i), "' is not a protocol name"));
      }
      s.upgrades.push_back(absl::AsciiStrToLower(options.upgrade(i)));
    }
  }
  s.scheme = config.tls ? "https" : "http";
  bool tls = std::any_of(s.upstreams.begin(), s.upstreams.end(),
                         [](const HttpUpstream& u) { return u.tls; });
  if (options.has_ca_file() && !tls) {
    return absl::InvalidArgumentError("ca_file: only for https:// upstreams");
  }
  if (tls) {
    // A relative ca_file is relative to the config file, as every path is.
    std::string ca_file = options.ca_file();
    if (!ca_file.empty() && ca_file[0] != '/') {
      ca_file = absl::StrCat(config.config_directory, "/", ca_file);
    }
    auto context = TlsClientContext::Create(ca_file, {"http/1.1"});
    if (!context.ok()) return context.status();
    s.tls = *std::move(context);
  }
  absl::StatusOr<std::shared_ptr<SharedHealthTable>> health =
      SharedHealthTable::Create(s.upstreams.size());
  if (!health.ok()) return health.status();
  s.health = *std::move(health);
  return std::make_unique<HttpProxyFactory>(std::move(s));
}

}  // namespace sockman
