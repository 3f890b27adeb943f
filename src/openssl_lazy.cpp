// OpenSSL, loaded the first time TLS is used (dlopen), not linked. Linked, libssl and libcrypto
// were loaded and relocated at every start of every parley command: 1.7 MB of resident memory
// (bench/conns.sh: `conns` at 1.7-1.9x ss's peak RSS, for a command that never speaks TLS) and
// time at each start. The same pattern as libnftables for doctor (firewall_nft.cpp).
//
// Every OpenSSL function parley calls is defined here under its own name, with the type its
// header declares (so a mismatch does not compile), and forwards to the library's symbol, looked
// up once. tls::Context's factories call openssl_loaded() first, so a missing libssl3 is an
// error there, not a crash in a forwarder. A new OpenSSL call fails to link ("undefined
// reference to SSL_foo") until it has its line in PARLEY_OPENSSL below: name and arity.
// (Variadic functions cannot be forwarded: EVP_PKEY_Q_keygen / EVP_EC_gen are not used.)

#include <dlfcn.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>

#include "tls_internal.hpp"

namespace parley::tls::detail {
namespace {

struct Library {
  void* handle = nullptr;
  std::string error;
};

const Library& library() {
  static const Library lib = [] {
    Library l;
    // libssl.so.3 brings libcrypto.so.3 with it; dlsym on its handle finds the symbols of both.
    l.handle = ::dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (l.handle == nullptr) {
      const char* why = ::dlerror();
      l.error = why != nullptr ? why : "libssl.so.3 cannot be loaded";
    }
    return l;
  }();
  return lib;
}

}  // namespace

std::error_code openssl_loaded(std::string* why) {
  const Library& lib = library();
  if (lib.handle != nullptr) return {};
  if (why != nullptr) *why = lib.error + " (TLS needs OpenSSL 3: Debian's libssl3)";
  return std::make_error_code(std::errc::not_supported);
}

void* openssl_symbol(const char* name) {
  void* handle = library().handle;
  void* fn = handle != nullptr ? ::dlsym(handle, name) : nullptr;
  if (fn == nullptr) {
    // Unreachable from parley's commands (the factories check openssl_loaded() first): an
    // internal error, reported as such rather than a jump to address 0.
    std::fprintf(stderr, "parley: internal error: OpenSSL function %s unavailable\n", name);
    std::abort();
  }
  return fn;
}

// The parameter and result types of an OpenSSL function, from its declaration.
template <class F>
struct Sig;
template <class R, class... A>
struct Sig<R (*)(A...)> {
  using Ret = R;
  template <std::size_t I>
  using Arg = std::tuple_element_t<I, std::tuple<A...>>;
};

}  // namespace parley::tls::detail

