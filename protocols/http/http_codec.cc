#include "protocols/http/http_codec.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/base/clock.h"

namespace sockman {
namespace {

SOCKMAN_REGISTER_PROTOCOL(HttpProtocol);

constexpr size_t kMaxLeadingEmptyLines = 16;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

DecodeResult Fail(HttpCodec::HeadError e) {
  ProtocolError kind = ProtocolError::kMalformed;
  if (e.code == 413) kind = ProtocolError::kTooLarge;
  return DecodeResult::Error(kind, e.reason, e.code);
}

}  // namespace

absl::string_view HttpRequest::Header(absl::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return {};
}

bool HttpRequest::HasHeader(absl::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return true;
  }
  return false;
}

namespace {

// The cached Date of this thread's loop (one loop per thread), refreshed
// each second by the timer HttpProtocol::StartWorker sets on that loop.
struct DateCache {
  char date_text[32] = "";
  size_t date_size = 0;
  char log_time_text[32] = "";
  size_t log_time_size = 0;
  int64_t second = -1;
  bool timer = false;  // the loop's refresh timer is set
};
thread_local DateCache date_cache;

}  // namespace

void HttpDate::Update(int64_t unix_seconds) {
  DateCache& c = date_cache;
  if (unix_seconds == c.second) return;
  c.second = unix_seconds;
  time_t t = static_cast<time_t>(unix_seconds);
  tm parts;
  gmtime_r(&t, &parts);
  c.date_size = strftime(c.date_text, sizeof(c.date_text), "%a, %d %b %Y %H:%M:%S GMT", &parts);
  c.log_time_size =
      strftime(c.log_time_text, sizeof(c.log_time_text), "%d/%b/%Y:%H:%M:%S +0000", &parts);
}

absl::string_view HttpDate::Now() {
  DateCache& c = date_cache;
  if (c.second < 0) Update(SystemClock().WallSeconds());
  return absl::string_view(c.date_text, c.date_size);
}

absl::string_view HttpDate::LogTime() {
  DateCache& c = date_cache;
  if (c.second < 0) Update(SystemClock().WallSeconds());
  return absl::string_view(c.log_time_text, c.log_time_size);
}

void HttpCodec::LogExchange(int status, uint64_t body_bytes, bool have_request) {
  if (ProtocolMetrics* metrics = options_.metrics) {
    int klass = std::clamp(status / 100, 1, 5) - 1;
    ++metrics->http_requests[klass][have_request ? method_class_ : ProtocolMetrics::kMethods - 1];
    if (have_request && request_start_ns_ != 0) {
      metrics->http_duration.Observe(static_cast<double>(MonotonicNanos() - request_start_ns_) /
                                     1e9);
      request_start_ns_ = 0;  // once per request (a stream's head, not its end)
    }
  }
  LogAppender* log = route_log_ != nullptr ? route_log_ : options_.access_log;
  if (log == nullptr) return;
  AppendAccessLog(*log, peer_host_, HttpDate::LogTime(), have_request ? &logged_ : nullptr, status,
                  body_bytes);
}

void HttpCodec::SetAccessLog(LogAppender* log, const SocketAddress& client) {
  route_log_ = log;
  peer_host_ = client.Host();
  // Deliver captured the request only for a service log.
  if (options_.access_log == nullptr) {
    logged_.Capture(request_.method, request_.target, request_.version_minor,
                    request_.Header("Referer"), request_.Header("User-Agent"));
  }
}

void HttpCodec::Attach(const SocketAddress& peer) {
  if (options_.access_log != nullptr) peer_host_ = peer.Host();
  if (http_.real_ip != nullptr && http_.real_ip->trusted->Contains(peer)) {
    real_ip_ = std::make_unique<RealIpState>();
    real_ip_->peer = peer;
  }
}

void HttpCodec::FindClient(absl::string_view input) {
  absl::string_view name = http_.real_ip->header_name();
  absl::string_view values[kMaxHeaders];
  size_t count = 0;
  for (const auto& [n, v] : header_spans_) {
    if (absl::EqualsIgnoreCase(input.substr(n.at, n.size), name)) {
      values[count++] = input.substr(v.at, v.size);
    }
  }
  std::optional<SocketAddress> client =
      RealClientAddress(*http_.real_ip, absl::MakeConstSpan(values, count));
  real_ip_->forwarded = client.has_value();
  if (client.has_value()) real_ip_->client = *client;
  if (options_.access_log != nullptr) {
    peer_host_ = client.has_value() ? client->Host() : real_ip_->peer.Host();
  }
}

