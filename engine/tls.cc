#include "engine/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "openssl/err.h"
#include "openssl/rand.h"
#include "openssl/x509v3.h"

namespace sockman {
namespace {

// TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3's are all strong.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// BoringSSL's queued errors, oldest first, as one line.
std::string SslErrors() {
  std::string out;
  while (uint32_t e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? "unknown error" : out;
}

absl::Status Readable(const std::string& path, const char* field) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cannot read ", path, ": ", strerror(errno)));
  }
  ::close(fd);
  return absl::OkStatus();
}

// Session-ticket keys: one set per master process, made before the first
// fork, so every worker (and every reloaded one) resumes the others' sessions.
const uint8_t* TicketKeys() {
  static uint8_t* keys = [] {
    auto* k = new uint8_t[48];
    RAND_bytes(k, 48);
    return k;
  }();
  return keys;
}

// Protocol names as ALPN puts them on the wire: each after its length byte.
std::string AlpnWire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& protocol : protocols) {
    wire.push_back(static_cast<char>(protocol.size()));
    wire += protocol;
  }
  return wire;
}

int SelectServerName(SSL* ssl, int* alert, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name != nullptr) SSL_set_SSL_CTX(ssl, static_cast<TlsContext*>(arg)->ForServerName(name));
  return SSL_TLSEXT_ERR_OK;
}

int SelectAlpn(SSL* ssl, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len,
               void* arg) {
  const auto* ours = static_cast<const std::string*>(arg);
  uint8_t* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, reinterpret_cast<const uint8_t*>(ours->data()),
                            static_cast<unsigned>(ours->size()), in,
                            in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: carry on without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsOptions& options) {
  if (options.certificates.empty()) {
    return absl::InvalidArgumentError("needs a certificate (cert_file and key_file)");
  }
  std::shared_ptr<TlsContext> context(new TlsContext());
  context->alpn_wire_ = AlpnWire(options.alpn);
  for (const TlsCertificate& certificate : options.certificates) {
    ERR_clear_error();
    bssl::UniquePtr<::SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
    if (ctx == nullptr) return absl::InternalError(SslErrors());
    SSL_CTX* c = ctx.get();
    if (absl::Status s = Readable(certificate.cert_file, "cert_file"); !s.ok()) return s;
    if (absl::Status s = Readable(certificate.key_file, "key_file"); !s.ok()) return s;
    if (!SSL_CTX_use_certificate_chain_file(c, certificate.cert_file.c_str())) {
      return absl::InvalidArgumentError(absl::StrCat("cert_file: ", certificate.cert_file,
                                                     " is not a PEM certificate chain (",
                                                     SslErrors(), ")"));
    }
    if (!SSL_CTX_use_PrivateKey_file(c, certificate.key_file.c_str(), SSL_FILETYPE_PEM)) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return absl::InvalidArgumentError(absl::StrCat("key_file: ", certificate.key_file,
                                                       " does not match the certificate in ",
                                                       certificate.cert_file));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "key_file: ", certificate.key_file, " is not a PEM private key (", SslErrors(), ")"));
    }
    if (!SSL_CTX_check_private_key(c)) {
      return absl::InvalidArgumentError(absl::StrCat("key_file: ", certificate.key_file,
                                                     " does not match the certificate in ",
                                                     certificate.cert_file));
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    if (!SSL_CTX_set_strict_cipher_list(c, kTls12Ciphers)) {
      return absl::InternalError(absl::StrCat("cipher list: ", SslErrors()));
    }
    SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Stateless resumption only: tickets work across workers, a cache would not.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_tlsext_ticket_keys(c, TicketKeys(), 48);
    SSL_CTX_set_tlsext_servername_callback(c, SelectServerName);
    SSL_CTX_set_tlsext_servername_arg(c, context.get());
    if (!context->alpn_wire_.empty()) {
      SSL_CTX_set_alpn_select_cb(c, SelectAlpn, &context->alpn_wire_);
    }
    if (!options.client_ca_file.empty()) {
      const std::string& ca = options.client_ca_file;
      if (absl::Status s = Readable(ca, "client_ca_file"); !s.ok()) return s;
      bssl::UniquePtr<STACK_OF(X509_NAME)> names(SSL_load_client_CA_file(ca.c_str()));
      if (names == nullptr || !SSL_CTX_load_verify_locations(c, ca.c_str(), nullptr)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "client_ca_file: ", ca, " is not a PEM bundle of certificates (", SslErrors(), ")"));
      }
      // The authorities named in the CertificateRequest, for clients that pick.
      SSL_CTX_set_client_CA_list(c, names.release());
      SSL_CTX_set_verify(
          c,
          SSL_VERIFY_PEER |
              (options.require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
          nullptr);
      // Resumed sessions keep the verified certificate; a context id scopes them.
      static constexpr unsigned char kContext[] = "sockman-mtls";
      SSL_CTX_set_session_id_context(c, kContext, sizeof(kContext) - 1);
    }
    context->entries_.push_back({absl::AsciiStrToLower(certificate.server_name), std::move(ctx)});
  }
  return context;
}

