#include "engine/tcp_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/base/clock.h"
#include "engine/listener.h"
#include "engine/reactor.h"
#include "engine/testing/test_certificates.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

class Recorder : public TcpConnection::Delegate {
 public:
  void OnData(PeerTransport& c, Buffer& input) override {
    if (consume) {
      received.append(input.data(), input.size());
      input.Consume(input.size());
    }
  }
  void OnBufferFull(PeerTransport&) override { ++full; }
  void OnBufferDrain(PeerTransport&) override { ++drained; }
  void OnClosed(PeerTransport&) override { ++closed; }

  bool consume = true;
  std::string received;
  int full = 0, drained = 0, closed = 0;
};

class TcpConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = *Reactor::Create(SystemClock());
    ListenOptions options;
    options.address = *SocketAddress::Parse("127.0.0.1", 0);
    listen_fd_ = *BindTcpListener(options);
    SocketAddress bound = *SocketAddress::LocalOf(listen_fd_.get());
    client_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(client_.get(), bound.sockaddr_ptr(), bound.length()), 0);
    sockaddr_storage peer;
    socklen_t length = sizeof(peer);
    UniqueFd fd(::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                          SOCK_NONBLOCK | SOCK_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    limits_.max_package_size = 1024;
    limits_.max_send_buffer_size = 64 * 1024;
    connection_ = *TcpConnection::Create(
        *reactor_, std::move(fd),
        SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&peer), length), limits_,
        &recorder_);
  }

  void Spin(int passes = 5) {
    for (int i = 0; i < passes; ++i) reactor_->RunOnce(10);
  }

  std::string ReadClient(size_t n) {
    std::string out;
    while (out.size() < n) {
      char buf[65536];
      ssize_t got = ::read(client_.get(), buf, std::min(sizeof(buf), n - out.size()));
      if (got <= 0) break;
      out.append(buf, got);
    }
    return out;
  }

  std::unique_ptr<Reactor> reactor_;
  UniqueFd listen_fd_;
  UniqueFd client_;
  ConnectionLimits limits_;
  Recorder recorder_;
  std::unique_ptr<TcpConnection> connection_;
};

TEST_F(TcpConnectionTest, DeliversBytesAndSendsReplies) {
  ASSERT_EQ(::write(client_.get(), "ping", 4), 4);
  Spin();
  EXPECT_EQ(recorder_.received, "ping");
  EXPECT_EQ(connection_->Send("pong"), TcpConnection::SendResult::kOk);
  EXPECT_EQ(ReadClient(4), "pong");
  EXPECT_EQ(connection_->bytes_read(), 4u);
  EXPECT_EQ(connection_->bytes_written(), 4u);
}

int NoDelay(int fd) {
  int value = -1;
  socklen_t length = sizeof(value);
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length), 0);
  return value;
}

TEST_F(TcpConnectionTest, NoDelayOnlyOnceAConnectionWritesAgain) {
  // One answer then close needs no TCP_NODELAY (Nagle holds nothing back
  // when nothing is in flight); the second write switches it on.
  EXPECT_EQ(NoDelay(connection_->fd()), 0);
  EXPECT_EQ(connection_->Send("one"), TcpConnection::SendResult::kOk);
  EXPECT_EQ(NoDelay(connection_->fd()), 0);
  EXPECT_EQ(connection_->Send("two"), TcpConnection::SendResult::kOk);
  EXPECT_NE(NoDelay(connection_->fd()), 0);
  EXPECT_EQ(ReadClient(6), "onetwo");
}

int QuickAck(int fd) {
  int value = -1;
  socklen_t length = sizeof(value);
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &value, &length), 0);
  return value;
}