HttpCodec::HttpCodec(const CodecOptions& options) : options_(options) {
  if (const HttpOptions* http = OptionsAs<HttpOptions>(options.options)) http_ = *http;
  chunked_ =
      ChunkedDecoder({.max_body = options.max_package_size, .max_trailers = http_.max_header_size});
}

const ProtocolTraits& HttpProtocol::traits() const {
  static const ProtocolTraits kTraits{
      .request_response = true, .alpn = {"http/1.1"}, .tls_scheme = "https"};
  return kTraits;
}

void HttpProtocol::StartWorker(Reactor& reactor) const {
  HttpDate::Update(reactor.clock().WallSeconds());
  if (date_cache.timer) return;  // this loop refreshes it already (http and websocket)
  date_cache.timer = true;
  reactor.AddRepeatingTimer(1000, [&reactor] { HttpDate::Update(reactor.clock().WallSeconds()); });
}

absl::string_view HttpReason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void HttpCodec::Reset() {
  phase_ = Phase::kHead;
  start_ = scanned_ = line_start_ = head_end_ = 0;
  content_length_ = 0;
  pos_ = 0;
  chunked_.Reset();
  expect_continue_ = false;
  head_ = HeadState{};
  header_spans_.clear();
}

DecodeResult HttpCodec::Decode(absl::string_view input) {
  if (phase_ == Phase::kHead) {
    if (scanned_ == 0) {
      // RFC 9112 2.2: ignore empty lines before the request line.
      while (start_ < input.size() && (input[start_] == '\r' || input[start_] == '\n')) {
        if (++start_ > kMaxLeadingEmptyLines) return Fail({400, "too many empty lines"});
      }
      if (start_ == input.size()) return DecodeResult::NeedMore();
      scanned_ = line_start_ = start_;
    }
    // Each line is judged as soon as it is complete, so a hostile client is
    // cut off at its first bad line; the answer is the same however the head
    // arrives (the first error in byte order, then the whole-head checks).
    bool found = false;
    while (scanned_ < input.size()) {
      const void* nl = std::memchr(input.data() + scanned_, '\n', input.size() - scanned_);
      if (nl == nullptr) {
        scanned_ = input.size();
        break;
      }
      size_t i = static_cast<size_t>(static_cast<const char*>(nl) - input.data());
      scanned_ = i + 1;
      absl::string_view line = input.substr(line_start_, i - line_start_);
      bool request_line = line_start_ == start_;
      line_start_ = i + 1;
      if (request_line && line.size() > kMaxTargetSize + 64) {
        return Fail({414, "request line too long"});
      }
      if (scanned_ - start_ > http_.max_header_size) {
        return Fail({431, "request header too large"});
      }
      // The same answer whether the head came in one read or in several (the
      // connection refuses more than max_package_size buffered): a head alone
      // over max_package_size is a request over it.
      if (scanned_ - start_ > options_.max_package_size) {
        return Fail({413, "request larger than max_package_size"});
      }
      if (http_.strict_line_endings && !absl::EndsWith(line, "\r")) {
        return Fail({400, "bare LF line ending (strict_line_endings)"});
      }
      if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
      std::optional<HeadError> error;
      if (request_line) {
        error = ParseRequestLine(input, line);
      } else if (line.empty()) {
        head_end_ = scanned_;
        found = true;
        break;
      } else {
        error = ParseField(input, line);
      }
      if (error) return Fail(*error);
    }
    if (!found) {
      if (line_start_ == start_ && input.size() - start_ > kMaxTargetSize + 64) {
        return Fail({414, "request line too long"});
      }
      if (input.size() - start_ > http_.max_header_size) {
        return Fail({431, "request header too large"});
      }
      return DecodeResult::NeedMore();
    }
    if (std::optional<HeadError> error = FinishHead(input)) return Fail(*error);
    if (phase_ == Phase::kHead) return Deliver(input, head_end_, {});
    if (announce_heads_) {  // the head alone first (consuming nothing)
      announced_ = true;
      PrepareRequest(input, {});
      body_part_ = BodyPart::kHead;
      return DecodeResult::Message(0, {});
    }
  }
  if (announced_) {
    if (streaming_) return DecodeStreamed(input);
    // Not streamed: the body is held whole, within max_package_size.
    announced_ = false;
    if (head_.has_length && (content_length_ > options_.max_package_size ||
                             head_end_ + content_length_ > options_.max_package_size)) {
      return Fail({413, "body larger than max_package_size"});
    }
  }
  if (phase_ == Phase::kBody) {
    if (input.size() - head_end_ >= content_length_) {
      return Deliver(input, head_end_ + content_length_, input.substr(head_end_, content_length_));
    }
    DecodeResult more = DecodeResult::NeedMore();
    if (expect_continue_ && input.size() == head_end_) more.reply = kContinue;
    expect_continue_ = false;
    return more;
  }
  return DecodeChunked(input);
}

