#include "engine/tcp_connection.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "openssl/err.h"
#include "openssl/x509.h"

namespace sockman {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

}  // namespace

absl::StatusOr<std::unique_ptr<TcpConnection>> TcpConnection::Create(Reactor& reactor, UniqueFd fd,
                                                                     const SocketAddress& peer,
                                                                     const ConnectionLimits& limits,
                                                                     Delegate* delegate,
                                                                     const TlsContext* tls) {
  bssl::UniquePtr<::SSL> ssl;
  if (tls != nullptr) {
    ssl = tls->NewSsl(fd.get());
    if (ssl == nullptr) return absl::ResourceExhaustedError("SSL_new failed");
  }
  return Start(reactor, std::move(fd), peer, limits, delegate, std::move(ssl));
}

absl::StatusOr<std::unique_ptr<TcpConnection>> TcpConnection::CreateTlsClient(
    Reactor& reactor, UniqueFd fd, const SocketAddress& peer, const ConnectionLimits& limits,
    Delegate* delegate, const TlsClientContext& tls, const std::string& host) {
  bssl::UniquePtr<::SSL> ssl = tls.NewSsl(fd.get(), host);
  if (ssl == nullptr) return absl::ResourceExhaustedError("SSL_new failed");
  auto connection = Start(reactor, std::move(fd), peer, limits, delegate, std::move(ssl));
  if (!connection.ok()) return connection;
  // The client speaks first: send the ClientHello now, whether or not the
  // protocol above has anything to write yet.
  if (!(*connection)->Handshake()) {
    const std::string& why = (*connection)->tls_error_;
    return absl::UnavailableError(why.empty() ? "TLS handshake failed" : why);
  }
  return connection;
}

absl::StatusOr<std::unique_ptr<TcpConnection>> TcpConnection::Start(Reactor& reactor, UniqueFd fd,
                                                                    const SocketAddress& peer,
                                                                    const ConnectionLimits& limits,
                                                                    Delegate* delegate,
                                                                    bssl::UniquePtr<::SSL> ssl) {
  int raw = fd.get();
  std::unique_ptr<TcpConnection> connection(
      new TcpConnection(reactor, std::move(fd), peer, limits, delegate));
  bool tcp = peer.family() == AF_INET || peer.family() == AF_INET6;
  // TLS writes happen inside BoringSSL too: no lazy TCP_NODELAY there.
  if (!tcp || ssl != nullptr) connection->nodelay_ = true;
  if (tcp && ssl != nullptr) connection->SetNoDelay();
  if (ssl != nullptr) {
    connection->ssl_ = std::move(ssl);
    TcpConnection* c = connection.get();
    connection->handshake_timer_ = reactor.AddTimer(limits.tls_handshake_timeout_ms, [c] {
      c->handshake_timer_ = kNoTimer;
      c->tls_error_ = "TLS handshake timed out";
      c->Destroy();
    });
  }
  if (absl::Status s = reactor.Watch(raw, kEvents, connection.get()); !s.ok()) return s;
  return connection;
}

bool TcpConnection::Handshake() {
  errno = 0;
  return TlsResult(SSL_do_handshake(ssl_.get()), /*reading=*/true) >= 0 || errno == EAGAIN;
}

