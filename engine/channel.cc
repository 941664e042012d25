#include "engine/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace sockman {
namespace {

constexpr size_t kHeaderSize = 6;

bool KnownCommand(uint8_t command) {
  return command >= static_cast<uint8_t>(ChannelCommand::kStatus) &&
         command <= static_cast<uint8_t>(ChannelCommand::kMetricsAnswer);
}

}  // namespace

absl::string_view ChannelCommandName(ChannelCommand command) {
  switch (command) {
    case ChannelCommand::kStatus:
      return "status";
    case ChannelCommand::kConnections:
      return "connections";
    case ChannelCommand::kPeers:
      return "peers";
    case ChannelCommand::kReload:
      return "reload";
    case ChannelCommand::kReopen:
      return "reopen";
    case ChannelCommand::kReply:
      return "reply";
    case ChannelCommand::kMetrics:
      return "metrics";
    case ChannelCommand::kGatherMetrics:
      return "gather-metrics";
    case ChannelCommand::kMetricsAnswer:
      return "metrics-answer";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Channel>> Channel::Create(Reactor& reactor, UniqueFd fd,
                                                         OnMessage on_message,
                                                         std::function<void()> on_closed) {
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return absl::ErrnoToStatus(errno, "channel: fcntl");
  }
  std::unique_ptr<Channel> channel(
      new Channel(reactor, std::move(fd), std::move(on_message), std::move(on_closed)));
  if (absl::Status s = reactor.Watch(channel->fd_.get(), EPOLLIN, channel.get()); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("channel: ", s.message()));
  }
  return channel;
}

Channel::~Channel() {
  *alive_ = false;
  if (fd_.valid()) reactor_.Unwatch(fd_.get());
}

size_t Channel::pending_bytes() const {
  size_t total = 0;
  for (const Outgoing& o : output_) total += o.bytes.size() - o.sent;
  return total;
}

bool Channel::Send(ChannelCommand command, absl::string_view payload, absl::Span<const int> fds) {
  if (!open_ || payload.size() > kMaxPayload || fds.size() > kMaxFds) return false;
  Outgoing out;
  out.bytes.reserve(kHeaderSize + payload.size());
  uint32_t size = static_cast<uint32_t>(payload.size());
  char header[kHeaderSize] = {static_cast<char>(command),    static_cast<char>(fds.size()),
                              static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                              static_cast<char>(size >> 8),  static_cast<char>(size)};
  out.bytes.append(header, kHeaderSize);
  out.bytes.append(payload.data(), payload.size());
  out.fds.assign(fds.begin(), fds.end());
  output_.push_back(std::move(out));
  WriteAll();
  return open_;
}

void Channel::WriteAll() {
  while (open_ && !output_.empty()) {
    Outgoing& out = output_.front();
    iovec iov{out.bytes.data() + out.sent, out.bytes.size() - out.sent};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    if (!out.fds.empty()) {
      size_t fd_bytes = sizeof(int) * out.fds.size();
      message.msg_control = control;
      message.msg_controllen = CMSG_SPACE(fd_bytes);
      cmsghdr* header = CMSG_FIRSTHDR(&message);
      header->cmsg_level = SOL_SOCKET;
      header->cmsg_type = SCM_RIGHTS;
      header->cmsg_len = CMSG_LEN(fd_bytes);
      std::memcpy(CMSG_DATA(header), out.fds.data(), fd_bytes);
    }
    ssize_t n = ::sendmsg(fd_.get(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      Fail();
      return;
    }
    out.fds.clear();  // they left with the first byte
    out.sent += static_cast<size_t>(n);
    if (out.sent == out.bytes.size()) output_.pop_front();
  }
  UpdateInterest();
}

void Channel::UpdateInterest() {
  if (!open_) return;
  bool want = !output_.empty();
  if (want == want_write_) return;
  want_write_ = want;
  reactor_.Modify(fd_.get(), want ? EPOLLIN | EPOLLOUT : EPOLLIN, this).IgnoreError();
}

void Channel::OnEvents(uint32_t events) {
  if (events & EPOLLOUT) WriteAll();
  if (open_ && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) ReadAll();
}

void Channel::ReadAll() {
  std::shared_ptr<bool> alive = alive_;
  char chunk[16384];
  while (open_) {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    iovec iov{chunk, sizeof(chunk)};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd_.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); n >= 0 && header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        received_fds_.emplace_back(received);
      }
    }
    if (n <= 0) {  // EOF or an error: the peer is gone
      Fail();
      break;
    }
    input_.append(chunk, static_cast<size_t>(n));
    // Deliver every whole message.
    size_t at = 0;
    while (open_ && input_.size() - at >= kHeaderSize) {
      const auto* h = reinterpret_cast<const unsigned char*>(input_.data() + at);
      size_t fd_count = h[1];
      size_t size = (size_t{h[2]} << 24) | (size_t{h[3]} << 16) | (size_t{h[4]} << 8) | h[5];
      if (!KnownCommand(h[0]) || fd_count > kMaxFds || size > kMaxPayload) {
        Fail();  // not our peer, or a broken one
        break;
      }
      if (input_.size() - at < kHeaderSize + size) break;
      ChannelMessage m;
      m.command = static_cast<ChannelCommand>(h[0]);
      m.payload.assign(input_, at + kHeaderSize, size);
      for (size_t i = 0; i < fd_count && !received_fds_.empty(); ++i) {
        m.fds.push_back(std::move(received_fds_.front()));
        received_fds_.pop_front();
      }
      at += kHeaderSize + size;
      on_message_(std::move(m));
      if (!*alive) return;
    }
    if (open_) input_.erase(0, at);
  }
}

void Channel::Fail() {
  if (!open_) return;
  open_ = false;
  reactor_.Unwatch(fd_.get());
  output_.clear();
  input_.clear();
  received_fds_.clear();
  if (!on_closed_) return;
  std::shared_ptr<bool> alive = alive_;
  reactor_.Defer([this, alive] {
    if (*alive) on_closed_();
  });
}

}  // namespace sockman
