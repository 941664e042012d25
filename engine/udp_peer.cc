#include "engine/udp_peer.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace sockman {

absl::StatusOr<UniqueFd> BindUdpSocket(const ListenOptions& options) {
  ListenOptions datagram = options;
  datagram.datagram = true;
  return BindSocket(datagram);
}

void UdpPeer::Deliver(Buffer& datagram) {
  bytes_read_ += datagram.size();
  delegate_.OnData(*this, datagram);
}

PeerTransport::SendResult UdpPeer::Send(absl::string_view bytes) {
  if (closed_) return SendResult::kClosed;
  ssize_t n;
  do {
    n = ::sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                 reply_to_.sockaddr_ptr(), reply_to_.length());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SendResult::kDropped;  // full socket buffer, too big, unreachable
  bytes_written_ += static_cast<uint64_t>(n);
  return SendResult::kOk;
}

PeerTransport::SendResult UdpPeer::SendFile(UniqueFd file, uint64_t offset, uint64_t length) {
  if (closed_) return SendResult::kClosed;
  if (length > kMaxDatagramSize) return SendResult::kDropped;
  std::string bytes(static_cast<size_t>(length), '\0');
  ssize_t n = ::pread(file.get(), bytes.data(), bytes.size(), static_cast<off_t>(offset));
  if (n != static_cast<ssize_t>(length)) return SendResult::kDropped;
  return Send(bytes);
}

void UdpPeer::Destroy() {
  if (closed_) return;
  closed_ = true;
  delegate_.OnClosed(*this);
}

}  // namespace sockman