HttpCodec::Span HttpCodec::SpanOf(absl::string_view input, absl::string_view part) {
  if (part.empty()) return Span{};
  return Span{static_cast<uint32_t>(part.data() - input.data()),
              static_cast<uint32_t>(part.size())};
}

std::optional<HttpCodec::HeadError> HttpCodec::ParseRequestLine(absl::string_view input,
                                                                absl::string_view line) {
  // method SP request-target SP HTTP-version
  size_t sp1 = line.find(' ');
  if (sp1 == absl::string_view::npos) return HeadError{400, "malformed request line"};
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos) return HeadError{400, "malformed request line"};
  absl::string_view method = line.substr(0, sp1);
  absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  absl::string_view version = line.substr(sp2 + 1);
  if (!IsHttpToken(method)) return HeadError{400, "bad method"};
  if (target.empty()) return HeadError{400, "empty request target"};
  for (char ch : target) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return HeadError{400, "bad byte in request target"};
  }
  if (target.size() > kMaxTargetSize) return HeadError{414, "request target too long"};
  if (version == "HTTP/1.1") {
    version_minor_ = 1;
  } else if (version == "HTTP/1.0") {
    version_minor_ = 0;
  } else if (version.size() == 8 && absl::StartsWith(version, "HTTP/") &&
             absl::ascii_isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
             absl::ascii_isdigit(static_cast<unsigned char>(version[7]))) {
    return HeadError{505, "unsupported HTTP version"};
  } else {
    return HeadError{400, "malformed HTTP version"};
  }

  // Request target forms (RFC 9112 3.2).
  absl::string_view path, query, host;
  if (target[0] == '/') {
    path = target;
  } else if (target == "*") {
    if (method != "OPTIONS") return HeadError{400, "asterisk-form needs OPTIONS"};
    path = target;
  } else if (absl::StartsWithIgnoreCase(target, "http://") ||
             absl::StartsWithIgnoreCase(target, "https://")) {
    absl::string_view rest = target.substr(target.find("//") + 2);
    size_t end = rest.find_first_of("/?");
    host = rest.substr(0, end);
    if (host.empty()) return HeadError{400, "absolute-form without host"};
    head_.has_authority = true;
    path = end == absl::string_view::npos ? rest.substr(rest.size()) : rest.substr(end);
  } else if (method == "CONNECT") {
    host = target;
    head_.has_authority = true;
  } else {
    return HeadError{400, "bad request target"};
  }
  if (size_t q = path.find('?'); q != absl::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  method_ = SpanOf(input, method);
  target_ = SpanOf(input, target);
  path_ = SpanOf(input, path);
  query_ = SpanOf(input, query);
  host_ = SpanOf(input, host);
  head_request_ = method == "HEAD";
  return std::nullopt;
}

