#pragma once
// Internal to the TLS layer (tls_context.cpp, tls_session.cpp, tls_errors.cpp): what a
// Context holds, what a Session's callbacks record during the handshake (so that a failure can
// be worded after the fact), and the certificate helpers the messages use.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "parley/tls.hpp"

namespace parley::tls {

struct Context::Impl {
  SSL_CTX* ctx = nullptr;
  std::vector<unsigned char> pin;   // 32 bytes when pinning (client).
  std::vector<unsigned char> alpn;  // Server: the protocols it accepts, in ALPN wire format.
  std::string servername;           // Client: overrides the host for SNI and the name check.
  bool insecure = false;            // Client: verify nothing.
  bool has_cert = false;            // A certificate of ours to present.
  bool verify_peer = false;         // Client: chain + name; server: the client's certificate.
  ~Impl() { SSL_CTX_free(ctx); }
};

// What a session's callbacks saw, for wording a failure; reset never (one handshake per session).
struct Session::State {
  bool server = false;
  std::string name;  // The name checked (client), for the mismatch message.
  // The first verification failure (X509_V_ERR_*), and the certificate it concerned.
  int verify_error = 0;
  int verify_depth = 0;
  std::string subject, issuer, not_before, not_after, fingerprint;
  std::vector<std::string> cert_names;  // SANs (or the CN) of the certificate that failed.
  bool pin_mismatch = false;
  // From the message callback: the first bytes received (a record header, or whatever a non-TLS
  // peer sent), the first handshake message type received, a CertificateRequest, alerts.
  unsigned char first_bytes[5] = {};
  int first_len = 0;
  unsigned char sent_bytes[5] = {};  // The first record header we sent (an echo returns it).
  int sent_len = 0;
  int first_handshake = -1;
  bool cert_requested = false;
  bool close_notify = false;
  int alert_received = -1;  // Alert description, -1: none.
};

namespace detail {
// OpenSSL is loaded on first use (openssl_lazy.cpp): whether it could be, and if not why (a
// missing libssl3). The context factories ask before anything calls into it.
std::error_code openssl_loaded(std::string* why);
void* openssl_symbol(const char* name);
}  // namespace detail

// Index of the Session::State pointer in each SSL's ex_data.
int state_index();
Session::State* state_of(const SSL* ssl);

// Certificate facts, as messages show them.
std::string name_text(const X509_NAME* name);
std::string time_text(const ASN1_TIME* t);
std::string fingerprint_of(X509* cert);
std::vector<std::string> names_of(X509* cert);  // DNS and IP SANs, else the CN.

// Turns a failed SSL call (ret, SSL_get_error) into one worded error_code.
std::error_code classify_failure(SSL* ssl, int ssl_error, int saved_errno, bool in_handshake);

// The message callback and the verification callbacks (registered on every context).
void message_callback(int write_p, int version, int content_type, const void* buf, std::size_t len,
                      SSL* ssl, void* arg);
int verify_callback(int preverify_ok, X509_STORE_CTX* store);
int pin_callback(X509_STORE_CTX* store, void* arg);

}  // namespace parley::tls
