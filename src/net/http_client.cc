// HttpFetch and WebSocketClient on Boost.Beast.
//
// Each exchange is a session object owned by shared_ptrs held by its pending operations; the user's handle
// (or the fetch callback) only points at it. A session is templated on its stream (plain TCP or TLS over TCP)
// so that the protocol code is written once.
#include "net/http_client.h"

#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <charconv>
#include <chrono>
#include <deque>

#include "core/log.h"
#include "net/event_loop.h"

namespace tandem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr char kLog[] = "net.http_client";

std::chrono::microseconds Chrono(TimeDelta d) { return std::chrono::microseconds(d.us()); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// A TLS client context that checks the certificate against the system store and the host name (or not, for
// self-signed development servers).
std::shared_ptr<ssl::context> MakeTlsContext(const TlsClientOptions& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (options.verify_peer) {
    error_code ec;
    ctx->set_default_verify_paths(ec);
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

// Sets SNI and the expected host name on a TLS stream. False when OpenSSL refuses them.
template <typename SslStream>
bool PrepareTls(SslStream& stream, const Url& url, const TlsClientOptions& options) {
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) return false;
  if (options.verify_peer) {
    stream.set_verify_callback(ssl::host_name_verification(url.host));
  }
  return true;
}

}  // namespace

std::string Url::HostHeader() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  const uint16_t default_port = secure() ? 443 : 80;
  if (port != default_port) h += ":" + std::to_string(port);
  return h;
}

std::optional<Url> Url::Parse(std::string_view text) {
  Url url;
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  url.scheme = Lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https" && url.scheme != "ws" && url.scheme != "wss")
    return std::nullopt;
  std::string_view rest = text.substr(scheme_end + 3);
  const size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target =
      path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  if (const size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port_text;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return std::nullopt;
  url.port = url.secure() ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    url.port = static_cast<uint16_t>(value);
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target.front() == '?') url.target = "/" + url.target;
  return url;
}

// ---------------------------------------------------------------------------------------------------------------
// HttpFetch

namespace {

template <typename Stream>
class FetchSession : public std::enable_shared_from_this<FetchSession<Stream>> {
 public:
  FetchSession(asio::io_context& io, std::shared_ptr<ssl::context> tls, HttpClientRequest request,
               std::function<void(HttpClientResponse)> done)
      : resolver_(io),
        timer_(io),
        tls_(std::move(tls)),
        request_(std::move(request)),
        done_(std::move(done)),
        stream_(MakeStream(io)) {}

  void Start() {
    auto self = this->shared_from_this();
    timer_.expires_after(Chrono(request_.timeout));
    timer_.async_wait([self](const error_code& ec) {
      if (!ec) self->Fail("timed out");
    });
    resolver_.async_resolve(request_.url.host, std::to_string(request_.url.port),
                            [self](const error_code& ec, tcp::resolver::results_type results) {
                              if (ec) return self->Fail("cannot resolve " + self->request_.url.host);
                              self->Connect(results);
                            });
  }

 private:
  Stream MakeStream(asio::io_context& io) {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      return Stream(io);
    } else {
      return Stream(io, *tls_);
    }
  }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Connect(const tcp::resolver::results_type& results) {
    auto self = this->shared_from_this();
    Tcp().async_connect(results, [self](const error_code& ec, const tcp::endpoint&) {
      if (ec) return self->Fail("cannot connect: " + ec.message());
      if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        self->Write();
      } else {
        if (!PrepareTls(self->stream_, self->request_.url, self->request_.tls))
          return self->Fail("TLS setup failed");
        self->stream_.async_handshake(ssl::stream_base::client, [self](const error_code& ec) {
          if (ec) return self->Fail("TLS handshake failed: " + ec.message());
          self->Write();
        });
      }
    });
  }

  void Write() {
    auto self = this->shared_from_this();
    const http::verb verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown) return Fail("unknown method " + request_.method);
    req_ = http::request<http::string_body>(verb, request_.url.target, 11);
    req_.set(http::field::host, request_.url.HostHeader());
    req_.set(http::field::user_agent, "tandem");
    req_.set(http::field::connection, "close");
    for (const auto& [name, value] : request_.headers) req_.set(name, value);
    req_.body() = request_.body;
    req_.prepare_payload();
    http::async_write(stream_, req_, [self](const error_code& ec, size_t) {
      if (ec) return self->Fail("cannot send the request: " + ec.message());
      self->Read();
    });
  }

  void Read() {
    auto self = this->shared_from_this();
    parser_.body_limit(request_.max_response_bytes);
    http::async_read(stream_, buffer_, parser_, [self](const error_code& ec, size_t) {
      if (ec) return self->Fail("bad response: " + ec.message());
      HttpClientResponse response;
      response.status = static_cast<int>(self->parser_.get().result_int());
      response.body = std::move(self->parser_.get().body());
      self->Finish(std::move(response));
    });
  }

  void Fail(std::string error) {
    HttpClientResponse response;
    response.error = std::move(error);
    Finish(std::move(response));
  }

  void Finish(HttpClientResponse response) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    timer_.cancel();
    resolver_.cancel();
    error_code ignored;
    Tcp().socket().close(ignored);
    done(std::move(response));
  }

  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::shared_ptr<ssl::context> tls_;
  HttpClientRequest request_;
  std::function<void(HttpClientResponse)> done_;
  Stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

