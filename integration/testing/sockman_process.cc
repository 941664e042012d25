#include "integration/testing/sockman_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/read_file.h"
#include "engine/socket_address.h"
#include "engine/testing/local_servers.h"

namespace sockman::testing {
namespace {

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

int counter = 0;

// Waits for `pid` up to `timeout_ms`; returns the wait status or -1.
int WaitFor(pid_t pid, int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    if (NowMs() > deadline) return -1;
    usleep(5000);
  }
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

}  // namespace

std::string SockmanBinary() {
  // Tests of custom binaries (examples/extending) name theirs.
  const char* custom = getenv("SOCKMAN_BINARY");
  return custom != nullptr ? custom : "cli/sockman";
}

std::string Shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

std::string ShortTempDir() {
  char dir[] = "/tmp/sockman-test-XXXXXX";
  return mkdtemp(dir) == nullptr ? "" : dir;
}

std::string ReadFile(const std::string& path) { return ReadFileOrEmpty(path); }

std::string PollUntilContains(const std::function<std::string()>& read, const std::string& text,
                              int timeout_ms) {
  std::string got = read();
  for (int waited = 0; waited < timeout_ms && got.find(text) == std::string::npos; waited += 50) {
    usleep(50'000);
    got = read();
  }
  return got;
}

bool Exited(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

uint16_t FreePort() { return FreeLoopbackPort(); }

std::string WaitForRedisSubscribers(uint16_t port, const std::string& channel, int subscribers) {
  std::string want = absl::StrCat("\n", subscribers, "\n");
  std::string answer;
  for (int i = 0; i < 100 && !absl::EndsWith(answer, want); ++i) {
    answer = Shell(absl::StrCat("redis-cli -p ", port, " pubsub numsub ", channel));
    if (!absl::EndsWith(answer, want)) usleep(50'000);
  }
  return answer;
}

std::string ChromiumDumpDom(const std::string& url, const std::string& done_marker,
                            const std::string& flags) {
  std::string dom;
  for (int attempt = 0; attempt < 6; ++attempt) {
    if (attempt > 0) usleep(300'000 * attempt);  // a loaded machine: give it a moment
    std::string profile = absl::StrCat(TempDir(), "/chromium-profile-", ++counter);
    std::string command = absl::StrCat(
        "HOME=", TempDir(),
        " timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
        "--disable-background-networking --disable-component-update --no-first-run "
        "--disable-sync --disable-quic --user-data-dir=",
        profile, " --virtual-time-budget=10000 ", flags, " --dump-dom ", url, " 2>/dev/null");
    FILE* pipe = popen(command.c_str(), "r");  // stdout only: the DOM
    if (pipe == nullptr) return "popen failed";
    dom.clear();
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) dom.append(buf, n);
    pclose(pipe);
    if (dom.find(done_marker) != std::string::npos) break;
  }
  return dom;
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  std::string path = absl::StrCat(TempDir(), "/", name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

CommandResult RunSockman(const std::vector<std::string>& args,
                         const std::vector<std::string>& extra_env, int timeout_ms) {
  int id = ++counter;
  std::string out_path = absl::StrCat(TempDir(), "/run", id, ".out");
  std::string err_path = absl::StrCat(TempDir(), "/run", id, ".err");
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    for (const std::string& kv : extra_env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> argv;
    std::string binary = SockmanBinary();
    argv.push_back(binary.data());
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  CommandResult result;
  int status = WaitFor(pid, timeout_ms);
  if (status == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.exit_code = -1;
  } else {
    result.exit_code = ExitCode(status);
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

absl::StatusOr<std::unique_ptr<SockmanProcess>> SockmanProcess::Start(
    const std::string& config, const std::string& name, const std::string& directory) {
  int id = ++counter;
  std::string base = name.empty() ? absl::StrCat("config", id) : name;
  std::string config_path = directory.empty() ? WriteTempFile(base + ".textproto", config)
                                              : absl::StrCat(directory, "/", base, ".textproto");
  if (!directory.empty()) std::ofstream(config_path, std::ios::binary) << config;
  std::unique_ptr<SockmanProcess> process(new SockmanProcess());
  process->config_path_ = config_path;
  process->stderr_path_ = absl::StrCat(TempDir(), "/", base, ".stderr");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    int err = open(process->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(pipe_fds[1], 1);
    dup2(err, 2);
    std::string binary = SockmanBinary();
    execl(binary.c_str(), binary.c_str(), "start", "-c", config_path.c_str(), nullptr);
    _exit(127);
  }
  close(pipe_fds[1]);
  process->pid_ = pid;
  std::string out;
  int64_t deadline = NowMs() + 30000;
  bool started = false;
  while (!started) {
    int64_t left = deadline - NowMs();
    if (left <= 0) break;
    pollfd p{pipe_fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, n);
    started = out.find("sockman: started pid=") != std::string::npos;
  }
  // Keep stdout drained into the void so the server never blocks on it.
  if (started && fork() == 0) {
    char buf[4096];
    while (read(pipe_fds[0], buf, sizeof(buf)) > 0) {
    }
    _exit(0);
  }
  close(pipe_fds[0]);
  if (!started) {
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    process->pid_ = 0;
    return absl::InternalError(absl::StrCat("sockman did not start (exit ", ExitCode(status),
                                            ")\nstdout:\n", out, "\nstderr:\n",
                                            ReadFile(process->stderr_path_)));
  }
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() >= 4 && parts[0] == "sockman:" && parts[1] == "listen") {
      process->uris_[parts[2]] = parts[3];
      size_t colon = parts[3].rfind(':');
      uint32_t port = 0;
      absl::SimpleAtoi(parts[3].substr(colon + 1), &port);
      process->ports_[parts[2]] = static_cast<uint16_t>(port);
    }
  }
  return process;
}

SockmanProcess::~SockmanProcess() {
  if (pid_ > 0) Stop(SIGTERM);
}

uint16_t SockmanProcess::port(const std::string& service) const {
  auto it = ports_.find(service);
  return it == ports_.end() ? 0 : it->second;
}

std::vector<pid_t> SockmanProcess::WorkerPids() const {
  std::vector<pid_t> pids;
  if (pid_ <= 0) return pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = readdir(proc)) {
    int pid;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
    int ppid;
    if (fields.size() > 2 && fields[0] != "Z" && absl::SimpleAtoi(fields[1], &ppid) &&
        ppid == pid_) {
      pids.push_back(pid);
    }
  }
  closedir(proc);
  return pids;
}

int SockmanProcess::Stop(int signo, int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, signo);
  int status = WaitFor(pid_, timeout_ms);
  if (status == -1) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return -1000;
  }
  pid_ = 0;
  return ExitCode(status);
}

std::string SockmanProcess::Stderr() const { return ReadFile(stderr_path_); }

TestClient::TestClient(uint16_t port, const std::string& host) {
  absl::StatusOr<SocketAddress> address = SocketAddress::Parse(host, port);
  if (!address.ok()) return;  // not connected()
  fd_ = socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval send_timeout{20, 0};  // a stuck server fails the test instead of hanging it
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  if (connect(fd_, address->sockaddr_ptr(), address->length()) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

TestClient::~TestClient() { Close(); }

void TestClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool TestClient::Send(const std::string& bytes) {
  size_t at = 0;
  while (at < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += n;
  }
  return true;
}

bool TestClient::Fill(int timeout_ms) {
  if (fd_ < 0) {
    eof_ = true;
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[65536];
  ssize_t n = recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  pending_.append(buf, n);
  return true;
}

std::string TestClient::ReadLine(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    size_t newline = pending_.find('\n');
    if (newline != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return line;
    }
    int64_t left = deadline - NowMs();
    if (left <= 0 || eof_ || !Fill(static_cast<int>(left))) {
      if (eof_ || left <= 0) return std::exchange(pending_, "");
    }
  }
}

std::string TestClient::ReadExactly(size_t n, int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  while (pending_.size() < n) {
    int64_t left = deadline - NowMs();
    if (left <= 0 || eof_) break;
    Fill(static_cast<int>(left));
  }
  std::string out = pending_.substr(0, std::min(n, pending_.size()));
  pending_.erase(0, out.size());
  return out;
}

bool TestClient::WaitClosed(int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  while (!eof_) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    Fill(static_cast<int>(left));
    pending_.clear();
  }
  return true;
}

std::string Frame(const std::string& payload) {
  uint32_t length = htonl(static_cast<uint32_t>(payload.size() + 4));
  std::string out(reinterpret_cast<const char*>(&length), 4);
  return out + payload;
}

}  // namespace sockman::testing
