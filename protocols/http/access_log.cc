#include "protocols/http/access_log.h"

#include "absl/strings/numbers.h"

namespace sockman {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// `s`, or "-" when empty, with the bytes nginx escapes as \xHH.
void AppendEscaped(std::string& out, absl::string_view s) {
  if (s.empty()) {
    out += '-';
    return;
  }
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char escaped[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
      out.append(escaped, 4);
    } else {
      out.push_back(ch);
    }
  }
}

void AppendNumber(std::string& out, uint64_t n) {
  char digits[absl::numbers_internal::kFastToBufferSize];
  char* end = absl::numbers_internal::FastIntToBuffer(n, digits);
  out.append(digits, static_cast<size_t>(end - digits));
}

void Assign(std::string& to, absl::string_view from) { to.assign(from.data(), from.size()); }

}  // namespace

void AccessLogRequest::Capture(absl::string_view method, absl::string_view target,
                               int version_minor, absl::string_view referer,
                               absl::string_view user_agent) {
  Assign(method_, method);
  Assign(target_, target);
  version_minor_ = version_minor;
  Assign(referer_, referer);
  Assign(user_agent_, user_agent);
}

void AppendAccessLog(LogAppender& log, absl::string_view peer_host, absl::string_view log_time,
                     const AccessLogRequest* request, int status, uint64_t body_bytes) {
  std::string& out = log.buffer();
  out.append(peer_host.data(), peer_host.size());
  out += " - - [";
  out.append(log_time.data(), log_time.size());
  out += "] \"";
  if (request != nullptr) {
    AppendEscaped(out, request->method_);
    out += ' ';
    AppendEscaped(out, request->target_);
    out += " HTTP/1.";
    AppendNumber(out, static_cast<uint64_t>(request->version_minor_));
  } else {
    out += '-';
  }
  out += "\" ";
  AppendNumber(out, static_cast<uint64_t>(status));
  out += ' ';
  AppendNumber(out, body_bytes);
  out += " \"";
  if (request != nullptr) AppendEscaped(out, request->referer_);
  out += "\" \"";
  if (request != nullptr) AppendEscaped(out, request->user_agent_);
  out += "\"\n";
  log.Appended();
}

}  // namespace sockman