void TcpConnection::SetNoDelay() {
  nodelay_ = true;
  int one = 1;
  setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void TcpConnection::AfterWrite(bool more_follows) {
  // Nagle's algorithm only holds back data written while earlier data is
  // unacknowledged, so a connection that writes once (an answer, then
  // close) never needs TCP_NODELAY: it is switched on after the second
  // write, which also pushes out anything Nagle held (nginx sets it when a
  // connection turns keep-alive). Not between a head sent with MSG_MORE and
  // its file, which the kernel should pack together.
  if (nodelay_) return;
  if (wrote_ && !more_follows) SetNoDelay();
  wrote_ = true;
}

TcpConnection::~TcpConnection() {
  reactor_.CancelTimer(close_timer_);
  reactor_.CancelTimer(handshake_timer_);
  if (fd_.valid()) reactor_.Unwatch(fd_.get());
}

void TcpConnection::OnEvents(uint32_t events) {
  if (state_ == State::kClosed) return;
  bool writable = events & (EPOLLOUT | EPOLLERR);
  bool readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  // TLS can need the other direction: a write that must first read the
  // peer's handshake, a read that must first send ours.
  bool flush = writable || (readable && write_wants_read_);
  bool read = readable || (writable && read_wants_write_);
  write_wants_read_ = read_wants_write_ = false;
  if (flush && !QueueEmpty()) Flush();
  if (state_ == State::kClosed) return;
  if (read) HandleReadable((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
}

ssize_t TcpConnection::ReadSome(char* data, size_t size) {
  if (ssl_ == nullptr) return ::read(fd_.get(), data, size);
  errno = 0;
  int n = SSL_read(ssl_.get(), data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  return TlsResult(n, /*reading=*/true);
}

ssize_t TcpConnection::WriteSome(const char* data, size_t size, int flags) {
  if (ssl_ == nullptr) return ::send(fd_.get(), data, size, flags);
  errno = 0;
  int n = SSL_write(ssl_.get(), data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  return TlsResult(n, /*reading=*/false);
}

ssize_t TcpConnection::TlsResult(int result, bool reading) {
  if (handshake_timer_ != kNoTimer && SSL_is_init_finished(ssl_.get())) {
    reactor_.CancelTimer(handshake_timer_);
    handshake_timer_ = kNoTimer;
    // Never from inside a read or write the delegate is in the middle of.
    reactor_.Defer([this] {
      if (state_ == State::kOpen) delegate_->OnSecured(*this);
    });
  }
  if (result > 0) return result;
  switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_WANT_READ:
      if (!reading) write_wants_read_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      if (reading) read_wants_write_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      return reading ? 0 : (errno = EPIPE, -1);
    case SSL_ERROR_SYSCALL:
      if (errno == 0) return reading ? 0 : (errno = EPIPE, -1);  // EOF without close_notify
      if (errno == EAGAIN) errno = EIO;  // never a retry BoringSSL did not ask for
      return -1;
    default: {  // a TLS alert or garbage: this connection only
      long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        tls_error_ =
            absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(verify));
      } else if (uint32_t e = ERR_peek_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        tls_error_ = buf;
      }
      ERR_clear_error();
      errno = EPROTO;
      return -1;
    }
  }
}

void TcpConnection::HandleReadable(bool peer_hung_up) {
  if (state_ == State::kClosing) {
    DrainWhileClosing();
    return;
  }
  if (recv_paused_) {
    read_pending_ = true;
    return;
  }
  Buffer& shared = reactor_.shared_read_buffer();
  while (state_ == State::kOpen) {
    if (input_.size() >= limits_.max_package_size) {
      Destroy();  // the delegate left a full buffer unconsumed
      return;
    }
    size_t want = std::min(kReadChunk, limits_.max_package_size - input_.size());
    // With nothing pending, read into the loop's shared buffer: idle
    // connections then hold no receive memory, and only leftovers are copied.
    bool use_shared = input_.empty();
    Buffer& target = use_shared ? shared : input_;
    if (use_shared) shared.Clear();
    absl::Span<char> space = target.PrepareWrite(want);
    ssize_t n = ReadSome(space.data(), want);
    if (n > 0) {
      if (limits_.quick_ack) {
        // Linux leaves quick-ack mode on its own: set it again after every
        // read. Setting it also sends an ACK that is pending now.
        int one = 1;
        setsockopt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
      }
      target.CommitWrite(static_cast<size_t>(n));
      bytes_read_ += static_cast<uint64_t>(n);
      delegate_->OnData(*this, target);
      if (use_shared) {
        if (!shared.empty() && state_ != State::kClosed) input_.Append(shared.view());
        shared.Clear();
      }
      if (state_ != State::kOpen) return;
      if (input_.size() >= limits_.max_package_size) {
        Destroy();  // the delegate left a full buffer unconsumed
        return;
      }
      if (recv_paused_) {
        read_pending_ = true;
        return;
      }
      // A short read drained the socket; the next arrival raises a new edge.
      // After a hang-up there is no next edge, so keep reading to see EOF.
      // (TLS returns a record at a time: read until it says there is no more.)
      if (ssl_ == nullptr && static_cast<size_t>(n) < want && !peer_hung_up) return;
      continue;
    }
    if (n == 0) {
      peer_eof_ = true;
      Close();  // answer what was received, then close
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) Destroy();
    return;
  }
}

void TcpConnection::DrainWhileClosing() {
  char discard[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_.get(), discard, sizeof(discard));
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    peer_eof_ = true;
    if (QueueEmpty()) Destroy();
    return;
  }
}

TcpConnection::SendResult TcpConnection::Send(absl::string_view bytes) {
  return SendParts(absl::MakeConstSpan(&bytes, 1));
}

TcpConnection::SendResult TcpConnection::SendParts(absl::Span<const absl::string_view> parts) {
  if (state_ != State::kOpen) return SendResult::kClosed;
  size_t total = 0;
  for (absl::string_view part : parts) total += part.size();
  if (total == 0) return SendResult::kOk;
  size_t written = 0;
  if (QueueEmpty() && cork_depth_ == 0) {
    ssize_t n;
    do {
      n = WriteParts(parts);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN) {
        Destroy();
        return SendResult::kClosed;
      }
      n = 0;
    }
    if (n > 0) AfterWrite(false);
    bytes_written_ += static_cast<uint64_t>(n);
    if (static_cast<size_t>(n) == total) return SendResult::kOk;
    written = static_cast<size_t>(n);
  } else if (send_buffer_size() >= limits_.max_send_buffer_size) {
    ++send_failures_;
    return SendResult::kDropped;
  }
  // Queue what the kernel did not take, with one reservation when nothing
  // waits behind a file.
  size_t pending = total - written;
  char* at = tail_.empty() ? output_.PrepareWrite(pending).data() : nullptr;
  for (absl::string_view part : parts) {
    if (written >= part.size()) {
      written -= part.size();
      continue;
    }
    part.remove_prefix(written);
    written = 0;
    if (at == nullptr) {
      Enqueue(part);
    } else if (!part.empty()) {
      std::memcpy(at, part.data(), part.size());
      at += part.size();
    }
  }
  if (at != nullptr) output_.CommitWrite(pending);
  if (send_buffer_size() >= limits_.max_send_buffer_size) delegate_->OnBufferFull(*this);
  return SendResult::kOk;
}

