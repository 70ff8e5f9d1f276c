// HttpServer: Boost.Beast HTTP/1.1 and WebSocket sessions over beast::tcp_stream or beast::ssl_stream.
//
// Ownership: the server's State owns its sessions (id -> shared_ptr) and every pending Beast operation holds a
// shared_ptr to its session, so a session outlives its last callback even after it was removed. A connection
// starts as an HttpSession; an accepted upgrade moves its stream into a WsSession that takes its place in the map
// under the same id. Finish() is the one exit path: close the socket, drop the bookkeeping, post on_close.
//
// Limits: Beast's request_parser enforces the header and body limits; the WebSocket read loop reads at most
// max_message_bytes + 1 bytes of a message (Beast's own message limit is off, so that an oversized message is
// reported to the application, which answers with its own close code, rather than closed with 1009 by Beast);
// writes go through one queue per WebSocket (messages, pings, the close frame; one Beast write at a time) whose
// byte count is capped.
#include "net/http_server.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <deque>
#include <sys/socket.h>
#include <type_traits>
#include <unordered_map>

#include "core/log.h"
#include "net/event_loop.h"
#include "net/tls_context_impl.h"

namespace tandem::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr char kLog[] = "net.http";
constexpr size_t kKeepMessageCapacity = 16 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::chrono::microseconds Chrono(TimeDelta d) { return std::chrono::microseconds(d.us()); }

SocketAddress ToSocketAddress(const tcp::endpoint& ep) {
  std::optional<SocketAddress> a = SocketAddress::FromSockaddr(ep.data(), static_cast<socklen_t>(ep.size()));
  if (!a) return {};
  if (a->ip().IsV4Mapped()) return SocketAddress(a->ip().Unmapped(), a->port());
  return *a;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

class Session {
 public:
  virtual ~Session() = default;
  // Closes at once; nothing but the posted on_close follows.
  virtual void HardClose() = 0;
  virtual bool Send(std::shared_ptr<const std::string>) { return false; }
  virtual void Ping() {}
  virtual void Close(uint16_t, std::string_view) {}
  virtual size_t queued_bytes() const { return 0; }
};

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (IEquals(n, name)) return v;
  return {};
}

// ---------------------------------------------------------------------------------------------------------------
// Server state

struct HttpServer::State : std::enable_shared_from_this<State> {
  explicit State(EventLoop& l) : loop(l), acceptor(l.context()), retry_timer(l.context()) {}

  void Accept();
  void OnAccept(const error_code& ec, tcp::socket socket);
  // A session ended: forget it (only if it is still the one registered under `id`), release its IP slot, and
  // for an accepted WebSocket post on_close.
  void Release(uint64_t id, const Session* session, const IpAddress& ip, bool websocket);
  HttpResponse Error(int status, const char* code, const char* message) const {
    if (handlers.error_response) return handlers.error_response(status, code, message);
    HttpResponse r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::string(message) + "\n";
    return r;
  }

  EventLoop& loop;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::shared_ptr<TlsServerContext> tls;
  HttpHandlers handlers;
  HttpServerOptions options;
  SocketAddress local;
  std::unordered_map<uint64_t, std::shared_ptr<Session>> sessions;
  std::unordered_map<IpAddress, uint32_t> per_ip;
  size_t websockets = 0;
  HttpServerStats stats;
  uint64_t next_id = 1;
  bool shut_down = false;
  std::vector<uint64_t> closed_in_shutdown;
};

namespace {

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

HttpRequest ToRequest(http::request<http::string_body>& req, const SocketAddress& remote, bool move_body) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  if (move_body) r.body = std::move(req.body());
  for (const auto& field : req) r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  r.remote = remote;
  return r;
}

