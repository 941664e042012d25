// The access log of http:// services, in the combined format (nginx's
// default), time in UTC:
//
//   127.0.0.1 - - [22/Nov/2026:02:26:08 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8.0"
//
// The codec captures each request's part when the request arrives (its
// bytes are gone before an asynchronous response) and appends the line when
// the response is encoded, formatted straight into the appender's buffer:
// once the buffers have grown, logging allocates nothing per request.
// Control bytes, non-ASCII, '"' and '\' are written as \xHH, as nginx does.
#ifndef SOCKMAN_PROTOCOLS_HTTP_ACCESS_LOG_H_
#define SOCKMAN_PROTOCOLS_HTTP_ACCESS_LOG_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/log_appender.h"

namespace sockman {

// What the line says of one request.
class AccessLogRequest {
 public:
  void Capture(absl::string_view method, absl::string_view target, int version_minor,
               absl::string_view referer, absl::string_view user_agent);

 private:
  friend void AppendAccessLog(LogAppender&, absl::string_view, absl::string_view,
                              const AccessLogRequest*, int, uint64_t);
  std::string method_;
  std::string target_;
  int version_minor_ = 1;
  std::string referer_;
  std::string user_agent_;
};

// Appends one line to `log`. `request` is null when the response answers no
// parsed request (a 400 for bytes that were never a request line): "-".
void AppendAccessLog(LogAppender& log, absl::string_view peer_host, absl::string_view log_time,
                     const AccessLogRequest* request, int status, uint64_t body_bytes);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_ACCESS_LOG_H_
