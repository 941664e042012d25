#include "engine/base/proctitle.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

extern char** environ;

namespace sockman {
namespace {

char* title_start = nullptr;  // argv[0]
size_t title_room = 0;        // bytes from argv[0] to the end of the last contiguous string

}  // namespace

void InitProcessTitle(int argc, char** argv) {
  if (argc <= 0 || argv == nullptr || argv[0] == nullptr || title_start != nullptr) return;
  // The strings of argv and then environ lie back to back; the title may
  // use the run of them that is contiguous.
  char* start = argv[0];
  char* end = start;
  for (int i = 0; i < argc; ++i) {
    if (argv[i] == end) end = argv[i] + std::strlen(argv[i]) + 1;
  }
  size_t env_count = 0;
  while (environ != nullptr && environ[env_count] != nullptr) ++env_count;
  for (size_t i = 0; i < env_count; ++i) {
    if (environ[i] == end) end = environ[i] + std::strlen(environ[i]) + 1;
  }
  // What the program still reads (its arguments, the environment) moves to
  // the heap, for the life of the process; the originals become the title.
  char** moved_env = new char*[env_count + 1];
  for (size_t i = 0; i < env_count; ++i) moved_env[i] = strdup(environ[i]);
  moved_env[env_count] = nullptr;
  environ = moved_env;
  for (int i = 0; i < argc; ++i) argv[i] = strdup(argv[i]);
  title_start = start;
  title_room = static_cast<size_t>(end - start);
}

void SetProcessTitle(absl::string_view title) {
  std::string name(title.substr(0, 15));
  prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  if (title_start == nullptr || title_room < 2) return;
  size_t n = std::min(title.size(), title_room - 1);
  std::memcpy(title_start, title.data(), n);
  std::memset(title_start + n, 0, title_room - n);
}

}  // namespace sockman
