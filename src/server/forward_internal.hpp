#pragma once
// The forwarder's two handlers (one per worker), made by forward_service().

#include <memory>

#include "parley/forward.hpp"
#include "runtime.hpp"

namespace parley::server {

std::unique_ptr<Handler> make_forward_stream_handler(const ForwardOptions& options);
std::unique_ptr<Handler> make_forward_datagram_handler(const ForwardOptions& options);

}  // namespace parley::server
