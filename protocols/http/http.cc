#include "protocols/http/http.h"

#include "absl/strings/str_cat.h"

namespace sockman {
namespace {

bool SafeHeaderText(absl::string_view s) {
  return s.find_first_of("\r\n") == absl::string_view::npos;
}

}  // namespace

HttpResponse& HttpResponse::AddHeader(absl::string_view name, absl::string_view value) {
  if (name.empty() || !SafeHeaderText(name) || !SafeHeaderText(value) ||
      name.find(':') != absl::string_view::npos) {
    return *this;
  }
  absl::StrAppend(&headers_, name, ": ", value, "\r\n");
  return *this;
}

HttpResponse& HttpResponse::SetCookie(absl::string_view name, absl::string_view value,
                                      absl::string_view attributes) {
  std::string cookie = absl::StrCat(name, "=", value);
  if (!attributes.empty()) absl::StrAppend(&cookie, "; ", attributes);
  return AddHeader("Set-Cookie", cookie);
}

const HttpRequest* HttpRequestOf(Connection& connection) {
  auto* codec = CodecAs<HttpCodec>(connection.codec());
  return codec == nullptr ? nullptr : &codec->request();
}

bool SendHttpResponse(Connection& connection, const HttpResponse& response) {
  return SendHttpResponse(connection, response.status(), response.headers(), response.body());
}

bool SendHttpResponse(Connection& connection, int status, absl::string_view headers,
                      absl::string_view body) {
  auto* codec = CodecAs<HttpCodec>(connection.codec());
  if (codec == nullptr) return false;
  thread_local std::string encoded;
  encoded.clear();
  codec->EncodeResponse(status, headers, body, encoded);
  bool sent = connection.SendEncoded(encoded);
  if (encoded.capacity() > 256 * 1024) std::string().swap(encoded);
  return sent;
}

bool SendHttpFileResponse(Connection& connection, int status, absl::string_view headers,
                          UniqueFd file, uint64_t offset, uint64_t length) {
  auto* codec = CodecAs<HttpCodec>(connection.codec());
  if (codec == nullptr) return false;
  std::string head;
  codec->EncodeResponse(status, headers, "", head, static_cast<int64_t>(length));
  bool sent = connection.SendRaw(head);
  if (sent && !codec->request().head) {
    sent = connection.SendFile(std::move(file), offset, length);
  }
  connection.CloseIfCodecDone();
  return sent;
}

bool BeginHttpStream(Connection& connection, int status, absl::string_view headers) {
  auto* codec = CodecAs<HttpCodec>(connection.codec());
  if (codec == nullptr) return false;
  std::string head;
  codec->EncodeStreamHead(status, headers, head);
  return connection.SendRaw(head);
}

bool SendHttpChunk(Connection& connection, absl::string_view data) {
  auto* codec = CodecAs<HttpCodec>(connection.codec());
  if (codec == nullptr) return false;
  std::string chunk;
  codec->EncodeChunk(data, chunk);
  return chunk.empty() || connection.SendRaw(chunk);
}

bool EndHttpStream(Connection& connection) {
  auto* codec = CodecAs<HttpCodec>(connection.codec());
  if (codec == nullptr) return false;
  std::string end;
  codec->EncodeStreamEnd(end);
  bool sent = end.empty() || connection.SendRaw(end);
  connection.CloseIfCodecDone();
  return sent;
}

bool SendHttpErrorPage(Connection& connection, int status, absl::string_view extra_headers) {
  std::string body = absl::StrCat("<html><head><title>", status, " ", HttpReason(status),
                                  "</title></head><body><h1>", status, " ", HttpReason(status),
                                  "</h1><hr>sockman</body></html>\n");
  return SendHttpResponse(connection, status,
                          absl::StrCat("Content-Type: text/html; charset=utf-8\r\n", extra_headers),
                          body);
}

}  // namespace sockman
