#pragma once
// TLS over any stream socket, with OpenSSL 3: TLS 1.2 and 1.3 only, modern AEAD suites
// (AES-128-GCM preferred: the fastest with AES-NI), verified by default.
//
//   auto ctx = tls::Context::client(config);           // once per command
//   auto s = (*ctx)->session(fd, "example.org");       // per connection (fd not owned)
//   s->handshake() / read() / write() / shutdown_write()  // Transport (transport.hpp)
//
// Client: the peer's chain is verified against the system trust store (or `ca`), its name
// checked against the host connected to (or `servername`), which is also sent as SNI (not for
// IP literals, which are checked as IP addresses). A `pin` ("sha256:HEX" of the certificate)
// accepts exactly that certificate instead of chain and name checks; `insecure` accepts
// anything. Server: a certificate and key from files, or an ephemeral ECDSA P-256 key with a
// self-signed certificate generated at startup (CN=parley; SANs localhost, 127.0.0.1, ::1, the
// host name); `verify_client` demands a client certificate issued by `client_ca` (mutual TLS).
//
// Errors are std::error_codes of tls::category(). Their message is the line users see, in plain
// words, starting with "TLS: " ("TLS: certificate expired on 2021-03-04 12:00:00 UTC (CN=x)",
// "TLS: name mismatch: the certificate is for a.example, b.example, not for localhost"). Compare
// a code with the kind it is of: `ec == tls::Errc::expired`. is_network_error() is true for
// everything but tls::Errc::config (bad files, bad pin syntax), which is the command line's.
//
// Threads and ownership: a Context is immutable once made and may be shared by any number of
// threads and sessions (hold it by shared_ptr; each Session keeps its Context alive). A Session
// belongs to one thread at a time and never owns its descriptor: closing the socket is the
// caller's, after destroying (or done with) the Session. Destroying a Session sends nothing;
// call shutdown_write() first for a clean close.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "parley/result.hpp"
#include "parley/transport.hpp"

namespace parley::tls {

// The kinds of failure. An error_code carries its kind and its own message (with the details:
// dates, names, fingerprints).
enum class Errc {
  handshake_failed = 1,  // Anything else the peer or OpenSSL refused.
  unknown_issuer,        // Chain not trusted (an unknown CA, or self-signed).
  expired,               // The certificate's validity ended (the message has the date).
  not_yet_valid,         // ... or has not begun.
  name_mismatch,         // The names the certificate has (listed) are not the one asked for.
  pin_mismatch,          // The fingerprint seen (in the message) is not the pinned one.
  bad_certificate,       // Otherwise invalid (bad signature, wrong purpose, ...).
  protocol_version,      // No TLS version in common (parley speaks 1.2 and 1.3).
  client_cert_required,  // The server wanted a client certificate and got none.
  certificate_rejected,  // The peer refused our certificate (its alert is named).
  no_alpn,               // No application protocol (ALPN) in common.
  not_tls,               // The peer does not speak TLS at all (its first bytes are shown).
  closed_in_handshake,   // The peer closed the connection during the handshake.
  handshake_timeout,     // No complete handshake in time.
  protocol_error,        // After the handshake: a bad record, an alert, a truncated stream.
  config,                // A certificate, key or CA file that cannot be used; a bad pin.
};

const std::error_category& category() noexcept;
// Makes a code of this kind whose message is `message` (the kind's generic message if empty).
std::error_code make_error(Errc kind, std::string message);
// The kind of a tls::category() code (Errc::handshake_failed for other codes).
Errc kind_of(const std::error_code& ec) noexcept;
// For comparisons only: `ec == tls::Errc::pin_mismatch`.
std::error_condition make_error_condition(Errc e) noexcept;

struct ClientConfig {
  std::string servername;         // Name sent as SNI and checked; empty: the host connected to.
  std::string ca;                 // CA file or (hashed) directory, PEM; empty: the system's.
  std::string pin;                // "sha256:HEX" (colons allowed): accept only that certificate.
  std::string cert, key;          // Client certificate (chain) and key, PEM. Key empty: in cert.
  std::vector<std::string> alpn;  // Protocols to offer, in order ("h2", "http/1.1").
  bool insecure = false;          // Verify nothing (the command must say so).
};

struct ServerConfig {
  std::string cert, key;           // PEM; both empty: generate an ephemeral key and certificate.
  bool verify_client = false;      // Demand a client certificate issued by client_ca.
  std::string client_ca;           // CA file or directory for verify_client.
  std::vector<std::string> alpn;   // Protocols accepted, in preference order.
  std::vector<std::string> names;  // Extra DNS names/IPs for a generated certificate's SANs.
  // Many mostly idle connections: free each session's buffers while it has nothing buffered
  // (about 34 KiB less per idle connection, at some cost in bulk transfers).
  bool release_buffers = false;
};

// What a handshake agreed on and whom it was with.
struct Info {
  std::string version;       // "TLSv1.3"
  std::string cipher;        // "TLS_AES_128_GCM_SHA256"
  std::string alpn;          // Negotiated protocol; empty: none.
  std::string servername;    // SNI sent (client) or received (server); empty: none.
  std::string peer_subject;  // "CN=example.org,O=Example"; empty: no peer certificate.
  std::string peer_issuer;
  std::string peer_fingerprint;  // "sha256:HEX", the form a pin takes.
  std::string peer_not_after;    // "2026-01-31 23:59:59 UTC"
  std::string verified;          // How the peer was accepted: "verified", "pinned",
                                 // "NOT verified (insecure)", "none (no certificate asked)".
  std::string ktls;              // "not available here" (see ktls_available()).
};

class Session;

class Context : public std::enable_shared_from_this<Context> {
 public:
  static Result<std::shared_ptr<Context>> client(const ClientConfig& config);
  static Result<std::shared_ptr<Context>> server(const ServerConfig& config);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  bool is_server() const noexcept { return server_; }
  // The server's own certificate ("sha256:HEX"), and whether it was generated here.
  const std::string& fingerprint() const noexcept { return fingerprint_; }
  bool generated() const noexcept { return generated_; }

