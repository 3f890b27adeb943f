#pragma once
// The proxy options every client command shares (connect, scan; talk and bench can add them the
// same way): --proxy HOST:PORT, --proxy-type, --proxy-auth USER:PASS, --proxy-dns, and OpenBSD
// nc's -X TYPE (with -x HOST:PORT, which connect otherwise reads as ncat's hex-dump file).

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "parley/proxy.hpp"

namespace parley::cmd {

struct ProxyArgs {
  std::string address;  // --proxy HOST:PORT (or -x HOST:PORT with -X).
  std::string type;     // --proxy-type
  std::string nc_type;  // -X connect|4|5
  std::string auth;     // --proxy-auth USER:PASS
  std::string dns;      // --proxy-dns local|remote
};

// Adds --proxy, --proxy-type, --proxy-auth, --proxy-dns and -X, with their exclusion rules.
void add_proxy_options(CLI::App& app, ProxyArgs& p);

// The proxy to use, if any. x_arg is the command's -x value: with -X it names the proxy (nc's
// spelling); without -X a value that looks like HOST:PORT is refused, since nc users mean a proxy
// by it and connecting directly instead would bypass the proxy they meant. On a mistake prints
// one line naming the command and sets *bad.
std::optional<ProxySpec> proxy_spec_or_say(const char* command, const ProxyArgs& p,
                                           const std::string& x_arg, bool* bad);

// "127.0.0.1:1080" or "[::1]:1080", for messages.
std::string proxy_text(const ProxySpec& spec);

}  // namespace parley::cmd
