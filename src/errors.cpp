#include "parley/errors.hpp"

#include <cerrno>

#include "parley/proxy.hpp"
#include "parley/tls.hpp"

namespace parley {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "parley"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::name_not_resolved:
        return "name not resolved";
      case Errc::no_address_of_family:
        return "no address of the requested family";
      case Errc::bad_port:
        return "port must be a number from 0 to 65535";
      case Errc::bad_endpoint:
        return "malformed endpoint";
      case Errc::timed_out:
        return "timed out";
      case Errc::path_too_long:
        return "Unix socket path too long";
      case Errc::name_server_failed:
        return "name not resolved: no answer from the name server";
      case Errc::bad_port_list:
        return "bad port list";
    }
    return "unknown parley error";
  }
};

}  // namespace

const std::error_category& parley_category() noexcept {
  static const Category category;
  return category;
}

std::error_code last_error() noexcept {
  return {errno, std::system_category()};
}

std::string describe(const std::error_code& ec) {
  return ec.message();
}

bool is_network_error(const std::error_code& ec) noexcept {
  if (ec.category() == parley_category()) {
    auto e = static_cast<Errc>(ec.value());
    // A name that does not resolve is reported like a usage error (exit 2), as ncat does.
    return e == Errc::timed_out;
  }
  // What a proxy answered is the network's doing; a target it cannot carry is the command line's.
  if (ec.category() == proxy_category()) return !is_proxy_usage_error(ec);
  // A failed handshake is the network's (the peer's) doing; unusable files are the command line's.
  if (ec.category() == tls::category()) return tls::kind_of(ec) != tls::Errc::config;
  if (ec.category() != std::system_category()) return false;
  switch (ec.value()) {
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case EPIPE:
    case EADDRNOTAVAIL:
    case ENOENT:  // A Unix socket path with nobody behind it.
      return true;
    default:
      return false;
  }
}

}  // namespace parley
