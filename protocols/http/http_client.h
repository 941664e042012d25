// HttpClient: HTTP/1.1 requests from a worker's loop to one origin
// (http://HOST:PORT, or https:// with `tls`), over a pool of keep-alive connections. At most
// `max_connections` requests are in flight; the rest wait in a bounded queue
// (first in, first out). Host names are resolved with c-ares on the loop.
//
//   HttpClient client(reactor, {.host = "backend", .port = 8080});
//   client.Send({.target = "/events", .headers = "X-Event: connect\r\n", .body = ""},
//               [](absl::StatusOr<HttpClientResponse> response) { ... });
//
// Every request gets exactly one answer: the response (any status), or an
// error (unreachable, timed out, malformed response, queue full). A request
// that fails on a reused keep-alive connection before any byte of a response
// arrived (the server closed it meanwhile) is sent once more on a new one.
#ifndef SOCKMAN_PROTOCOLS_HTTP_HTTP_CLIENT_H_
#define SOCKMAN_PROTOCOLS_HTTP_HTTP_CLIENT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/reactor.h"
#include "engine/resolver.h"
#include "engine/tls.h"
#include "protocols/http/http_response_parser.h"

namespace sockman {

struct HttpClientOptions {
  std::string host;
  uint16_t port = 80;
  // https://: TLS to the origin, its certificate verified for `host`.
  std::shared_ptr<const TlsClientContext> tls;
  size_t max_connections = 16;
  size_t max_queue = 10'000;
  // From the moment a request is taken from the queue (connecting included)
  // to the end of its response.
  int64_t timeout_ms = 5000;
  size_t max_response_size = 16 << 20;
  // Idle keep-alive connections are closed after this long.
  int64_t idle_timeout_ms = 30'000;
};

struct HttpClientRequest {
  std::string method = "POST";
  std::string target = "/";
  std::string headers;  // rendered "Name: value\r\n" lines; Host and Content-Length are added
  std::string body;
};

class HttpClient {
 public:
  using Done = std::function<void(absl::StatusOr<HttpClientResponse>)>;

  HttpClient(Reactor& reactor, HttpClientOptions options);
  // Requests still waiting are dropped without an answer.
  ~HttpClient();

  // `done` runs once, on the loop, never from inside Send. It must not
  // destroy the client.
  void Send(HttpClientRequest request, Done done);

  size_t in_flight() const { return busy_; }
  size_t queued() const { return queue_.size(); }
  size_t open_connections() const { return links_.size(); }

 private:
  struct Pending {
    HttpClientRequest request;
    Done done;
    bool retried = false;
  };
  class Link;

  void Dispatch();
  void Start(Link& link, Pending pending);
  // The link finished its request (response or failure) and may be reused.
  void Finished(Link& link, absl::StatusOr<HttpClientResponse> result, bool reusable);
  void Remove(Link& link);
  Resolver* resolver();

  Reactor& reactor_;
  HttpClientOptions options_;
  std::string host_header_;
  std::unique_ptr<Resolver> resolver_;
  std::deque<Pending> queue_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<Link*> idle_;  // most recently used last
  size_t busy_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_HTTP_CLIENT_H_