template <class Body>
void FillResponse(http::response<Body>& res, HttpResponse& r, bool keep_alive) {
  res.version(11);
  res.result(static_cast<unsigned>(r.status));
  res.set(http::field::server, "tandem");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.keep_alive(keep_alive);
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocket session

template <class Stream>
class WsSession final : public Session, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(std::shared_ptr<HttpServer::State> server, uint64_t id, SocketAddress remote, Stream&& stream)
      : server_(std::move(server)), id_(id), remote_(remote), ws_(std::move(stream)) {}

  void Begin(http::request<http::string_body> req, const HttpRequest& request) {
    auto self = this->shared_from_this();
    beast::get_lowest_layer(ws_).expires_never();  // the websocket stream's own timeouts from here on
    req_ = std::move(req);
    std::optional<HttpResponse> refusal;
    if (server_->handlers.on_upgrade) {
      refusal = server_->handlers.on_upgrade(id_, request);
    } else {
      refusal = server_->Error(404, "not_found", "no WebSocket endpoint here");
    }
    if (finished_) return;
    if (refusal) {
      ++server_->stats.websockets_refused;
      refusal_.emplace();
      FillResponse(*refusal_, *refusal, /*keep_alive=*/false);
      refusal_->body() = std::move(refusal->body);
      refusal_->prepare_payload();
      beast::get_lowest_layer(ws_).expires_after(Chrono(server_->options.request_timeout));
      http::async_write(ws_.next_layer(), *refusal_, [self](const error_code&, size_t) {
        if (self->finished_) return;
        if constexpr (!kIsTls<Stream>) {
          error_code ignored;
          beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_send, ignored);
        }
        self->Finish();
      });
      return;
    }
    accepted_ = true;
    ++server_->websockets;
    ++server_->stats.websockets_opened;
    ws_.set_option(websocket::stream_base::timeout{Chrono(server_->options.handshake_timeout),
                                                   websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "tandem"); }));
    ws_.read_message_max(0);  // our own limit, see Read()
    ws_.auto_fragment(false);
    // Pongs are reported from a posted handler: Beast runs this callback inside its read operation, where
    // starting another operation on the stream (a handler replying at once) is not allowed.
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind != websocket::frame_type::pong) return;
      asio::post(server_->loop.context(), [self = this->shared_from_this()] {
        if (!self->finished_ && self->server_->handlers.on_pong) self->server_->handlers.on_pong(self->id_);
      });
    });
    ws_.async_accept(req_, [self](const error_code& ec) { self->OnAccept(ec); });
  }

  bool Send(std::shared_ptr<const std::string> text) override {
    if (finished_ || closing_) return false;
    const size_t size = text->size();
    if (queued_bytes_ > 0 && queued_bytes_ + size > server_->options.max_send_queue_bytes) {
      ++server_->stats.slow_readers_closed;
      LOG_DEBUG(kLog, "websocket " << id_ << ": send queue full (" << queued_bytes_ << " bytes), closing");
      HardClose();
      return false;
    }
    queued_bytes_ += size;
    server_->stats.peak_send_queue_bytes = std::max<uint64_t>(server_->stats.peak_send_queue_bytes, queued_bytes_);
    queue_.push_back(Item{Item::Kind::kText, std::move(text), 0, {}});
    Flush();
    return true;
  }

  void Ping() override {
    if (finished_ || closing_) return;
    queue_.push_back(Item{Item::Kind::kPing, nullptr, 0, {}});
    Flush();
  }

  void Close(uint16_t code, std::string_view reason) override {
    if (finished_ || closing_) return;
    closing_ = true;
    queue_.push_back(Item{Item::Kind::kClose, nullptr, code, std::string(reason.substr(0, 123))});
    Flush();
  }

  void HardClose() override { Finish(); }
  size_t queued_bytes() const override { return queued_bytes_; }

 private:
  struct Item {
    enum class Kind : uint8_t { kText, kPing, kClose };
    Kind kind;
    std::shared_ptr<const std::string> text;
    uint16_t code;
    std::string reason;
  };

  void OnAccept(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      LOG_DEBUG(kLog, "websocket " << id_ << ": handshake failed: " << ec.message());
      Finish();
      return;
    }
    open_ = true;
    Read();
    Flush();
  }

  void Read() {
    if (finished_ || too_large_) return;
    const size_t limit = server_->options.max_message_bytes + 1 - std::min(message_.size(),
                                                                            server_->options.max_message_bytes);
    ws_.async_read_some(message_, limit,
                        [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      if (ec != websocket::error::closed) LOG_DEBUG(kLog, "websocket " << id_ << ": read: " << ec.message());
      Finish();
      return;
    }
    if (message_.size() > server_->options.max_message_bytes) {
      // Stop reading: the rest of the message is never buffered. The application answers (error, close).
      too_large_ = true;
      message_.clear();
      message_.shrink_to_fit();
      if (server_->handlers.on_message_too_large) server_->handlers.on_message_too_large(id_);
      return;
    }
    if (ws_.is_message_done()) {
      if (!closing_ && server_->handlers.on_message) {
        const std::string_view text(static_cast<const char*>(message_.data().data()), message_.size());
        server_->handlers.on_message(id_, text, !ws_.got_text());
        if (finished_) return;
      }
      message_.clear();
      if (message_.capacity() > kKeepMessageCapacity) message_.shrink_to_fit();
    }
    Read();
  }

  void Flush() {
    if (!open_ || writing_ || finished_ || queue_.empty()) return;
    writing_ = true;
    auto self = this->shared_from_this();
    Item& item = queue_.front();
    switch (item.kind) {
      case Item::Kind::kText:
        ws_.text(true);
        ws_.async_write(asio::buffer(*item.text), [self](const error_code& ec, size_t) { self->OnWritten(ec); });
        break;
      case Item::Kind::kPing:
        ws_.async_ping({}, [self](const error_code& ec) { self->OnWritten(ec); });
        break;
      case Item::Kind::kClose:
        ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(item.code), item.reason),
                        [self](const error_code&) { self->Finish(); });
        break;
    }
  }

  void OnWritten(const error_code& ec) {
    writing_ = false;
    if (finished_) return;
    if (!queue_.empty()) {
      if (queue_.front().text) queued_bytes_ -= queue_.front().text->size();
      queue_.pop_front();
    }
    if (ec) {
      LOG_DEBUG(kLog, "websocket " << id_ << ": write: " << ec.message());
      Finish();
      return;
    }
    Flush();
  }

  void Finish() {
    if (finished_) return;
    auto self = this->shared_from_this();  // Release() may drop the map's reference
    finished_ = true;
    beast::get_lowest_layer(ws_).close();  // cancels whatever is pending; those handlers see finished_
    queue_.clear();
    queued_bytes_ = 0;
    server_->Release(id_, this, remote_.ip(), accepted_);
  }

  std::shared_ptr<HttpServer::State> server_;
  const uint64_t id_;
  const SocketAddress remote_;
  websocket::stream<Stream> ws_;
  http::request<http::string_body> req_;
  std::optional<http::response<http::string_body>> refusal_;
  beast::flat_buffer message_;
  std::deque<Item> queue_;
  size_t queued_bytes_ = 0;
  bool accepted_ = false;  // on_upgrade said yes: on_close is owed
  bool open_ = false;      // handshake done: writes may start
  bool writing_ = false;
  bool closing_ = false;
  bool too_large_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------------------------------
