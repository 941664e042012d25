// ws_load: a WebSocket echo load generator for bench/ws.sh. One thread, one
// epoll loop, many connections; fast enough that the server, not the client,
// is what a 2-core run measures (a Node client saturates first).
//
//   ws_load --port P [--host 127.0.0.1] [--connections 100] [--size 32]
//           [--mode pingpong|flood|idle] [--seconds 10] [--window N]
//           [--sources K]
//
//   --sources K  spread the connections over K source addresses,
//                127.0.0.1 .. 127.0.0.K (each has its own ephemeral ports,
//                so more than ~28,000 connections fit on loopback)
//
//   pingpong  one message in flight per connection: send, wait for the echo;
//             with --rate R, each connection sends at most R a second; every
//             round trip's latency is recorded
//   blast     clients write messages as fast as the socket takes them and
//             never wait for echoes (read and counted when they come): a
//             flooder, for rate limits that drop
//   flood     clients keep sending without waiting for echoes, up to a
//             window of unanswered messages per connection (default: 64 KiB
//             worth, 2..128 messages), refilled in one write when half of
//             it has come back
//   idle      opens the connections, prints "ready", holds them open for
//             --seconds and sends nothing
//   fanout    for a broadcast service: every connection subscribes, and the
//             first also publishes --rate messages per second, each carrying
//             its send time; every delivery's latency is recorded
//
// Prints one line: "messages=N seconds=S msgs_per_sec=R bytes_per_sec=B
// connections=C errors=E" (echoed messages counted on receipt); fanout adds
// "published=P p50_us=.. p99_us=.. p999_us=..", pingpong "p50_us=.. p99_us=..
// p999_us=..".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "protocols/websocket/testing/client_frame.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 100;
  size_t size = 32;
  std::string mode = "pingpong";
  double seconds = 10;
  int window = 0;
  int rate = 0;  // fanout: messages published per second (default 1000); pingpong: pace
  int sources = 1;
};