std::optional<HttpCodec::HeadError> HttpCodec::ParseField(absl::string_view input,
                                                          absl::string_view field) {
  if (field[0] == ' ' || field[0] == '\t') return HeadError{400, "obsolete line folding"};
  size_t colon = field.find(':');
  if (colon == absl::string_view::npos) return HeadError{400, "header line without colon"};
  absl::string_view name = field.substr(0, colon);
  absl::string_view value = TrimOws(field.substr(colon + 1));
  if (!IsHttpToken(name)) return HeadError{400, "bad header name"};
  if (!IsHttpFieldValue(value)) return HeadError{400, "bad byte in header value"};
  if (header_spans_.size() >= kMaxHeaders) return HeadError{431, "too many headers"};
  header_spans_.emplace_back(SpanOf(input, name), SpanOf(input, value));

  if (absl::EqualsIgnoreCase(name, "host")) {
    ++head_.hosts;
    if (!IsValidHost(value)) return HeadError{400, "bad Host"};
    if (!head_.has_authority) host_ = SpanOf(input, value);
  } else if (absl::EqualsIgnoreCase(name, "content-length")) {
    // "5" or an identical list "5, 5" (RFC 9110 8.6).
    for (absl::string_view item : absl::StrSplit(value, ',')) {
      item = TrimOws(item);
      uint64_t length;
      if (item.empty() || item.size() > 18 ||
          !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          !absl::SimpleAtoi(item, &length)) {
        return HeadError{400, "bad Content-Length"};
      }
      if (head_.has_length && length != content_length_) {
        return HeadError{400, "conflicting Content-Length"};
      }
      head_.has_length = true;
      content_length_ = length;
    }
  } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
    head_.has_te = true;
    for (absl::string_view coding : absl::StrSplit(value, ',')) {
      coding = TrimOws(coding);
      if (coding.empty()) continue;
      if (head_.chunked) return HeadError{400, "chunked is not the final transfer coding"};
      if (absl::EqualsIgnoreCase(coding, "chunked")) {
        head_.chunked = true;
      } else {
        return HeadError{501, "unsupported transfer coding"};
      }
    }
  } else if (absl::EqualsIgnoreCase(name, "connection")) {
    head_.connection_close |= HttpListHasToken(value, "close");
    head_.connection_keep_alive |= HttpListHasToken(value, "keep-alive");
  } else if (absl::EqualsIgnoreCase(name, "expect")) {
    if (absl::EqualsIgnoreCase(value, "100-continue")) {
      expect_continue_ = version_minor_ == 1;
    } else {
      return HeadError{417, "unsupported expectation"};
    }
  }
  return std::nullopt;
}

std::optional<HttpCodec::HeadError> HttpCodec::FinishHead(absl::string_view input) {
  // Message framing and smuggling shapes (RFC 9112 6.1, 6.3).
  const HeadState& h = head_;
  if (h.has_te && h.has_length) return HeadError{400, "both Transfer-Encoding and Content-Length"};
  if (h.has_te && !h.chunked) return HeadError{400, "Transfer-Encoding without chunked"};
  if (h.has_te && version_minor_ == 0) return HeadError{400, "Transfer-Encoding in HTTP/1.0"};
  if (version_minor_ == 1 && h.hosts == 0) return HeadError{400, "missing Host header"};
  if (h.hosts > 1) return HeadError{400, "more than one Host header"};
  // (With heads announced, checked once the handler did not stream it.)
  if (h.has_length && !announce_heads_ &&
      (content_length_ > options_.max_package_size ||
       head_end_ + content_length_ > options_.max_package_size)) {
    return HeadError{413, "body larger than max_package_size"};
  }
  keep_alive_ =
      version_minor_ == 1 ? !h.connection_close : h.connection_keep_alive && !h.connection_close;
  if (real_ip_ != nullptr) FindClient(input);
  if (h.chunked) {
    phase_ = Phase::kChunked;
    pos_ = head_end_;
    body_.clear();
  } else if (content_length_ > 0) {
    phase_ = Phase::kBody;
  } else {
    expect_continue_ = false;
  }
  return std::nullopt;
}

DecodeResult HttpCodec::DecodeChunked(absl::string_view input) {
  DecodeResult more = DecodeResult::NeedMore();
  if (expect_continue_ && pos_ == head_end_ && input.size() == head_end_) more.reply = kContinue;
  expect_continue_ = false;
  switch (chunked_.Decode(input, pos_, body_)) {
    case ChunkedDecoder::Status::kNeedMore:
      return more;
    case ChunkedDecoder::Status::kDone:
      return Deliver(input, pos_, body_);
    case ChunkedDecoder::Status::kError:
      break;
  }
  return FailChunked();
}

