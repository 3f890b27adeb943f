// What the TLS layer records while a handshake runs (verification failures with the certificate
// they concern, the first bytes and messages received, alerts), and how certificates are shown.

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <cstring>
#include <ctime>

#include "tls_internal.hpp"

namespace parley::tls {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// A DNS SAN as shown: printable ASCII only (a certificate can carry anything).
std::string safe_text(const unsigned char* p, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (p[i] >= 0x20 && p[i] < 0x7f) ? static_cast<char>(p[i]) : '?';
  return out;
}

// Records what the certificate at the store's current position says, for the message.
void record_certificate(Session::State& st, X509_STORE_CTX* store, int error) {
  st.verify_error = error;
  st.verify_depth = X509_STORE_CTX_get_error_depth(store);
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (cert == nullptr) cert = X509_STORE_CTX_get0_cert(store);
  if (cert == nullptr) return;
  st.subject = name_text(X509_get_subject_name(cert));
  st.issuer = name_text(X509_get_issuer_name(cert));
  st.not_before = time_text(X509_get0_notBefore(cert));
  st.not_after = time_text(X509_get0_notAfter(cert));
  st.fingerprint = fingerprint_of(cert);
  st.cert_names = names_of(cert);
}

}  // namespace

int state_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

Session::State* state_of(const SSL* ssl) {
  return static_cast<Session::State*>(SSL_get_ex_data(ssl, state_index()));
}

std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  // RFC 2253 order (most specific first), with control and non-ASCII bytes escaped, so that a
  // hostile certificate cannot drive the terminal.
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data != nullptr && n > 0 ? data : "", n > 0 ? static_cast<std::size_t>(n) : 0);
  BIO_free(bio);
  return out;
}

std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "an unknown date";
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string fingerprint_of(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  return "sha256:" + hex(md, len);
}

std::vector<std::string> names_of(X509* cert) {
  std::vector<std::string> out;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
    if (g->type == GEN_DNS) {
      out.push_back(
          safe_text(ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName)));
    } else if (g->type == GEN_IPADD) {
      const unsigned char* p = ASN1_STRING_get0_data(g->d.iPAddress);
      int n = ASN1_STRING_length(g->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = "?";
      if (n == 4 || n == 16) inet_ntop(n == 4 ? AF_INET : AF_INET6, p, text, sizeof(text));
      out.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(sans);
  if (out.empty()) {
    // No SANs: the common name is what old certificates name their host by.
    X509_NAME* subject = X509_get_subject_name(cert);
    int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at >= 0) {
      ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
      out.push_back("CN " + safe_text(ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn)));
    }
  }
  return out;
}

void message_callback(int write_p, int /*version*/, int content_type, const void* buf,
                      std::size_t len, SSL* ssl, void* /*arg*/) {
  Session::State* st = state_of(ssl);
  if (st == nullptr) return;
  const auto* p = static_cast<const unsigned char*>(buf);
  if (write_p != 0) {
    if (content_type == SSL3_RT_HEADER && st->sent_len == 0) {
      st->sent_len = static_cast<int>(std::min<std::size_t>(len, sizeof(st->sent_bytes)));
      std::memcpy(st->sent_bytes, p, static_cast<std::size_t>(st->sent_len));
    }
    return;
  }
  if (content_type == SSL3_RT_HEADER && st->first_len == 0) {
    st->first_len = static_cast<int>(std::min<std::size_t>(len, sizeof(st->first_bytes)));
    std::memcpy(st->first_bytes, p, static_cast<std::size_t>(st->first_len));
  } else if (content_type == SSL3_RT_HANDSHAKE && len > 0) {
    if (st->first_handshake < 0) st->first_handshake = p[0];
    if (p[0] == SSL3_MT_CERTIFICATE_REQUEST) st->cert_requested = true;
  } else if (content_type == SSL3_RT_ALERT && len >= 2) {
    st->alert_received = p[1];
    if (p[1] == SSL_AD_CLOSE_NOTIFY) st->close_notify = true;
  }
}

// Chain verification (OpenSSL's own), recording the first failure with its certificate.
int verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  Session::State* st = ssl != nullptr ? state_of(ssl) : nullptr;
  if (st != nullptr && st->verify_error == 0)
    record_certificate(*st, store, X509_STORE_CTX_get_error(store));
  return 0;
}

// A pin replaces chain verification: the peer's certificate must have exactly that digest.
int pin_callback(X509_STORE_CTX* store, void* arg) {
  const auto* pin = static_cast<const std::vector<unsigned char>*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (leaf != nullptr && X509_digest(leaf, EVP_sha256(), md, &len) == 1 && len == pin->size() &&
      std::memcmp(md, pin->data(), len) == 0) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (Session::State* st = ssl != nullptr ? state_of(ssl) : nullptr) {
    st->pin_mismatch = true;
    st->fingerprint = fingerprint_of(leaf);
    st->subject = leaf != nullptr ? name_text(X509_get_subject_name(leaf)) : "";
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

}  // namespace parley::tls