void HttpFetch(EventLoop& loop, HttpClientRequest request, std::function<void(HttpClientResponse)> done) {
  asio::io_context& io = loop.context();
  if (request.url.secure()) {
    auto tls = MakeTlsContext(request.tls);
    auto session = std::make_shared<FetchSession<beast::ssl_stream<beast::tcp_stream>>>(
        io, tls, std::move(request), std::move(done));
    asio::post(io, [session] { session->Start(); });
  } else {
    auto session =
        std::make_shared<FetchSession<beast::tcp_stream>>(io, nullptr, std::move(request), std::move(done));
    asio::post(io, [session] { session->Start(); });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocketClient

struct WebSocketClient::State {
  virtual ~State() = default;
  virtual bool Send(std::string text) = 0;
  virtual void Close(uint16_t code, std::string_view reason) = 0;
  virtual void Abandon() = 0;  // the handle is gone: close at once, call no handler
  virtual bool IsOpen() const = 0;
};

namespace {

template <typename NextLayer>
class WsSession final : public WebSocketClient::State,
                        public std::enable_shared_from_this<WsSession<NextLayer>> {
 public:
  WsSession(asio::io_context& io, std::shared_ptr<ssl::context> tls, Url url,
            WebSocketClientHandlers handlers, WebSocketClientOptions options)
      : resolver_(io),
        tls_(std::move(tls)),
        url_(std::move(url)),
        handlers_(std::move(handlers)),
        options_(options),
        ws_(MakeStream(io)) {}

  void Start() {
    auto self = this->shared_from_this();
    resolver_.async_resolve(url_.host, std::to_string(url_.port),
                            [self](const error_code& ec, tcp::resolver::results_type results) {
                              if (self->closed_) return;
                              if (ec) return self->Finish(0, "cannot resolve " + self->url_.host);
                              self->Connect(results);
                            });
  }

  bool Send(std::string text) override {
    if (closed_ || closing_) return false;
    if (queued_bytes_ + text.size() > options_.max_send_queue_bytes) return false;
    queued_bytes_ += text.size();
    queue_.push_back(std::move(text));
    if (open_) WriteNext();
    return true;
  }

  void Close(uint16_t code, std::string_view reason) override {
    if (closed_ || closing_) return;
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::string(reason.substr(0, 123));
    if (!open_) return Finish(0, "closed before opening");
    if (!writing_) SendClose();
  }

  void Abandon() override {
    handlers_ = {};
    if (!closed_) Finish(0, "abandoned");
  }

  bool IsOpen() const override { return open_ && !closed_ && !closing_; }

 private:
  using Stream = websocket::stream<NextLayer>;

  Stream MakeStream(asio::io_context& io) {
    if constexpr (std::is_same_v<NextLayer, beast::tcp_stream>) {
      return Stream(io);
    } else {
      return Stream(io, *tls_);
    }
  }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(ws_); }

  void Connect(const tcp::resolver::results_type& results) {
    auto self = this->shared_from_this();
    Tcp().expires_after(Chrono(options_.handshake_timeout));
    Tcp().async_connect(results, [self](const error_code& ec, const tcp::endpoint&) {
      if (self->closed_) return;
      if (ec) return self->Finish(0, "cannot connect: " + ec.message());
      if constexpr (std::is_same_v<NextLayer, beast::tcp_stream>) {
        self->Handshake();
      } else {
        if (!PrepareTls(self->ws_.next_layer(), self->url_, self->options_.tls)) {
          return self->Finish(0, "TLS setup failed");
        }
        self->ws_.next_layer().async_handshake(ssl::stream_base::client, [self](const error_code& ec) {
          if (self->closed_) return;
          if (ec) return self->Finish(0, "TLS handshake failed: " + ec.message());
          self->Handshake();
        });
      }
    });
  }

  void Handshake() {
    auto self = this->shared_from_this();
    ws_.read_message_max(options_.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(http::field::user_agent, "tandem"); }));
    ws_.async_handshake(response_, url_.HostHeader(), url_.target, [self](const error_code& ec) {
      if (self->closed_) return;
      if (ec) {
        const unsigned status = self->response_.result_int();
        std::string why = status ? "upgrade refused with HTTP " + std::to_string(status)
                                 : "WebSocket handshake failed: " + ec.message();
        if (status && !self->response_.body().empty()) why += ": " + self->response_.body();
        return self->Finish(0, why);
      }
      // From here the WebSocket's own timeouts apply (ping on idle is the application's business).
      self->Tcp().expires_never();
      websocket::stream_base::timeout t =
          websocket::stream_base::timeout::suggested(beast::role_type::client);
      self->ws_.set_option(t);
      self->open_ = true;
      if (self->handlers_.on_open) self->handlers_.on_open();
      if (self->closed_) return;
      self->Read();
      if (self->closing_) {
        if (!self->writing_) self->SendClose();
      } else {
        self->WriteNext();
      }
    });
  }

  void Read() {
    auto self = this->shared_from_this();
    ws_.async_read(read_buffer_, [self](const error_code& ec, size_t) {
      if (self->closed_) return;
      if (ec) {
        if (ec == websocket::error::closed || self->close_sent_) return self->FinishWithCloseReason();
        return self->Finish(1006, "connection lost: " + ec.message());
      }
      const auto data = self->read_buffer_.cdata();
      std::string_view text(static_cast<const char*>(data.data()), data.size());
      if (self->handlers_.on_message) self->handlers_.on_message(text);
      if (self->closed_) return;
      self->read_buffer_.consume(self->read_buffer_.size());
      self->Read();
    });
  }

  void WriteNext() {
    if (writing_ || queue_.empty() || closed_) return;
    writing_ = true;
    auto self = this->shared_from_this();
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()), [self](const error_code& ec, size_t) {
      self->writing_ = false;
      if (self->closed_) return;
      if (ec) return self->Finish(1006, "send failed: " + ec.message());
      self->queued_bytes_ -= self->queue_.front().size();
      self->queue_.pop_front();
      if (self->closing_ && self->queue_.empty()) return self->SendClose();
      self->WriteNext();
    });
  }

  void SendClose() {
    if (close_sent_) return;
    close_sent_ = true;
    auto self = this->shared_from_this();
    websocket::close_reason reason;
    reason.code = close_code_;
    reason.reason = close_reason_;
    ws_.async_close(reason, [self](const error_code& ec) {
      if (self->closed_) return;
      if (ec) return self->Finish(1006, "closing failed: " + ec.message());
      self->FinishWithCloseReason();
    });
  }

  // The close handshake is over: report the code the server sent (RFC 6455 §7.1.5), ours if it sent none.
  void FinishWithCloseReason() {
    const auto& reason = ws_.reason();
    if (reason.code != websocket::close_code::none) {
      return Finish(static_cast<uint16_t>(reason.code), std::string(reason.reason.c_str()));
    }
    Finish(close_sent_ ? close_code_ : 1005, close_sent_ ? close_reason_ : "closed without a code");
  }

  void Finish(uint16_t code, std::string reason) {
    if (closed_) return;
    closed_ = true;
    resolver_.cancel();
    error_code ignored;
    Tcp().socket().close(ignored);
    auto on_close = std::move(handlers_.on_close);
    handlers_ = {};
    if (on_close) on_close(code, std::move(reason));
  }

  tcp::resolver resolver_;
  std::shared_ptr<ssl::context> tls_;
  Url url_;
  WebSocketClientHandlers handlers_;
  WebSocketClientOptions options_;
  Stream ws_;
  websocket::response_type response_;
  beast::flat_buffer read_buffer_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool open_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool closed_ = false;
  uint16_t close_code_ = 1000;
  std::string close_reason_;
};

}  // namespace

