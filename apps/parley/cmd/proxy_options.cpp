#include "proxy_options.hpp"

#include "netcat.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {

void add_proxy_options(CLI::App& app, ProxyArgs& p) {
  app.add_option("--proxy", p.address, "Connect through the proxy at HOST:PORT")
      ->type_name("HOST:PORT")
      ->group("Proxy");
  auto* type = app.add_option("--proxy-type", p.type,
                              "http (CONNECT), socks4, socks4a or socks5 (default: socks5)")
                   ->type_name("TYPE")
                   ->check(CLI::IsMember({"http", "socks4", "socks4a", "socks5"}))
                   ->group("Proxy");
  auto* nc = app.add_option("-X", p.nc_type,
                            "OpenBSD nc's proxy type: connect (HTTP), 4 or 5; -x is then the "
                            "proxy's HOST:PORT")
                 ->type_name("TYPE")
                 ->check(CLI::IsMember({"connect", "4", "5"}))
                 ->group("Proxy");
  nc->excludes(type);
  app.add_option("--proxy-auth", p.auth,
                 "USER:PASS for the proxy (HTTP Basic, SOCKS5 password; SOCKS4: the user id)")
      ->type_name("USER:PASS")
      ->group("Proxy");
  app.add_option("--proxy-dns", p.dns,
                 "Who resolves the target's name: remote (the proxy; the default, except for "
                 "socks4) or local")
      ->type_name("WHERE")
      ->check(CLI::IsMember({"local", "remote"}))
      ->group("Proxy");
}

std::string proxy_text(const ProxySpec& spec) {
  return format_target(spec.server);
}

// True when text reads as HOST:PORT (a file name rarely does).
static bool looks_like_endpoint(const std::string& text) {
  return text.find('/') == std::string::npos && parse_endpoint(text, false).ok();
}

std::optional<ProxySpec> proxy_spec_or_say(const char* command, const ProxyArgs& p,
                                           const std::string& x_arg, bool* bad) {
  *bad = false;
  auto fail = [&](const std::string& line) {
    say("{}: {}", command, line);
    *bad = true;
    return std::nullopt;
  };
  std::string address = p.address;
  if (!p.nc_type.empty()) {
    if (!x_arg.empty() && !address.empty()) return fail("-x and --proxy both name a proxy");
    if (address.empty()) address = x_arg;
    if (address.empty()) return fail("-X needs the proxy's address: -x HOST:PORT");
  } else if (!x_arg.empty() && looks_like_endpoint(x_arg)) {
    return fail("-x " + x_arg +
                " looks like a proxy: add -X 5 (or -X 4, -X connect) to go through it, or use "
                "--hex-dump FILE for a hex dump");
  }
  const bool typed = !p.type.empty() || !p.nc_type.empty();
  if (address.empty()) {
    if (typed || !p.auth.empty() || !p.dns.empty())
      return fail("--proxy-type, --proxy-auth and --proxy-dns need --proxy HOST:PORT");
    return std::nullopt;
  }
  ProxySpec spec;
  spec.type = *parse_proxy_type(!p.nc_type.empty() ? p.nc_type
                                : !p.type.empty()  ? p.type
                                                   : "socks5");
  auto server = parse_endpoint(address, true);
  if (!server || server->host.empty())
    return fail("--proxy wants HOST:PORT, got '" + address + "'");
  spec.server = *server;
  if (!p.auth.empty()) {
    auto colon = p.auth.find(':');
    if (colon == std::string::npos) return fail("--proxy-auth wants USER:PASS");
    spec.auth = ProxyCredentials{p.auth.substr(0, colon), p.auth.substr(colon + 1)};
  }
  if (p.dns == "remote") spec.dns = ProxyDns::remote;
  if (p.dns == "local") spec.dns = ProxyDns::local;
  if (spec.type == ProxyType::socks4 && spec.dns == ProxyDns::remote)
    return fail("socks4 cannot send names to the proxy: use --proxy-type socks4a for remote DNS");
  return spec;
}

}  // namespace parley::cmd
