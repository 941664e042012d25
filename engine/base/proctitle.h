// Process titles as nginx sets them: what `ps` shows for each process
// ("sockman: master -c /etc/sockman/app.textproto", "sockman: worker web/0").
// The title is written over the process's argv (and the environment strings
// after it, which are moved out of the way first), so it can be as long as
// those were together; the thread name (ps -o comm, top) gets its first 15
// bytes.
#ifndef SOCKMAN_ENGINE_BASE_PROCTITLE_H_
#define SOCKMAN_ENGINE_BASE_PROCTITLE_H_

#include "absl/strings/string_view.h"

namespace sockman {

// Once, from main, before anything reads environ.
void InitProcessTitle(int argc, char** argv);

// Sets the title (cut to the room there is). A no-op before InitProcessTitle.
void SetProcessTitle(absl::string_view title);

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_BASE_PROCTITLE_H_
