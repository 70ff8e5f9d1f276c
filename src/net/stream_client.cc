#include "net/stream_client.h"

#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>

#include "net/event_loop.h"

namespace tandem::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

tcp::endpoint ToEndpoint(const SocketAddress& a) {
  sockaddr_storage storage{};
  const socklen_t len = a.ToSockaddr(&storage);
  tcp::endpoint ep;
  std::memcpy(ep.data(), &storage, len);
  ep.resize(len);
  return ep;
}

SocketAddress FromEndpoint(const tcp::endpoint& ep) {
  auto a = SocketAddress::FromSockaddr(ep.data(), static_cast<socklen_t>(ep.size()));
  return a ? *a : SocketAddress{};
}

}  // namespace

struct StreamClient::State : std::enable_shared_from_this<StreamClient::State> {
  State(asio::io_context& io, StreamClientOptions o, StreamClientHandlers h)
      : options(std::move(o)),
        handlers(std::move(h)),
        tls_context(ssl::context::tls_client),
        socket(io),
        timer(io) {}

  StreamClientOptions options;
  StreamClientHandlers handlers;
  ssl::context tls_context;
  tcp::socket socket;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;
  asio::steady_timer timer;
  std::array<uint8_t, 16384> read_buffer{};
  std::deque<std::vector<uint8_t>> queue;
  size_t queued = 0;
  bool connected = false;
  bool writing = false;
  bool closing = false;
  bool finished = false;

  void Start(const SocketAddress& remote) {
    auto self = shared_from_this();
    timer.expires_after(std::chrono::microseconds(options.connect_timeout.us()));
    timer.async_wait([self](const error_code& ec) {
      if (!ec && !self->connected) self->Fail("timed out");
    });
    socket.async_connect(ToEndpoint(remote), [self](const error_code& ec) {
      if (self->finished) return;
      if (ec) return self->Fail("connect failed: " + ec.message());
      error_code ignored;
      self->socket.set_option(tcp::no_delay(true), ignored);
      if (!self->options.tls) return self->Connected();
      self->StartTls();
    });
  }

  void StartTls() {
    tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (options.verify_peer) {
      error_code ignored;
      tls_context.set_default_verify_paths(ignored);
      tls_context.set_verify_mode(ssl::verify_peer);
    } else {
      tls_context.set_verify_mode(ssl::verify_none);
    }
    tls = std::make_unique<ssl::stream<tcp::socket&>>(socket, tls_context);
    if (!options.server_name.empty()) {
      SSL_set_tlsext_host_name(tls->native_handle(), options.server_name.c_str());
      if (options.verify_peer) tls->set_verify_callback(ssl::host_name_verification(options.server_name));
    }
    auto self = shared_from_this();
    tls->async_handshake(ssl::stream_base::client, [self](const error_code& ec) {
      if (self->finished) return;
      if (ec) return self->Fail("TLS handshake failed: " + ec.message());
      self->Connected();
    });
  }

  void Connected() {
    connected = true;
    timer.cancel();
    error_code ec;
    const SocketAddress local = FromEndpoint(socket.local_endpoint(ec));
    if (handlers.on_connected) handlers.on_connected(true, local, "");
    if (finished) return;
    Read();
    Write();
  }

  template <typename Handler>
  void AsyncRead(Handler&& h) {
    if (tls) {
      tls->async_read_some(asio::buffer(read_buffer), std::forward<Handler>(h));
    } else {
      socket.async_read_some(asio::buffer(read_buffer), std::forward<Handler>(h));
    }
  }

  void Read() {
    auto self = shared_from_this();
    AsyncRead([self](const error_code& ec, size_t n) {
      if (self->finished) return;
      if (ec) return self->Closed(ec == asio::error::eof ? "closed by the server" : ec.message());
      if (self->handlers.on_data) self->handlers.on_data(ByteSpan(self->read_buffer.data(), n));
      if (!self->finished) self->Read();
    });
  }

  void Write() {
    if (writing || queue.empty() || !connected || finished) return;
    writing = true;
    auto self = shared_from_this();
    auto done = [self](const error_code& ec, size_t) {
      self->writing = false;
      if (self->finished) return;
      if (ec) return self->Closed("write failed: " + ec.message());
      self->queued -= self->queue.front().size();
      self->queue.pop_front();
      if (self->queue.empty() && self->closing) return self->Finish();
      self->Write();
    };
    if (tls) {
      asio::async_write(*tls, asio::buffer(queue.front()), done);
    } else {
      asio::async_write(socket, asio::buffer(queue.front()), done);
    }
  }

  void Fail(const std::string& reason) {
    if (finished) return;
    auto on_connected = std::move(handlers.on_connected);
    Finish();
    if (on_connected) on_connected(false, SocketAddress{}, reason);
  }

  void Closed(const std::string& reason) {
    if (finished) return;
    auto on_close = std::move(handlers.on_close);
    Finish();
    if (on_close) on_close(reason);
  }

  void Finish() {
    finished = true;
    handlers = {};
    timer.cancel();
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
};

std::unique_ptr<StreamClient> StreamClient::Connect(EventLoop& loop, const SocketAddress& remote,
                                                    const StreamClientOptions& options,
                                                    StreamClientHandlers handlers) {
  std::unique_ptr<StreamClient> client(new StreamClient());
  client->state_ = std::make_shared<State>(loop.context(), options, std::move(handlers));
  auto state = client->state_;
  asio::post(loop.context(), [state, remote] {
    if (!state->finished) state->Start(remote);
  });
  return client;
}

StreamClient::~StreamClient() {
  if (state_ && !state_->finished) state_->Finish();
}

bool StreamClient::Send(ByteSpan bytes) {
  if (state_->finished || state_->closing) return false;
  if (state_->queued + bytes.size() > state_->options.max_send_buffer) return false;
  state_->queue.emplace_back(bytes.begin(), bytes.end());
  state_->queued += bytes.size();
  state_->Write();
  return true;
}

void StreamClient::Close() {
  if (state_->finished) return;
  state_->closing = true;
  state_->handlers = {};
  if (state_->queue.empty() && !state_->writing) state_->Finish();
}

size_t StreamClient::queued_bytes() const { return state_->queued; }

}  // namespace tandem::net
