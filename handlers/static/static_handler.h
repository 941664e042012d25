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
  MimeTypes mime;
};

class StaticHandler : public Handler {
 public:
  explicit StaticHandler(std::shared_ptr<const StaticSite> site) : site_(std::move(site)) {}
  void OnMessage(Connection& connection, absl::string_view body) override;

 private:
  void ServeFile(Connection& connection, const HttpRequest& request, const std::string& path);
  void ServeListing(Connection& connection, const HttpRequest& request, const std::string& path);
  // The canonical path of `path` if it is inside the root; else a status.
  int Confine(const std::string& path, std::string& real) const;

  std::shared_ptr<const StaticSite> site_;
  std::string headers_;  // reused per response
};

// Sends a small HTML error page.
void SendErrorPage(Connection& connection, int status, absl::string_view extra_headers = "");

}  // namespace sockman

#endif  // SOCKMAN_HANDLERS_STATIC_STATIC_HANDLER_H_
