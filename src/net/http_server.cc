// HttpServer: Boost.Beast HTTP/1.1 and WebSocket sessions over beast::tcp_stream or beast::ssl_stream.
//
// Ownership: the server's State owns its sessions (id -> shared_ptr) and every pending Beast operation holds
// a shared_ptr to its session, so a session outlives its last callback even after it was removed. A
// connection starts as an HttpSession; an accepted upgrade moves its stream into a WsSession (TLS: Beast's
// WebSocket stream) or a RawWsSession (plain TCP: Beast's handshake, then RFC 6455 framing on the bare
// socket, see there) that takes its place in the map under the same id. Finish() is the one exit path: close
// the socket, drop the bookkeeping, post on_close.
//
// Limits: Beast's request_parser enforces the header and body limits; the WebSocket read loop reads at most
// max_message_bytes + 1 bytes of a message (Beast's own message limit is off, so that an oversized message is
// reported to the application, which answers with its own close code, rather than closed with 1009 by Beast);
// writes go through one queue per WebSocket (messages, pings, the close frame; one Beast write at a time)
// whose byte count is capped.
#include "net/http_server.h"

#include <sys/socket.h>
#include <sys/uio.h>
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
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
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
  // Writes what Send() queued (RawWsSession defers its writes to the end of the handler that queued them).
  virtual void FlushDeferred() {}
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
  // `session` has frames queued: it is flushed once the running handler returns (one post per loop turn), so
  // that the frames one input produces for one connection leave in one write.
  void DeferFlush(std::shared_ptr<Session> session);
  void FlushDeferred();
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
  // Plain-TCP WebSocket sessions read into this one buffer (the loop runs one handler at a time) and keep
  // only the unparsed tail of a frame themselves: an idle connection holds no read buffer.
  std::vector<char> read_buffer;
  std::vector<std::shared_ptr<Session>> deferred_flushes;
  bool flush_posted = false;
  // Set while a WebSocket read handler runs: it flushes the deferred sessions itself when it ends, which
  // saves the post (and the reactor interrupt, an epoll_ctl, that a post costs) for the frames it relayed.
  int reading = 0;
};