// An exchange that makes Linux delay ACKs (data sent right after data
// received), then one more read: with quick_ack the socket is back in
// quick-ack mode after it, so the peer's next segment is acknowledged at once.
TEST_F(TcpConnectionTest, QuickAckAfterEveryReadWhenAsked) {
  auto exchange = [&] {
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(::write(client_.get(), "q", 1), 1);
      Spin(2);
      ASSERT_EQ(connection_->Send("a"), TcpConnection::SendResult::kOk);
      ReadClient(1);
    }
    ASSERT_EQ(::write(client_.get(), "q", 1), 1);
    Spin(2);
  };
  exchange();
  int without = QuickAck(connection_->fd());
  // Now the same with quick_ack, on a connection of its own.
  SocketAddress bound = *SocketAddress::LocalOf(listen_fd_.get());
  client_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client_.get(), bound.sockaddr_ptr(), bound.length()), 0);
  UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  limits_.quick_ack = true;
  connection_ = *TcpConnection::Create(*reactor_, std::move(fd), SocketAddress(), limits_,
                                       &recorder_);
  exchange();
  EXPECT_EQ(QuickAck(connection_->fd()), 1);
  if (without == 1) GTEST_SKIP() << "this kernel did not delay ACKs after the exchange";
}

TEST_F(TcpConnectionTest, NoDelayWaitsForTheFileAfterAHead) {
  // A head queued before a file goes out with MSG_MORE; TCP_NODELAY comes
  // after the file, so the kernel can pack the two.
  char path[] = "/tmp/tcp_connection_test_XXXXXX";
  UniqueFd file(mkstemp(path));
  ASSERT_TRUE(file.valid());
  unlink(path);
  ASSERT_EQ(::write(file.get(), "body", 4), 4);
  connection_->Cork();
  connection_->Send("head");
  connection_->SendFile(std::move(file), 0, 4);
  EXPECT_EQ(NoDelay(connection_->fd()), 0);
  connection_->Uncork();
  EXPECT_NE(NoDelay(connection_->fd()), 0);
  EXPECT_EQ(ReadClient(8), "headbody");
}

