// TLS errors: the category whose messages are the lines users see, and the classification of a
// failed OpenSSL call into one of them, worded from what the session's callbacks recorded.

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "tls_internal.hpp"

namespace parley::tls {
namespace {

// A code's value is kind | (index of its message + 1) << 8. Messages are interned, so equal
// failures share one entry; past kMaxMessages new codes get their kind's generic message, which
// bounds the memory a server facing endless distinct failures can spend on them.
constexpr std::size_t kMaxMessages = 4096;

class Messages {
 public:
  int intern(std::string text) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(text);
    if (it != index_.end()) return it->second;
    if (list_.size() >= kMaxMessages) return 0;
    list_.push_back(text);
    int id = static_cast<int>(list_.size());
    index_.emplace(std::move(text), id);
    return id;
  }
  std::string get(int id) {
    std::lock_guard lock(mutex_);
    return id > 0 && static_cast<std::size_t>(id) <= list_.size() ? list_[id - 1] : std::string();
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> list_;
  std::unordered_map<std::string, int> index_;
};

Messages& messages() {
  static Messages m;
  return m;
}

const char* generic(Errc kind) {
  switch (kind) {
    case Errc::handshake_failed:
      return "TLS: handshake failed";
    case Errc::unknown_issuer:
      return "TLS: unknown issuer: the certificate is not trusted";
    case Errc::expired:
      return "TLS: certificate expired";
    case Errc::not_yet_valid:
      return "TLS: certificate not yet valid";
    case Errc::name_mismatch:
      return "TLS: name mismatch: the certificate is for another name";
    case Errc::pin_mismatch:
      return "TLS: pin mismatch: the certificate is not the pinned one";
    case Errc::bad_certificate:
      return "TLS: bad certificate";
    case Errc::protocol_version:
      return "TLS: protocol version: no TLS version in common (parley speaks TLS 1.2 and 1.3)";
    case Errc::client_cert_required:
      return "TLS: a client certificate is required";
    case Errc::certificate_rejected:
      return "TLS: the peer rejected our certificate";
    case Errc::no_alpn:
      return "TLS: no application protocol (ALPN) in common";
    case Errc::not_tls:
      return "TLS: the peer does not speak TLS";
    case Errc::closed_in_handshake:
      return "TLS: the peer closed the connection during the handshake";
    case Errc::handshake_timeout:
      return "TLS: handshake timed out";
    case Errc::protocol_error:
      return "TLS: protocol error";
    case Errc::config:
      return "TLS: bad configuration";
  }
  return "TLS: error";
}

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    std::string text = messages().get(value >> 8);
    return text.empty() ? generic(static_cast<Errc>(value & 0xff)) : text;
  }
  bool equivalent(int code, const std::error_condition& condition) const noexcept override {
    return condition.category() == *this && (code & 0xff) == condition.value();
  }
};

// Bytes as a message shows them: printable ASCII as is, the rest as \xNN.
std::string printable(const unsigned char* p, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
      out += static_cast<char>(p[i]);
    else
      out += fmt::format("\\x{:02x}", p[i]);
  }
  return out;
}

bool looks_like_tls(const Session::State& st) {
  // A record header: content type 20..24, then major version 3.
  return st.first_len >= 2 && st.first_bytes[0] >= 20 && st.first_bytes[0] <= 24 &&
         st.first_bytes[1] == 3;
}

std::string joined_names(const std::vector<std::string>& names) {
  if (names.empty()) return "no name at all";
  constexpr std::size_t kShown = 8;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > kShown) out += fmt::format(" and {} more", names.size() - kShown);
  return out;
}

// The words for the peer and for the certificate that failed verification.
struct Words {
  const char* peer;  // "the server"
  std::string cert;  // "the certificate", "the client's certificate", "the issuer's certificate"
};

Words words_for(const Session::State& st) {
  Words w{st.server ? "the client" : "the server", "the certificate"};
  if (st.verify_depth > 0)
    w.cert = "the issuer's certificate";
  else if (st.server)
    w.cert = "the client's certificate";
  return w;
}

