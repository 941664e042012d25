// The master-worker channel: typed messages over one unix stream socket, in
// the spirit of nginx's ngx_channel_t, used by both ends (Supervisor in the
// master, each worker's loop). A message is a command, a payload and any
// descriptors passed with it (SCM_RIGHTS).
//
// Wire form of one message: command (1 byte), descriptor count (1 byte),
// payload length (4 bytes, big-endian), payload. Descriptors travel with the
// message's first byte. Sends never block: what the socket does not take at
// once is queued and written when it drains, so a worker answering
// `connections` for 10,000 clients does not stall them.
//
//   auto channel = *Channel::Create(reactor, std::move(fd), [&](ChannelMessage m) {
//     if (m.command == ChannelCommand::kStatus) channel->Send(ChannelCommand::kReply, Status());
//   });
//
// Every method runs on the loop the channel was created with.
#ifndef SOCKMAN_ENGINE_CHANNEL_H_
#define SOCKMAN_ENGINE_CHANNEL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/base/unique_fd.h"
#include "engine/reactor.h"

namespace sockman {

enum class ChannelCommand : uint8_t {
  // Master -> worker, answered with one kReply.
  kStatus = 1,       // the worker's figures (cli/status.h)
  kConnections = 2,  // one record per open connection
  kMetrics = 7,      // the worker's metric samples (engine/metrics.h)
  // Master -> worker notices (no reply).
  kPeers = 3,   // payload: WorkerBus::FormatPeers
  kReload = 4,  // a reload started (Workerman's onWorkerReload)
  kReopen = 5,  // payload: "log", "access" or "log access"; the files attached in that order
  // Worker -> master.
  kReply = 6,          // the answer to the oldest unanswered query
  kGatherMetrics = 8,  // a scrape: every process's samples, please (payload: a request id)
  // Master -> worker.
  kMetricsAnswer = 9,  // payload: the request id, "\n", then every process's samples
};

// Its name, for logs ("status").
absl::string_view ChannelCommandName(ChannelCommand command);

struct ChannelMessage {
  ChannelCommand command = ChannelCommand::kReply;
  std::string payload;
  std::vector<UniqueFd> fds;  // received copies, owned by the message
};

class Channel : public Reactor::Watcher {
 public:
  // Largest payload either end accepts; a peer that sends more is cut off.
  static constexpr size_t kMaxPayload = 64u << 20;
  // Most descriptors one message carries.
  static constexpr size_t kMaxFds = 8;

  using OnMessage = std::function<void(ChannelMessage message)>;

  // Takes `fd` (a connected AF_UNIX stream socket, made non-blocking here).
  // `on_message` may destroy the channel. `on_closed` runs once, on a later
  // loop pass, when the peer closed, broke the framing, or a write failed;
  // the channel then sends and receives nothing more.
  static absl::StatusOr<std::unique_ptr<Channel>> Create(Reactor& reactor, UniqueFd fd,
                                                         OnMessage on_message,
                                                         std::function<void()> on_closed = {});
  ~Channel() override;

  // Queues one message; `fds` are duplicated by the kernel as the message
  // leaves (the caller keeps its own). False when the channel is closed or
  // the message cannot be framed (payload over kMaxPayload, too many fds).
  bool Send(ChannelCommand command, absl::string_view payload = {}, absl::Span<const int> fds = {});

  bool open() const { return open_; }
  int fd() const { return fd_.get(); }
  // Bytes queued and not yet written.
  size_t pending_bytes() const;

  void OnEvents(uint32_t events) override;

 private:
  struct Outgoing {
    std::string bytes;     // header + payload
    std::vector<int> fds;  // sent with the first byte, then cleared
    size_t sent = 0;
  };

  Channel(Reactor& reactor, UniqueFd fd, OnMessage on_message, std::function<void()> on_closed)
      : reactor_(reactor),
        fd_(std::move(fd)),
        on_message_(std::move(on_message)),
        on_closed_(std::move(on_closed)) {}
  void ReadAll();
  void WriteAll();
  // Stops for good and tells the owner (once).
  void Fail();
  void UpdateInterest();

  Reactor& reactor_;
  UniqueFd fd_;
  OnMessage on_message_;
  std::function<void()> on_closed_;
  std::string input_;
  std::deque<UniqueFd> received_fds_;
  std::deque<Outgoing> output_;
  bool open_ = true;
  bool want_write_ = false;
  // False once destroyed: callbacks that may destroy the channel check it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_CHANNEL_H_
