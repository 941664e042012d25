#include "protocols/http/http_client.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/connector.h"
#include "engine/tcp_connection.h"

namespace sockman {

// One connection to the origin: connecting, busy with one request, or idle.
class HttpClient::Link : public PeerTransport::Delegate {
 public:
  explicit Link(HttpClient& client) : client_(client), reactor_(client.reactor_) {}
  // May run after the client is gone (deferred deletion): touches only the
  // reactor.
  ~Link() override {
    reactor_.CancelTimer(timer_);
    connector_.reset();
    if (tcp_ && !tcp_->closed()) {
      removed_ = true;
      tcp_->Destroy();
    }
  }

  void Begin(Pending pending) {
    client_.reactor_.CancelTimer(timer_);
    current_ = std::move(pending);
    parser_.emplace(client_.options_.max_response_size, current_->request.method == "HEAD");
    timer_ = client_.reactor_.AddTimer(client_.options_.timeout_ms, [this] {
      timer_ = kNoTimer;
      client_.Finished(*this,
                       absl::DeadlineExceededError(
                           absl::StrCat("no response within ", client_.options_.timeout_ms, " ms")),
                       /*reusable=*/false);
    });
    if (tcp_) {
      Write();
    } else {
      Connect();
    }
  }

  void Idle() {
    client_.reactor_.CancelTimer(timer_);
    timer_ = client_.reactor_.AddTimer(client_.options_.idle_timeout_ms, [this] {
      timer_ = kNoTimer;
      client_.Remove(*this);
    });
  }

  // Drops the socket (without callbacks) and any timer.
  void Shutdown() {
    client_.reactor_.CancelTimer(timer_);
    timer_ = kNoTimer;
    connector_.reset();
    removed_ = true;
    if (tcp_) {
      if (!tcp_->closed()) tcp_->Destroy();
      client_.reactor_.DeleteLater(std::move(tcp_));
    }
  }

  std::optional<Pending>& current() { return current_; }

 private:
  void Connect() {
    Resolver* resolver = client_.resolver();
    if (resolver == nullptr) {
      client_.Finished(*this, absl::InternalError("no resolver"), false);
      return;
    }
    std::weak_ptr<bool> alive = alive_;
    resolver->Resolve(
        client_.options_.host, client_.options_.port,
        [this, alive](absl::StatusOr<std::vector<SocketAddress>> addresses) {
          if (alive.expired() || !current_) return;
          if (!addresses.ok() || addresses->empty()) {
            client_.Finished(
                *this,
                absl::UnavailableError(absl::StrCat("cannot resolve ", client_.options_.host, ": ",
                                                    addresses.status().message())),
                false);
            return;
          }
          connector_ = Connector::Connect(
              client_.reactor_, addresses->front(), client_.options_.timeout_ms,
              [this](absl::StatusOr<UniqueFd> fd) {
                connector_.reset();  // safe: the Connector touches nothing after calling us
                if (!current_) return;
                if (!fd.ok()) {
                  client_.Finished(*this, absl::UnavailableError(fd.status().message()), false);
                  return;
                }
                ConnectionLimits limits;
                limits.max_package_size = 2 * HttpResponseParser::kMaxHeadSize;
                limits.max_send_buffer_size = SIZE_MAX;  // a request is queued whole
                // Backends that write a reply's head and body apart (with
                // Nagle) would otherwise wait for our delayed ACK: 40 ms.
                limits.quick_ack = true;
                auto tcp = client_.options_.tls == nullptr
                               ? TcpConnection::Create(client_.reactor_, std::move(*fd),
                                                       SocketAddress(), limits, this)
                               : TcpConnection::CreateTlsClient(
                                     client_.reactor_, std::move(*fd), SocketAddress(), limits,
                                     this, *client_.options_.tls, client_.options_.host);
                if (!tcp.ok()) {
                  client_.Finished(*this, tcp.status(), false);
                  return;
                }
                tcp_ = std::move(*tcp);
                Write();
              });
        });
  }

  void Write() {
    const HttpClientRequest& r = current_->request;
    std::string bytes =
        absl::StrCat(r.method, " ", r.target, " HTTP/1.1\r\nHost: ", client_.host_header_, "\r\n");
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
      absl::StrAppend(&bytes, "Content-Length: ", r.body.size(), "\r\n");
    }
    absl::StrAppend(&bytes, r.headers, "\r\n", r.body);
    if (tcp_->Send(bytes) != PeerTransport::SendResult::kOk) {
      client_.Finished(*this, absl::UnavailableError("connection lost while sending"), false);
    }
  }