ssize_t TcpConnection::WriteParts(absl::Span<const absl::string_view> parts) {
  if (parts.size() == 1) return WriteSome(parts[0].data(), parts[0].size(), MSG_NOSIGNAL);
  if (ssl_ != nullptr) {
    // One TLS record for the message: TLS copies it anyway.
    thread_local std::string joined;
    joined.clear();
    for (absl::string_view part : parts) joined.append(part.data(), part.size());
    ssize_t n = WriteSome(joined.data(), joined.size(), 0);
    if (joined.capacity() > kReadChunk) std::string().swap(joined);
    return n;
  }
  absl::InlinedVector<iovec, 4> iov;
  for (absl::string_view part : parts) {
    if (!part.empty()) iov.push_back({const_cast<char*>(part.data()), part.size()});
  }
  msghdr message{};
  message.msg_iov = iov.data();
  message.msg_iovlen = iov.size();
  return ::sendmsg(fd_.get(), &message, MSG_NOSIGNAL);
}

void TcpConnection::Enqueue(absl::string_view bytes) {
  if (tail_.empty()) {
    output_.Append(bytes);
    return;
  }
  if (tail_.back().file.valid()) tail_.emplace_back();
  tail_.back().bytes.append(bytes.data(), bytes.size());
  tail_bytes_ += bytes.size();
}

TcpConnection::SendResult TcpConnection::SendFile(UniqueFd file, uint64_t offset, uint64_t length) {
  if (state_ != State::kOpen) return SendResult::kClosed;
  if (length == 0) return SendResult::kOk;
  Segment segment;
  segment.file = std::move(file);
  segment.offset = offset;
  segment.length = length;
  tail_.push_back(std::move(segment));
  if (cork_depth_ == 0) Flush();
  return state_ == State::kClosed ? SendResult::kClosed : SendResult::kOk;
}

void TcpConnection::Uncork() {
  if (cork_depth_ > 0) --cork_depth_;
  if (cork_depth_ == 0 && state_ != State::kClosed && !QueueEmpty()) Flush();
}

