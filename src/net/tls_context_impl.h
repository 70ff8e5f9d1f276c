// The OpenSSL side of TlsServerContext, for the IO layer's own .cc files (stream_server.cc, and later the
// HTTP / WebSocket server). Includes Asio SSL: never include this from a header outside src/net.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include "net/stream_server.h"

namespace tandem::net {

struct TlsServerContext::Impl {
  // Created with the generic TLS method and then limited to TLS 1.2+ (FromFiles sets the minimum version).
  boost::asio::ssl::context ssl{boost::asio::ssl::context::tls_server};
};

}  // namespace tandem::net
