#include "protocols/testing/fake_transport.h"

#include <unistd.h>

#include <cstdlib>

namespace sockman::testing {

void FakeTransport::Deliver(absl::string_view bytes) {
  if (closed_) return;
  input_.Append(bytes);
  bytes_read_ += bytes.size();
  delegate_.OnData(*this, input_);
}

void FakeTransport::PeerClose() {
  if (!closed_) Finish();
}

std::string FakeTransport::TakeSent() {
  std::string sent;
  sent.swap(sent_);
  return sent;
}

PeerTransport::SendResult FakeTransport::Send(absl::string_view bytes) {
  if (closed_) return SendResult::kClosed;
  if (sent_.size() + bytes.size() > send_limit_) return SendResult::kDropped;
  sent_.append(bytes.data(), bytes.size());
  bytes_written_ += bytes.size();
  return SendResult::kOk;
}

PeerTransport::SendResult FakeTransport::SendFile(UniqueFd file, uint64_t offset, uint64_t length) {
  if (closed_) return SendResult::kClosed;
  std::string content(length, '\0');
  ssize_t n = pread(file.get(), content.data(), length, static_cast<off_t>(offset));
  if (n < 0 || static_cast<uint64_t>(n) != length) std::abort();  // a broken test fixture
  return Send(content);
}

void FakeTransport::Close() {
  if (closed_) return;
  graceful_ = true;
  Finish();
}

void FakeTransport::Destroy() {
  if (!closed_) Finish();
}

void FakeTransport::Finish() {
  closed_ = true;
  delegate_.OnClosed(*this);
}

FakePeer::FakePeer(Reactor& reactor, const Protocol& protocol, ConnectionEvents& events,
                   CodecOptions options, uint64_t id, SocketAddress address) {
  auto connection = Connection::Create(
      reactor, id, protocol, options, events, counters_, [this](Connection&) { closed_ = true; },
      [&](PeerTransport::Delegate& delegate) -> absl::StatusOr<std::unique_ptr<PeerTransport>> {
        auto transport = std::make_unique<FakeTransport>(delegate, address);
        transport_ = transport.get();
        return transport;
      });
  if (!connection.ok()) std::abort();  // the fake transport cannot fail
  connection_ = std::move(*connection);
  connection_->Accepted();
}

FakePeer::~FakePeer() {
  // With OnClose: the handler (which outlives its peers) forgets the client.
  if (!closed_) connection_->Destroy();
}

}  // namespace sockman::testing
