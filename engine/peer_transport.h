// PeerTransport is what carries one peer's bytes: a TCP connection (plain or
// TLS, see tcp_connection.h) or the sender of a UDP datagram (udp_peer.h).
// Connection, the protocol layer's session, talks to a PeerTransport and never
// to a socket, so every protocol and handler runs over either.
#ifndef SOCKMAN_ENGINE_PEER_TRANSPORT_H_
#define SOCKMAN_ENGINE_PEER_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/base/unique_fd.h"
#include "engine/buffer.h"
#include "engine/socket_address.h"

namespace sockman {

class PeerTransport {
 public:
  class Delegate {
   public:
    virtual ~Delegate() = default;
    // New bytes arrived. `input` holds every unconsumed byte; consume what was
    // used. Bytes left are kept for the next call (stream transports) or
    // dropped (datagrams: a datagram is complete or nothing).
    virtual void OnData(PeerTransport& transport, Buffer& input) = 0;
    virtual void OnBufferFull(PeerTransport& transport) {}
    virtual void OnBufferDrain(PeerTransport& transport) {}
    // TLS: the handshake finished. Once, on a later turn of the loop than
    // the read or write that finished it (data may reach OnData first).
    virtual void OnSecured(PeerTransport& transport) {}
    // The transport is closed. Called exactly once, possibly from inside
    // Send(), Close() or Destroy().
    virtual void OnClosed(PeerTransport& transport) = 0;
  };

  enum class SendResult {
    kOk,       // written or queued
    kDropped,  // the send buffer was full; nothing was queued
    kClosed,   // the transport is closing or closed
  };

  virtual ~PeerTransport() = default;

  // TLS: how far the handshake got, for metrics.
  struct TlsState {
    bool tls = false;          // a TLS connection at all
    bool established = false;  // the handshake finished
    bool resumed = false;      // ... resuming an earlier session
    int version = 0;           // 0x0303 TLS 1.2, 0x0304 TLS 1.3 (when established)
  };
  virtual TlsState tls_state() const { return {}; }
  // TLS: the client's verified certificate (mTLS), if it presented one:
  // its subject (RFC 2253) and SHA-256 fingerprint (hex).
  virtual bool client_certificate(std::string& subject, std::string& fingerprint) const {
    return false;
  }

  virtual SendResult Send(absl::string_view bytes) = 0;
  // Sends the parts one after another, as one message: all or none is
  // queued. Stream transports write them with one gathering call, without
  // copying them together first.
  virtual SendResult SendParts(absl::Span<const absl::string_view> parts) {
    if (parts.size() == 1) return Send(parts[0]);
    std::string joined;
    for (absl::string_view part : parts) joined.append(part.data(), part.size());
    return Send(joined);
  }
  // Sends `length` bytes of `file` from `offset` after everything queued.
  virtual SendResult SendFile(UniqueFd file, uint64_t offset, uint64_t length) = 0;
  // While corked, sends may be held back and written together by Uncork().
  virtual void Cork() {}
  virtual void Uncork() {}
  // Sends what is queued, then closes.
  virtual void Close() = 0;
  // The same when the peer said it sends nothing more (an HTTP request with
  // Connection: close): no waiting for its FIN when nothing of it is unread.
  virtual void CloseWithoutLinger() { Close(); }
  // Closes now, dropping queued output.
  virtual void Destroy() = 0;
  virtual void PauseRecv() {}
  virtual void ResumeRecv() {}
  virtual bool recv_paused() const { return false; }
  // Output queued (files being sent included) that has not left yet.
  virtual bool output_pending() const { return send_buffer_size() > 0; }
  // Received bytes the delegate has not consumed yet.
  virtual size_t buffered_input() const { return 0; }

  virtual bool open() const = 0;
  virtual bool closed() const = 0;
  virtual const SocketAddress& peer() const = 0;
  // The socket (shared by every peer of a UDP service); -1 once closed.
  virtual int fd() const = 0;
  // Bytes queued in memory, not yet taken by the kernel.
  virtual size_t send_buffer_size() const { return 0; }
  virtual uint64_t bytes_read() const = 0;
  virtual uint64_t bytes_written() const = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_PEER_TRANSPORT_H_
