// Watches the config file for `global { watch_config: true }`: calls
// `on_change` (debounced by 200 ms, so the writer can finish) when the file
// is written or replaced. It watches the file's directory, since editors
// often rename a new file over the old one.
#ifndef SOCKMAN_CLI_CONFIG_WATCHER_H_
#define SOCKMAN_CLI_CONFIG_WATCHER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/base/unique_fd.h"
#include "engine/reactor.h"

namespace sockman {

class ConfigWatcher : public Reactor::Watcher {
 public:
  static constexpr int64_t kDebounceMs = 200;

  // Errors: the errno of inotify, naming the directory.
  static absl::StatusOr<std::unique_ptr<ConfigWatcher>> Create(Reactor& reactor,
                                                               const std::string& path,
                                                               std::function<void()> on_change);
  ~ConfigWatcher() override;

  void OnEvents(uint32_t events) override;

 private:
  ConfigWatcher(Reactor& reactor, std::string name, UniqueFd fd, std::function<void()> on_change)
      : reactor_(reactor),
        name_(std::move(name)),
        fd_(std::move(fd)),
        on_change_(std::move(on_change)) {}

  Reactor& reactor_;
  std::string name_;  // the file's name in the watched directory
  UniqueFd fd_;
  std::function<void()> on_change_;
  TimerId timer_ = kNoTimer;
};

}  // namespace sockman

#endif  // SOCKMAN_CLI_CONFIG_WATCHER_H_
