// TLS contexts: the protocol policy every parley TLS connection shares, certificates and keys from
// files or generated at startup, trust stores, pins and ALPN.

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "parley/errors.hpp"
#include "tls_internal.hpp"

namespace parley::tls {
namespace {

// AEAD suites only. AES-128-GCM first: with AES-NI it is the fastest, and 128-bit keys are
// plenty. TLS 1.2 keeps forward secrecy (ECDHE) and drops CBC, RSA key exchange and DHE.
constexpr const char* kSuites13 =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";
// Read-ahead buffer: one read(2) takes several records; bigger costs memory per connection.
constexpr long kReadBuffer = 64 << 10;

std::error_code config_error(std::string message) {
  return make_error(Errc::config, std::move(message));
}

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  const char* text = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return text != nullptr ? text : "unknown reason";
}

// A file that cannot be opened gets the system's words ("No such file or directory").
std::error_code unreadable(const std::string& what, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0)
    return config_error(fmt::format("TLS: cannot read {} {}: {}", what, path,
                                    describe({errno, std::system_category()})));
  return {};
}

// Encrypted keys are refused rather than prompting on the terminal (a library never asks).
int no_password(char*, int, int, void*) {
  return -1;
}

SSL_CTX* new_context(bool server) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_ciphersuites(ctx, kSuites13);
  SSL_CTX_set_cipher_list(ctx, kCiphers12);
  SSL_CTX_set1_groups_list(ctx, kGroups);
  // A bare EOF reads as the end of the stream (most servers close without close_notify); the
  // message callback still tells a clean close from a bare one.
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, kReadBuffer);
  SSL_CTX_set_msg_callback(ctx, message_callback);
  SSL_CTX_set_default_passwd_cb(ctx, no_password);
  return ctx;
}

std::error_code load_pair(SSL_CTX* ctx, const std::string& cert, const std::string& key_in) {
  const std::string& key = key_in.empty() ? cert : key_in;
  if (auto ec = unreadable("certificate", cert)) return ec;
  if (auto ec = unreadable("key", key)) return ec;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    return config_error(
        fmt::format("TLS: {} holds no usable PEM certificate ({})", cert, openssl_reason()));
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return config_error(
        fmt::format("TLS: {} holds no usable PEM private key (encrypted keys are "
                    "not supported) ({})",
                    key, openssl_reason()));
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return config_error(
        fmt::format("TLS: the key in {} does not belong to the certificate in {}", key, cert));
  }
  return {};
}

std::error_code load_ca(SSL_CTX* ctx, const std::string& path, bool client_names) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return config_error(
        fmt::format("TLS: cannot read CA {}: {}", path, describe({errno, std::system_category()})));
  if (S_ISDIR(st.st_mode)) {
    if (SSL_CTX_load_verify_dir(ctx, path.c_str()) != 1)
      return config_error(
          fmt::format("TLS: cannot use the CA directory {} ({})", path, openssl_reason()));
    return {};
  }
  if (auto ec = unreadable("CA", path)) return ec;
  if (SSL_CTX_load_verify_file(ctx, path.c_str()) != 1)
    return config_error(
        fmt::format("TLS: {} holds no PEM CA certificate ({})", path, openssl_reason()));
  if (client_names) {
    // Tells clients which CAs the server accepts, so they can pick a matching certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(path.c_str()))
      SSL_CTX_set_client_CA_list(ctx, names);
    ERR_clear_error();
  }
  return {};
}