DecodeResult HttpCodec::FailChunked() {
  switch (chunked_.error()) {
    case ChunkedDecoder::Error::kTooLarge:
      return Fail({413, chunked_.reason()});
    case ChunkedDecoder::Error::kTrailersTooLarge:
      return Fail({431, chunked_.reason()});
    default:
      return Fail({400, chunked_.reason()});
  }
}

bool HttpCodec::StreamBody(uint64_t max_body) {
  if (!announced_ || streaming_) return false;
  if (max_body > 0 && head_.has_length && content_length_ > max_body) return false;
  streaming_ = true;
  stream_started_ = false;
  answered_early_ = false;
  uint64_t limit = max_body > 0 ? max_body : UINT64_MAX;
  chunked_ = ChunkedDecoder({.max_body = limit, .max_trailers = http_.max_header_size});
  return true;
}

DecodeResult HttpCodec::DecodeStreamed(absl::string_view input) {
  if (!stream_started_) {  // the head went out with the kHead message
    stream_started_ = true;
    DecodeResult used = DecodeResult::Consumed(head_end_);
    if (expect_continue_ && input.size() == head_end_) used.reply = kContinue;
    expect_continue_ = false;
    pos_ = 0;
    return used;
  }
  auto finish = [this] {
    body_part_ = BodyPart::kLast;
    announced_ = streaming_ = false;
    chunked_ = ChunkedDecoder(
        {.max_body = options_.max_package_size, .max_trailers = http_.max_header_size});
    Reset();
  };
  if (phase_ == Phase::kBody) {
    if (input.empty()) return DecodeResult::NeedMore();
    size_t take = static_cast<size_t>(std::min<uint64_t>(input.size(), content_length_));
    content_length_ -= take;
    body_part_ = BodyPart::kPiece;
    if (content_length_ == 0) finish();
    return DecodeResult::Message(take, input.substr(0, take));
  }
  body_.clear();
  switch (chunked_.Decode(input, pos_, body_)) {
    case ChunkedDecoder::Status::kNeedMore: {
      if (body_.empty()) return DecodeResult::NeedMore();  // pos_ keeps its place
      size_t used = pos_;
      pos_ = 0;
      body_part_ = BodyPart::kPiece;
      return DecodeResult::Message(used, body_);
    }
    case ChunkedDecoder::Status::kDone: {
      size_t used = pos_;
      finish();
      return DecodeResult::Message(used, body_);
    }
    case ChunkedDecoder::Status::kError:
      break;
  }
  return FailChunked();
}

void HttpCodec::PrepareRequest(absl::string_view input, absl::string_view body) {
  auto view = [&](Span s) { return input.substr(s.at, s.size); };
  request_.method = view(method_);
  if (options_.metrics != nullptr) {
    static constexpr absl::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
    method_class_ = ProtocolMetrics::kMethods - 1;
    for (int i = 0; i < ProtocolMetrics::kMethods - 1; ++i) {
      if (request_.method == kMethods[i]) method_class_ = static_cast<uint8_t>(i);
    }
    // From its head (an announced request is prepared twice when held whole).
    if (request_start_ns_ == 0) request_start_ns_ = MonotonicNanos();
  }
  request_.target = view(target_);
  request_.path = view(path_);
  request_.query = view(query_);
  request_.host = view(host_);
  request_.version_minor = version_minor_;
  request_.headers.clear();
  for (const auto& [name, value] : header_spans_) {
    request_.headers.emplace_back(view(name), view(value));
  }
  request_.body = body;
  request_.keep_alive = keep_alive_;
  request_.head = head_request_;
  answering_head_ = head_request_;
  answering_keep_alive_ = keep_alive_;
  answering_minor_ = version_minor_;
  close_after_send_ = !keep_alive_ || draining_;
  extra_headers_.clear();
  compression_ = nullptr;
  coding_ = Coding::kIdentity;
  removed_ = nullptr;
  route_log_ = nullptr;
  if (options_.access_log != nullptr) {
    // The request's part of the log line, copied now: a handler may answer
    // after the request's bytes are gone (asynchronous responses).
    logged_.Capture(request_.method, request_.target, request_.version_minor,
                    request_.Header("Referer"), request_.Header("User-Agent"));
  }
}

DecodeResult HttpCodec::Deliver(absl::string_view input, size_t end, absl::string_view body) {
  PrepareRequest(input, body);
  body_part_ = BodyPart::kWhole;
  Reset();
  return DecodeResult::Message(end, body);
}