// clang-format off
#define PARLEY_OPENSSL \
  X(ASN1_STRING_get0_data, 1) \
  X(ASN1_STRING_length, 1) \
  X(ASN1_TIME_to_tm, 2) \
  X(BIO_ctrl, 4) \
  X(BIO_free, 1) \
  X(BIO_new, 1) \
  X(BIO_s_mem, 0) \
  X(BN_bin2bn, 3) \
  X(BN_free, 1) \
  X(BN_to_ASN1_INTEGER, 2) \
  X(CRYPTO_get_ex_new_index, 6) \
  X(ERR_clear_error, 0) \
  X(ERR_peek_last_error, 0) \
  X(ERR_reason_error_string, 1) \
  X(EVP_PKEY_CTX_free, 1) \
  X(EVP_PKEY_CTX_new_from_name, 3) \
  X(EVP_PKEY_CTX_set_group_name, 2) \
  X(EVP_PKEY_free, 1) \
  X(EVP_PKEY_generate, 2) \
  X(EVP_PKEY_keygen_init, 1) \
  X(EVP_sha256, 0) \
  X(GENERAL_NAMES_free, 1) \
  X(OPENSSL_sk_num, 1) \
  X(OPENSSL_sk_value, 2) \
  X(RAND_bytes, 2) \
  X(SSL_CIPHER_get_name, 1) \
  X(SSL_CTX_check_private_key, 1) \
  X(SSL_CTX_ctrl, 4) \
  X(SSL_CTX_free, 1) \
  X(SSL_CTX_get0_certificate, 1) \
  X(SSL_CTX_load_verify_dir, 2) \
  X(SSL_CTX_load_verify_file, 2) \
  X(SSL_CTX_new, 1) \
  X(SSL_CTX_set_alpn_protos, 3) \
  X(SSL_CTX_set_alpn_select_cb, 3) \
  X(SSL_CTX_set_cert_verify_callback, 3) \
  X(SSL_CTX_set_cipher_list, 2) \
  X(SSL_CTX_set_ciphersuites, 2) \
  X(SSL_CTX_set_client_CA_list, 2) \
  X(SSL_CTX_set_default_passwd_cb, 2) \
  X(SSL_CTX_set_default_read_buffer_len, 2) \
  X(SSL_CTX_set_default_verify_paths, 1) \
  X(SSL_CTX_set_msg_callback, 2) \
  X(SSL_CTX_set_num_tickets, 2) \
  X(SSL_CTX_set_options, 2) \
  X(SSL_CTX_set_verify, 3) \
  X(SSL_CTX_use_PrivateKey, 2) \
  X(SSL_CTX_use_PrivateKey_file, 3) \
  X(SSL_CTX_use_certificate, 2) \
  X(SSL_CTX_use_certificate_chain_file, 2) \
  X(SSL_alert_desc_string_long, 1) \
  X(SSL_ctrl, 4) \
  X(SSL_do_handshake, 1) \
  X(SSL_free, 1) \
  X(SSL_get0_alpn_selected, 3) \
  X(SSL_get0_param, 1) \
  X(SSL_get0_peer_certificate, 1) \
  X(SSL_get_certificate, 1) \
  X(SSL_get_current_cipher, 1) \
  X(SSL_get_error, 2) \
  X(SSL_get_ex_data, 2) \
  X(SSL_get_ex_data_X509_STORE_CTX_idx, 0) \
  X(SSL_get_servername, 2) \
  X(SSL_get_version, 1) \
  X(SSL_has_pending, 1) \
  X(SSL_load_client_CA_file, 1) \
  X(SSL_new, 1) \
  X(SSL_read_ex, 4) \
  X(SSL_select_next_proto, 6) \
  X(SSL_set1_host, 2) \
  X(SSL_set_accept_state, 1) \
  X(SSL_set_connect_state, 1) \
  X(SSL_set_ex_data, 3) \
  X(SSL_set_fd, 2) \
  X(SSL_set_hostflags, 2) \
  X(SSL_shutdown, 1) \
  X(SSL_write_ex, 4) \
  X(TLS_client_method, 0) \
  X(TLS_server_method, 0) \
  X(X509V3_EXT_conf_nid, 4) \
  X(X509V3_set_ctx, 6) \
  X(X509_EXTENSION_free, 1) \
  X(X509_NAME_ENTRY_get_data, 1) \
  X(X509_NAME_add_entry_by_txt, 7) \
  X(X509_NAME_get_entry, 2) \
  X(X509_NAME_get_index_by_NID, 3) \
  X(X509_NAME_print_ex, 4) \
  X(X509_STORE_CTX_get0_cert, 1) \
  X(X509_STORE_CTX_get_current_cert, 1) \
  X(X509_STORE_CTX_get_error, 1) \
  X(X509_STORE_CTX_get_error_depth, 1) \
  X(X509_STORE_CTX_get_ex_data, 2) \
  X(X509_STORE_CTX_set_error, 2) \
  X(X509_VERIFY_PARAM_set1_ip_asc, 2) \
  X(X509_add_ext, 3) \
  X(X509_digest, 4) \
  X(X509_free, 1) \
  X(X509_get0_notAfter, 1) \
  X(X509_get0_notBefore, 1) \
  X(X509_get_ext_d2i, 4) \
  X(X509_get_issuer_name, 1) \
  X(X509_get_serialNumber, 1) \
  X(X509_get_subject_name, 1) \
  X(X509_getm_notAfter, 1) \
  X(X509_getm_notBefore, 1) \
  X(X509_gmtime_adj, 2) \
  X(X509_new, 0) \
  X(X509_set_issuer_name, 2) \
  X(X509_set_pubkey, 2) \
  X(X509_set_version, 2) \
  X(X509_sign, 3) \
  X(X509_verify_cert_error_string, 1)
// clang-format on

#define PARLEY_T(f, i) parley::tls::detail::Sig<decltype(&::f)>::Arg<i>
#define PARLEY_P0(f)
#define PARLEY_P1(f) PARLEY_T(f, 0) a0
#define PARLEY_P2(f) PARLEY_P1(f), PARLEY_T(f, 1) a1
#define PARLEY_P3(f) PARLEY_P2(f), PARLEY_T(f, 2) a2
#define PARLEY_P4(f) PARLEY_P3(f), PARLEY_T(f, 3) a3
#define PARLEY_P5(f) PARLEY_P4(f), PARLEY_T(f, 4) a4
#define PARLEY_P6(f) PARLEY_P5(f), PARLEY_T(f, 5) a5
#define PARLEY_P7(f) PARLEY_P6(f), PARLEY_T(f, 6) a6
#define PARLEY_A0
#define PARLEY_A1 a0
#define PARLEY_A2 PARLEY_A1, a1
#define PARLEY_A3 PARLEY_A2, a2
#define PARLEY_A4 PARLEY_A3, a3
#define PARLEY_A5 PARLEY_A4, a4
#define PARLEY_A6 PARLEY_A5, a5
#define PARLEY_A7 PARLEY_A6, a6

#define X(f, n)                                                                    \
  extern "C" parley::tls::detail::Sig<decltype(&::f)>::Ret f(PARLEY_P##n(f)) {     \
    static const auto real =                                                       \
        reinterpret_cast<decltype(&::f)>(parley::tls::detail::openssl_symbol(#f)); \
    return real(PARLEY_A##n);                                                      \
  }
PARLEY_OPENSSL
#undef X
