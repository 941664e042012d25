// floor_server: the least work a server can do per request on this machine,
// as a measuring stick for bench/http.sh and bench/ws.sh. Not a server: no
// limits, no validation, no timers; never expose it.
//
//   floor_server --mode http|ws [--port P]     (prints "port N" once listening)
//   floor_server --mode proxy --upstream U [--port P]
//
// One thread, one epoll loop, edge-triggered. Per readable socket it reads
// until a short read and answers everything found with one write, which is
// what any event-loop server must at least do (one read and one write per
// request, or per batch of pipelined requests). What it skips (parsing,
// validation, limits, timers) is what a real server adds on top, so
// `sockman / floor` is how close sockman is to free, and `floor / peer` is
// the most any epoll server could gain over the peer here.
//
//   http  every "\r\n\r\n" gets a fixed 200 "hello world\n"; a request
//         carrying "Connection: close" is answered and the socket closed
//   ws    the upgrade gets a 101; then every complete frame comes back as an
//         unmasked frame of the same opcode (a close frame is echoed and the
//         socket closed)
//   proxy each client gets its own connection to 127.0.0.1:U, made at
//         accept; bytes are relayed both ways as read, unparsed (the floor
//         of an HTTP proxy: a read and a write per request each way, no
//         pool, no parsing, no header rewriting)
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "protocols/websocket/websocket_codec.h"

