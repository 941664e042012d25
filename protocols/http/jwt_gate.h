// Authentication at connect with a JSON Web Token (engine/jwt.h): finds the
// token in a request, verifies it, and says whether the client may go on
// and who it is. Used by WebSocket services (before the 101) and by routes
// (before their handler sees the request).
//
// Where the token is, in this order: `Authorization: Bearer TOKEN`, then
// the cookie, the query parameter and the Sec-WebSocket-Protocol entry
// after the marker (browsers cannot set headers on a WebSocket:
// `new WebSocket(url, ["access_token", token])`), each only if configured.
#ifndef SOCKMAN_PROTOCOLS_HTTP_JWT_GATE_H_
#define SOCKMAN_PROTOCOLS_HTTP_JWT_GATE_H_

#include <memory>
#include <string>

#include "engine/jwt.h"
#include "protocols/http/http_codec.h"
#include "protocols/protocol.h"

namespace sockman {

struct JwtGateOptions {
  std::string cookie;            // a cookie holding the token ("" none)
  std::string query_parameter;   // a query parameter holding it ("" none)
  std::string subprotocol;       // the Sec-WebSocket-Protocol marker before it ("" none)
  bool restrict_groups = false;  // the groups claim limits joins (else places)
};

class JwtGate {
 public:
  JwtGate(std::unique_ptr<JwtVerifier> verifier, JwtGateOptions options)
      : verifier_(std::move(verifier)), options_(std::move(options)) {}

  struct Verdict {
    int status = 0;                            // 0: admitted; else 401
    std::string headers;                       // for a refusal: "WWW-Authenticate: ...\r\n"
    std::string reason;                        // for a refusal and the log: "token expired", ...
    std::unique_ptr<ClientIdentity> identity;  // when admitted
  };
  // Checks `request` at `now` (unix seconds).
  Verdict Admit(const HttpRequest& request, int64_t now) const;

  const JwtGateOptions& options() const { return options_; }

 private:
  std::unique_ptr<JwtVerifier> verifier_;
  JwtGateOptions options_;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_HTTP_JWT_GATE_H_
