// The webhook test backend (integration/testdata/webhook_backend.py, the
// BusinessWorker side) as a child process: started on a free port (or the
// given one), plain HTTP or HTTPS, killed with the object. It records every
// event it is posted and answers them as its docstring says.
//
//   WebhookBackend backend;
//   ... webhook { url: "http://127.0.0.1:PORT/events" } ...
//   std::vector<std::string> events = backend.WaitEvents(client_id, 2);
#ifndef SOCKMAN_INTEGRATION_TESTING_WEBHOOK_BACKEND_H_
#define SOCKMAN_INTEGRATION_TESTING_WEBHOOK_BACKEND_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {

class WebhookBackend {
 public:
  // With a certificate and key: an https:// backend.
  explicit WebhookBackend(const std::string& cert_file = "", const std::string& key_file = "",
                          uint16_t port = 0) {
    std::string port_file = ShortTempDir() + "/port";
    pid_ = fork();
    if (pid_ == 0) {
      if (port != 0) setenv("BACKEND_PORT", absl::StrCat(port).c_str(), 1);
      std::vector<const char*> argv = {"python3", "integration/testdata/webhook_backend.py",
                                       port_file.c_str()};
      if (!cert_file.empty()) argv.insert(argv.end(), {cert_file.c_str(), key_file.c_str()});
      argv.push_back(nullptr);
      execvp("python3", const_cast<char* const*>(argv.data()));
      _exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      (void)absl::SimpleAtoi(ReadFile(port_file), &port_);
      if (port_ == 0) usleep(25'000);
    }
  }
  ~WebhookBackend() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  uint16_t port() const { return static_cast<uint16_t>(port_); }
  std::string Get(const std::string& path) const {
    return Shell(absl::StrCat("curl -s http://127.0.0.1:", port_, path));
  }
  // The recorded events (JSON objects) of one client.
  std::vector<std::string> EventsOf(const std::string& client_id) const {
    std::vector<std::string> found;
    for (absl::string_view line : absl::StrSplit(Get("/events"), '\n', absl::SkipEmpty())) {
      if (absl::StrContains(line, absl::StrCat("\"X-Sockman-Client-Id\": \"", client_id, "\""))) {
        found.emplace_back(line);
      }
    }
    return found;
  }
  // Waits until the client has `n` events recorded.
  std::vector<std::string> WaitEvents(const std::string& client_id, size_t n) const {
    std::vector<std::string> events;
    for (int i = 0; i < 200; ++i) {
      events = EventsOf(client_id);
      if (events.size() >= n) break;
      usleep(25'000);
    }
    return events;
  }

 private:
  pid_t pid_ = 0;
  uint32_t port_ = 0;
};

}  // namespace sockman::testing

#endif  // SOCKMAN_INTEGRATION_TESTING_WEBHOOK_BACKEND_H_