std::unique_ptr<WebSocketClient> WebSocketClient::Connect(EventLoop& loop, const Url& url,
                                                          WebSocketClientHandlers handlers,
                                                          const WebSocketClientOptions& options) {
  asio::io_context& io = loop.context();
  std::unique_ptr<WebSocketClient> client(new WebSocketClient());
  if (url.secure()) {
    auto session = std::make_shared<WsSession<beast::ssl_stream<beast::tcp_stream>>>(
        io, MakeTlsContext(options.tls), url, std::move(handlers), options);
    client->state_ = session;
    asio::post(io, [session] { session->Start(); });
  } else {
    auto session =
        std::make_shared<WsSession<beast::tcp_stream>>(io, nullptr, url, std::move(handlers), options);
    client->state_ = session;
    asio::post(io, [session] { session->Start(); });
  }
  LOG_DEBUG(kLog, "connecting to " << url.HostHeader());
  return client;
}

WebSocketClient::~WebSocketClient() {
  if (state_) state_->Abandon();
}

bool WebSocketClient::Send(std::string text) { return state_->Send(std::move(text)); }

void WebSocketClient::Close(uint16_t code, std::string_view reason) { state_->Close(code, reason); }

bool WebSocketClient::is_open() const { return state_->IsOpen(); }

}  // namespace tandem::net
