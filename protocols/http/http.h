// The HTTP API for handlers: the request being handled and responses with a
// status, headers and cookies. On an http connection, plain Connection::Send
// ("text") already sends a complete 200 text/html response (as Workerman does).
//
//   void OnMessage(Connection& c, absl::string_view body) override {
//     const HttpRequest* request = HttpRequestOf(c);
//     HttpResponse response(404);
//     response.AddHeader("Content-Type", "text/plain").set_body("no such page\n");
//     SendHttpResponse(c, response);
//   }
#ifndef SOCKMAN_PROTOCOLS_HTTP_HTTP_H_
#define SOCKMAN_PROTOCOLS_HTTP_HTTP_H_

#include <string>

#include "absl/strings/string_view.h"
#include "protocols/connection.h"
#include "protocols/http/http_codec.h"

namespace sockman {

class HttpResponse {
 public:
  explicit HttpResponse(int status = 200) : status_(status) {}

  int status() const { return status_; }
  HttpResponse& set_status(int status) {
    status_ = status;
    return *this;
  }
  // Header names and values must not contain CR or LF; such headers are
  // dropped rather than allowing response splitting.
  HttpResponse& AddHeader(absl::string_view name, absl::string_view value);
  // Set-Cookie: name=value; attributes ("Path=/; HttpOnly"), as given.
  HttpResponse& SetCookie(absl::string_view name, absl::string_view value,
                          absl::string_view attributes = "");
  HttpResponse& set_body(std::string body) {
    body_ = std::move(body);
    return *this;
  }

  const std::string& headers() const { return headers_; }  // rendered lines
  const std::string& body() const { return body_; }

 private:
  int status_;
  std::string headers_;
  std::string body_;
};

// The request being handled on `connection`, or nullptr if it is not an http
// connection. Valid during OnMessage.
const HttpRequest* HttpRequestOf(Connection& connection);

// Sends a response to the current request; closes afterwards when the
// request asked for it. Returns false if the connection is not http or the
// response was dropped.
bool SendHttpResponse(Connection& connection, const HttpResponse& response);

// The same with pre-rendered header lines ("Name: value\r\n"...), for
// handlers that build them once.
bool SendHttpResponse(Connection& connection, int status, absl::string_view headers,
                      absl::string_view body);

// A response whose body is `length` bytes of `file` from `offset`, sent with
// sendfile after the head (nothing is read into memory; HEAD sends no body).
bool SendHttpFileResponse(Connection& connection, int status, absl::string_view headers,
                          UniqueFd file, uint64_t offset, uint64_t length);

// A small HTML page for an error status ("404 Not Found"), with
// `extra_headers` (rendered lines: "Allow: GET, HEAD\r\n").
bool SendHttpErrorPage(Connection& connection, int status, absl::string_view extra_headers = "");

// Streamed responses (length unknown up front): begin, send pieces, end.
// Chunked for HTTP/1.1 clients; close-delimited for HTTP/1.0 ones. The
// connection closes after End when the request asked for it.
//
//   BeginHttpStream(c, 200, "Content-Type: text/event-stream\r\n");
//   SendHttpChunk(c, "data: 1\n\n");
//   EndHttpStream(c);
bool BeginHttpStream(Connection& connection, int status, absl::string_view headers);
bool SendHttpChunk(Connection& connection, absl::string_view data);
bool EndHttpStream(Connection& connection);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_HTTP_H_
