#include "handlers/static/static_handler.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "config/sockman.pb.h"
#include "handlers/static/static_path.h"
#include "protocols/http/compression.h"
#include "protocols/http/http_headers.h"

namespace sockman {
namespace {

// Bodies up to this size are read and sent with the head in one write;
// larger ones go out with sendfile.
constexpr uint64_t kInlineBodyMax = 32 * 1024;
// Files the codec compresses on the fly are read whole, up to this; larger
// ones go as they are (precompress them: .br, .zst, .gz siblings).
constexpr uint64_t kCompressInMemoryMax = 1024 * 1024;

class StaticFactory : public HandlerFactory {
 public:
  explicit StaticFactory(std::shared_ptr<const StaticSite> site) : site_(std::move(site)) {}
  std::unique_ptr<Handler> NewHandler(const WorkerContext&) const override {
    return std::make_unique<StaticHandler>(site_);
  }

 private:
  std::shared_ptr<const StaticSite> site_;
};

absl::StatusOr<std::unique_ptr<HandlerFactory>> CreateStatic(const StaticOptions& options,
                                                             const HandlerConfig& config) {
  if (!config.protocol.traits().request_response) {
    return absl::InvalidArgumentError(
        absl::StrCat("needs an http:// service, not ", config.protocol.name(), "://"));
  }
  if (!options.has_root() || options.root().empty()) {
    return absl::InvalidArgumentError("root: is required");
  }
  std::string root = options.root()[0] == '/'
                         ? options.root()
                         : absl::StrCat(config.config_directory, "/", options.root());
  char real[PATH_MAX];
  struct stat st;
  if (realpath(root.c_str(), real) == nullptr || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("root: '", options.root(), "' is not a readable directory"));
  }
  auto site = std::make_shared<StaticSite>();
  site->root = real;
  if (site->root.size() > 1 && site->root.back() == '/') site->root.pop_back();
  if (options.has_index()) {
    if (options.index().empty() || options.index().find('/') != std::string::npos ||
        options.index() == "." || options.index() == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("index: '", options.index(), "' must be a plain file name"));
    }
    site->index = options.index();
  }
  site->list_directories = options.list_directories();
  site->allow_dotfiles = options.allow_dotfiles();
  site->mime = MimeTypes::Load();
  return std::make_unique<StaticFactory>(std::move(site));
}

SOCKMAN_REGISTER_HANDLER("static", CreateStatic);

// A segment naming a dotfile (".git", ".env"), other than ".well-known"
// (RFC 8615: ACME challenges, security.txt).
bool HasDotSegment(absl::string_view relative) {
  for (absl::string_view segment : absl::StrSplit(relative, '/')) {
    if (!segment.empty() && segment[0] == '.' && segment != ".well-known") return true;
  }
  return false;
}

}  // namespace

