#include "engine/credentials.h"

#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sockman {
namespace {

// Calls `visit` with the ':'-separated fields of each line; stops when it returns true.
template <typename Visit>
absl::Status ForEachEntry(const std::string& path, Visit visit) {
  std::ifstream in(path);
  if (!in) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (visit(fields)) break;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Credentials> LookupCredentials(absl::string_view user, absl::string_view group,
                                              const std::string& passwd_path,
                                              const std::string& group_path) {
  Credentials result;
  bool found = false;
  uint32_t numeric;
  bool user_is_numeric = absl::SimpleAtoi(user, &numeric);
  absl::Status s = ForEachEntry(passwd_path, [&](const std::vector<absl::string_view>& f) {
    uint32_t uid, gid;
    if (f.size() < 4 || !absl::SimpleAtoi(f[2], &uid) || !absl::SimpleAtoi(f[3], &gid)) {
      return false;
    }
    if (f[0] == user || (user_is_numeric && uid == numeric)) {
      result.user = std::string(f[0]);
      result.uid = uid;
      result.gid = gid;
      found = true;
      return true;
    }
    return false;
  });
  if (!s.ok()) return s;
  if (!found) {
    if (!user_is_numeric) {
      return absl::NotFoundError(absl::StrCat("no user '", user, "' in ", passwd_path));
    }
    result.user = std::string(user);  // a bare uid without a passwd entry
    result.uid = result.gid = numeric;
  }

  if (!group.empty()) {
    bool group_found = false;
    bool group_is_numeric = absl::SimpleAtoi(group, &numeric);
    s = ForEachEntry(group_path, [&](const std::vector<absl::string_view>& f) {
      uint32_t gid;
      if (f.size() < 3 || !absl::SimpleAtoi(f[2], &gid)) return false;
      if (f[0] == group || (group_is_numeric && gid == numeric)) {
        result.gid = gid;
        group_found = true;
        return true;
      }
      return false;
    });
    if (!s.ok()) return s;
    if (!group_found) {
      if (!group_is_numeric) {
        return absl::NotFoundError(absl::StrCat("no group '", group, "' in ", group_path));
      }
      result.gid = numeric;
    }
  }

  result.groups.push_back(result.gid);
  s = ForEachEntry(group_path, [&](const std::vector<absl::string_view>& f) {
    uint32_t gid;
    if (f.size() < 4 || !absl::SimpleAtoi(f[2], &gid)) return false;
    for (absl::string_view member : absl::StrSplit(f[3], ',')) {
      if (member == result.user &&
          std::find(result.groups.begin(), result.groups.end(), gid) == result.groups.end()) {
        result.groups.push_back(gid);
      }
    }
    return false;
  });
  if (!s.ok()) return s;
  return result;
}

absl::Status DropPrivileges(const Credentials& credentials) {
  if (getuid() == credentials.uid && geteuid() == credentials.uid && getgid() == credentials.gid) {
    return absl::OkStatus();
  }
  if (geteuid() != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("switching to user '", credentials.user, "' needs root"));
  }
  if (setgroups(credentials.groups.size(), credentials.groups.data()) != 0) {
    return absl::ErrnoToStatus(errno, "setgroups");
  }
  if (setgid(credentials.gid) != 0) return absl::ErrnoToStatus(errno, "setgid");
  if (setuid(credentials.uid) != 0) return absl::ErrnoToStatus(errno, "setuid");
  return absl::OkStatus();
}

}  // namespace sockman
