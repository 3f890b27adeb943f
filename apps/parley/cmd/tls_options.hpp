#pragma once
// The TLS options every command adds the same way (connect now; listen, echo, listen -k,
// talk, bench and forward the same way): --tls (alias --ssl) and the --tls-* options of the side
// the command plays, their rules, building the tls::Context from them (or one line and exit 2),
// and the words for what a handshake agreed on (-v) or why it failed.
//
//   TlsArgs tls;  add_tls_options(*app, tls, TlsRole::client);     // registration
//   auto ctx = tls_client_or_say("connect", tls);  if (!ctx) return kExitUsage;
//   auto s = ctx->session(fd, host); s->complete_handshake(tls_handshake_timeout(o.wait));
//   if (ec) say("connect to {}: {}", target, describe_tls_failure(ec));  // exit_code_for(ec)

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "parley/tls.hpp"

namespace parley::cmd {

struct TlsArgs {
  bool enabled = false;        // --tls, --ssl
  std::string servername;      // --tls-servername NAME (client)
  std::string ca;              // --tls-ca FILE|DIR (client: trust; server: client certificates)
  std::string pin;             // --tls-pin sha256:HEX (client)
  std::string cert, key;       // --tls-cert FILE, --tls-key FILE
  std::string alpn;            // --tls-alpn LIST (comma-separated)
  bool insecure = false;       // --tls-insecure (client)
  bool verify_client = false;  // --tls-verify-client (server)
};

enum class TlsRole { client, server };

// Adds the options of the role in the "TLS" group. Rules at parse time: every --tls-* needs
// --tls; --tls-key needs --tls-cert; client: --tls-insecure excludes --tls-pin and --tls-ca;
// server: --tls-verify-client and --tls-ca need each other.
void add_tls_options(CLI::App& app, TlsArgs& t, TlsRole role);

// --tls excludes each of these options of the command (those TLS cannot carry: -u, -d, -t, ...).
void tls_excludes(CLI::App& app, std::initializer_list<const char*> names);

// The contexts the options describe, or nullptr after one line "COMMAND: TLS: ..." (exit 2).
// Client with --tls-insecure: a warning line that nothing is verified. Server without
// --tls-cert: a line with the generated certificate's fingerprint in the form --tls-pin takes.
std::shared_ptr<tls::Context> tls_client_or_say(const char* command, const TlsArgs& t);
// many_clients: a server holding many, mostly idle, sessions frees each one's buffers while it
// is empty (~32 KiB less per idle client, at some cost to one client's bulk speed).
std::shared_ptr<tls::Context> tls_server_or_say(const char* command, const TlsArgs& t,
                                                bool many_clients);

// How long a handshake may take: -w when given, else 10 s.
std::chrono::milliseconds tls_handshake_timeout(std::chrono::milliseconds wait);

// A failure's one line, with the option that helps where there is one ("... (trust it with
// --tls-ca FILE, or accept exactly this certificate with --tls-pin)").
std::string describe_tls_failure(const std::error_code& ec);

// -v: version and cipher, the peer's certificate (subject, issuer, fingerprint), how it was
// accepted, and kTLS; a few "TLS: ..." lines.
void say_tls_info(const tls::Info& info);

}  // namespace parley::cmd
