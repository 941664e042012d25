// A PeerTransport in memory, and a client connection over it, for unit tests
// of protocols and handlers without sockets:
//
//   FakeClock clock;
//   auto reactor = *Reactor::Create(clock);
//   FakePeer peer(*reactor, *ProtocolRegistry::Global().Find("text"), handler);
//   peer.Send("hello\n");              // the peer's bytes reach the codec and handler
//   EXPECT_EQ(peer.Received(), "hello\n");  // what the server side sent back
//
// Sends complete at once (a send buffer limit can be set to test drops);
// closes call the delegate at once. Timers and deferred tasks still need the
// reactor: run RunOnce(0) for them.
#ifndef SOCKMAN_PROTOCOLS_TESTING_FAKE_TRANSPORT_H_
#define SOCKMAN_PROTOCOLS_TESTING_FAKE_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "engine/peer_transport.h"
#include "engine/reactor.h"
#include "protocols/connection.h"
#include "protocols/protocol.h"

namespace sockman::testing {

class FakeTransport : public PeerTransport {
 public:
  FakeTransport(Delegate& delegate, SocketAddress peer) : delegate_(delegate), peer_(peer) {}

  // The peer sends `bytes`: they are delivered to the delegate (the
  // connection) now.
  void Deliver(absl::string_view bytes);
  // The peer closes its side.
  void PeerClose();
  // Everything sent so far and not yet taken.
  std::string TakeSent();
  // Sends beyond this many untaken bytes are dropped (SendResult::kDropped).
  void set_send_limit(size_t bytes) { send_limit_ = bytes; }
  // Close() was called (not just Destroy()).
  bool closed_gracefully() const { return graceful_; }

  SendResult Send(absl::string_view bytes) override;
  SendResult SendFile(UniqueFd file, uint64_t offset, uint64_t length) override;
  void Close() override;
  void Destroy() override;
  void PauseRecv() override { paused_ = true; }
  void ResumeRecv() override { paused_ = false; }
  bool recv_paused() const override { return paused_; }
  bool open() const override { return !closed_; }
  bool closed() const override { return closed_; }
  const SocketAddress& peer() const override { return peer_; }
  int fd() const override { return -1; }
  size_t send_buffer_size() const override { return 0; }
  uint64_t bytes_read() const override { return bytes_read_; }
  uint64_t bytes_written() const override { return bytes_written_; }

 private:
  void Finish();

  Delegate& delegate_;
  SocketAddress peer_;
  Buffer input_;
  std::string sent_;
  size_t send_limit_ = SIZE_MAX;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  bool paused_ = false;
  bool closed_ = false;
  bool graceful_ = false;
};

// One accepted connection of `protocol` over a FakeTransport, its events
// going to `events` (a handler), which must outlive it: destroying a peer
// that is still open closes it, OnClose included.
class FakePeer {
 public:
  FakePeer(Reactor& reactor, const Protocol& protocol, ConnectionEvents& events,
           CodecOptions options = {}, uint64_t id = 1,
           SocketAddress address = *SocketAddress::Parse("192.0.2.7", 40000));
  ~FakePeer();

  // The peer sends bytes, as they would arrive on the socket.
  void Send(absl::string_view bytes) { transport_->Deliver(bytes); }
  // What the server side sent since the last call.
  std::string Received() { return transport_->TakeSent(); }
  void Close() { transport_->PeerClose(); }

  Connection& connection() { return *connection_; }
  FakeTransport& transport() { return *transport_; }
  // OnClose ran.
  bool closed() const { return closed_; }
  ServiceCounters& counters() { return counters_; }

 private:
  ServiceCounters counters_;
  std::unique_ptr<Connection> connection_;
  FakeTransport* transport_ = nullptr;  // owned by connection_
  bool closed_ = false;
};

}  // namespace sockman::testing

#endif  // SOCKMAN_PROTOCOLS_TESTING_FAKE_TRANSPORT_H_
