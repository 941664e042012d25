// The `static { root index list_directories }` handler (Workerman's
// WebServer): files under `root` over http, with MIME types, index files,
// ETag/Last-Modified revalidation (304), single byte ranges (206/416), HEAD,
// precompressed .gz siblings, and sendfile for large bodies. No request can
// reach outside `root`: "..", encoded dots and slashes, NUL bytes and
// symlinks that lead out are refused.
#ifndef SOCKMAN_HANDLERS_STATIC_STATIC_HANDLER_H_
#define SOCKMAN_HANDLERS_STATIC_STATIC_HANDLER_H_

#include <sys/stat.h>

#include <memory>
#include <string>

#include "handlers/handler.h"
#include "handlers/static/mime_types.h"
#include "protocols/http/http.h"

namespace sockman {

struct StaticSite {
  std::string root;  // absolute, symlinks resolved, no trailing slash
  std::string index = "index.html";
  bool list_directories = false;
  bool allow_dotfiles = false;
  MimeTypes mime;
};

class StaticHandler : public Handler {
 public:
  explicit StaticHandler(std::shared_ptr<const StaticSite> site);
  void OnMessage(Connection& connection, absl::string_view body, MessageKind) override;

 private:
  // Opens `relative` (no leading slash; "." for the root) for reading such
  // that it cannot resolve outside the root, symlinks included: openat2 with
  // RESOLVE_BENEATH where the kernel has it, realpath checks otherwise.
  // Returns the fd, or the HTTP status to answer (403, 404).
  int OpenBeneath(const std::string& relative, UniqueFd& fd);
  void ServeFile(Connection& connection, const HttpRequest& request, const std::string& relative,
                 UniqueFd file, struct stat st);
  void ServeListing(Connection& connection, const HttpRequest& request, int dir_fd);

  std::shared_ptr<const StaticSite> site_;
  UniqueFd root_fd_;
  bool have_openat2_ = true;
  std::string headers_;  // reused per response
};

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_STATIC_STATIC_HANDLER_H_