// HTTP session

template <class Stream>
class HttpSession final : public Session, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(std::shared_ptr<HttpServer::State> server, uint64_t id, SocketAddress remote, Stream stream)
      : server_(std::move(server)),
        id_(id),
        remote_(remote),
        stream_(std::move(stream)),
        buffer_(server_->options.max_header_bytes + server_->options.max_body_bytes + 4096) {}

  void Start() {
    if constexpr (kIsTls<Stream>) {
      beast::get_lowest_layer(stream_).expires_after(Chrono(server_->options.handshake_timeout));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](const error_code& ec) {
                                if (self->finished_) return;
                                if (ec) {
                                  LOG_DEBUG(kLog, "connection " << self->id_ << ": TLS handshake: " << ec.message());
                                  self->Finish();
                                  return;
                                }
                                self->ReadRequest();
                              });
    } else {
      ReadRequest();
    }
  }

  void HardClose() override { Finish(); }

 private:
  void ReadRequest() {
    // A keep-alive connection waits with no more memory than it needs: drop capacity a large body left behind.
    if (buffer_.size() == 0 && buffer_.capacity() > kKeepMessageCapacity) buffer_.shrink_to_fit();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(
        Chrono(first_ ? server_->options.request_timeout : server_->options.idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      OnReadError(ec);
      return;
    }
    first_ = false;
    auto& req = parser_->get();
    if (websocket::is_upgrade(req)) {
      Upgrade();
      return;
    }
    beast::get_lowest_layer(stream_).expires_after(Chrono(server_->options.request_timeout));
    if (!parser_->is_done() && IEquals(View(req[http::field::expect]), "100-continue")) {
      // RFC 9110 §10.1.1: the client waits (curl: one second) for this before sending the body.
      asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                        [self = this->shared_from_this()](const error_code& ec, size_t) {
                          if (self->finished_) return;
                          if (ec) return self->Finish();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) {
      OnRequest({});
      return;
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnRequest(ec); });
  }

  void OnReadError(const error_code& ec) {
    if (ec == http::error::header_limit) {
      RespondError(431, "too_large", "request header block too large");
    } else if (ec == http::error::body_limit) {
      RespondError(413, "too_large", "request body too large");
    } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      RespondError(400, "bad_request", "malformed HTTP request");
    } else {
      // The client closed, went silent past the timeout, or the connection broke: nothing to answer.
      if (ec == beast::error::timeout && buffer_.size() > 0) ++server_->stats.bad_requests;
      Finish();
    }
  }

  void OnRequest(const error_code& ec) {
    if (finished_) return;
    if (ec) {
      OnReadError(ec);
      return;
    }
    ++server_->stats.requests;
    auto& req = parser_->get();
    const bool head = req.method() == http::verb::head;
    const bool keep_alive = req.keep_alive();
    HttpRequest request = ToRequest(req, remote_, /*move_body=*/true);
    HttpResponse response = server_->handlers.on_request ? server_->handlers.on_request(request)
                                                         : server_->Error(404, "not_found", "not found");
    if (finished_ || server_->shut_down) return;
    Respond(std::move(response), keep_alive, head);
  }

  void RespondError(int status, const char* code, const char* message) {
    ++server_->stats.bad_requests;
    Respond(server_->Error(status, code, message), /*keep_alive=*/false, /*head=*/false);
  }

  void Respond(HttpResponse r, bool keep_alive, bool head) {
    response_.emplace();
    FillResponse(*response_, r, keep_alive);
    if (r.status == 204 || r.status == 304) {
      // RFC 9110 §8.6: no Content-Length (and no body) in a 204; a 304 would describe the cached representation.
    } else if (head) {
      response_->content_length(r.body.size());  // RFC 9110 §9.3.2: the headers GET would send, no body
    } else {
      response_->body() = std::move(r.body);
      response_->prepare_payload();
    }
    // Writing the response has a deadline too: a client that does not read cannot hold the connection.
    beast::get_lowest_layer(stream_).expires_after(Chrono(server_->options.request_timeout));
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this(), keep_alive](const error_code& ec, size_t) {
                        if (self->finished_) return;
                        self->response_.reset();
                        if (ec) return self->Finish();
                        if (!keep_alive) return self->GracefulClose();
                        self->ReadRequest();
                      });
  }

  void GracefulClose() {
    if constexpr (kIsTls<Stream>) {
      beast::get_lowest_layer(stream_).expires_after(Chrono(server_->options.handshake_timeout));
      stream_.async_shutdown([self = this->shared_from_this()](const error_code&) { self->Finish(); });
    } else {
      // Half-close, then read until the client closes too: closing with unread input would send a reset, which
      // can destroy the response before the client has read it.
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      beast::get_lowest_layer(stream_).expires_after(kLingerTime);
      Linger();
    }
  }

  void Linger() {
    stream_.async_read_some(asio::buffer(linger_),
                            [self = this->shared_from_this()](const error_code& ec, size_t) {
                              if (self->finished_) return;
                              if (ec) return self->Finish();
                              self->Linger();
                            });
  }

  void Upgrade() {
    HttpRequest request = ToRequest(parser_->get(), remote_, /*move_body=*/false);
    auto ws = std::make_shared<WsSession<Stream>>(server_, id_, remote_, std::move(stream_));
    // The WebSocket session takes over the id, the IP slot and the socket; this one just ends.
    moved_ = true;
    finished_ = true;
    server_->sessions[id_] = ws;
    ws->Begin(parser_->release(), request);
  }

  void Finish() {
    if (finished_) return;
    auto self = this->shared_from_this();
    finished_ = true;
    beast::get_lowest_layer(stream_).close();
    server_->Release(id_, this, remote_.ip(), /*websocket=*/false);
  }

  std::shared_ptr<HttpServer::State> server_;
  const uint64_t id_;
  const SocketAddress remote_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::array<char, 512> linger_;
  bool first_ = true;
  bool moved_ = false;
  bool finished_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Accepting

