#include "cli/config_watcher.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace sockman {

absl::StatusOr<std::unique_ptr<ConfigWatcher>> ConfigWatcher::Create(
    Reactor& reactor, const std::string& path, std::function<void()> on_change) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  UniqueFd fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid() ||
      inotify_add_watch(fd.get(), dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("watch_config: cannot watch ", dir));
  }
  std::unique_ptr<ConfigWatcher> watcher(
      new ConfigWatcher(reactor, std::move(name), std::move(fd), std::move(on_change)));
  if (absl::Status s = reactor.Watch(watcher->fd_.get(), EPOLLIN, watcher.get()); !s.ok()) {
    watcher->fd_.reset();
    return absl::Status(s.code(), absl::StrCat("watch_config: ", s.message()));
  }
  return watcher;
}

ConfigWatcher::~ConfigWatcher() {
  reactor_.CancelTimer(timer_);
  if (fd_.valid()) reactor_.Unwatch(fd_.get());
}

void ConfigWatcher::OnEvents(uint32_t events) {
  alignas(inotify_event) char buf[4096];
  bool ours = false;
  ssize_t n;
  while ((n = ::read(fd_.get(), buf, sizeof(buf))) > 0) {
    for (char* p = buf; p < buf + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      if (event->len > 0 && name_ == event->name) ours = true;
      p += sizeof(inotify_event) + event->len;
    }
  }
  if (!ours) return;
  reactor_.CancelTimer(timer_);
  timer_ = reactor_.AddTimer(kDebounceMs, [this] {
    timer_ = kNoTimer;
    on_change_();
  });
}

}  // namespace sockman