void TcpConnection::Flush() {
  bool had_output = !QueueEmpty();
  for (;;) {
    if (!output_.empty()) {
      // When a file follows (an HTTP head before its body), let the kernel
      // pack both into full segments instead of sending the head alone.
      int flags = MSG_NOSIGNAL | (tail_.empty() ? 0 : MSG_MORE);
      ssize_t n = WriteSome(output_.data(), output_.size(), flags);
      if (n > 0) {
        AfterWrite((flags & MSG_MORE) != 0);
        output_.Consume(static_cast<size_t>(n));
        bytes_written_ += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;  // EPOLLOUT edge will resume
      Destroy();
      return;
    }
    if (tail_.empty()) break;
    Segment& front = tail_.front();
    if (!front.file.valid()) {
      tail_bytes_ -= front.bytes.size();
      output_.Append(front.bytes);
      tail_.pop_front();
      continue;
    }
    if (ssl_ != nullptr) {
      // No sendfile under TLS: bring the file through memory a chunk at a time.
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(front.length, kReadChunk));
      absl::Span<char> space = output_.PrepareWrite(chunk);
      ssize_t n = ::pread(front.file.get(), space.data(), chunk, static_cast<off_t>(front.offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Destroy();  // an error, or the file shrank under us
        return;
      }
      output_.CommitWrite(static_cast<size_t>(n));
      front.offset += static_cast<uint64_t>(n);
      front.length -= static_cast<uint64_t>(n);
      if (front.length == 0) tail_.pop_front();
      continue;
    }
    off_t offset = static_cast<off_t>(front.offset);
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(front.length, 1 << 30));
    ssize_t n = ::sendfile(fd_.get(), front.file.get(), &offset, chunk);
    if (n > 0) {
      AfterWrite(false);
      front.offset = static_cast<uint64_t>(offset);
      front.length -= static_cast<uint64_t>(n);
      bytes_written_ += static_cast<uint64_t>(n);
      if (front.length == 0) tail_.pop_front();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    Destroy();  // an error, or the file shrank under us
    return;
  }
  output_.ShrinkIfEmpty(kReadChunk);
  if (!had_output) return;
  if (state_ == State::kOpen) {
    delegate_->OnBufferDrain(*this);
  } else if (state_ == State::kClosing) {
    FinishClose();
  }
}

void TcpConnection::Close() {
  if (state_ != State::kOpen) return;
  state_ = State::kClosing;
  close_timer_ = reactor_.AddTimer(limits_.close_timeout_ms, [this] {
    close_timer_ = kNoTimer;
    Destroy();
  });
  if (QueueEmpty()) {
    FinishClose();
  } else if (cork_depth_ == 0) {
    Flush();
  }
}

void TcpConnection::FinishClose() {
  // Everything is sent. Half-close and read until the peer's FIN, so unread
  // request bytes do not make the kernel answer with a reset that could
  // destroy the response before the peer reads it (nginx's lingering close).
  // nginx's lingering_close "on": a peer that said it is done and left
  // nothing unread is closed at once (saves a shutdown, a read and a wakeup
  // per connection). TLS says close_notify first, below.
  if (peer_eof_ || (!linger_ && ssl_ == nullptr && input_.empty())) {
    Destroy();
    return;
  }
  if (!shut_down_) {
    shut_down_ = true;
    // TLS: say close_notify first (best effort: the socket is writable
    // enough, everything before it having been sent).
    if (ssl_ != nullptr && SSL_is_init_finished(ssl_.get())) SSL_shutdown(ssl_.get());
    ::shutdown(fd_.get(), SHUT_WR);
  }
  DrainWhileClosing();
}

void TcpConnection::Destroy() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  reactor_.CancelTimer(close_timer_);
  close_timer_ = kNoTimer;
  reactor_.CancelTimer(handshake_timer_);
  handshake_timer_ = kNoTimer;
  reactor_.Unwatch(fd_.get());
  fd_.reset();
  output_.ShrinkIfEmpty(0);
  output_.Clear();
  tail_.clear();
  tail_bytes_ = 0;
  delegate_->OnClosed(*this);
}

void TcpConnection::PauseRecv() { recv_paused_ = true; }

bool TcpConnection::client_certificate(std::string& subject, std::string& fingerprint) const {
  if (ssl_ == nullptr || !SSL_is_init_finished(ssl_.get())) return false;
  ClientCertificate cert;
  if (!PeerCertificate(ssl_.get(), cert)) return false;
  subject = std::move(cert.subject);
  fingerprint = std::move(cert.fingerprint);
  return true;
}

PeerTransport::TlsState TcpConnection::tls_state() const {
  TlsState state;
  if (ssl_ == nullptr) return state;
  state.tls = true;
  state.established = SSL_is_init_finished(ssl_.get()) != 0;
  if (state.established) {
    state.resumed = SSL_session_reused(ssl_.get()) != 0;
    state.version = SSL_version(ssl_.get());
  }
  return state;
}

void TcpConnection::ResumeRecv() {
  if (!recv_paused_) return;
  recv_paused_ = false;
  if (resume_scheduled_) return;
  resume_scheduled_ = true;
  // Deliver buffered bytes and read what arrived while paused, but not from
  // inside the caller's stack (which may be this connection's own callback).
  reactor_.Defer([this] {
    resume_scheduled_ = false;
    if (state_ == State::kOpen && !recv_paused_) DeliverBuffered();
  });
}

void TcpConnection::DeliverBuffered() {
  if (!input_.empty()) {
    delegate_->OnData(*this, input_);
    if (state_ != State::kOpen || recv_paused_) return;
  }
  if (read_pending_) {
    read_pending_ = false;
    HandleReadable(true);
  }
}

}  // namespace sockman