struct Conn {
  int fd = -1;
  bool open = false;      // handshake done
  std::string handshake;  // response bytes until \r\n\r\n
  size_t out_offset = 0;  // unsent bytes of the current batch
  size_t out_size = 0;
  int in_flight = 0;
  // Server frame parser: header bytes, then payload bytes to skip.
  unsigned char header[10];
  size_t header_have = 0;
  size_t header_need = 2;
  uint64_t payload_left = 0;
  bool in_payload = false;
  std::string stamp;  // fanout: the first bytes of the payload (the send time)
  long long sent_ns = 0;  // pingpong: when the message in flight left
  long sent = 0;          // pingpong with --rate: messages sent
};

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--host")
      o.host = v;
    else if (flag == "--port")
      o.port = std::atoi(v);
    else if (flag == "--connections")
      o.connections = std::atoi(v);
    else if (flag == "--size")
      o.size = std::strtoul(v, nullptr, 10);
    else if (flag == "--mode")
      o.mode = v;
    else if (flag == "--seconds")
      o.seconds = std::atof(v);
    else if (flag == "--window")
      o.window = std::atoi(v);
    else if (flag == "--rate")
      o.rate = std::atoi(v);
    else if (flag == "--sources")
      o.sources = std::max(1, std::min(254, std::atoi(v)));
    else {
      std::fprintf(stderr, "ws_load: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (o.port <= 0 || o.connections <= 0 ||
      (o.mode != "pingpong" && o.mode != "flood" && o.mode != "idle" && o.mode != "fanout" &&
       o.mode != "blast")) {
    std::fprintf(stderr,
                 "usage: ws_load --port P [--connections N] [--size B] "
                 "[--mode pingpong|flood|idle|fanout|blast] [--seconds S] [--window W] "
                 "[--rate R]\n");
    std::exit(2);
  }
  if (o.mode == "fanout" && o.rate <= 0) o.rate = 1000;
  if (o.window <= 0) {
    o.window = o.mode == "flood" || o.mode == "blast"
                   ? static_cast<int>(std::max<size_t>(
                         2, std::min<size_t>(128, 65536 / std::max<size_t>(1, o.size))))
                   : 1;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  // One batch of `window` identical masked text frames; a refill sends a prefix.
  std::string frame = sockman::testing::ClientFrame(0x81, std::string(o.size, 'x'));
  std::string batch;
  for (int i = 0; i < o.window; ++i) batch += frame;
  const std::string upgrade =
      "GET / HTTP/1.1\r\nHost: " + o.host +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) Die("inet_pton");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> conns(o.connections);
  int opened = 0;
  long errors = 0;
  for (int i = 0; i < o.connections; ++i) {
    Conn& c = conns[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) Die("socket");
    if (o.sources > 1) {
      int one = 1;
      setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
      sockaddr_in source{};
      source.sin_family = AF_INET;
      source.sin_addr.s_addr = htonl(0x7F000001u + static_cast<uint32_t>(i % o.sources));
      if (bind(c.fd, reinterpret_cast<sockaddr*>(&source), sizeof(source)) != 0) Die("bind source");
    }
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (write(c.fd, upgrade.data(), upgrade.size()) != static_cast<ssize_t>(upgrade.size())) {
      Die("write upgrade");
    }
    fcntl(c.fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
  };
  long messages = 0;
  Clock::time_point start;
  bool pingpong = o.mode == "pingpong";
  std::vector<uint32_t> latencies_us;
  auto flush = [&](Conn& c, uint32_t index) {
    while (c.out_offset < c.out_size) {
      ssize_t n = write(c.fd, batch.data() + c.out_offset, c.out_size - c.out_offset);
      if (n > 0) {
        c.out_offset += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EAGAIN) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = index;
        epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        return;
      }
      ++errors;
      return;
    }
  };
  auto refill = [&](Conn& c, uint32_t index) {
    if (o.mode == "idle" || o.mode == "fanout" || c.out_offset < c.out_size) return;
    if (o.mode == "blast") {  // until the socket takes no more (EPOLLOUT resumes it)
      while (c.out_offset == c.out_size) {
        c.out_offset = 0;
        c.out_size = batch.size();
        long before = errors;
        flush(c, index);
        if (errors != before) return;
      }
      return;
    }
    if (pingpong && o.rate > 0 && c.in_flight == 0) {
      // Paced: the next message is due at sent / rate seconds.
      auto due = start + std::chrono::microseconds(c.sent * 1'000'000L / o.rate);
      if (Clock::now() < due) return;
      ++c.sent;
    }
    int room = o.window - c.in_flight;
    if (room <= 0 || (c.in_flight > 0 && room < (o.window + 1) / 2)) return;
    c.out_offset = 0;
    c.out_size = frame.size() * static_cast<size_t>(room);
    c.in_flight += room;
    if (pingpong) c.sent_ns = now_ns();
    flush(c, index);
  };

  bool running = false;
  // fanout: the publisher's schedule and every delivery's latency.
  bool fanout = o.mode == "fanout";
  long published = 0;
  auto publish_due = [&](Clock::time_point now) {
    long due = static_cast<long>(std::chrono::duration<double>(now - start).count() * o.rate);
    std::string frames;
    for (; published < due; ++published) {
      char stamp[32];
      int n = std::snprintf(stamp, sizeof(stamp), "t%016llx",
                            static_cast<unsigned long long>(now_ns()));
      std::string payload(stamp, n);
      if (payload.size() < o.size) payload.append(o.size - payload.size(), 'x');
      frames += sockman::testing::ClientFrame(0x81, payload);
    }
    if (!frames.empty() && write(conns[0].fd, frames.data(), frames.size()) < 0) ++errors;
  };
  std::vector<epoll_event> events(1024);
  std::vector<char> buf(256 * 1024);
  Clock::time_point handshake_deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    Clock::time_point now = Clock::now();
    if (running && now - start >= std::chrono::duration<double>(o.seconds)) break;
    if (!running && now > handshake_deadline) {
      std::fprintf(stderr, "ws_load: only %d of %d handshakes completed\n", opened, o.connections);
      return 1;
    }
    if (running && fanout) publish_due(now);
    bool paced = running && pingpong && o.rate > 0;
    if (paced) {
      for (uint32_t i = 0; i < conns.size(); ++i) refill(conns[i], i);
    }
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()),
                       fanout || paced ? 1 : 100);
    for (int e = 0; e < n; ++e) {
      uint32_t index = events[e].data.u32;
      Conn& c = conns[index];
      if (events[e].events & EPOLLOUT) {
        flush(c, index);
        if (c.out_offset == c.out_size) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u32 = index;
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
          if (running && o.mode == "blast") refill(c, index);
        }
      }
      if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      for (;;) {
        ssize_t got = read(c.fd, buf.data(), buf.size());
        if (got == 0 || (got < 0 && errno != EAGAIN)) {
          std::fprintf(stderr, "ws_load: connection %u closed by the server\n", index);
          return 1;
        }
        if (got < 0) break;
        const char* p = buf.data();
        const char* end = p + got;
        if (!c.open) {
          c.handshake.append(p, end);
          size_t head = c.handshake.find("\r\n\r\n");
          if (head == std::string::npos) continue;
          if (c.handshake.compare(0, 12, "HTTP/1.1 101") != 0) {
            std::fprintf(stderr, "ws_load: handshake refused: %s\n", c.handshake.c_str());
            return 1;
          }
          c.open = true;
          p = end - (c.handshake.size() - head - 4);
          std::string().swap(c.handshake);
          if (++opened == o.connections) {
            if (o.mode == "idle") {
              std::printf("ready connections=%d\n", opened);
              std::fflush(stdout);
            }
            running = true;
            start = Clock::now();
            for (uint32_t i = 0; i < conns.size(); ++i) refill(conns[i], i);
          }
        }
        // Count complete server frames; skip their payloads.
        while (p < end) {
          if (c.in_payload) {
            uint64_t take = std::min<uint64_t>(c.payload_left, static_cast<uint64_t>(end - p));
            if (fanout && c.stamp.size() < 17) {
              c.stamp.append(p, std::min<size_t>(17 - c.stamp.size(), take));
            }
            p += take;
            c.payload_left -= take;
            if (c.payload_left > 0) break;
            c.in_payload = false;
            ++messages;
            --c.in_flight;
            if (pingpong && running) {
              latencies_us.push_back(static_cast<uint32_t>((now_ns() - c.sent_ns) / 1000));
            }
            if (fanout && c.stamp.size() == 17 && c.stamp[0] == 't') {
              long long sent = std::strtoll(c.stamp.c_str() + 1, nullptr, 16);
              latencies_us.push_back(static_cast<uint32_t>((now_ns() - sent) / 1000));
            }
            c.stamp.clear();
            continue;
          }
          c.header[c.header_have++] = static_cast<unsigned char>(*p++);
          if (c.header_have == 2) {
            int len7 = c.header[1] & 0x7F;
            c.header_need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
          }
          if (c.header_have < c.header_need) continue;
          uint64_t length = c.header[1] & 0x7F;
          if (length == 126) length = (uint64_t{c.header[2]} << 8) | c.header[3];
          if (length == 127) {
            length = 0;
            for (int i = 2; i < 10; ++i) length = (length << 8) | c.header[i];
          }
          c.header_have = 0;
          c.header_need = 2;
          if ((c.header[0] & 0x0F) == 0x8) {
            std::fprintf(stderr, "ws_load: the server sent a close frame\n");
            return 1;
          }
          c.payload_left = length;
          c.in_payload = true;
          if (length == 0) {
            c.in_payload = false;
            ++messages;
            --c.in_flight;
            if (pingpong && running) {
              latencies_us.push_back(static_cast<uint32_t>((now_ns() - c.sent_ns) / 1000));
            }
          }
        }
        if (running) refill(c, index);
        if (got < static_cast<ssize_t>(buf.size())) break;
      }
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "messages=%ld seconds=%.3f msgs_per_sec=%.0f bytes_per_sec=%.0f connections=%d "
      "errors=%ld",
      messages, seconds, messages / seconds, messages * static_cast<double>(o.size) / seconds,
      opened, errors);
  if (fanout || pingpong) {
    std::sort(latencies_us.begin(), latencies_us.end());
    auto pct = [&](double q) {
      return latencies_us.empty()
                 ? 0u
                 : latencies_us[std::min(latencies_us.size() - 1,
                                         static_cast<size_t>(q * latencies_us.size()))];
    };
    if (fanout) std::printf(" published=%ld", published);
    std::printf(" p50_us=%u p99_us=%u p999_us=%u", pct(0.5), pct(0.99), pct(0.999));
  }
  std::printf("\n");
  return errors == 0 ? 0 : 1;
}