TEST_F(TcpConnectionTest, SendPartsKeepsOrderWrittenQueuedOrPartial) {
  absl::string_view direct[] = {"he", "", "ad", "er"};
  EXPECT_EQ(connection_->SendParts(direct), TcpConnection::SendResult::kOk);
  EXPECT_EQ(ReadClient(6), "header");
  connection_->Cork();
  absl::string_view corked[] = {"[", "corked", "]"};
  EXPECT_EQ(connection_->SendParts(corked), TcpConnection::SendResult::kOk);
  EXPECT_EQ(connection_->send_buffer_size(), 8u);
  connection_->Uncork();
  EXPECT_EQ(ReadClient(8), "[corked]");
  // Parts bigger than the kernel takes at once: the rest is queued from
  // wherever the write stopped, inside whichever part.
  int small = 4096;
  ASSERT_EQ(setsockopt(connection_->fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  std::string a(2 << 20, 'a'), b(2 << 20, 'b');
  absl::string_view big[] = {"<", a, b, ">"};
  EXPECT_EQ(connection_->SendParts(big), TcpConnection::SendResult::kOk);
  EXPECT_GT(connection_->send_buffer_size(), 0u);
  std::string got;
  while (got.size() < a.size() + b.size() + 2) {
    Spin(1);
    char buf[65536];
    ssize_t n = ::recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.append(buf, n);
  }
  EXPECT_EQ(got, "<" + a + b + ">");
  EXPECT_EQ(connection_->bytes_written(), 6u + 8u + got.size());
}

TEST_F(TcpConnectionTest, BufferFullDropsSendsUntilDrained) {
  std::string big(256 * 1024, 'x');
  size_t sent = 0;
  // The client does not read: the kernel buffers fill, then ours does.
  while (recorder_.full == 0) {
    ASSERT_EQ(connection_->Send(big), TcpConnection::SendResult::kOk);
    sent += big.size();
  }
  EXPECT_EQ(connection_->Send("dropped"), TcpConnection::SendResult::kDropped);
  EXPECT_EQ(connection_->send_failures(), 1u);
  size_t got = 0;
  while (got < sent) {
    Spin(1);
    char buf[65536];
    ssize_t n = ::recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got += n;
  }
  EXPECT_EQ(got, sent);
  Spin();
  EXPECT_GE(recorder_.drained, 1);
  EXPECT_EQ(connection_->send_buffer_size(), 0u);
}

TEST_F(TcpConnectionTest, CloseFlushesQueuedOutputFirst) {
  std::string big(512 * 1024, 'y');
  connection_->Cork();
  connection_->Send(big);
  connection_->Close();
  connection_->Uncork();
  EXPECT_EQ(connection_->Send("late"), TcpConnection::SendResult::kClosed);
  std::string got;
  while (got.size() < big.size()) {
    Spin(1);
    char buf[65536];
    ssize_t n = ::recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.append(buf, n);
  }
  EXPECT_EQ(got, big);
  // Our half-close: the client sees EOF, then closes, and we finish.
  char c;
  EXPECT_EQ(::read(client_.get(), &c, 1), 0);
  client_.reset();
  Spin();
  EXPECT_EQ(recorder_.closed, 1);
}

TEST_F(TcpConnectionTest, SendFileKeepsOrderWithQueuedBytes) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/file.bin";
  std::string content;
  for (int i = 0; i < 3 * 1024 * 1024; ++i) content.push_back(static_cast<char>(i * 7));
  {
    FILE* f = fopen(path.c_str(), "wb");
    fwrite(content.data(), 1, content.size(), f);
    fclose(f);
  }
  connection_->Cork();
  connection_->Send("head:");
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  EXPECT_EQ(connection_->SendFile(std::move(file), 10, content.size() - 10),
            TcpConnection::SendResult::kOk);
  connection_->Send(":tail");
  connection_->Uncork();
  EXPECT_LT(connection_->send_buffer_size(), 64u) << "file bytes are not buffered in memory";
  std::string expected = "head:" + content.substr(10) + ":tail";
  std::string got;
  while (got.size() < expected.size()) {
    Spin(1);
    char buf[65536];
    ssize_t n = ::recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.append(buf, n);
    if (n == 0) break;
  }
  EXPECT_TRUE(got == expected) << got.size() << " vs " << expected.size();
}

TEST_F(TcpConnectionTest, FullUnconsumedInputDestroysConnection) {
  recorder_.consume = false;
  std::string data(2048, 'z');
  ASSERT_EQ(::write(client_.get(), data.data(), data.size()), 2048);
  Spin();
  EXPECT_EQ(recorder_.closed, 1);
  EXPECT_TRUE(connection_->closed());
}

TEST_F(TcpConnectionTest, PausedConnectionReadsAfterResume) {
  connection_->PauseRecv();
  ASSERT_EQ(::write(client_.get(), "later", 5), 5);
  Spin();
  EXPECT_EQ(recorder_.received, "");
  connection_->ResumeRecv();
  Spin();
  EXPECT_EQ(recorder_.received, "later");
}

TEST_F(TcpConnectionTest, PeerCloseIsReportedOnce) {
  client_.reset();
  Spin();
  EXPECT_EQ(recorder_.closed, 1);
  connection_->Destroy();
  EXPECT_EQ(recorder_.closed, 1);
}

// --- TLS client ---

// A CA and a certificate for localhost / 127.0.0.1 it signed, made once.
const std::string& CertDir() {
  static const std::string* dir = [] {
    char pattern[] = "/tmp/tls_client_test_XXXXXX";
    auto* d = new std::string(mkdtemp(pattern));
    EXPECT_TRUE(::sockman::testing::MakeTestCertificates(*d));
    return d;
  }();
  return *dir;
}

class TlsClientTest : public TcpConnectionTest {
 protected:
  // The fixture's server side becomes a TLS server; a second socket pair
  // carries the client.
  void SetUp() override {
    TcpConnectionTest::SetUp();
    TlsOptions options;
    options.certificates.push_back({"", CertDir() + "/server.pem", CertDir() + "/server.key"});
    server_tls_ = *TlsContext::Create(options);
  }

  // Connects a TLS client for `host` trusting `ca_file` to a fresh TLS
  // server connection; both on the one loop.
  void Connect(const std::string& host, const std::string& ca_file) {
    SocketAddress bound = *SocketAddress::LocalOf(listen_fd_.get());
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(client.get(), bound.sockaddr_ptr(), bound.length()), 0);
    ASSERT_EQ(fcntl(client.get(), F_SETFL, O_NONBLOCK), 0);
    UniqueFd accepted(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    ASSERT_TRUE(accepted.valid());
    server_ = *TcpConnection::Create(*reactor_, std::move(accepted), bound, limits_, &server_side_,
                                     server_tls_.get());
    auto tls = TlsClientContext::Create(ca_file, {"http/1.1"});
    ASSERT_TRUE(tls.ok()) << tls.status();
    client_tls_ = *tls;
    auto connection = TcpConnection::CreateTlsClient(*reactor_, std::move(client), bound, limits_,
                                                     &client_side_, *client_tls_, host);
    ASSERT_TRUE(connection.ok()) << connection.status();
    tls_client_ = std::move(*connection);
  }

  std::shared_ptr<TlsContext> server_tls_;
  std::shared_ptr<TlsClientContext> client_tls_;
  Recorder server_side_, client_side_;
  std::unique_ptr<TcpConnection> server_, tls_client_;
};

TEST_F(TlsClientTest, TalksToAServerItTrusts) {
  Connect("localhost", CertDir() + "/ca.pem");
  EXPECT_EQ(tls_client_->Send("ping"), TcpConnection::SendResult::kOk);
  for (int i = 0; i < 50 && server_side_.received.size() < 4; ++i) Spin(1);
  EXPECT_EQ(server_side_.received, "ping");
  server_->Send("pong");
  for (int i = 0; i < 50 && client_side_.received.size() < 4; ++i) Spin(1);
  EXPECT_EQ(client_side_.received, "pong");
  EXPECT_EQ(tls_client_->tls_error(), "");
}

TEST_F(TlsClientTest, AnIpAddressIsCheckedAgainstTheCertificate) {
  Connect("127.0.0.1", CertDir() + "/ca.pem");
  tls_client_->Send("ping");
  for (int i = 0; i < 50 && server_side_.received.size() < 4; ++i) Spin(1);
  EXPECT_EQ(server_side_.received, "ping");
}

TEST_F(TlsClientTest, RefusesTheWrongNameAndAnUnknownIssuer) {
  Connect("other.example", CertDir() + "/ca.pem");
  tls_client_->Send("secret");
  for (int i = 0; i < 50 && client_side_.closed == 0; ++i) Spin(1);
  EXPECT_EQ(client_side_.closed, 1);
  EXPECT_EQ(server_side_.received, "");
  EXPECT_NE(tls_client_->tls_error().find("certificate verify failed"), std::string::npos)
      << tls_client_->tls_error();

  // Trusting only the server's own certificate (not its issuer).
  Connect("localhost", CertDir() + "/server.pem");
  tls_client_->Send("secret");
  for (int i = 0; i < 50 && client_side_.closed < 2; ++i) Spin(1);
  EXPECT_EQ(client_side_.closed, 2);
  EXPECT_EQ(server_side_.received, "");
  EXPECT_NE(tls_client_->tls_error().find("certificate verify failed"), std::string::npos)
      << tls_client_->tls_error();
}

TEST(TlsClientContextTest, ABadBundleIsAConfigError) {
  auto missing = TlsClientContext::Create("/nonexistent/ca.pem", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("ca_file: cannot read /nonexistent/ca.pem"),
            std::string::npos)
      << missing.status();
  std::string garbage = CertDir() + "/garbage.pem";
  FILE* f = fopen(garbage.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("not a certificate\n", f);
  fclose(f);
  auto not_pem = TlsClientContext::Create(garbage, {});
  ASSERT_FALSE(not_pem.ok());
  EXPECT_NE(not_pem.status().message().find("has no PEM certificates"), std::string::npos)
      << not_pem.status();
}

}  // namespace
}  // namespace sockman
