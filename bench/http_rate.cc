// http_rate: HTTP/1.1 latency under a fixed request rate (wrk2's idea) for
// bench/latency.sh. Requests are scheduled at exactly --rate per second
// whatever the server does, spread over --connections keep-alive
// connections; each request's latency runs from when it was *due*, not when
// a connection was free to send it, so a stalled server is charged for the
// requests it delayed (no coordinated omission).
//
//   http_rate --port P [--host 127.0.0.1] [--path /] [--connections 50]
//             [--rate 1000] [--seconds 10]
//
// Prints: "requests=N seconds=S rate=R p50_us=.. p99_us=.. p999_us=.. max_us=..
// errors=E". Responses must carry Content-Length (no chunked bodies).
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
#include <deque>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  bool busy = false;
  Clock::time_point due;  // of the request in flight
  std::string in;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", path = "/";
  int port = 0, connections = 50, rate = 1000;
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--host")
      host = v;
    else if (flag == "--port")
      port = std::atoi(v);
    else if (flag == "--path")
      path = v;
    else if (flag == "--connections")
      connections = std::atoi(v);
    else if (flag == "--rate")
      rate = std::atoi(v);
    else if (flag == "--seconds")
      seconds = std::atof(v);
    else {
      std::fprintf(stderr, "http_rate: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (port <= 0 || connections <= 0 || rate <= 0 || seconds <= 0) {
    std::fprintf(
        stderr,
        "usage: http_rate --port P [--path /] [--connections C] [--rate R] [--seconds S]\n");
    return 2;
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return 2;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> conns(connections);
  // Free connections, used in turn (so none sits unused long enough for a
  // server's first-request deadline to close it).
  std::deque<int> idle;
  auto open_conn = [&](int i) {
    Conn& c = conns[i];
    c = Conn();
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      std::perror("http_rate: connect");
      std::exit(1);
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(c.fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  };
  for (int i = 0; i < connections; ++i) {
    open_conn(i);
    idle.push_back(i);
  }

  std::deque<Clock::time_point> waiting;  // due, but no connection free yet
  std::vector<uint32_t> latencies_us;
  long errors = 0, scheduled = 0;
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto due_of = [&](long k) {
    return start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(k));
  };
  auto send_on = [&](int i, Clock::time_point due) {
    Conn& c = conns[i];
    c.busy = true;
    c.due = due;
    if (write(c.fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()))
      ++errors;
  };
  std::vector<epoll_event> events(256);
  char buf[65536];
  for (;;) {
    Clock::time_point now = Clock::now();
    if (now >= end && waiting.empty() &&
        std::none_of(conns.begin(), conns.end(), [](const Conn& c) { return c.busy; })) {
      break;
    }
    if (now > end + std::chrono::seconds(10)) {  // a server that stopped answering
      errors += static_cast<long>(waiting.size());
      break;
    }
    while (now < end && due_of(scheduled) <= now) waiting.push_back(due_of(scheduled++));
    while (!waiting.empty() && !idle.empty()) {
      int i = idle.front();
      idle.pop_front();
      send_on(i, waiting.front());
      waiting.pop_front();
    }
    // Sleep exactly until the next request is due (epoll_pwait2: ns precision;
    // a 1 ms epoll_wait tick would add up to a millisecond to every latency).
    auto wait =
        std::chrono::duration_cast<std::chrono::nanoseconds>(due_of(scheduled) - Clock::now());
    if (now >= end) wait = std::chrono::milliseconds(1);
    if (wait.count() < 0) wait = std::chrono::nanoseconds(0);
    timespec timeout{static_cast<time_t>(wait.count() / 1'000'000'000),
                     static_cast<long>(wait.count() % 1'000'000'000)};
    int n = epoll_pwait2(ep, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    for (int e = 0; e < n; ++e) {
      int i = static_cast<int>(events[e].data.u32);
      Conn& c = conns[i];
      for (;;) {
        ssize_t got = read(c.fd, buf, sizeof(buf));
        if (got == 0 || (got < 0 && errno != EAGAIN)) {
          // Closed by the server: a request in flight on it is an error;
          // either way it is replaced by a new connection.
          bool lost = c.busy;
          close(c.fd);
          open_conn(i);
          if (lost) {
            ++errors;
            if (!waiting.empty()) {
              send_on(i, waiting.front());
              waiting.pop_front();
              break;
            }
          }
          if (std::find(idle.begin(), idle.end(), i) == idle.end()) idle.push_back(i);
          break;
        }
        if (got < 0) break;
        c.in.append(buf, static_cast<size_t>(got));
      }
      // Complete responses (one in flight per connection).
      size_t head = c.in.find("\r\n\r\n");
      if (!c.busy || head == std::string::npos) continue;
      size_t length = 0;
      const char* cl = strcasestr(c.in.c_str(), "\r\ncontent-length:");
      if (cl != nullptr && static_cast<size_t>(cl - c.in.c_str()) < head)
        length = std::strtoul(cl + 17, nullptr, 10);
      if (c.in.size() < head + 4 + length) continue;
      if (c.in.compare(0, 12, "HTTP/1.1 200") != 0) ++errors;
      c.in.erase(0, head + 4 + length);
      latencies_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.due).count()));
      c.busy = false;
      if (!waiting.empty()) {
        send_on(i, waiting.front());
        waiting.pop_front();
      } else {
        idle.push_back(i);
      }
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double q) {
    return latencies_us.empty()
               ? 0u
               : latencies_us[std::min(latencies_us.size() - 1,
                                       static_cast<size_t>(q * latencies_us.size()))];
  };
  std::printf(
      "requests=%zu seconds=%.3f rate=%.0f p50_us=%u p99_us=%u p999_us=%u max_us=%u errors=%ld\n",
      latencies_us.size(), elapsed, latencies_us.size() / elapsed, pct(0.5), pct(0.99), pct(0.999),
      latencies_us.empty() ? 0u : latencies_us.back(), errors);
  return errors == 0 ? 0 : 1;
}