std::error_code verification_failure(const Session::State& st) {
  const Words w = words_for(st);
  const std::string& who = st.subject.empty() ? std::string("(no subject)") : st.subject;
  switch (st.verify_error) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return make_error(Errc::unknown_issuer,
                        fmt::format("TLS: unknown issuer: {} ({}) is self-signed; its "
                                    "fingerprint is {}",
                                    w.cert, who, st.fingerprint));
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return make_error(
          Errc::unknown_issuer,
          fmt::format("TLS: unknown issuer: the chain ends at {}, which is not trusted", who));
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return make_error(Errc::unknown_issuer,
                        fmt::format("TLS: unknown issuer: {} ({}) is issued by {}, which is not "
                                    "trusted",
                                    w.cert, who, st.issuer));
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return make_error(Errc::expired,
                        fmt::format("TLS: {} expired on {} ({})", w.cert, st.not_after, who));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return make_error(Errc::not_yet_valid, fmt::format("TLS: {} is not valid until {} ({})",
                                                         w.cert, st.not_before, who));
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return make_error(Errc::name_mismatch,
                        fmt::format("TLS: name mismatch: the certificate is for {}, not for {}",
                                    joined_names(st.cert_names), st.name));
    default:
      return make_error(Errc::bad_certificate,
                        fmt::format("TLS: bad certificate: {} ({})",
                                    X509_verify_cert_error_string(st.verify_error), who));
  }
}

// An alert the peer sent (OpenSSL reports it as reason SSL_AD_REASON_OFFSET + description).
std::error_code alert_failure(SSL* ssl, const Session::State& st, int alert, bool in_handshake) {
  const char* peer = st.server ? "the client" : "the server";
  const std::string name = SSL_alert_desc_string_long(alert);
  switch (alert) {
    case SSL_AD_CERTIFICATE_REQUIRED:
      return make_error(Errc::client_cert_required,
                        "TLS: the server requires a client certificate");
    case SSL_AD_HANDSHAKE_FAILURE:
      if (!st.server && st.cert_requested && SSL_get_certificate(ssl) == nullptr)
        return make_error(Errc::client_cert_required,
                          "TLS: the server requires a client certificate");
      break;
    case SSL_AD_PROTOCOL_VERSION:
      return make_error(Errc::protocol_version,
                        fmt::format("TLS: protocol version: {} accepts no TLS version parley "
                                    "speaks (1.2, 1.3)",
                                    peer));
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
      if (st.server)
        return make_error(Errc::certificate_rejected,
                          fmt::format("TLS: the client does not accept this server's certificate "
                                      "({})",
                                      name));
      return make_error(Errc::certificate_rejected,
                        fmt::format("TLS: the server rejected our client certificate ({})", name));
    case SSL_AD_NO_APPLICATION_PROTOCOL:
      return make_error(Errc::no_alpn,
                        fmt::format("TLS: no application protocol (ALPN) in common with {}", peer));
    case SSL_AD_UNRECOGNIZED_NAME:
      return make_error(Errc::handshake_failed,
                        fmt::format("TLS: the server does not serve the name {}", st.name));
    default:
      break;
  }
  if (in_handshake)
    return make_error(Errc::handshake_failed,
                      fmt::format("TLS: {} refused the handshake ({})", peer, name));
  return make_error(Errc::protocol_error, fmt::format("TLS: {} sent an alert ({})", peer, name));
}

std::error_code not_tls(const Session::State& st) {
  const char* peer = st.server ? "the client" : "the server";
  if (st.first_len == 0)
    return make_error(Errc::not_tls, fmt::format("TLS: {} does not speak TLS", peer));
  return make_error(Errc::not_tls, fmt::format("TLS: {} does not speak TLS (it sent \"{}\")", peer,
                                               printable(st.first_bytes, st.first_len)));
}