// ALPN's wire format: each protocol preceded by its length.
Result<std::vector<unsigned char>> alpn_wire(const std::vector<std::string>& protocols) {
  std::vector<unsigned char> wire;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255)
      return config_error(fmt::format("TLS: bad ALPN protocol name '{}' (1 to 255 bytes)", p));
    wire.push_back(static_cast<unsigned char>(p.size()));
    wire.insert(wire.end(), p.begin(), p.end());
  }
  return wire;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* ours = static_cast<const std::vector<unsigned char>*>(arg);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours->data(), static_cast<unsigned>(ours->size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301: no_application_protocol.
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool is_dns_name(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  return true;
}

bool add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// The SANs of a generated certificate: what clients on this machine and the LAN call it.
std::string generated_sans(const std::vector<std::string>& extra) {
  std::vector<std::string> names = {"DNS:localhost", "IP:127.0.0.1", "IP:::1"};
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0 && is_dns_name(host) &&
      std::strcmp(host, "localhost") != 0)
    names.push_back(std::string("DNS:") + host);
  for (const auto& n : extra) {
    if (is_ip(n))
      names.push_back("IP:" + n);
    else if (is_dns_name(n))
      names.push_back("DNS:" + n);
  }
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

// An ephemeral ECDSA P-256 key and a self-signed certificate for it (CN=parley), valid from an
// hour ago (clock skew) for a year.
std::error_code generate(SSL_CTX* ctx, const std::vector<std::string>& names) {
  // (EVP_EC_gen is a variadic call, which the lazy loader cannot forward: openssl_lazy.cpp.)
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_CTX* kctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) {
    if (EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_CTX_set_group_name(kctx, "P-256") != 1 ||
        EVP_PKEY_generate(kctx, &key) != 1)
      key = nullptr;
    EVP_PKEY_CTX_free(kctx);
  }
  X509* cert = X509_new();
  bool ok = key != nullptr && cert != nullptr && X509_set_version(cert, X509_VERSION_3) == 1;
  unsigned char serial[16];
  if (ok && RAND_bytes(serial, sizeof(serial)) == 1) {
    serial[0] &= 0x7f;  // Positive.
    BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
    ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
    BN_free(bn);
  } else {
    ok = false;
  }
  if (ok) {
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
    X509_NAME* subject = X509_get_subject_name(cert);
    ok = X509_set_pubkey(cert, key) == 1 &&
         X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>("parley"), -1, -1,
                                    0) == 1 &&
         X509_set_issuer_name(cert, subject) == 1 &&
         add_extension(cert, NID_subject_alt_name, generated_sans(names)) &&
         add_extension(cert, NID_basic_constraints, "critical,CA:FALSE") &&
         add_extension(cert, NID_key_usage, "critical,digitalSignature") &&
         add_extension(cert, NID_ext_key_usage, "serverAuth") &&
         add_extension(cert, NID_subject_key_identifier, "hash") &&
         X509_sign(cert, key, EVP_sha256()) > 0 && SSL_CTX_use_certificate(ctx, cert) == 1 &&
         SSL_CTX_use_PrivateKey(ctx, key) == 1;
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok)
    return config_error(fmt::format("TLS: cannot generate a certificate ({})", openssl_reason()));
  return {};
}

}  // namespace

Context::~Context() = default;

