// User and group lookup without NSS (a static glibc binary cannot load NSS
// modules), and dropping privileges in a worker after it has bound its sockets.
// Reads /etc/passwd and /etc/group directly; numeric ids are accepted too.
//
//   SOCKMAN_ASSIGN_OR_RETURN(Credentials c, LookupCredentials("www-data", ""));
//   ... bind ...
//   SOCKMAN_RETURN_IF_ERROR(DropPrivileges(c));
#ifndef SOCKMAN_ENGINE_CREDENTIALS_H_
#define SOCKMAN_ENGINE_CREDENTIALS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sockman {

struct Credentials {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, as initgroups() would set
};

// `user` is a name or a numeric uid; `group` (optional) a name or numeric gid,
// defaulting to the user's primary group. Errors: NotFound naming the user or
// group, or the errno of reading the files.
absl::StatusOr<Credentials> LookupCredentials(absl::string_view user, absl::string_view group,
                                              const std::string& passwd_path = "/etc/passwd",
                                              const std::string& group_path = "/etc/group");

// setgroups, setgid, setuid, in that order. A no-op when already running as
// exactly these ids. Errors: PermissionDenied (not root) or the errno.
absl::Status DropPrivileges(const Credentials& credentials);

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_CREDENTIALS_H_