void HttpCodec::AppendStatusLine(int status, std::string& out) const {
  char code[4] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10),
                  ' '};
  absl::string_view reason = HttpReason(status);
  absl::string_view date = HttpDate::Now();
  out.append("HTTP/1.1 ");
  out.append(code, 4);
  out.append(reason.data(), reason.size());
  bool server = removed_ == nullptr ||
                std::find(removed_->begin(), removed_->end(), "server") == removed_->end();
  out.append(server ? "\r\nServer: sockman\r\nDate: " : "\r\nDate: ");
  out.append(date.data(), date.size());
  out.append("\r\n");
}

void HttpCodec::AppendHeadEnd(absl::string_view headers, std::string& out) const {
  if (close_after_send_) {
    out.append("Connection: close\r\n");
  } else if (answering_minor_ == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  if (removed_ == nullptr) {
    out.append(headers.data(), headers.size());
  } else {
    // The handler's lines, less those named.
    for (absl::string_view rest = headers; !rest.empty();) {
      size_t end = rest.find("\r\n");
      absl::string_view line =
          rest.substr(0, end == absl::string_view::npos ? rest.size() : end + 2);
      rest.remove_prefix(line.size());
      absl::string_view name = line.substr(0, line.find(':'));
      bool drop = std::any_of(removed_->begin(), removed_->end(), [&](const std::string& n) {
        return absl::EqualsIgnoreCase(n, name);
      });
      if (!drop) out.append(line.data(), line.size());
    }
  }
  if (!extra_headers_.empty()) out.append(extra_headers_);
  out.append("\r\n");
}

namespace {

// The value of header `name` in rendered lines ("Name: value\r\n"...), or "".
absl::string_view RenderedHeader(absl::string_view headers, absl::string_view name) {
  while (!headers.empty()) {
    size_t end = headers.find("\r\n");
    absl::string_view line = headers.substr(0, end);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        absl::EqualsIgnoreCase(line.substr(0, name.size()), name)) {
      return absl::StripAsciiWhitespace(line.substr(name.size() + 1));
    }
    if (end == absl::string_view::npos) break;
    headers.remove_prefix(end + 2);
  }
  return {};
}

// The headers with a strong ETag made weak: a compressed body is another
// representation (as nginx does).
std::string WeakenETag(absl::string_view headers) {
  std::string out(headers);
  for (size_t at = 0; (at = out.find("ETag: \"", at)) != std::string::npos; at += 8) {
    if (at == 0 || out[at - 1] == '\n') out.insert(at + 6, "W/");
  }
  return out;
}

}  // namespace

HttpCodec::CodingPlan HttpCodec::PlanCoding(int status, absl::string_view headers) const {
  CodingPlan plan;
  if (compression_ == nullptr || answering_head_ || status < 200 || status == 204 ||
      status == 206 || status == 304) {
    return plan;
  }
  if (!RenderedHeader(headers, "Content-Encoding").empty()) return plan;
  if (!compression_->Compressible(RenderedHeader(headers, "Content-Type"))) return plan;
  plan.vary = true;
  plan.compress = coding_ != Coding::kIdentity;
  return plan;
}

void HttpCodec::EncodeResponse(int status, absl::string_view headers, absl::string_view body,
                               std::string& out, int64_t content_length) {
  if (compression_ != nullptr) {
    CodingPlan plan = PlanCoding(status, headers);
    if (plan.vary) extra_headers_ += "Vary: Accept-Encoding\r\n";
    if (plan.compress && content_length < 0 && body.size() >= compression_->min_size) {
      std::string compressed;
      std::unique_ptr<Compressor> compressor = Compressor::Create(coding_, *compression_);
      if (compressor != nullptr && compressor->Compress(body, Compressor::kFinish, compressed) &&
          compressed.size() < body.size()) {
        absl::StrAppend(&extra_headers_, "Content-Encoding: ", CodingName(coding_), "\r\n");
        compression_ = nullptr;  // once
        std::string weak = WeakenETag(headers);
        EncodeResponse(status, weak, compressed, out);
        return;
      }
    }
    compression_ = nullptr;
  }
  NoteAnswerBegins();
  out.reserve(out.size() + 128 + headers.size() + body.size());
  AppendStatusLine(status, out);
  bool has_body = status >= 200 && status != 204 && status != 304;
  uint64_t length = content_length >= 0 ? static_cast<uint64_t>(content_length) : body.size();
  if (has_body) {
    absl::StrAppend(&out, "Content-Length: ", length, "\r\n");
  }
  AppendHeadEnd(headers, out);
  if (has_body && !answering_head_) out.append(body.data(), body.size());
  LogExchange(status, has_body && !answering_head_ ? length : 0, !logging_error_);
}

