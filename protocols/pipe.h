// Pipe: Workerman's $source->pipe($destination), both ways. Every message
// from one connection is sent to the other (re-encoded by the other's
// protocol, keeping its kind); while one side's send buffer is full the other side is not
// read; when one side closes, the other is closed after its queued output.
//
// A Pipe does not receive events itself: forward the handler's callbacks for
// either connection to it.
//
//   void OnMessage(Connection& c, absl::string_view m, MessageKind k) override {
//     pipe_->OnMessage(c, m, k);
//   }
//   void OnBufferFull(Connection& c) override { pipe_->OnBufferFull(c); }
//   void OnBufferDrain(Connection& c) override { pipe_->OnBufferDrain(c); }
//   void OnClose(Connection& c) override { pipe_->OnClose(c); }
#ifndef SOCKMAN_PROTOCOLS_PIPE_H_
#define SOCKMAN_PROTOCOLS_PIPE_H_

#include "absl/strings/string_view.h"
#include "protocols/connection.h"

namespace sockman {

class Pipe {
 public:
  Pipe(Connection& a, Connection& b) : a_(&a), b_(&b) {}

  // The other end of `c` (null once it closed, or if `c` is not an end).
  Connection* Other(const Connection& c) const {
    if (&c == a_) return b_;
    if (&c == b_) return a_;
    return nullptr;
  }
  void OnMessage(Connection& from, absl::string_view message, MessageKind kind) {
    if (Connection* to = Other(from)) to->Send(message, kind);
  }
  // `full`'s output is backed up: stop reading the side that feeds it.
  void OnBufferFull(Connection& full) {
    if (Connection* feeder = Other(full)) feeder->PauseRecv();
  }
  void OnBufferDrain(Connection& drained) {
    if (Connection* feeder = Other(drained)) feeder->ResumeRecv();
  }
  // One end closed: close the other after what is queued for it.
  void OnClose(Connection& closed) {
    Connection* other = Other(closed);
    if (&closed == a_) a_ = nullptr;
    if (&closed == b_) b_ = nullptr;
    if (other != nullptr && other->open()) other->Close();
  }
  bool open() const { return a_ != nullptr && b_ != nullptr; }

 private:
  Connection* a_;
  Connection* b_;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_PIPE_H_