void HttpServer::State::Accept() {
  acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    self->OnAccept(ec, std::move(socket));
  });
}

void HttpServer::State::OnAccept(const error_code& ec, tcp::socket socket) {
  if (shut_down) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // EMFILE and friends: back off instead of spinning on a listener that stays readable.
    LOG_WARN(kLog, "accept on " << local.ToString() << ": " << ec.message());
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([self = shared_from_this()](const error_code& e) {
      if (!e && !self->shut_down) self->Accept();
    });
    return;
  }
  error_code ep_ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ep_ec);
  if (ep_ec) {
    Accept();
    return;
  }
  const SocketAddress remote = ToSocketAddress(endpoint);
  uint32_t& from_ip = per_ip[remote.ip()];
  if (sessions.size() >= options.max_connections || from_ip >= options.max_connections_per_ip) {
    ++stats.connections_refused;
    if (from_ip == 0) per_ip.erase(remote.ip());
    LOG_DEBUG(kLog, "refusing a connection from " << log::Redact(remote.ToString()) << ": connection limit");
    error_code ignored;
    socket.close(ignored);
    Accept();
    return;
  }
  ++from_ip;
  ++stats.connections_accepted;
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const uint64_t id = next_id++;
  if (tls) {
    auto session = std::make_shared<HttpSession<TlsStream>>(
        shared_from_this(), id, remote, TlsStream(beast::tcp_stream(std::move(socket)), tls->impl().ssl));
    sessions.emplace(id, session);
    session->Start();
  } else {
    auto session =
        std::make_shared<HttpSession<PlainStream>>(shared_from_this(), id, remote, PlainStream(std::move(socket)));
    sessions.emplace(id, session);
    session->Start();
  }
  Accept();
}