void HttpCodec::NoteAnswerBegins() {
  if (!streaming_) return;
  // Answered before its body is in: the rest is not read as a request.
  answered_early_ = true;
  close_after_send_ = true;
}

void HttpCodec::EncodeStreamHead(int status, absl::string_view headers, std::string& out) {
  streaming_chunked_ = answering_minor_ == 1;
  stream_compressor_.reset();
  std::string weak;
  if (compression_ != nullptr) {
    CodingPlan plan = PlanCoding(status, headers);
    if (plan.vary) extra_headers_ += "Vary: Accept-Encoding\r\n";
    if (plan.compress) stream_compressor_ = Compressor::Create(coding_, *compression_);
    if (stream_compressor_ != nullptr) {
      absl::StrAppend(&extra_headers_, "Content-Encoding: ", CodingName(coding_), "\r\n");
      weak = WeakenETag(headers);
      headers = weak;
    }
    compression_ = nullptr;
  }
  if (!streaming_chunked_) close_after_send_ = true;  // HTTP/1.0: the close ends the body
  NoteAnswerBegins();
  AppendStatusLine(status, out);
  if (streaming_chunked_) out += "Transfer-Encoding: chunked\r\n";
  AppendHeadEnd(headers, out);
  LogExchange(status, 0, true);
}

void HttpCodec::EncodeChunk(absl::string_view data, std::string& out) {
  if (answering_head_ || data.empty()) return;  // an empty chunk would end the body
  std::string compressed;
  if (stream_compressor_ != nullptr) {
    // Flushed per piece: a streamed event reaches the client at once.
    if (!stream_compressor_->Compress(data, Compressor::kFlush, compressed)) return;
    data = compressed;
    if (data.empty()) return;
  }
  if (!streaming_chunked_) {
    out.append(data.data(), data.size());
    return;
  }
  AppendChunk(data, out);
}

void HttpCodec::EncodeStreamEnd(std::string& out) {
  if (stream_compressor_ != nullptr && !answering_head_) {
    std::string tail;
    if (stream_compressor_->Compress("", Compressor::kFinish, tail) && !tail.empty()) {
      if (streaming_chunked_) {
        AppendChunk(tail, out);
      } else {
        out += tail;
      }
    }
  }
  stream_compressor_.reset();  // the state lives for one response
  if (streaming_chunked_ && !answering_head_) AppendLastChunk(out);
}

void HttpCodec::Encode(absl::string_view message, MessageKind, std::string& out) {
  EncodeResponse(200, "Content-Type: text/html;charset=utf-8\r\n", message, out);
}

void HttpCodec::EncodeError(const DecodeResult& error, std::string& out) {
  close_after_send_ = true;
  if (streaming_ && answered_early_) return;  // a response is under way: just close
  extra_headers_.clear();                     // not the bad request's: it has no route
  removed_ = nullptr;
  route_log_ = nullptr;
  answering_head_ = false;
  answering_minor_ = 1;
  uint16_t status = error.code;
  if (status == 0) {
    switch (error.error) {
      case ProtocolError::kTooLarge:
        status = 413;
        break;
      case ProtocolError::kTimeout:
        // Nothing of a request arrived: close quietly, as nginx does.
        if (phase_ == Phase::kHead && scanned_ == 0) return;
        status = 408;
        break;
      default:
        status = 400;
    }
  }
  std::string body = absl::StrCat("<html><head><title>", status, " ", HttpReason(status),
                                  "</title></head><body><h1>", status, " ", HttpReason(status),
                                  "</h1></body></html>\n");
  logging_error_ = true;
  EncodeResponse(status, "Content-Type: text/html\r\n", body, out);
  logging_error_ = false;
}

}  // namespace sockman