Result<std::shared_ptr<Context>> Context::client(const ClientConfig& config) {
  if (std::string why; detail::openssl_loaded(&why)) return config_error("TLS: " + why);
  std::shared_ptr<Context> c(new Context());
  c->impl_ = std::make_unique<Impl>();
  Impl& impl = *c->impl_;
  impl.ctx = new_context(false);
  if (impl.ctx == nullptr) return config_error("TLS: cannot initialise OpenSSL");
  impl.servername = config.servername;
  impl.insecure = config.insecure;
  if (!config.pin.empty()) {
    auto pin = parse_pin(config.pin);
    if (!pin) return pin.error();
    impl.pin = std::move(*pin);
  }
  if (config.insecure) {
    SSL_CTX_set_verify(impl.ctx, SSL_VERIFY_NONE, nullptr);
  } else if (!impl.pin.empty()) {
    SSL_CTX_set_verify(impl.ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_cert_verify_callback(impl.ctx, pin_callback, &impl.pin);
  } else {
    impl.verify_peer = true;
    SSL_CTX_set_verify(impl.ctx, SSL_VERIFY_PEER, verify_callback);
    if (!config.ca.empty()) {
      if (auto ec = load_ca(impl.ctx, config.ca, false)) return ec;
    } else if (SSL_CTX_set_default_verify_paths(impl.ctx) != 1) {
      return config_error(
          fmt::format("TLS: cannot load the system trust store ({})", openssl_reason()));
    }
  }
  if (!config.cert.empty()) {
    if (auto ec = load_pair(impl.ctx, config.cert, config.key)) return ec;
    impl.has_cert = true;
  }
  if (!config.alpn.empty()) {
    auto wire = alpn_wire(config.alpn);
    if (!wire) return wire.error();
    SSL_CTX_set_alpn_protos(impl.ctx, wire->data(), static_cast<unsigned>(wire->size()));
  }
  return c;
}

Result<std::shared_ptr<Context>> Context::server(const ServerConfig& config) {
  if (std::string why; detail::openssl_loaded(&why)) return config_error("TLS: " + why);
  std::shared_ptr<Context> c(new Context());
  c->server_ = true;
  c->impl_ = std::make_unique<Impl>();
  Impl& impl = *c->impl_;
  impl.ctx = new_context(true);
  if (impl.ctx == nullptr) return config_error("TLS: cannot initialise OpenSSL");
  // No resumption: every handshake is a full one, and no ticket is sent after it.
  SSL_CTX_set_session_cache_mode(impl.ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(impl.ctx, 0);
  if (config.release_buffers) SSL_CTX_set_mode(impl.ctx, SSL_MODE_RELEASE_BUFFERS);
  if (config.cert.empty() && !config.key.empty())
    return config_error("TLS: a key was given without its certificate");
  if (config.cert.empty()) {
    if (auto ec = generate(impl.ctx, config.names)) return ec;
    c->generated_ = true;
  } else if (auto ec = load_pair(impl.ctx, config.cert, config.key)) {
    return ec;
  }
  impl.has_cert = true;
  c->fingerprint_ = fingerprint_of(SSL_CTX_get0_certificate(impl.ctx));
  if (config.verify_client) {
    if (config.client_ca.empty())
      return config_error("TLS: verifying clients needs the CA that issues their certificates");
    if (auto ec = load_ca(impl.ctx, config.client_ca, true)) return ec;
    impl.verify_peer = true;
    SSL_CTX_set_verify(impl.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       verify_callback);
  }
  if (!config.alpn.empty()) {
    auto wire = alpn_wire(config.alpn);
    if (!wire) return wire.error();
    impl.alpn = std::move(*wire);
    SSL_CTX_set_alpn_select_cb(impl.ctx, select_alpn, &impl.alpn);
  }
  return c;
}

Result<std::vector<unsigned char>> parse_pin(std::string_view text) {
  auto bad = [&] {
    return config_error(
        fmt::format("TLS: a pin is sha256: and 64 hex digits (colons allowed, as 'connect "
                    "--tls -v' prints it), not '{}'",
                    text));
  };
  constexpr std::string_view prefix = "sha256:";
  if (text.size() < prefix.size()) return bad();
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return bad();
  std::vector<unsigned char> out;
  int high = -1;
  for (char ch : text.substr(prefix.size())) {
    if (ch == ':' && high < 0) continue;
    int v = std::isdigit(static_cast<unsigned char>(ch))         ? ch - '0'
            : std::isxdigit(static_cast<unsigned char>(ch)) != 0 ? std::tolower(ch) - 'a' + 10
                                                                 : -1;
    if (v < 0) return bad();
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<unsigned char>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0 || out.size() != 32) return bad();
  return out;
}

bool ktls_available() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_available_ulp");
  std::string word;
  while (f >> word)
    if (word == "tls") return true;
  return false;
}

}  // namespace parley::tls
