// TLS for stream connections, with BoringSSL: a TlsContext holds a
// service's certificates and settings, is built in the master before fork
// (so a bad key is a config error, and every worker shares its session-ticket
// keys), and makes one SSL per accepted socket for TcpConnection.
//
// Policy: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with
// AEAD ciphers (AES-GCM, ChaCha20-Poly1305); ALPN answers with the first of
// the service's protocols the client offers (http/1.1 for http and
// websocket); certificates chosen by SNI, the first one the default;
// stateless session resumption with tickets keyed per master start.
#ifndef SOCKMAN_ENGINE_TLS_H_
#define SOCKMAN_ENGINE_TLS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "openssl/ssl.h"

namespace sockman {

struct TlsCertificate {
  std::string server_name;  // "" for the default; "*.example.com" matches one label
  std::string cert_file;    // PEM, leaf first, then intermediates
  std::string key_file;     // PEM
};

struct TlsOptions {
  std::vector<TlsCertificate> certificates;  // the first is the default
  std::vector<std::string> alpn;             // offered protocols, e.g. {"http/1.1"}
  // Client certificates (mTLS): a PEM bundle of the authorities that sign
  // them ("" for none), and whether a client must present one. A
  // certificate presented is always verified (a bad one fails the handshake).
  std::string client_ca_file;
  bool require_client_certificate = true;
};

// A verified client certificate, as handlers and logs show it.
struct ClientCertificate {
  std::string subject;      // RFC 2253: "CN=alice,O=Example"
  std::string fingerprint;  // SHA-256 of the DER, lower-case hex
};
// The peer's certificate on an established server-side SSL, if it sent one.
bool PeerCertificate(const ::SSL* ssl, ClientCertificate& out);

// Note: BoringSSL's types are spelled ::SSL here, since sockman::SSL is the
// config's Transport value.
class TlsContext {
 public:
  // Loads and checks every certificate and key (a key that does not match its
  // certificate is an error naming the files).
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server-side SSL for a connected socket, in accept state; nullptr if
  // BoringSSL cannot allocate one.
  bssl::UniquePtr<::SSL> NewSsl(int fd) const;

  // The context serving `server_name` (SNI), or the default one.
  ::SSL_CTX* ForServerName(const char* server_name) const;

 private:
  TlsContext() = default;
  struct Entry {
    std::string server_name;
    bssl::UniquePtr<::SSL_CTX> ctx;
  };
  std::vector<Entry> entries_;  // entries_[0] is the default
  std::string alpn_wire_;       // length-prefixed protocol names
};

// TLS for outbound connections (https:// webhooks): TLS 1.2 and 1.3, the
// peer's certificate verified against a CA bundle and the host dialled (a
// name, or an IP address in the certificate); SNI sent for names. Built in
// the master like TlsContext, so a missing bundle is a config error.
class TlsClientContext {
 public:
  // The system bundle when it exists (Debian's ca-certificates).
  static constexpr char kSystemCaFile[] = "/etc/ssl/certs/ca-certificates.crt";

  // `ca_file`: a PEM bundle of trusted certificates; "" for kSystemCaFile.
  // `alpn`: protocols offered, e.g. {"http/1.1"}.
  static absl::StatusOr<std::shared_ptr<TlsClientContext>> Create(
      const std::string& ca_file, const std::vector<std::string>& alpn);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  // A client-side SSL for a connected socket, in connect state, checking
  // the certificate against `host` (a name, or an IP address without
  // brackets); nullptr if BoringSSL cannot make one.
  bssl::UniquePtr<::SSL> NewSsl(int fd, const std::string& host) const;

 private:
  TlsClientContext() = default;
  bssl::UniquePtr<::SSL_CTX> ctx_;
};

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_TLS_H_