void HttpServer::State::Release(uint64_t id, const Session* session, const IpAddress& ip, bool websocket) {
  if (auto it = sessions.find(id); it != sessions.end() && it->second.get() == session) sessions.erase(it);
  if (auto it = per_ip.find(ip); it != per_ip.end() && --it->second == 0) per_ip.erase(it);
  if (!websocket) return;
  --websockets;
  if (shut_down) {
    closed_in_shutdown.push_back(id);
    return;
  }
  asio::post(loop.context(), [self = shared_from_this(), id] {
    if (!self->shut_down && self->handlers.on_close) self->handlers.on_close(id);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// HttpServer

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(EventLoop& loop, const SocketAddress& local,
                                                       std::shared_ptr<TlsServerContext> tls, HttpHandlers handlers,
                                                       const HttpServerOptions& options) {
  auto state = std::make_shared<State>(loop);
  state->tls = std::move(tls);
  state->handlers = std::move(handlers);
  state->options = options;
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(local.ip().ToString(), ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, "not an IP address");
  const tcp::endpoint endpoint(address, local.port());
  state->acceptor.open(endpoint.protocol(), ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot open a TCP socket");
  state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (options.reuse_port) {
    int one = 1;
    ::setsockopt(state->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  if (endpoint.address().is_v6()) state->acceptor.set_option(asio::ip::v6_only(options.ipv6_only), ec);
  state->acceptor.bind(endpoint, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot bind (address in use or not local)");
  state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot listen");
  state->local = ToSocketAddress(state->acceptor.local_endpoint(ec));
  state->Accept();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->state_ = std::move(state);
  return server;
}

HttpServer::~HttpServer() { Shutdown(); }

SocketAddress HttpServer::local_address() const { return state_->local; }

bool HttpServer::Send(uint64_t id, std::shared_ptr<const std::string> text) {
  auto it = state_->sessions.find(id);
  if (it == state_->sessions.end()) return false;
  std::shared_ptr<Session> session = it->second;  // alive through a close it may cause
  return session->Send(std::move(text));
}

void HttpServer::Ping(uint64_t id) {
  auto it = state_->sessions.find(id);
  if (it == state_->sessions.end()) return;
  std::shared_ptr<Session> session = it->second;
  session->Ping();
}

void HttpServer::Close(uint64_t id, uint16_t code, std::string_view reason) {
  auto it = state_->sessions.find(id);
  if (it == state_->sessions.end()) return;
  std::shared_ptr<Session> session = it->second;
  session->Close(code, reason);
}

size_t HttpServer::connection_count() const { return state_->sessions.size(); }
size_t HttpServer::websocket_count() const { return state_->websockets; }

size_t HttpServer::queued_bytes(uint64_t id) const {
  auto it = state_->sessions.find(id);
  return it == state_->sessions.end() ? 0 : it->second->queued_bytes();
}

HttpServerStats HttpServer::stats() const { return state_->stats; }

void HttpServer::Shutdown() {
  State& s = *state_;
  if (s.shut_down) return;
  s.shut_down = true;
  error_code ignored;
  s.acceptor.close(ignored);
  s.retry_timer.cancel();
  std::vector<std::shared_ptr<Session>> all;
  all.reserve(s.sessions.size());
  for (auto& [id, session] : s.sessions) all.push_back(session);
  for (auto& session : all) session->HardClose();
  s.sessions.clear();
  std::vector<uint64_t> closed = std::move(s.closed_in_shutdown);
  if (s.handlers.on_close) {
    for (uint64_t id : closed) s.handlers.on_close(id);
  }
  s.handlers = {};
}

}  // namespace tandem::net