bool PeerCertificate(const ::SSL* ssl, ClientCertificate& out) {
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl));
  if (cert == nullptr) return false;
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253);
  const uint8_t* data = nullptr;
  size_t size = 0;
  BIO_mem_contents(bio.get(), &data, &size);
  out.subject.assign(reinterpret_cast<const char*>(data), size);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_size = 0;
  X509_digest(cert.get(), EVP_sha256(), digest, &digest_size);
  out.fingerprint =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), digest_size));
  return true;
}

TlsContext::~TlsContext() = default;

::SSL_CTX* TlsContext::ForServerName(const char* server_name) const {
  std::string name = absl::AsciiStrToLower(server_name);
  for (const Entry& entry : entries_) {
    if (!entry.server_name.empty() && entry.server_name == name) return entry.ctx.get();
  }
  // "*.example.com" covers exactly one more label: "a.example.com".
  size_t dot = name.find('.');
  if (dot != std::string::npos) {
    std::string wildcard = absl::StrCat("*", name.substr(dot));
    for (const Entry& entry : entries_) {
      if (entry.server_name == wildcard) return entry.ctx.get();
    }
  }
  return entries_[0].ctx.get();
}

bssl::UniquePtr<::SSL> TlsContext::NewSsl(int fd) const {
  bssl::UniquePtr<::SSL> ssl(SSL_new(entries_[0].ctx.get()));
  if (ssl == nullptr || !SSL_set_fd(ssl.get(), fd)) return nullptr;
  SSL_set_accept_state(ssl.get());
  return ssl;
}

absl::StatusOr<std::shared_ptr<TlsClientContext>> TlsClientContext::Create(
    const std::string& ca_file, const std::vector<std::string>& alpn) {
  std::string bundle = ca_file.empty() ? kSystemCaFile : ca_file;
  if (absl::Status s = Readable(bundle, "ca_file"); !s.ok()) {
    if (!ca_file.empty()) return s;
    return absl::InvalidArgumentError(
        absl::StrCat("no CA bundle at ", kSystemCaFile,
                     " to verify TLS backends: install ca-certificates "
                     "or set ca_file"));
  }
  std::shared_ptr<TlsClientContext> context(new TlsClientContext());
  ERR_clear_error();
  context->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* c = context->ctx_.get();
  if (c == nullptr) return absl::InternalError(SslErrors());
  if (!SSL_CTX_load_verify_locations(c, bundle.c_str(), nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ca_file: ", bundle, " has no PEM certificates (", SslErrors(), ")"));
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  if (!SSL_CTX_set_strict_cipher_list(c, kTls12Ciphers)) {
    return absl::InternalError(absl::StrCat("cipher list: ", SslErrors()));
  }
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  std::string wire = AlpnWire(alpn);
  if (!wire.empty() &&
      SSL_CTX_set_alpn_protos(c, reinterpret_cast<const uint8_t*>(wire.data()), wire.size()) != 0) {
    return absl::InternalError(absl::StrCat("ALPN: ", SslErrors()));
  }
  return context;
}

TlsClientContext::~TlsClientContext() = default;

bssl::UniquePtr<::SSL> TlsClientContext::NewSsl(int fd, const std::string& host) const {
  bssl::UniquePtr<::SSL> ssl(SSL_new(ctx_.get()));
  if (ssl == nullptr || !SSL_set_fd(ssl.get(), fd)) return nullptr;
  SSL_set_connect_state(ssl.get());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  in6_addr ip6;
  in_addr ip4;
  bool ip =
      inet_pton(AF_INET, host.c_str(), &ip4) == 1 || inet_pton(AF_INET6, host.c_str(), &ip6) == 1;
  if (ip) {
    if (!X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())) return nullptr;
  } else {
    if (!X509_VERIFY_PARAM_set1_host(param, host.data(), host.size())) return nullptr;
    if (!SSL_set_tlsext_host_name(ssl.get(), host.c_str())) return nullptr;
  }
  return ssl;
}

}  // namespace sockman