namespace {

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

HttpRequest ToRequest(http::request<http::string_body>& req, const SocketAddress& remote, bool move_body) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  if (move_body) r.body = std::move(req.body());
  for (const auto& field : req)
    r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
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
    server_->stats.peak_send_queue_bytes =
        std::max<uint64_t>(server_->stats.peak_send_queue_bytes, queued_bytes_);
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
    const size_t limit = server_->options.max_message_bytes + 1 -
                         std::min(message_.size(), server_->options.max_message_bytes);
    ws_.async_read_some(message_, limit, [self = this->shared_from_this()](const error_code& ec, size_t) {
      self->OnRead(ec);
    });
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
        ws_.async_write(asio::buffer(*item.text),
                        [self](const error_code& ec, size_t) { self->OnWritten(ec); });
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
// WebSocket session over plain TCP
//
// Beast performs the opening handshake (RFC 6455 §4.2), then the session takes the bare socket and frames by
// itself (RFC 6455 §5): the signaling server's cost per message is then one recv() shared by every frame that
// arrived, an in-place unmask, and one sendmsg() per batch of queued frames, with no composed operation,
// timer or completion handler per message. Reads go into the server's shared buffer; a connection keeps only
// the tail of a partial frame (or of a fragmented message), so an idle one holds no buffer at all. Text
// frames are written once the handler that queued them returns (State::DeferFlush: one post per loop turn),
// so the frames one input produces for one connection — a burst of trickled candidates, a broadcast — leave
// in one non-blocking sendmsg(); control frames are written at once. What the kernel does not take waits for
// the socket to become writable and is then sent together with whatever was queued meanwhile.
//
// Protocol rules enforced (each violation fails the connection with a close frame, §7.1.7): client frames are
// masked (§5.1), RSV bits are zero (no extension is negotiated, §5.2), opcodes are known, control frames are
// final and at most 125 bytes (§5.5), continuation frames continue a message and data frames do not interrupt
// one (§5.4) — 1002 for these — and text messages are UTF-8 (§8.1, 1007). A message above max_message_bytes
// is reported once (on_message_too_large) as soon as its length is known, and its payload skipped unread into
// memory.

// RFC 3629 §4: well-formed UTF-8 only (no overlong forms, no surrogates, nothing above U+10FFFF). ASCII runs
// are checked eight bytes at a time.
bool IsValidUtf8(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

// RFC 6455 §5.3: octet i of the payload XOR octet i mod 4 of the masking key; eight octets at a time.
void Unmask(char* data, size_t n, const uint8_t key[4]) {
  const uint8_t pattern_bytes[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  uint64_t pattern;
  std::memcpy(&pattern, pattern_bytes, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, data + i, 8);
    v ^= pattern;
    std::memcpy(data + i, &v, 8);
  }
  for (; i < n; ++i) data[i] = static_cast<char>(data[i] ^ key[i % 4]);
}

class RawWsSession final : public Session, public std::enable_shared_from_this<RawWsSession> {
 public:
  RawWsSession(std::shared_ptr<HttpServer::State> server, uint64_t id, SocketAddress remote,
               PlainStream&& stream)
      : server_(std::move(server)),
        id_(id),
        remote_(remote),
        handshake_(std::in_place, std::move(stream)),
        socket_(server_->loop.context()) {}

  void Begin(http::request<http::string_body> req, const HttpRequest& request) {
    auto self = shared_from_this();
    beast::get_lowest_layer(*handshake_).expires_never();
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
      beast::get_lowest_layer(*handshake_).expires_after(Chrono(server_->options.request_timeout));
      http::async_write(handshake_->next_layer(), *refusal_, [self](const error_code&, size_t) {
        if (self->finished_) return;
        error_code ignored;
        beast::get_lowest_layer(*self->handshake_).socket().shutdown(tcp::socket::shutdown_send, ignored);
        self->Finish();
      });
      return;
    }
    accepted_ = true;
    ++server_->websockets;
    ++server_->stats.websockets_opened;
    handshake_->set_option(websocket::stream_base::timeout{Chrono(server_->options.handshake_timeout),
                                                           websocket::stream_base::none(), false});
    handshake_->set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "tandem"); }));
    handshake_->async_accept(req_, [self](const error_code& ec) {
      if (self->finished_) return;
      if (ec) {
        LOG_DEBUG(kLog, "websocket " << self->id_ << ": handshake failed: " << ec.message());
        self->Finish();
        return;
      }
      // Take the socket once Beast's operation has fully unwound.
      asio::post(self->server_->loop.context(), [self] { self->Adopt(); });
    });
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
    server_->stats.peak_send_queue_bytes =
        std::max<uint64_t>(server_->stats.peak_send_queue_bytes, queued_bytes_);
    Item& item = Push(kOpText, size);
    item.text = std::move(text);
    if (open_ && !flush_deferred_) {
      flush_deferred_ = true;
      server_->DeferFlush(shared_from_this());
    }
    return true;
  }

  void FlushDeferred() override {
    flush_deferred_ = false;
    Flush();
  }

  void Ping() override {
    if (finished_ || closing_) return;
    Push(kOpPing, 0);
    Flush();
  }

  void Close(uint16_t code, std::string_view reason) override {
    if (finished_ || closing_) return;
    QueueClose(code, reason.substr(0, 123));
    Flush();
  }

  void HardClose() override { Finish(); }
  size_t queued_bytes() const override { return queued_bytes_; }

 private:
  static constexpr uint8_t kOpContinuation = 0x0, kOpText = 0x1, kOpBinary = 0x2, kOpClose = 0x8,
                           kOpPing = 0x9, kOpPong = 0xA;
  static constexpr int kMaxReadsPerEvent = 4;  // then yield to other connections (a posted continuation)
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  static constexpr size_t kMaxIovecs = 64;

  struct Item {
    std::shared_ptr<const std::string> text;  // text frames
    std::string control;                      // ping/pong/close payload
    uint8_t header[10];
    uint8_t header_size = 0;
    uint8_t opcode = 0;
    std::string_view payload() const { return text ? std::string_view(*text) : std::string_view(control); }
  };

  // RFC 6455 §5.2: a final, unmasked server frame header.
  Item& Push(uint8_t opcode, size_t payload_size) {
    Item& item = queue_.emplace_back();
    item.opcode = opcode;
    uint8_t* h = item.header;
    h[0] = static_cast<uint8_t>(0x80 | opcode);
    if (payload_size < 126) {
      h[1] = static_cast<uint8_t>(payload_size);
      item.header_size = 2;
    } else if (payload_size <= 0xFFFF) {
      h[1] = 126;
      h[2] = static_cast<uint8_t>(payload_size >> 8);
      h[3] = static_cast<uint8_t>(payload_size);
      item.header_size = 4;
    } else {
      h[1] = 127;
      for (int i = 0; i < 8; ++i)
        h[2 + i] = static_cast<uint8_t>(static_cast<uint64_t>(payload_size) >> (56 - 8 * i));
      item.header_size = 10;
    }
    return item;
  }

  // §5.5.1: status code (omitted when 0) and reason.
  void QueueClose(uint16_t code, std::string_view reason) {
    closing_ = true;
    std::string payload;
    if (code != 0) {
      payload.push_back(static_cast<char>(code >> 8));
      payload.push_back(static_cast<char>(code & 0xFF));
      payload.append(reason);
    }
    Item& item = Push(kOpClose, payload.size());
    item.control = std::move(payload);
  }

  void Adopt() {
    if (finished_) return;
    socket_ = std::move(beast::get_lowest_layer(*handshake_).socket());
    handshake_.reset();
    req_ = {};
    error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) {
      Finish();
      return;
    }
    open_ = true;
    WaitReadable();
    Flush();
  }

  // ---- reading

  void WaitReadable() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const error_code& ec) { self->OnReadable(ec); });
  }

  void OnReadable(const error_code& ec) {
    if (finished_ || stopped_) return;
    if (ec) {
      Finish();
      return;
    }
    // What the frames read here make the server send goes out when this handler ends (State::reading).
    ++server_->reading;
    ReadAvailable();
    if (--server_->reading == 0 && !server_->deferred_flushes.empty()) server_->FlushDeferred();
  }

  void ReadAvailable() {
    std::vector<char>& buffer = server_->read_buffer;
    if (buffer.size() < kReadBufferBytes) buffer.resize(kReadBufferBytes);
    for (int round = 1;; ++round) {
      const ssize_t n = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n == 0) {
        Finish();  // the client closed the TCP connection
        return;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        LOG_DEBUG(kLog, "websocket " << id_ << ": read: " << std::strerror(errno));
        Finish();
        return;
      }
      Consume(buffer.data(), static_cast<size_t>(n));
      if (finished_ || stopped_) return;
      // A short read emptied the socket; the reactor is edge-triggered, so more data raises a new event.
      if (static_cast<size_t>(n) < buffer.size()) break;
      if (round == kMaxReadsPerEvent) {
        asio::post(server_->loop.context(), [self = shared_from_this()] { self->OnReadable({}); });
        return;
      }
    }
    WaitReadable();
  }

  void Consume(char* data, size_t n) {
    if (rx_.empty()) {
      const size_t used = Parse(data, n);
      if (!finished_ && used < n) rx_.assign(data + used, n - used);
      return;
    }
    rx_.append(data, n);
    const size_t used = Parse(rx_.data(), rx_.size());
    if (finished_) return;
    rx_.erase(0, used);
    if (rx_.empty() && rx_.capacity() > kKeepMessageCapacity) std::string().swap(rx_);
  }

  // Handles every complete frame at the start of p[0, n); returns the bytes used.
  size_t Parse(char* p, size_t n) {
    size_t used = 0;
    while (used < n && !finished_ && !stopped_) {
      if (skip_ > 0) {  // the rest of an oversized frame
        const size_t k = static_cast<size_t>(std::min<uint64_t>(skip_, n - used));
        skip_ -= k;
        used += k;
        continue;
      }
      const auto* h = reinterpret_cast<const uint8_t*>(p + used);
      const size_t avail = n - used;
      if (avail < 2) break;
      const bool fin = (h[0] & 0x80) != 0;
      const uint8_t opcode = h[0] & 0x0F;
      uint64_t length = h[1] & 0x7F;
      size_t header = 2;
      if (length == 126) {
        if (avail < 4) break;
        length = (uint64_t{h[2]} << 8) | h[3];
        header = 4;
      } else if (length == 127) {
        if (avail < 10) break;
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | h[2 + i];
        header = 10;
      }
      const bool control = (opcode & 0x8) != 0;
      if ((h[0] & 0x70) != 0 || (h[1] & 0x80) == 0 || (length >> 63) != 0) {
        Fail(1002, "protocol error");
        break;
      }
      if (control) {
        if (!fin || length > 125 || (opcode != kOpClose && opcode != kOpPing && opcode != kOpPong)) {
          Fail(1002, "bad control frame");
          break;
        }
      } else if (opcode > kOpBinary || (opcode == kOpContinuation) != in_message_) {
        // A continuation of nothing, or a new message inside a fragmented one (§5.4).
        Fail(1002, "bad data frame");
        break;
      }
      header += 4;  // masking key
      if (avail < header) break;
      const size_t message_so_far = in_message_ ? message_.size() : 0;
      if (!control && (too_large_ || message_so_far + length > server_->options.max_message_bytes)) {
        // Reported once; this and every later data frame are skipped without being buffered (the application
        // closes the connection), their fragmentation still tracked so that the close frame is found.
        used += header;
        skip_ = length;
        in_message_ = !fin;
        if (!too_large_) {
          too_large_ = true;
          std::string().swap(message_);
          if (!closing_ && server_->handlers.on_message_too_large)
            server_->handlers.on_message_too_large(id_);
        }
        continue;
      }
      if (avail - header < length) break;  // the frame is not all here yet
      char* payload = p + used + header;
      const size_t size = static_cast<size_t>(length);
      Unmask(payload, size, h + header - 4);
      used += header + size;
      if (control) {
        OnControl(opcode, payload, size);
        continue;
      }
      if (opcode != kOpContinuation) {
        if (fin) {
          Deliver(payload, size, opcode == kOpText);
          continue;
        }
        in_message_ = true;
        message_text_ = opcode == kOpText;
        message_.assign(payload, size);
        continue;
      }
      message_.append(payload, size);
      if (fin) {
        in_message_ = false;
        Deliver(message_.data(), message_.size(), message_text_);
        if (finished_) break;
        message_.clear();
        if (message_.capacity() > kKeepMessageCapacity) std::string().swap(message_);
      }
    }
    return used;
  }

  void Deliver(const char* data, size_t size, bool text) {
    if (closing_ || too_large_) return;  // after a close (sent or received) or an oversized message: dropped
    if (text && !IsValidUtf8(reinterpret_cast<const uint8_t*>(data), size)) {
      Fail(1007, "invalid UTF-8");
      return;
    }
    if (server_->handlers.on_message) server_->handlers.on_message(id_, std::string_view(data, size), !text);
  }

  void OnControl(uint8_t opcode, const char* payload, size_t size) {
    if (opcode == kOpPong) {
      if (server_->handlers.on_pong) server_->handlers.on_pong(id_);
      return;
    }
    if (opcode == kOpPing) {
      if (closing_) return;
      Item& item = Push(kOpPong, size);  // §5.5.3: the same application data
      item.control.assign(payload, size);
      Flush();
      return;
    }
    // Close (§5.5.1). A status code, when present, is at least two bytes.
    if (size == 1) {
      Fail(1002, "bad close frame");
      return;
    }
    close_received_ = true;
    if (close_sent_) {
      Finish();  // the closing handshake is complete
      return;
    }
    if (!closing_) {
      const uint16_t code = size >= 2 ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                                              static_cast<uint8_t>(payload[1]))
                                      : 0;
      QueueClose(code, {});  // echo the status code, then close (§5.5.1, §7.1.1: the server closes first)
    }
    Flush();
  }

  // Fails the connection (§7.1.7): a close frame with `code`, no more reading, then the socket closes.
  void Fail(uint16_t code, const char* why) {
    LOG_DEBUG(kLog, "websocket " << id_ << ": " << why << ", closing with " << code);
    stopped_ = true;
    if (!closing_) QueueClose(code, why);
    Flush();
    if (!finished_ && close_sent_) Finish();
  }

  // ---- writing

  void Flush() {
    if (!open_ || finished_ || write_waiting_) return;
    while (head_ < queue_.size()) {
      iovec iov[2 * kMaxIovecs];
      size_t count = 0;
      size_t skip = write_offset_;  // bytes of the first item already written
      for (size_t i = head_; i < queue_.size() && count + 2 <= 2 * kMaxIovecs; ++i) {
        const Item& item = queue_[i];
        const std::string_view payload = item.payload();
        const size_t header = item.header_size;
        if (skip < header) {
          iov[count++] = {const_cast<uint8_t*>(item.header) + skip, header - skip};
          skip = 0;
        } else {
          skip -= header;
        }
        if (payload.size() > skip)
          iov[count++] = {const_cast<char*>(payload.data()) + skip, payload.size() - skip};
        skip = 0;
        if (item.opcode == kOpClose) break;  // nothing goes after a close frame
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          WaitWritable();
          return;
        }
        LOG_DEBUG(kLog, "websocket " << id_ << ": write: " << std::strerror(errno));
        Finish();
        return;
      }
      size_t left = static_cast<size_t>(n);
      while (left > 0 && head_ < queue_.size()) {
        Item& item = queue_[head_];
        const size_t total = item.header_size + item.payload().size();
        const size_t rest = total - write_offset_;
        if (left < rest) {
          write_offset_ += left;
          left = 0;
          break;
        }
        left -= rest;
        write_offset_ = 0;
        const bool was_close = item.opcode == kOpClose;
        if (item.text) queued_bytes_ -= item.text->size();
        item = Item();
        ++head_;
        if (was_close) {
          OnCloseWritten();
          return;
        }
      }
    }
    queue_.clear();
    head_ = 0;
    if (queue_.capacity() > 64) queue_.shrink_to_fit();
  }

  void WaitWritable() {
    // Written items at the front are dropped now and then, so a queue that never drains does not grow.
    if (head_ > 64 && head_ * 2 > queue_.size()) {
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    write_waiting_ = true;
    socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const error_code& ec) {
      self->write_waiting_ = false;
      if (self->finished_) return;
      if (ec) {
        self->Finish();
        return;
      }
      self->Flush();
    });
  }

  void OnCloseWritten() {
    close_sent_ = true;
    queue_.clear();
    head_ = 0;
    if (close_received_ || stopped_) {
      Finish();
      return;
    }
    // Wait (reading, dropping data) for the client's close frame, within the handshake timeout (§7.1.1).
    close_timer_ = std::make_unique<asio::steady_timer>(server_->loop.context());
    close_timer_->expires_after(Chrono(server_->options.handshake_timeout));
    close_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->Finish();
    });
  }

  void Finish() {
    if (finished_) return;
    auto self = shared_from_this();  // Release() may drop the map's reference
    finished_ = true;
    error_code ignored;
    if (handshake_) beast::get_lowest_layer(*handshake_).close();
    socket_.close(ignored);
    if (close_timer_) close_timer_->cancel();
    queue_.clear();
    head_ = 0;
    queued_bytes_ = 0;
    server_->Release(id_, this, remote_.ip(), accepted_);
  }

  std::shared_ptr<HttpServer::State> server_;
  const uint64_t id_;
  const SocketAddress remote_;
  std::optional<websocket::stream<PlainStream>> handshake_;  // until Adopt()
  http::request<http::string_body> req_;
  std::optional<http::response<http::string_body>> refusal_;
  tcp::socket socket_;   // from Adopt() on
  std::string rx_;       // the unparsed tail: a partial frame
  std::string message_;  // a fragmented message being assembled
  uint64_t skip_ = 0;    // payload bytes of an oversized frame still to skip
  std::vector<Item> queue_;
  size_t head_ = 0;          // first unwritten item
  size_t write_offset_ = 0;  // bytes of queue_[head_] already written
  size_t queued_bytes_ = 0;  // text payload bytes not yet written
  std::unique_ptr<asio::steady_timer> close_timer_;
  bool accepted_ = false;        // on_upgrade said yes: on_close is owed
  bool open_ = false;            // handshake done, socket adopted: writes may start
  bool write_waiting_ = false;   // waiting for the socket to become writable
  bool flush_deferred_ = false;  // registered with the server for a flush after the current handler
  bool in_message_ = false;      // between the first and the final frame of a fragmented message
  bool message_text_ = false;
  bool too_large_ = false;
  bool closing_ = false;  // a close frame is queued or sent: no more data frames either way
  bool close_sent_ = false;
  bool close_received_ = false;
  bool stopped_ = false;  // failed: no more reading
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
      stream_.async_handshake(
          asio::ssl::stream_base::server, [self = this->shared_from_this()](const error_code& ec) {
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
    // A keep-alive connection waits with no more memory than it needs: drop capacity a large body left
    // behind.
    if (buffer_.size() == 0 && buffer_.capacity() > kKeepMessageCapacity) buffer_.shrink_to_fit();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(
        Chrono(first_ ? server_->options.request_timeout : server_->options.idle_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
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
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnRequest(ec); });
  }

  void OnReadError(const error_code& ec) {
    if (ec == http::error::header_limit) {
      RespondError(431, "too_large", "request header block too large");
    } else if (ec == http::error::body_limit) {
      RespondError(413, "too_large", "request body too large");
    } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
               ec != http::error::partial_message) {
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
      // RFC 9110 §8.6: no Content-Length (and no body) in a 204; a 304 would describe the cached
      // representation.
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
      // Half-close, then read until the client closes too: closing with unread input would send a reset,
      // which can destroy the response before the client has read it.
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
    // The WebSocket session takes over the id, the IP slot and the socket; this one just ends. TLS keeps
    // Beast's WebSocket stream; plain TCP frames on the bare socket (RawWsSession).
    using WebSocketSession = std::conditional_t<kIsTls<Stream>, WsSession<Stream>, RawWsSession>;
    auto ws = std::make_shared<WebSocketSession>(server_, id_, remote_, std::move(stream_));
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
    auto session = std::make_shared<HttpSession<PlainStream>>(shared_from_this(), id, remote,
                                                              PlainStream(std::move(socket)));
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

void HttpServer::State::DeferFlush(std::shared_ptr<Session> session) {
  deferred_flushes.push_back(std::move(session));
  if (flush_posted || reading > 0) return;
  flush_posted = true;
  asio::post(loop.context(), [self = shared_from_this()] { self->FlushDeferred(); });
}

void HttpServer::State::FlushDeferred() {
  flush_posted = false;
  std::vector<std::shared_ptr<Session>> sessions_to_flush;
  sessions_to_flush.swap(deferred_flushes);
  for (auto& session : sessions_to_flush) session->FlushDeferred();
  // Keep the vector's capacity for the next turn.
  sessions_to_flush.clear();
  if (deferred_flushes.empty()) deferred_flushes.swap(sessions_to_flush);
}

// ---------------------------------------------------------------------------------------------------------------
// HttpServer

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(EventLoop& loop, const SocketAddress& local,
                                                       std::shared_ptr<TlsServerContext> tls,
                                                       HttpHandlers handlers,
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