namespace {

constexpr char kHello[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\n"
    "Content-Length: 12\r\n\r\nhello world\n";
constexpr char kHelloClose[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\n"
    "Content-Length: 12\r\nConnection: close\r\n\r\nhello world\n";

struct Peer {
  int partner = -1;  // proxy: the other side
  std::string in;    // bytes of an incomplete request or frame
  std::string out;   // what the socket did not take yet
  bool upgraded = false;
  bool close_after_write = false;
};

// HTTP: answers every complete request head in `in`; returns bytes used.
size_t AnswerHttp(const char* in, size_t size, Peer& peer) {
  size_t used = 0;
  for (;;) {
    const void* end = memmem(in + used, size - used, "\r\n\r\n", 4);
    if (end == nullptr) return used;
    size_t head_end = static_cast<size_t>(static_cast<const char*>(end) - in) + 4;
    size_t start = used;
    used = head_end;
    if (memmem(in + start, head_end - start, "Connection: close", 17) != nullptr) {
      peer.out.append(kHelloClose, sizeof(kHelloClose) - 1);
      peer.close_after_write = true;
      return used;
    }
    peer.out.append(kHello, sizeof(kHello) - 1);
  }
}

// WebSocket: the upgrade, then every complete frame echoed unmasked.
size_t AnswerWebSocket(const char* in, size_t size, Peer& peer) {
  size_t used = 0;
  if (!peer.upgraded) {
    const void* end = memmem(in, size, "\r\n\r\n", 4);
    if (end == nullptr) return 0;
    used = static_cast<size_t>(static_cast<const char*>(end) - in) + 4;
    std::string head(in, used);
    size_t at = head.find("Sec-WebSocket-Key: ");
    std::string key = at == std::string::npos ? "" : head.substr(at + 19, 24);
    peer.out +=
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
        sockman::WebSocketAccept(key) + "\r\n\r\n";
    peer.upgraded = true;
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  while (size - used >= 6) {
    const unsigned char* frame = bytes + used;
    uint64_t length = frame[1] & 0x7F;
    size_t header = 2;
    if (length == 126) {
      if (size - used < 8) break;
      length = (uint64_t{frame[2]} << 8) | frame[3];
      header = 4;
    } else if (length == 127) {
      if (size - used < 14) break;
      length = 0;
      for (int i = 2; i < 10; ++i) length = (length << 8) | frame[i];
      header = 10;
    }
    if (size - used < header + 4 + length) break;
    auto opcode = static_cast<sockman::WebSocketCodec::Opcode>(frame[0] & 0x0F);
    sockman::WebSocketCodec::EncodeFrameHeader(opcode, length, peer.out);
    const unsigned char* mask = frame + header;
    size_t start = peer.out.size();
    peer.out.resize(start + length);
    sockman::WebSocketMask(frame + header + 4, length, mask, peer.out.data() + start);
    used += header + 4 + static_cast<size_t>(length);
    if (opcode == sockman::WebSocketCodec::kClose) peer.close_after_write = true;
  }
  return used;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "http";
  int port = 0;
  int upstream = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--mode") {
      mode = argv[i + 1];
    } else if (flag == "--port") {
      port = atoi(argv[i + 1]);
    } else if (flag == "--upstream") {
      upstream = atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "floor_server: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if ((mode != "http" && mode != "ws" && mode != "proxy") || (mode == "proxy") != (upstream > 0)) {
    fprintf(stderr, "floor_server: --mode http|ws, or --mode proxy --upstream PORT\n");
    return 2;
  }
  bool http = mode == "http";
  bool proxy = mode == "proxy";

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    perror("floor_server: listen");
    return 1;
  }
  printf("port %d\n", ntohs(address.sin_port));
  fflush(stdout);

  int epoll = epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener;
  epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  std::unordered_map<int, Peer> peers;
  static char buffer[64 * 1024];
  epoll_event events[512];

  auto drop = [&](int fd) {
    auto it = peers.find(fd);
    int partner = it == peers.end() ? -1 : it->second.partner;
    peers.erase(fd);
    close(fd);
    if (partner >= 0 && peers.count(partner)) {
      peers.erase(partner);
      close(partner);
    }
  };
  auto watch = [&](int fd) {
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.fd = fd;
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
  };
  auto flush = [&](int fd, Peer& peer) {
    while (!peer.out.empty()) {
      ssize_t n = send(fd, peer.out.data(), peer.out.size(), MSG_NOSIGNAL);
      if (n <= 0) return n < 0 && errno == EAGAIN;  // false: the peer is gone
      peer.out.erase(0, static_cast<size_t>(n));
    }
    return !peer.close_after_write;
  };

  for (;;) {
    int ready = epoll_wait(epoll, events, 512, -1);
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int client;
        while ((client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          if (proxy) {
            int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in to{};
            to.sin_family = AF_INET;
            to.sin_port = htons(static_cast<uint16_t>(upstream));
            to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (connect(up, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
              close(up);
              close(client);
              continue;
            }
            int flags = 1;
            setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &flags, sizeof(flags));
            fcntl(up, F_SETFL, O_NONBLOCK);
            peers[up].partner = client;
            peers[client].partner = up;
            watch(up);
          } else {
            peers[client];
          }
          watch(client);
        }
        continue;
      }
      auto found = peers.find(fd);
      if (found == peers.end()) continue;  // dropped with its partner this pass
      Peer& peer = found->second;
      if (proxy) {  // relay: what one side says goes to the other
        bool alive = true;
        for (;;) {
          ssize_t n = read(fd, buffer, sizeof(buffer));
          if (n <= 0) {
            alive = n < 0 && errno == EAGAIN;
            break;
          }
          Peer& other = peers[peer.partner];
          other.out.append(buffer, static_cast<size_t>(n));
          if (!flush(peer.partner, other)) {
            alive = false;
            break;
          }
          if (static_cast<size_t>(n) < sizeof(buffer)) break;
        }
        if (!alive || !flush(fd, peer)) drop(fd);
        continue;
      }
      if (!flush(fd, peer)) {
        drop(fd);
        continue;
      }
      bool alive = true;
      for (;;) {
        ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n <= 0) {
          alive = n < 0 && errno == EAGAIN;
          break;
        }
        const char* data = buffer;
        size_t size = static_cast<size_t>(n);
        if (!peer.in.empty()) {
          peer.in.append(buffer, size);
          data = peer.in.data();
          size = peer.in.size();
        }
        size_t used = http ? AnswerHttp(data, size, peer) : AnswerWebSocket(data, size, peer);
        if (data == peer.in.data()) {
          peer.in.erase(0, used);
        } else if (used < size) {
          peer.in.assign(data + used, size - used);
        }
        if (static_cast<size_t>(n) < sizeof(buffer)) break;
      }
      if (!alive || !flush(fd, peer)) drop(fd);
    }
  }
}
