// UDP: binding a datagram socket, and UdpPeer, the PeerTransport for the
// sender of one datagram. Send() is one sendto() back to that sender: no
// queue (a datagram the kernel cannot take now is dropped, as UDP does),
// no framing across sends. Close() only marks it closed.
#ifndef SOCKMAN_ENGINE_UDP_PEER_H_
#define SOCKMAN_ENGINE_UDP_PEER_H_

#include "absl/status/statusor.h"
#include "engine/base/unique_fd.h"
#include "engine/listener.h"
#include "engine/peer_transport.h"

namespace sockman {

// The largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes).
inline constexpr size_t kMaxDatagramSize = 65507;

// socket(SOCK_DGRAM) + SO_REUSEADDR (+ SO_REUSEPORT) + bind, non-blocking.
absl::StatusOr<UniqueFd> BindUdpSocket(const ListenOptions& options);

class UdpPeer : public PeerTransport {
 public:
  // `fd` is the service's socket, borrowed; replies go to `peer`, the
  // datagram's sender. `client`, when a trusted proxy's PROXY header named
  // one, is who peer() reports instead.
  UdpPeer(int fd, const SocketAddress& peer, Delegate& delegate,
          const SocketAddress* client = nullptr)
      : fd_(fd), reply_to_(peer), peer_(client != nullptr ? *client : peer), delegate_(delegate) {}

  // Hands one datagram to the delegate.
  void Deliver(Buffer& datagram);

  SendResult Send(absl::string_view bytes) override;
  // Reads the file and sends it as one datagram (if it fits).
  SendResult SendFile(UniqueFd file, uint64_t offset, uint64_t length) override;
  void Close() override { Destroy(); }
  void Destroy() override;

  bool open() const override { return !closed_; }
  bool closed() const override { return closed_; }
  const SocketAddress& peer() const override { return peer_; }
  int fd() const override { return closed_ ? -1 : fd_; }
  uint64_t bytes_read() const override { return bytes_read_; }
  uint64_t bytes_written() const override { return bytes_written_; }

 private:
  int fd_;
  SocketAddress reply_to_;
  SocketAddress peer_;
  Delegate& delegate_;
  bool closed_ = false;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_UDP_PEER_H_
