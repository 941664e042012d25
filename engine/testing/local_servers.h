// Test helpers for loopback servers: a free port, and a real redis-server
// (./bazelw installs it) in the foreground without persistence, which a
// test may kill and start again on the same port (a restart forgets all).
#ifndef SOCKMAN_ENGINE_TESTING_LOCAL_SERVERS_H_
#define SOCKMAN_ENGINE_TESTING_LOCAL_SERVERS_H_

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace sockman::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none was found).
inline uint16_t FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(a);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0;
  close(fd);
  return ok ? ntohs(a.sin_port) : 0;
}

class RedisServer {
 public:
  explicit RedisServer(uint16_t port) : port_(port) { Start(); }
  ~RedisServer() { Kill(); }

  // Starts it and waits (up to 5 s) until it answers PING.
  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      std::string port = std::to_string(port_);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--loglevel", "warning", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 100 && !Answers(); ++i) usleep(50'000);
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  bool Answers() const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    char reply[8] = {};
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
              write(fd, "PING\r\n", 6) == 6 && read(fd, reply, sizeof(reply) - 1) > 0 &&
              std::strncmp(reply, "+PONG", 5) == 0;
    close(fd);
    return ok;
  }

  uint16_t port_;
  pid_t pid_ = 0;
};

}  // namespace sockman::testing

#endif  // SOCKMAN_ENGINE_TESTING_LOCAL_SERVERS_H_
