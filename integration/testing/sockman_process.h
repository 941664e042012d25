// Test helpers that run the real //cli:sockman binary and talk to it over
// loopback. Every server binds port 0; the harness reads the real ports from
// the binary's documented startup lines ("sockman: listen NAME URI count=N").
//
//   auto server = SockmanProcess::Start(R"(service { ... listen: "text://127.0.0.1:0" ... })");
//   TestClient client(server->port("hello"));
//   client.Send("tom\n");
//   EXPECT_EQ(client.ReadLine(), "hello tom");
#ifndef SOCKMAN_INTEGRATION_TESTING_SOCKMAN_PROCESS_H_
#define SOCKMAN_INTEGRATION_TESTING_SOCKMAN_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sockman::testing {

// Path of the sockman binary in the test's runfiles.
std::string SockmanBinary();

// Writes `content` to $TEST_TMPDIR/`name` and returns the path.
std::string WriteTempFile(const std::string& name, const std::string& content);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `command` with /bin/sh; returns its stdout and stderr.
std::string Shell(const std::string& command);

// A TCP port on 127.0.0.1 that was free a moment ago (for servers that must
// come back on the same port).
uint16_t FreePort();

// True once `pid` has exited: gone, or a zombie its (sub)reaper has not
// collected yet (a daemon's parent is init or the test runner, which reap
// in their own time).
bool Exited(pid_t pid);

// A fresh directory under /tmp (unix socket paths must stay short, and pids
// repeat across Bazel's PID namespaces, so $TEST_TMPDIR and pids won't do).
std::string ShortTempDir();

// The whole file ("" if it cannot be read).
std::string ReadFile(const std::string& path);
// Calls `read` every 50 ms until what it returns contains `text` or
// `timeout_ms` pass; returns the last answer. For what a server writes a
// moment later (access logs, a change applied by another node).
std::string PollUntilContains(const std::function<std::string()>& read, const std::string& text,
                              int timeout_ms = 3000);

// `done_marker` must be text only the finished page has (not in its source).
// Loads `url` in headless Chromium (a fresh profile under $TEST_TMPDIR) and
// returns the DOM after the page's scripts ran. Pages that finish
// asynchronously (a WebSocket exchange) may be dumped early under load
// (virtual time runs on while a WebSocket waits), so it tries up to six
// times, pausing longer each time, until the DOM contains `done_marker`.
// `flags` are added to Chromium's command line.
// Waits (up to 5 s) until `subscribers` clients of the redis-server on
// `port` subscribe to `channel`; returns `redis-cli pubsub numsub`'s last
// answer (it ends "\nN\n").
std::string WaitForRedisSubscribers(uint16_t port, const std::string& channel, int subscribers);

std::string ChromiumDumpDom(const std::string& url, const std::string& done_marker,
                            const std::string& flags = "");

// Runs sockman with `args` to completion (killed after `timeout_ms`).
CommandResult RunSockman(const std::vector<std::string>& args,
                         const std::vector<std::string>& extra_env = {}, int timeout_ms = 20000);

class SockmanProcess {
 public:
  // Writes the config and runs `sockman start -c` on it until it prints
  // "sockman: started". Errors carry the binary's stderr.
  // The config is written to `directory` (default $TEST_TMPDIR), which is
  // what relative paths in it are relative to.
  static absl::StatusOr<std::unique_ptr<SockmanProcess>> Start(const std::string& config,
                                                               const std::string& name = "",
                                                               const std::string& directory = "");
  ~SockmanProcess();

  pid_t pid() const { return pid_; }
  // The config file it was started with (for `sockman status -c`).
  const std::string& config_path() const { return config_path_; }
  uint16_t port(const std::string& service) const;
  const std::string& uri(const std::string& service) const { return uris_.at(service); }
  // Names of the services the binary reported listening.
  std::vector<std::string> services() const {
    std::vector<std::string> names;
    for (const auto& [name, uri] : uris_) names.push_back(name);
    return names;
  }

  // Live child processes of the master.
  std::vector<pid_t> WorkerPids() const;

  // Sends `signo` and waits for exit; returns the exit status (or -signal).
  int Stop(int signo = SIGTERM, int timeout_ms = 20000);
  std::string Stderr() const;

 private:
  SockmanProcess() = default;
  pid_t pid_ = 0;
  std::string config_path_;
  std::string stderr_path_;
  std::map<std::string, std::string> uris_;
  std::map<std::string, uint16_t> ports_;
};

// A blocking loopback client with timeouts.
class TestClient {
 public:
  explicit TestClient(uint16_t port, const std::string& host = "127.0.0.1");
  ~TestClient();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Writes everything (false on error, e.g. the peer reset).
  bool Send(const std::string& bytes);
  // Reads until "\n" (stripped) or timeout/EOF (returns what it has, and
  // sets eof()).
  std::string ReadLine(int timeout_ms = 10000);
  // Reads exactly n bytes unless timeout/EOF.
  std::string ReadExactly(size_t n, int timeout_ms = 10000);
  // True when the server closed (EOF or reset) within the timeout,
  // discarding any bytes that arrive first.
  bool WaitClosed(int timeout_ms = 10000);
  bool eof() const { return eof_; }
  void Close();

 private:
  bool Fill(int timeout_ms);
  int fd_ = -1;
  std::string pending_;
  bool eof_ = false;
};

// Frame protocol helper: 4-byte big-endian length (counting itself) + payload.
std::string Frame(const std::string& payload);

}  // namespace sockman::testing

#endif  // SOCKMAN_INTEGRATION_TESTING_SOCKMAN_PROCESS_H_