StaticHandler::StaticHandler(std::shared_ptr<const StaticSite> site)
    : site_(std::move(site)),
      root_fd_(::open(site_->root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {}

int StaticHandler::OpenBeneath(const std::string& relative, UniqueFd& fd) {
  auto status_of = [](int error) {
    switch (error) {
      case ENOENT:
      case ENOTDIR:
      case ENAMETOOLONG:
        return 404;
      default:
        return 403;  // EACCES, EXDEV/ELOOP (leaves the root), anything odd
    }
  };
  if (have_openat2_ && root_fd_.valid()) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long r = syscall(SYS_openat2, root_fd_.get(), relative.c_str(), &how, sizeof(how));
    if (r >= 0) {
      fd.reset(static_cast<int>(r));
      return 0;
    }
    // EXDEV: a ".." or a symlink crossed the root, or an absolute symlink
    // (refused by RESOLVE_BENEATH even when it points inside): decide below.
    if (errno == ENOSYS) {
      have_openat2_ = false;  // old kernel
    } else if (errno != EXDEV) {
      return status_of(errno);
    }
  }
  std::string path = relative == "." ? site_->root : absl::StrCat(site_->root, "/", relative);
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) return status_of(errno);
  absl::string_view resolved(real);
  const std::string& root = site_->root;
  bool inside = resolved == root || root == "/" ||
                (absl::StartsWith(resolved, root) && resolved[root.size()] == '/');
  if (!inside) return 403;
  fd.reset(::open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  return fd.valid() ? 0 : status_of(errno);
}

void StaticHandler::OnMessage(Connection& connection, absl::string_view, MessageKind) {
  const HttpRequest* request = HttpRequestOf(connection);
  if (request == nullptr) return;
  if (request->method != "GET" && request->method != "HEAD") {
    SendHttpErrorPage(connection, 405, "Allow: GET, HEAD\r\n");
    return;
  }
  SafePath safe = ResolveUrlPath(request->path);
  if (safe.status != 0) {
    SendHttpErrorPage(connection, safe.status);
    return;
  }
  if (!site_->allow_dotfiles && HasDotSegment(safe.relative)) {
    SendHttpErrorPage(connection, 404);  // as if absent: .git, .env say nothing
    return;
  }
  std::string relative = safe.relative.empty() ? "." : safe.relative;
  UniqueFd fd;
  if (int status = OpenBeneath(relative, fd); status != 0) {
    SendHttpErrorPage(connection, status);
    return;
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    SendHttpErrorPage(connection, 403);
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    if (!safe.trailing_slash) {
      // The path as the client sent it (a route may have stripped a prefix).
      absl::string_view sent = request->target;
      if (sent.empty() || sent[0] != '/') sent = request->path;
      sent = sent.substr(0, sent.find('?'));
      std::string location = absl::StrCat(sent, "/");
      if (!request->query.empty()) absl::StrAppend(&location, "?", request->query);
      SendHttpErrorPage(connection, 301, absl::StrCat("Location: ", location, "\r\n"));
      return;
    }
    std::string index = absl::StrCat(relative, "/", site_->index);
    UniqueFd index_fd;
    struct stat index_st;
    if (OpenBeneath(index, index_fd) == 0 && fstat(index_fd.get(), &index_st) == 0 &&
        S_ISREG(index_st.st_mode)) {
      ServeFile(connection, *request, index, std::move(index_fd), index_st);
    } else if (site_->list_directories) {
      ServeListing(connection, *request, fd.get());
    } else {
      SendHttpErrorPage(connection, 403);
    }
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    SendHttpErrorPage(connection, 403);
    return;
  }
  if (safe.trailing_slash) {
    SendHttpErrorPage(connection, 404);
    return;
  }
  ServeFile(connection, *request, relative, std::move(fd), st);
}

void StaticHandler::ServeFile(Connection& connection, const HttpRequest& request,
                              const std::string& relative, UniqueFd file, struct stat st) {
  absl::string_view type = site_->mime.TypeOf(relative);
  // A precompressed sibling (.br, .zst, .gz): the best coding the client
  // takes among those present.
  static const std::pair<Coding, const char*> kSiblings[] = {
      {Coding::kBrotli, ".br"}, {Coding::kZstd, ".zst"}, {Coding::kGzip, ".gz"}};
  Coding sibling = Coding::kIdentity;
  // In the client's order of preference, the first sibling present: only
  // the codings it takes cost an open.
  static const std::vector<Coding> kOffered = {Coding::kBrotli, Coding::kZstd, Coding::kGzip};
  for (Coding coding : RankCodings(request.Header("Accept-Encoding"), kOffered)) {
    const char* extension = kSiblings[0].second;
    for (const auto& [c, ext] : kSiblings) {
      if (c == coding) extension = ext;
    }
    UniqueFd fd;
    struct stat fd_st;
    if (OpenBeneath(relative + extension, fd) == 0 && fstat(fd.get(), &fd_st) == 0 &&
        S_ISREG(fd_st.st_mode)) {
      file = std::move(fd);
      st = fd_st;
      sibling = coding;
      break;
    }
  }
  bool gzip = sibling != Coding::kIdentity;  // precompressed
  // Compressed on the fly by the codec (a route's `compress`): the body is
  // read into memory, up to kCompressInMemoryMax.
  HttpCodec* codec = connection.codec_as<HttpCodec>();
  bool compressing = !gzip && codec != nullptr && codec->compression() != nullptr &&
                     codec->coding() != Coding::kIdentity &&
                     codec->compression()->Compressible(type);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  std::string etag = absl::StrCat("\"", absl::Hex(st.st_mtime), "-", absl::Hex(size), "\"");
  std::string last_modified = FormatHttpDate(st.st_mtime);

  headers_.clear();
  absl::StrAppend(&headers_, "Last-Modified: ", last_modified, "\r\nETag: ", etag, "\r\n");
  if (gzip) headers_ += "Vary: Accept-Encoding\r\n";

  // Revalidation (RFC 9110 13.1): If-None-Match wins over If-Modified-Since.
  absl::string_view if_none_match = request.Header("If-None-Match");
  bool not_modified = false;
  if (!if_none_match.empty()) {
    not_modified = EtagMatches(if_none_match, etag);
  } else if (absl::string_view ims = request.Header("If-Modified-Since"); !ims.empty()) {
    time_t since;
    not_modified = ParseHttpDate(ims, since) && st.st_mtime <= since;
  }
  if (not_modified) {
    SendHttpResponse(connection, 304, headers_, "");
    return;
  }

  absl::StrAppend(&headers_, "Content-Type: ", type, "\r\nAccept-Ranges: bytes\r\n");
  if (gzip) absl::StrAppend(&headers_, "Content-Encoding: ", CodingName(sibling), "\r\n");
  int status = 200;
  uint64_t first = 0;
  uint64_t length = size;
  absl::string_view range = request.Header("Range");
  absl::string_view if_range = request.Header("If-Range");
  bool range_applies =
      !range.empty() && (if_range.empty() || if_range == etag || if_range == last_modified);
  if (range_applies) {
    uint64_t last = 0;
    switch (ParseByteRange(range, size, first, last)) {
      case ByteRange::kNone:
        first = 0;
        break;
      case ByteRange::kUnsatisfiable:
        SendHttpErrorPage(connection, 416, absl::StrCat("Content-Range: bytes */", size, "\r\n"));
        return;
      case ByteRange::kSatisfiable:
        status = 206;
        length = last - first + 1;
        absl::StrAppend(&headers_, "Content-Range: bytes ", first, "-", last, "/", size, "\r\n");
        break;
    }
  }
  // HEAD and large bodies: the file path sends the head alone (HEAD) or the
  // body with sendfile. Small bodies leave with the head in one write.
  bool in_memory = length <= kInlineBodyMax || (compressing && length <= kCompressInMemoryMax);
  if (request.head || !in_memory) {
    SendHttpFileResponse(connection, status, headers_, std::move(file), first, length);
    return;
  }
  std::string body(length, '\0');
  if (pread(file.get(), body.data(), length, static_cast<off_t>(first)) !=
      static_cast<ssize_t>(length)) {
    SendHttpErrorPage(connection, 500);
    return;
  }
  SendHttpResponse(connection, status, headers_, body);
}

void StaticHandler::ServeListing(Connection& connection, const HttpRequest& request, int dir_fd) {
  DIR* dir = fdopendir(dup(dir_fd));
  if (dir == nullptr) {
    SendHttpErrorPage(connection, 403);
    return;
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (!site_->allow_dotfiles && name[0] == '.' && name != ".well-known") continue;
    if (entry->d_type == DT_DIR) name += "/";
    names.push_back(std::move(name));
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  std::string title = HtmlEscape(request.path);
  std::string body = absl::StrCat("<!DOCTYPE html><html><head><title>Index of ", title,
                                  "</title></head><body><h1>Index of ", title,
                                  "</h1><ul><li><a href=\"../\">../</a></li>");
  for (const std::string& name : names) {
    bool is_dir = name.back() == '/';
    std::string bare = is_dir ? name.substr(0, name.size() - 1) : name;
    absl::StrAppend(&body, "<li><a href=\"", UrlEscape(bare), is_dir ? "/" : "", "\">",
                    HtmlEscape(name), "</a></li>");
  }
  body += "</ul></body></html>\n";
  SendHttpResponse(connection, 200, "Content-Type: text/html; charset=utf-8\r\n", body);
}

}  // namespace sockman