  void OnData(PeerTransport& tcp, Buffer& input) override {
    if (!current_) {  // nothing was asked: a broken server
      input.Consume(input.size());
      client_.Remove(*this);
      return;
    }
    size_t used = 0;
    HttpResponseParser::Result result = parser_->Parse(input.view(), &used);
    input.Consume(used);
    if (result == HttpResponseParser::Result::kNeedMore) return;
    if (result == HttpResponseParser::Result::kError) {
      client_.Finished(*this, absl::DataLossError(absl::StrCat("bad response: ", parser_->error())),
                       false);
      return;
    }
    ++completed_;
    bool reusable = parser_->response().keep_alive && input.empty();
    client_.Finished(*this, std::move(parser_->response()), reusable);
  }

  void OnClosed(PeerTransport& tcp) override {
    if (removed_) return;
    if (!current_) {  // idle, and the server closed it
      client_.Remove(*this);
      return;
    }
    if (parser_->Finish() == HttpResponseParser::Result::kDone) {
      ++completed_;
      client_.Finished(*this, std::move(parser_->response()), false);
      return;
    }
    if (completed_ > 0 && !parser_->started() && !current_->retried) {
      // A keep-alive connection the server had closed meanwhile: once more.
      Pending pending = std::move(*current_);
      current_.reset();
      pending.retried = true;
      --client_.busy_;
      client_.queue_.push_front(std::move(pending));
      client_.Remove(*this);
      client_.Dispatch();
      return;
    }
    std::string why = parser_->error();
    if (tcp_ != nullptr && !tcp_->tls_error().empty())
      why = absl::StrCat("TLS: ", tcp_->tls_error());
    client_.Finished(*this, absl::UnavailableError(why), false);
  }

  HttpClient& client_;
  Reactor& reactor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<Connector> connector_;
  std::unique_ptr<TcpConnection> tcp_;
  std::optional<Pending> current_;
  std::optional<HttpResponseParser> parser_;
  TimerId timer_ = kNoTimer;
  int completed_ = 0;
  bool removed_ = false;
};

HttpClient::HttpClient(Reactor& reactor, HttpClientOptions options)
    : reactor_(reactor), options_(std::move(options)) {
  host_header_ = options_.host.find(':') != std::string::npos
                     ? absl::StrCat("[", options_.host, "]")
                     : options_.host;
  if (options_.port != (options_.tls == nullptr ? 80 : 443)) {
    absl::StrAppend(&host_header_, ":", options_.port);
  }
}

HttpClient::~HttpClient() {
  *alive_ = false;
  links_.clear();
}

Resolver* HttpClient::resolver() {
  if (resolver_ == nullptr) {
    auto created = Resolver::Create(reactor_);
    if (created.ok()) resolver_ = std::move(*created);
  }
  return resolver_.get();
}

void HttpClient::Send(HttpClientRequest request, Done done) {
  std::weak_ptr<bool> alive = alive_;
  if (queue_.size() >= options_.max_queue) {
    reactor_.Defer(
        [done = std::move(done)] { done(absl::ResourceExhaustedError("request queue full")); });
    return;
  }
  queue_.push_back(Pending{std::move(request), std::move(done)});
  if (queue_.size() == 1) {
    reactor_.Defer([this, alive] {
      if (!alive.expired()) Dispatch();
    });
  }
}

void HttpClient::Dispatch() {
  while (!queue_.empty()) {
    Link* link = nullptr;
    if (!idle_.empty()) {
      link = idle_.back();
      idle_.pop_back();
    } else if (links_.size() < options_.max_connections) {
      links_.push_back(std::make_unique<Link>(*this));
      link = links_.back().get();
    } else {
      return;
    }
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    link->Begin(std::move(pending));
  }
}

void HttpClient::Finished(Link& link, absl::StatusOr<HttpClientResponse> result, bool reusable) {
  if (!link.current()) return;
  Pending pending = std::move(*link.current());
  link.current().reset();
  --busy_;
  if (reusable) {
    link.Idle();
    idle_.push_back(&link);
  } else {
    Remove(link);
  }
  pending.done(std::move(result));
  Dispatch();
}

void HttpClient::Remove(Link& link) {
  link.Shutdown();
  idle_.erase(std::remove(idle_.begin(), idle_.end(), &link), idle_.end());
  for (auto it = links_.begin(); it != links_.end(); ++it) {
    if (it->get() == &link) {
      reactor_.DeleteLater(std::move(*it));
      links_.erase(it);
      break;
    }
  }
}

}  // namespace sockman
