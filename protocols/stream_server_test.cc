#include "protocols/stream_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "engine/base/clock.h"
#include "gtest/gtest.h"
#include "protocols/text/text_protocol.h"

namespace sockman {
namespace {

class Upper : public ConnectionEvents {
 public:
  void OnConnect(Connection&) override {
    ++connects;
    log += "connect ";
  }
  void OnOpen(Connection&) override { log += "open "; }
  void OnMessage(Connection& c, absl::string_view message, MessageKind kind) override {
    log += kind == MessageKind::kText ? "text " : "binary ";
    std::string reply(message);
    for (char& ch : reply) ch = static_cast<char>(toupper(ch));
    c.Send(reply);
  }
  void OnClose(Connection&) override { ++closes; }
  void OnError(Connection&, ConnectionError error, absl::string_view) override {
    if (error == ConnectionError::kProtocol) ++protocol_errors;
  }
  int connects = 0, closes = 0, protocol_errors = 0;
  std::string log;
};

// Lines, after a handshake: the first line must be "HELLO" (answered
// "WELCOME"); every later line is a binary message.
class GreetingCodec final : public Codec {
 public:
  DecodeResult Decode(absl::string_view input) override {
    size_t newline = input.find('\n');
    if (newline == absl::string_view::npos) return DecodeResult::NeedMore();
    absl::string_view line = input.substr(0, newline);
    if (!greeted_) {
      if (line != "HELLO") return DecodeResult::Error(ProtocolError::kMalformed, "no greeting");
      greeted_ = true;
      DecodeResult r = DecodeResult::Consumed(newline + 1, "WELCOME\n");
      r.opened = true;
      return r;
    }
    return DecodeResult::Message(newline + 1, line, MessageKind::kBinary);
  }
  void Encode(absl::string_view message, MessageKind kind, std::string& out) override {
    out.append(message.data(), message.size());
    out.push_back('\n');
  }

 private:
  bool greeted_ = false;
};

class GreetingProtocol : public Protocol {
 public:
  absl::string_view name() const override { return "greeting"; }
  std::unique_ptr<Codec> NewCodec(const CodecOptions&) const override {
    return std::make_unique<GreetingCodec>();
  }
  const ProtocolTraits& traits() const override {
    static const ProtocolTraits kTraits{.handshake = true};
    return kTraits;
  }
};

class StreamServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = *Reactor::Create(SystemClock());
    ListenOptions listen;
    listen.address = *SocketAddress::Parse("127.0.0.1", 0);
    listen_fd_ = *BindTcpListener(listen);
    address_ = *SocketAddress::LocalOf(listen_fd_.get());
    StreamServerOptions options;
    options.protocol = &protocol_;
    options.codec.max_package_size = 64;
    options.limits.max_package_size = 64;
    options.max_connections = 2;
    server_ = *StreamServer::Create(*reactor_, listen_fd_.get(), options, events_);
  }

  UniqueFd Connect() { return Connect(address_); }
  static UniqueFd Connect(const SocketAddress& address) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(fd.get(), address.sockaddr_ptr(), address.length()), 0);
    return fd;
  }

  std::string Exchange(int fd, const std::string& out, size_t want) {
    EXPECT_EQ(::write(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
    std::string in;
    for (int i = 0; i < 200 && in.size() < want; ++i) {
      reactor_->RunOnce(5);
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) in.append(buf, n);
      if (n == 0) break;
    }
    return in;
  }

  // Serves `protocol` instead of text on a second listener.
  std::unique_ptr<StreamServer> Serve(const Protocol& protocol, SocketAddress& address) {
    ListenOptions listen;
    listen.address = *SocketAddress::Parse("127.0.0.1", 0);
    extra_fds_.push_back(*BindTcpListener(listen));
    address = *SocketAddress::LocalOf(extra_fds_.back().get());
    StreamServerOptions options;
    options.protocol = &protocol;
    return *StreamServer::Create(*reactor_, extra_fds_.back().get(), options, events_);
  }

  std::vector<UniqueFd> extra_fds_;
  TextProtocol protocol_;
  Upper events_;
  std::unique_ptr<Reactor> reactor_;
  UniqueFd listen_fd_;
  SocketAddress address_;
  std::unique_ptr<StreamServer> server_;
};

TEST_F(StreamServerTest, DecodesPipelinedLinesAndEncodesReplies) {
  UniqueFd client = Connect();
  EXPECT_EQ(Exchange(client.get(), "ab\ncd\r\nef", 6), "AB\nCD\n");
  EXPECT_EQ(Exchange(client.get(), "g\n", 4), "EFG\n");
  EXPECT_EQ(events_.connects, 1);
  EXPECT_EQ(server_->counters().messages_in, 3u);
}

TEST_F(StreamServerTest, OversizeLineClosesOnlyThatConnection) {
  UniqueFd good = Connect();
  UniqueFd bad = Connect();
  EXPECT_EQ(Exchange(bad.get(), std::string(100, 'x'), 1), "");
  EXPECT_EQ(events_.protocol_errors, 1);
  bad.reset();  // the server half-closed and waits for our FIN
  for (int i = 0; i < 10; ++i) reactor_->RunOnce(5);
  EXPECT_EQ(events_.closes, 1);
  EXPECT_EQ(Exchange(good.get(), "still here\n", 11), "STILL HERE\n");
}

TEST_F(StreamServerTest, MaxConnectionsPausesAccepting) {
  UniqueFd a = Connect();
  UniqueFd b = Connect();
  UniqueFd c = Connect();  // queued in the backlog, not accepted
  for (int i = 0; i < 10; ++i) reactor_->RunOnce(5);
  EXPECT_EQ(server_->connection_count(), 2u);
  a.reset();
  for (int i = 0; i < 10; ++i) reactor_->RunOnce(5);
  EXPECT_EQ(server_->connection_count(), 2u);
  EXPECT_EQ(events_.connects, 3);
  EXPECT_EQ(Exchange(c.get(), "x\n", 2), "X\n");
}

TEST_F(StreamServerTest, OpensAtAcceptWithoutAHandshakeAndDeliversKinds) {
  UniqueFd client = Connect();
  EXPECT_EQ(Exchange(client.get(), "ab\n", 3), "AB\n");
  EXPECT_EQ(events_.log, "connect open text ");
}

TEST_F(StreamServerTest, OpensAfterTheHandshakeOfAProtocolWithOne) {
  GreetingProtocol greeting;
  SocketAddress address;
  std::unique_ptr<StreamServer> server = Serve(greeting, address);
  UniqueFd client = Connect(address);
  EXPECT_EQ(Exchange(client.get(), "HELLO\n", 8), "WELCOME\n");
  EXPECT_EQ(events_.log, "connect open ");
  EXPECT_EQ(Exchange(client.get(), "x\n", 2), "X\n");
  EXPECT_EQ(events_.log, "connect open binary ");
}

TEST_F(StreamServerTest, NeverOpensAConnectionThatFailedItsHandshake) {
  GreetingProtocol greeting;
  SocketAddress address;
  std::unique_ptr<StreamServer> server = Serve(greeting, address);
  UniqueFd client = Connect(address);
  Exchange(client.get(), "NOPE\n", 1);
  EXPECT_EQ(events_.log, "connect ");
  EXPECT_EQ(events_.protocol_errors, 1);
}

}  // namespace
}  // namespace sockman
