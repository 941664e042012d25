// TcpConnection is one accepted, non-blocking TCP socket on a Reactor: it
// reads into a bounded receive buffer, writes directly when it can and buffers
// the rest up to a bound, and closes gracefully (flush, half-close, drain).
// It knows nothing of protocols: its Delegate decides what the bytes mean.
// With a TlsContext the same happens over TLS: the delegate sees plaintext,
// the handshake runs inside the first reads and writes, and backpressure,
// buffering and close behave exactly as on plain TCP.
//
// Workerman semantics on output: Send() writes at once when nothing is queued;
// otherwise it queues. When the queue holds max_send_buffer_size bytes or more
// the delegate hears OnBufferFull, further sends are dropped (kDropped, and
// send_failures() counts them) until the queue drains, and OnBufferDrain
// follows every time the queue empties.
//
// Ownership: the owner keeps the TcpConnection alive at least until OnClosed
// and must destroy it with Reactor::DeleteLater, never inside a callback.
// All methods run on the reactor's loop.
#ifndef SOCKMAN_ENGINE_TCP_CONNECTION_H_
#define SOCKMAN_ENGINE_TCP_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/base/unique_fd.h"
#include "engine/buffer.h"
#include "engine/peer_transport.h"
#include "engine/reactor.h"
#include "engine/socket_address.h"
#include "engine/tls.h"

namespace sockman {

struct ConnectionLimits {
  // The most unconsumed input held for one connection (one incomplete message).
  size_t max_package_size = 10 * 1024 * 1024;
  // Output queued beyond what the kernel accepted; past this, sends are dropped.
  size_t max_send_buffer_size = 1024 * 1024;
  // How long Close() waits for queued output (and the peer's FIN) before the
  // socket is closed anyway.
  int64_t close_timeout_ms = 5000;
  // TLS only: a handshake not finished this long after accept closes the socket.
  int64_t tls_handshake_timeout_ms = 10000;
  // Acknowledge what arrives at once (TCP_QUICKACK after each read), not up
  // to 40 ms later: for clients of peers that answer in several small writes
  // with Nagle on (Python's http.server writes head and body apart), whose
  // second write waits for the ACK of the first.
  bool quick_ack = false;
};

// The delegate's `input` never holds more than max_package_size bytes: a
// delegate that leaves it full without closing gets the connection destroyed.
class TcpConnection : public PeerTransport, public Reactor::Watcher {
 public:
  // Takes ownership of a connected non-blocking socket and starts reading;
  // with `tls`, as the server side of a TLS connection.
  static absl::StatusOr<std::unique_ptr<TcpConnection>> Create(Reactor& reactor, UniqueFd fd,
                                                               const SocketAddress& peer,
                                                               const ConnectionLimits& limits,
                                                               Delegate* delegate,
                                                               const TlsContext* tls = nullptr);
  // An outbound connection with TLS over it, verifying the server's
  // certificate for `host`; the handshake starts at once.
  static absl::StatusOr<std::unique_ptr<TcpConnection>> CreateTlsClient(
      Reactor& reactor, UniqueFd fd, const SocketAddress& peer, const ConnectionLimits& limits,
      Delegate* delegate, const TlsClientContext& tls, const std::string& host);
  ~TcpConnection() override;

  // Why TLS failed ("certificate verify failed: ...", a timed-out
  // handshake, BoringSSL's reason), or "".
  const std::string& tls_error() const { return tls_error_; }

  SendResult Send(absl::string_view bytes) override;
  SendResult SendParts(absl::Span<const absl::string_view> parts) override;

  // Sends `length` bytes of `file` from `offset` with sendfile(2), after
  // everything already queued, without reading the file into memory. File
  // bytes do not count against max_send_buffer_size. If the file turns out
  // shorter than promised, the connection is destroyed (the peer was told a
  // length that can no longer be honoured).
  SendResult SendFile(UniqueFd file, uint64_t offset, uint64_t length) override;

  // While corked, Send() only queues; Uncork() writes everything queued in
  // one system call. Used to answer a batch of pipelined requests at once.
  void Cork() override { ++cork_depth_; }
  void Uncork() override;

