#include "tls_options.hpp"

#include "output.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {
namespace {

constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{10'000};

std::vector<std::string> split_alpn(const std::string& list) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= list.size()) {
    std::size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    out.push_back(list.substr(at, comma - at));  // Empty names are refused by the context.
    at = comma + 1;
  }
  return out;
}

}  // namespace

void add_tls_options(CLI::App& app, TlsArgs& t, TlsRole role) {
  const bool client = role == TlsRole::client;
  auto* tls = app.add_flag("--tls,--ssl", t.enabled,
                           client ? "Speak TLS to the server, verifying its certificate"
                                  : "Speak TLS (generates a certificate unless --tls-cert)")
                  ->group("TLS");
  auto* cert = app.add_option("--tls-cert", t.cert,
                              client ? "Client certificate (PEM, may hold the chain and key)"
                                     : "Server certificate (PEM, may hold the chain and key)")
                   ->type_name("FILE")
                   ->group("TLS")
                   ->needs(tls);
  app.add_option("--tls-key", t.key, "Private key for --tls-cert (PEM, not encrypted)")
      ->type_name("FILE")
      ->group("TLS")
      ->needs(tls)
      ->needs(cert);
  app.add_option("--tls-alpn", t.alpn,
                 client ? "Offer these application protocols (ALPN), e.g. h2,http/1.1"
                        : "Accept these application protocols (ALPN), in preference order")
      ->type_name("LIST")
      ->group("TLS")
      ->needs(tls);
  if (client) {
    app.add_option("--tls-servername", t.servername,
                   "Name sent as SNI and checked in the certificate (default: the host)")
        ->type_name("NAME")
        ->group("TLS")
        ->needs(tls);
    auto* ca = app.add_option("--tls-ca", t.ca,
                              "Trust these CA certificates (PEM file or hashed directory) instead "
                              "of the system's")
                   ->type_name("FILE|DIR")
                   ->group("TLS")
                   ->needs(tls);
    auto* pin = app.add_option("--tls-pin", t.pin,
                               "Accept exactly the certificate with this fingerprint "
                               "(sha256:HEX, as 'connect --tls -v' prints it)")
                    ->type_name("sha256:HEX")
                    ->group("TLS")
                    ->needs(tls);
    auto* insecure =
        app.add_flag("--tls-insecure", t.insecure, "Verify nothing (says so on stderr)")
            ->group("TLS")
            ->needs(tls);
    insecure->excludes(pin);
    insecure->excludes(ca);
    return;
  }
  auto* verify = app.add_flag("--tls-verify-client", t.verify_client,
                              "Demand a client certificate issued by --tls-ca (mutual TLS)")
                     ->group("TLS")
                     ->needs(tls);
  auto* ca = app.add_option("--tls-ca", t.ca, "CA certificates that issue client certificates")
                 ->type_name("FILE|DIR")
                 ->group("TLS")
                 ->needs(tls);
  verify->needs(ca);
  ca->needs(verify);
}

void tls_excludes(CLI::App& app, std::initializer_list<const char*> names) {
  CLI::Option* tls = app.get_option("--tls");
  for (const char* name : names) tls->excludes(app.get_option(name));
}

std::shared_ptr<tls::Context> tls_client_or_say(const char* command, const TlsArgs& t) {
  tls::ClientConfig c;
  c.servername = t.servername;
  c.ca = t.ca;
  c.pin = t.pin;
  c.cert = t.cert;
  c.key = t.key;
  if (!t.alpn.empty()) c.alpn = split_alpn(t.alpn);
  c.insecure = t.insecure;
  auto ctx = tls::Context::client(c);
  if (!ctx) {
    say("{}: {}", command, describe(ctx.error()));
    return nullptr;
  }
  if (t.insecure)
    say("{}: warning: --tls-insecure: the server's certificate is NOT verified; anyone on the path "
        "can read and change this connection",
        command);
  return *ctx;
}

std::shared_ptr<tls::Context> tls_server_or_say(const char* command, const TlsArgs& t,
                                                bool many_clients) {
  tls::ServerConfig c;
  c.release_buffers = many_clients;
  c.cert = t.cert;
  c.key = t.key;
  c.verify_client = t.verify_client;
  c.client_ca = t.ca;
  if (!t.alpn.empty()) c.alpn = split_alpn(t.alpn);
  auto ctx = tls::Context::server(c);
  if (!ctx) {
    say("{}: {}", command, describe(ctx.error()));
    return nullptr;
  }
  if ((*ctx)->generated())
    say("{}: TLS certificate generated for this run; clients can pin it with --tls-pin {}", command,
        (*ctx)->fingerprint());
  return *ctx;
}

std::chrono::milliseconds tls_handshake_timeout(std::chrono::milliseconds wait) {
  return wait.count() > 0 ? wait : kDefaultHandshakeTimeout;
}

std::string describe_tls_failure(const std::error_code& ec) {
  std::string text = describe(ec);
  switch (tls::kind_of(ec)) {
    case tls::Errc::unknown_issuer:
      if (ec.category() == tls::category())
        text +=
            " (trust its CA with --tls-ca FILE, or accept exactly this certificate with "
            "--tls-pin)";
      break;
    case tls::Errc::name_mismatch:
      if (ec.category() == tls::category()) text += " (--tls-servername NAME checks another name)";
      break;
    default:
      break;
  }
  return text;
}

void say_tls_info(const tls::Info& i) {
  say("TLS: {}, {}{}", i.version, i.cipher, i.alpn.empty() ? "" : ", ALPN " + i.alpn);
  if (!i.peer_subject.empty()) {
    say("TLS: peer certificate: {} (issued by {}, valid until {})", i.peer_subject, i.peer_issuer,
        i.peer_not_after);
    say("TLS: peer fingerprint: {}", i.peer_fingerprint);
  }
  say("TLS: peer {}; kernel TLS offload {}", i.verified, i.ktls);
}

}  // namespace parley::cmd