  // A session over the connected stream socket fd (not owned; non-blocking or blocking, as the
  // caller drives it). Client: `host` is the name or address connected to (SNI and the name
  // checked, unless the config's servername says otherwise). Server: host is ignored.
  Result<std::unique_ptr<Session>> session(int fd, std::string_view host = {}) const;

  struct Impl;

 private:
  Context() = default;
  std::unique_ptr<Impl> impl_;
  bool server_ = false;
  bool generated_ = false;
  std::string fingerprint_;
  friend class Session;
};

class Session final : public Transport {
 public:
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int fd() const noexcept override { return fd_; }
  Io handshake() override;
  // Fills as much of buf as the records at hand allow (several records per call), so callers
  // see large chunks. closed: close_notify, or the peer's EOF without one (see clean_close()).
  Io read(char* buf, std::size_t n) override;
  Io write(const char* buf, std::size_t n) override;
  // close_notify, then shutdown(SHUT_WR); reading goes on until the peer closes too.
  Io shutdown_write() override;
  bool zero_copy() const noexcept override { return false; }
  bool buffered() const noexcept override;

  // Blocking convenience for one-connection commands: drives handshake() with poll() until done,
  // failed or `timeout` passed (Errc::handshake_timeout). Any descriptor mode.
  std::error_code complete_handshake(std::chrono::milliseconds timeout);

  bool handshake_done() const noexcept { return done_; }
  // After read() said closed: true if the peer sent close_notify, false for a bare EOF.
  bool clean_close() const noexcept;
  Info info() const;

  struct State;  // Internal: what the verification callbacks record.

 private:
  friend class Context;
  Session(std::shared_ptr<const Context> ctx, void* ssl, int fd);
  Io fail(int ret);
  Io status_of(int ret, bool reading);

  // TCP_CORK for the life of one write() call, if wanted and the socket takes it.
  class Cork {
   public:
    Cork(Session& s, bool wanted);
    ~Cork();
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;

   private:
    bool set(int v) const;
    Session& s_;
    bool on_;
  };

  std::shared_ptr<const Context> ctx_;
  void* ssl_;  // SSL*, kept opaque so that users of this header need no OpenSSL headers.
  int fd_;
  bool done_ = false;
  bool corkable_ = true;  // Until TCP_CORK fails once (not a TCP socket).
  std::unique_ptr<State> state_;
  std::error_code failed_;  // Sticky: once failed, every call reports this.
};

// True if the kernel offers TLS offload (`tls` in /proc/sys/net/ipv4/tcp_available_ulp).
bool ktls_available();

// Parses "sha256:HEX" (case-insensitive, colons allowed between bytes) into 32 bytes.
Result<std::vector<unsigned char>> parse_pin(std::string_view text);

}  // namespace parley::tls

template <>
struct std::is_error_condition_enum<parley::tls::Errc> : std::true_type {};