  // Stops reading, sends what is queued, half-closes, then closes.
  void Close() override;
  void CloseWithoutLinger() override {
    linger_ = false;
    Close();
  }
  // Closes the socket now, dropping queued output.
  void Destroy() override;

  void PauseRecv() override;
  void ResumeRecv() override;
  bool recv_paused() const override { return recv_paused_; }
  size_t buffered_input() const override { return input_.size(); }
  bool output_pending() const override { return !QueueEmpty(); }

  bool open() const override { return state_ == State::kOpen; }
  bool closed() const override { return state_ == State::kClosed; }
  const SocketAddress& peer() const override { return peer_; }
  int fd() const override { return fd_.get(); }
  // Bytes queued in memory (file segments excluded).
  size_t send_buffer_size() const override { return output_.size() + tail_bytes_; }
  uint64_t bytes_read() const override { return bytes_read_; }
  uint64_t bytes_written() const override { return bytes_written_; }
  uint64_t send_failures() const { return send_failures_; }
  Reactor& reactor() { return reactor_; }
  // The TLS session (nullptr on plain TCP), e.g. for the negotiated protocol.
  const ::SSL* ssl() const { return ssl_.get(); }
  TlsState tls_state() const override;
  bool client_certificate(std::string& subject, std::string& fingerprint) const override;

  void OnEvents(uint32_t events) override;

 private:
  enum class State { kOpen, kClosing, kClosed };

  TcpConnection(Reactor& reactor, UniqueFd fd, const SocketAddress& peer,
                const ConnectionLimits& limits, Delegate* delegate)
      : reactor_(reactor), fd_(std::move(fd)), peer_(peer), limits_(limits), delegate_(delegate) {}

  // The socket, or TLS over it: > 0 bytes moved; 0 end of stream (reads);
  // -1 with errno (EAGAIN: wait for the next event).
  ssize_t ReadSome(char* data, size_t size);
  ssize_t WriteSome(const char* data, size_t size, int flags);
  // Writes the parts with one call (TLS: one record).
  ssize_t WriteParts(absl::Span<const absl::string_view> parts);
  ssize_t TlsResult(int result, bool reading);
  static absl::StatusOr<std::unique_ptr<TcpConnection>> Start(Reactor& reactor, UniqueFd fd,
                                                              const SocketAddress& peer,
                                                              const ConnectionLimits& limits,
                                                              Delegate* delegate,
                                                              bssl::UniquePtr<::SSL> ssl);
  // Drives the TLS handshake as far as it goes now; false on failure.
  bool Handshake();
  void HandleReadable(bool peer_hung_up);
  void DrainWhileClosing();
  void DeliverBuffered();
  void Flush();
  void FinishClose();
  void SetNoDelay();
  void AfterWrite(bool more_follows);
  bool QueueEmpty() const { return output_.empty() && tail_.empty(); }
  // Appends bytes behind everything queued (files included).
  void Enqueue(absl::string_view bytes);

  Reactor& reactor_;
  UniqueFd fd_;
  SocketAddress peer_;
  ConnectionLimits limits_;
  Delegate* delegate_;
  State state_ = State::kOpen;
  Buffer input_;
  Buffer output_;
  // What must go out after output_, in order: files, and bytes queued behind
  // a file. Empty in the common case.
  struct Segment {
    std::string bytes;
    UniqueFd file;
    uint64_t offset = 0;
    uint64_t length = 0;  // file bytes left
  };
  std::deque<Segment> tail_;
  size_t tail_bytes_ = 0;
  int cork_depth_ = 0;
  bool recv_paused_ = false;
  bool read_pending_ = false;  // readable while paused (edge-triggered)
  bool resume_scheduled_ = false;
  bool peer_eof_ = false;
  bool shut_down_ = false;
  bool linger_ = true;    // see CloseWithoutLinger
  bool nodelay_ = false;  // TCP_NODELAY is on (or not TCP); see AfterWrite
  bool wrote_ = false;    // a write call has been made
  TimerId close_timer_ = kNoTimer;
  bssl::UniquePtr<::SSL> ssl_;
  bool read_wants_write_ = false;  // TLS: retry the read when writable
  bool write_wants_read_ = false;  // TLS: retry the write when readable
  TimerId handshake_timer_ = kNoTimer;
  std::string tls_error_;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t send_failures_ = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_TCP_CONNECTION_H_