std::error_code reason_failure(SSL* ssl, const Session::State& st, int reason, bool in_handshake) {
  const char* peer = st.server ? "the client" : "the server";
  if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
    return alert_failure(ssl, st, reason - SSL_AD_REASON_OFFSET, in_handshake);
  switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      if (st.pin_mismatch)
        return make_error(Errc::pin_mismatch,
                          fmt::format("TLS: pin mismatch: the certificate's fingerprint is {} ({})",
                                      st.fingerprint, st.subject));
      if (st.verify_error != 0) return verification_failure(st);
      break;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return make_error(Errc::client_cert_required,
                        "TLS: the client sent no certificate, and one is required");
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_RECORD_LENGTH_MISMATCH:
      if (!looks_like_tls(st)) return not_tls(st);
      return make_error(Errc::protocol_version,
                        fmt::format("TLS: protocol version: {} speaks a TLS version parley does "
                                    "not (1.2, 1.3)",
                                    peer));
    case SSL_R_UNEXPECTED_MESSAGE:
      // A plain echo server sends our own ClientHello back: the same record header.
      if (!st.server && st.first_len == 5 && st.sent_len == 5 &&
          std::memcmp(st.first_bytes, st.sent_bytes, 5) == 0)
        return make_error(Errc::not_tls,
                          "TLS: the server sent our own TLS hello back: it does not speak TLS "
                          "(an echo service?)");
      break;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_WRONG_SSL_VERSION:
      return make_error(Errc::protocol_version,
                        fmt::format("TLS: protocol version: {} offers only TLS versions older "
                                    "than 1.2",
                                    peer));
    case SSL_R_NO_SHARED_CIPHER:
      return make_error(Errc::handshake_failed,
                        fmt::format("TLS: no cipher suite in common with {}", peer));
    case SSL_R_NO_APPLICATION_PROTOCOL:
      return make_error(Errc::no_alpn,
                        fmt::format("TLS: no application protocol (ALPN) in common with {}", peer));
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      if (in_handshake)
        return make_error(Errc::closed_in_handshake,
                          fmt::format("TLS: {} closed the connection during the handshake", peer));
      return make_error(Errc::protocol_error, "TLS: the stream ended without close_notify");
    default:
      break;
  }
  const char* text = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason));
  const std::string why = text != nullptr ? text : fmt::format("error {}", reason);
  if (in_handshake)
    return make_error(Errc::handshake_failed, fmt::format("TLS: handshake failed: {}", why));
  return make_error(Errc::protocol_error, fmt::format("TLS: {}", why));
}

}  // namespace

const std::error_category& category() noexcept {
  static const Category c;
  return c;
}

std::error_code make_error(Errc kind, std::string message) {
  int id = message.empty() ? 0 : messages().intern(std::move(message));
  return {static_cast<int>(kind) | (id << 8), category()};
}

Errc kind_of(const std::error_code& ec) noexcept {
  if (ec.category() != category()) return Errc::handshake_failed;
  return static_cast<Errc>(ec.value() & 0xff);
}

std::error_condition make_error_condition(Errc e) noexcept {
  return {static_cast<int>(e), category()};
}

std::error_code classify_failure(SSL* ssl, int ssl_error, int saved_errno, bool in_handshake) {
  const Session::State& st = *state_of(ssl);
  const char* peer = st.server ? "the client" : "the server";
  auto closed = [&] {
    if (st.first_len == 0)
      return make_error(Errc::closed_in_handshake,
                        fmt::format("TLS: {} closed the connection without a TLS answer", peer));
    return make_error(Errc::closed_in_handshake,
                      fmt::format("TLS: {} closed the connection during the handshake", peer));
  };
  switch (ssl_error) {
    case SSL_ERROR_ZERO_RETURN:
      if (!in_handshake)  // A write after the peer's session ended (it closed, or sent
                          // close_notify).
        return make_error(Errc::protocol_error, fmt::format("TLS: {} closed the connection", peer));
      return closed();
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      if (saved_errno == ECONNRESET && in_handshake)
        return make_error(Errc::closed_in_handshake,
                          fmt::format("TLS: {} reset the connection during the handshake{}", peer,
                                      st.first_len == 0 ? " (is it a TLS service?)" : ""));
      if (saved_errno != 0) return {saved_errno, std::system_category()};
      if (in_handshake) return closed();
      return make_error(Errc::protocol_error, "TLS: the stream ended without close_notify");
    case SSL_ERROR_SSL: {
      unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      if (st.pin_mismatch || (in_handshake && st.verify_error != 0 &&
                              ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED))
        return reason_failure(ssl, st, SSL_R_CERTIFICATE_VERIFY_FAILED, in_handshake);
      if (ERR_GET_LIB(e) == ERR_LIB_SSL)
        return reason_failure(ssl, st, ERR_GET_REASON(e), in_handshake);
      const char* text = ERR_reason_error_string(e);
      return make_error(in_handshake ? Errc::handshake_failed : Errc::protocol_error,
                        fmt::format("TLS: {}", text != nullptr ? text : "internal error"));
    }
    default:
      ERR_clear_error();
      return make_error(in_handshake ? Errc::handshake_failed : Errc::protocol_error, {});
  }
}

}  // namespace parley::tls
