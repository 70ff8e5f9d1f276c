// StreamServer: TCP and TLS (asio::ssl) listeners and connections.
//
// Ownership: the server's shared state owns its connections (id -> shared_ptr), and every pending Asio
// operation holds a shared_ptr to its connection, so a connection outlives its last callback even after it
// was closed and removed. Closing is one path (HardClose) that closes the socket, removes the connection and
// runs on_close once.
//
// Receive: plain TCP waits for readability and recv()s into a buffer that belongs to the loop, handing it to
// on_data directly; only unconsumed bytes are copied into the connection, so an idle connection holds no
// receive memory. TLS reads through asio::ssl::stream into a small per-connection buffer (the stream needs a
// buffer that lives as long as the read is pending).
//
// Send: Send() appends to the connection's buffer and posts one flush, so everything queued by a handler
// leaves together. TCP writes with non-blocking send() and waits for writability on EAGAIN; TLS uses
// async_write with double buffering (one buffer in flight, one filling).
#include "net/stream_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "net/event_loop.h"
#include "net/tls_context_impl.h"

namespace tandem::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr char kLog[] = "net.stream";
constexpr size_t kReadScratchBytes = 64 * 1024;
constexpr size_t kTlsReadBytes = 8 * 1024;
constexpr size_t kMaxReadsPerWake = 4;
// Buffers that grew past these while busy are released once empty again.
constexpr size_t kKeepReceiveCapacity = 64 * 1024;
constexpr size_t kKeepSendCapacity = 256 * 1024;
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);


std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

SocketAddress ToSocketAddress(const tcp::endpoint& ep) {
  std::optional<SocketAddress> a = SocketAddress::FromSockaddr(ep.data(), static_cast<socklen_t>(ep.size()));
  if (!a) return {};
  if (a->ip().IsV4Mapped()) return SocketAddress(a->ip().Unmapped(), a->port());
  return *a;
}

// The receive buffer shared by all plain-TCP connections on a loop (handlers run one at a time).
class StreamLoopService : public asio::execution_context::service {
 public:
  using key_type = StreamLoopService;
  static asio::execution_context::id id;
  explicit StreamLoopService(asio::execution_context& ctx) : service(ctx) {}
  uint8_t* scratch() {
    if (!scratch_) scratch_ = std::make_unique_for_overwrite<uint8_t[]>(kReadScratchBytes);
    return scratch_.get();
  }

 private:
  void shutdown() override {}
  std::unique_ptr<uint8_t[]> scratch_;
};

asio::execution_context::id StreamLoopService::id;

}  // namespace

uint64_t NextStreamConnectionId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------------------------
// TlsServerContext

TlsServerContext::TlsServerContext() : impl_(std::make_unique<Impl>()) {}
TlsServerContext::~TlsServerContext() = default;

std::shared_ptr<TlsServerContext> TlsServerContext::FromFiles(const std::string& cert_chain_pem,
                                                              const std::string& key_pem) {
  std::shared_ptr<TlsServerContext> context(new TlsServerContext());
  SSL_CTX* ctx = context->impl_->ssl.native_handle();
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
    throw std::runtime_error("TLS: cannot require TLS 1.2 or later: " + OpenSslErrors());
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // OpenSSL frees its record buffers while a connection is idle: many mostly-quiet TURN/TLS clients.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_chain_pem.c_str()) != 1)
    throw std::runtime_error("TLS: cannot load the certificate chain from '" + cert_chain_pem +
                             "': " + OpenSslErrors());
  auto mismatch = [&] {
    return std::runtime_error("TLS: the private key in '" + key_pem +
                              "' does not match the certificate in '" + cert_chain_pem +
                              "': " + OpenSslErrors());
  };
  if (SSL_CTX_use_PrivateKey_file(ctx, key_pem.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) throw mismatch();
    throw std::runtime_error("TLS: cannot load the private key from '" + key_pem + "': " + OpenSslErrors());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) throw mismatch();
  return context;
}

// ---------------------------------------------------------------------------------------------------------------
// Server state and connections

namespace {

class ConnectionBase;

struct ServerState : std::enable_shared_from_this<ServerState> {
  explicit ServerState(EventLoop& l)
      : loop(l),
        acceptor(l.context()),
        retry_timer(l.context()),
        loop_service(
            asio::use_service<StreamLoopService>(static_cast<asio::execution_context&>(l.context()))) {}

  void Accept();
  void OnAccept(const error_code& ec, tcp::socket socket);
  void Shutdown();

  EventLoop& loop;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  StreamLoopService& loop_service;
  std::shared_ptr<TlsServerContext> tls;
  StreamHandlers handlers;
  StreamServerOptions options;
  SocketAddress local;
  // Owns the connections; a closing connection removes itself.
  std::unordered_map<uint64_t, std::shared_ptr<ConnectionBase>> connections;
  bool shut_down = false;
};

class ConnectionBase : public StreamConnection {
 public:
  virtual void Start() = 0;
  virtual void HardClose() = 0;
};

template <bool kTls>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<kTls>> {
 public:
  using Stream = std::conditional_t<kTls, asio::ssl::stream<tcp::socket>, tcp::socket>;

  Connection(std::shared_ptr<ServerState> server, tcp::socket socket, SocketAddress remote,
             SocketAddress local)
      : server_(std::move(server)),
        stream_(MakeStream(std::move(socket), *server_)),
        timer_(server_->loop.context()),
        id_(NextStreamConnectionId()),
        remote_(remote),
        local_(local) {}

  uint64_t id() const override { return id_; }
  SocketAddress remote_address() const override { return remote_; }
  SocketAddress local_address() const override { return local_; }
  bool is_tls() const override { return kTls; }

  bool Send(ByteSpan a, ByteSpan b, ByteSpan c) override {
    if (closed_ || closing_) return false;
    size_t total = a.size() + b.size() + c.size();
    size_t queued = QueuedBytes();
    if (queued > 0 && queued + total > server_->options.max_send_buffer) return false;
    wbuf_.insert(wbuf_.end(), a.begin(), a.end());
    wbuf_.insert(wbuf_.end(), b.begin(), b.end());
    wbuf_.insert(wbuf_.end(), c.begin(), c.end());
    ScheduleFlush();
    return true;
  }

  void PauseReading() override { paused_ = true; }

  void ResumeReading() override {
    if (!paused_) return;
    paused_ = false;
    if (closed_ || closing_ || !opened_) return;
    asio::post(server_->loop.context(), [self = this->shared_from_this()] {
      if (self->closed_ || self->closing_ || self->paused_) return;
      // What on_data declined before the pause, then the socket again.
      if (!self->rbuf_.empty() && !self->Deliver(nullptr, 0)) return;
      self->StartRead();
    });
  }

  size_t queued_bytes() const override { return QueuedBytes(); }

  void SetDrainHandler(std::function<void()> fn) override {
    if (closed_) return;
    on_drain_ = std::move(fn);
  }

  void Close() override {
    if (closed_ || closing_) return;
    closing_ = true;
    // Never finish inside Close(): the caller may be in the middle of on_data or on_open.
    asio::post(server_->loop.context(), [self = this->shared_from_this()] { self->MaybeFinishClose(); });
  }

  void Start() override {
    error_code ignored;
    socket().set_option(tcp::no_delay(true), ignored);
    socket().non_blocking(true, ignored);
    if constexpr (kTls) {
      ArmTimer(std::chrono::seconds(std::max(1, server_->options.handshake_timeout_seconds)),
               "TLS handshake");
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = this->shared_from_this()](const error_code& ec) { self->OnHandshake(ec); });
    } else {
      Open();
    }
  }

  // Closes now: queued data is dropped. Runs on_close (once) for an opened connection.
  void HardClose() override {
    if (closed_) return;
    closed_ = true;
    std::shared_ptr<Connection> self = this->shared_from_this();  // alive through on_close and the erase
    error_code ignored;
    timer_.cancel();
    socket().close(ignored);  // pending operations complete with operation_aborted and find closed_
    server_->connections.erase(id_);
    on_drain_ = nullptr;
    if (opened_ && server_->handlers.on_close) server_->handlers.on_close(*this);
    // Buffers a pending operation may still point at (tls_rbuf_, tls_inflight_) live as long as the object.
    std::vector<uint8_t>().swap(rbuf_);
    std::vector<uint8_t>().swap(wbuf_);
  }

 private:
  static Stream MakeStream(tcp::socket socket, ServerState& server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), server.tls->impl().ssl);
    } else {
      return socket;
    }
  }

  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  size_t QueuedBytes() const { return wbuf_.size() - woff_ + tls_inflight_.size(); }

  void Open() {
    opened_ = true;
    last_receive_ = std::chrono::steady_clock::now();
    if (server_->handlers.on_open) server_->handlers.on_open(*this);
    if (closed_ || closing_) return;
    if (server_->options.idle_timeout_seconds > 0) {
      ArmIdleTimer(std::chrono::seconds(server_->options.idle_timeout_seconds));
    } else {
      timer_.cancel();
    }
    StartRead();
  }

  void OnHandshake(const error_code& ec) {
    if (closed_) return;
    if (ec) {
      LOG_DEBUG(kLog, "connection " << id_ << ": TLS handshake failed: " << ec.message());
      HardClose();
      return;
    }
    Open();
  }

  // --- timers
  // -----------------------------------------------------------------------------------------------

  void ArmTimer(std::chrono::steady_clock::duration after, const char* what) {
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this(), what](const error_code& ec) {
      if (ec || self->closed_) return;
      LOG_DEBUG(kLog, "connection " << self->id_ << ": " << what << " timed out");
      self->HardClose();
    });
  }

  // Idle means nothing received: the deadline moves with every read, without re-arming the timer per read.
  void ArmIdleTimer(std::chrono::steady_clock::duration timeout) {
    timer_.expires_at(last_receive_ + timeout);
    timer_.async_wait([self = this->shared_from_this(), timeout](const error_code& ec) {
      if (ec || self->closed_ || self->closing_) return;
      if (std::chrono::steady_clock::now() - self->last_receive_ >= timeout) {
        LOG_DEBUG(kLog, "connection " << self->id_ << ": idle timeout");
        self->HardClose();
        return;
      }
      self->ArmIdleTimer(timeout);
    });
  }

  // --- receive
  // ----------------------------------------------------------------------------------------------

  void StartRead() {
    if (read_in_flight_ || closing_ || closed_ || paused_) return;
    read_in_flight_ = true;
    if constexpr (kTls) {
      if (tls_rbuf_.empty()) tls_rbuf_.resize(kTlsReadBytes);
      stream_.async_read_some(asio::buffer(tls_rbuf_),
                              [self = this->shared_from_this()](const error_code& ec, size_t n) {
                                self->read_in_flight_ = false;
                                self->OnTlsRead(ec, n);
                              });
    } else {
      socket().async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](const error_code& ec) {
        self->read_in_flight_ = false;
        self->OnTcpReadable(ec);
      });
    }
  }

  void OnTcpReadable(const error_code& ec) {
    if (closed_) return;
    if (closing_) {
      MaybeFinishClose();
      return;
    }
    if (ec) {
      HardClose();
      return;
    }
    if (paused_) return;  // ResumeReading() starts reading again
    uint8_t* scratch = server_->loop_service.scratch();
    for (size_t round = 0; round < kMaxReadsPerWake; ++round) {
      ssize_t n = ::recv(socket().native_handle(), scratch, kReadScratchBytes, MSG_DONTWAIT);
      if (n > 0) {
        if (!Deliver(scratch, static_cast<size_t>(n))) return;
        if (static_cast<size_t>(n) < kReadScratchBytes) break;  // drained; re-arming re-checks readiness
        continue;
      }
      if (n == 0) {
        OnPeerClosed();
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      LOG_DEBUG(kLog, "connection " << id_ << ": recv failed: " << std::strerror(errno));
      HardClose();
      return;
    }
    StartRead();
  }

  void OnTlsRead(const error_code& ec, size_t n) {
    if (closed_) return;
    if (closing_) {
      MaybeFinishClose();
      return;
    }
    if (ec == asio::error::eof) {
      OnPeerClosed();
      return;
    }
    if (ec) {
      LOG_DEBUG(kLog, "connection " << id_ << ": TLS read failed: " << ec.message());
      HardClose();
      return;
    }
    if (n > 0 && !Deliver(tls_rbuf_.data(), n)) return;
    StartRead();  // not while paused
  }

  // Hands the buffered bytes to on_data (n == 0: only what is left over). False when the connection stopped
  // reading (closed, closing or paused).
  bool Deliver(const uint8_t* data, size_t n) {
    if (n > 0) last_receive_ = std::chrono::steady_clock::now();
    const bool direct = rbuf_.empty();  // nothing left over: on_data reads the loop's buffer in place
    if (!direct) rbuf_.insert(rbuf_.end(), data, data + n);
    ByteSpan buffered = direct ? ByteSpan(data, n) : ByteSpan(rbuf_);
    long consumed = static_cast<long>(buffered.size());
    if (server_->handlers.on_data) consumed = server_->handlers.on_data(*this, buffered);
    if (closed_) return false;
    if (consumed < 0 || static_cast<size_t>(consumed) > buffered.size()) {
      if (consumed > 0) LOG_WARN(kLog, "connection " << id_ << ": on_data consumed more than it was given");
      HardClose();
      return false;
    }
    auto used = static_cast<size_t>(consumed);
    if (direct) {
      if (used < n) rbuf_.assign(data + used, data + n);
    } else {
      rbuf_.erase(rbuf_.begin(), rbuf_.begin() + static_cast<std::ptrdiff_t>(used));
    }
    if (rbuf_.size() > server_->options.max_receive_buffer) {
      LOG_DEBUG(kLog, "connection " << id_ << ": " << rbuf_.size() << " unconsumed bytes: over the limit");
      HardClose();
      return false;
    }
    if (rbuf_.empty() && rbuf_.capacity() > kKeepReceiveCapacity) std::vector<uint8_t>().swap(rbuf_);
    return !closing_ && !paused_;
  }

  // EOF: the peer will send nothing more; finish sending what is queued, then close.
  void OnPeerClosed() {
    closing_ = true;
    MaybeFinishClose();
  }

  // --- send
  // -------------------------------------------------------------------------------------------------

  void ScheduleFlush() {
    if (flush_posted_ || write_in_flight_) return;
    flush_posted_ = true;
    asio::post(server_->loop.context(), [self = this->shared_from_this()] {
      self->flush_posted_ = false;
      self->StartWrite();
    });
  }

  void StartWrite() {
    if (closed_ || write_in_flight_) return;
    if constexpr (kTls) {
      if (wbuf_.empty()) {
        if (closing_) MaybeFinishClose();
        return;
      }
      tls_inflight_.swap(wbuf_);
      write_in_flight_ = true;
      asio::async_write(stream_, asio::buffer(tls_inflight_),
                        [self = this->shared_from_this()](const error_code& ec, size_t) {
                          self->write_in_flight_ = false;
                          if (self->closed_) return;
                          if (ec) {
                            LOG_DEBUG(kLog,
                                      "connection " << self->id_ << ": TLS write failed: " << ec.message());
                            self->HardClose();
                            return;
                          }
                          self->tls_inflight_.clear();
                          if (self->tls_inflight_.capacity() > kKeepSendCapacity)
                            std::vector<uint8_t>().swap(self->tls_inflight_);
                          self->StartWrite();
                          if (!self->closed_ && self->QueuedBytes() == 0) self->NotifyDrained();
                        });
    } else {
      int fd = socket().native_handle();
      while (woff_ < wbuf_.size()) {
        ssize_t n = ::send(fd, wbuf_.data() + woff_, wbuf_.size() - woff_, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          woff_ += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          // Drop the sent prefix so a long-busy connection's buffer holds only unsent bytes.
          wbuf_.erase(wbuf_.begin(), wbuf_.begin() + static_cast<std::ptrdiff_t>(woff_));
          woff_ = 0;
          write_in_flight_ = true;
          socket().async_wait(tcp::socket::wait_write,
                              [self = this->shared_from_this()](const error_code& ec) {
                                self->write_in_flight_ = false;
                                if (self->closed_) return;
                                if (ec) {
                                  self->HardClose();
                                  return;
                                }
                                self->StartWrite();
                              });
          return;
        }
        LOG_DEBUG(kLog, "connection " << id_ << ": send failed: " << std::strerror(n < 0 ? errno : EIO));
        HardClose();
        return;
      }
      const bool wrote = !wbuf_.empty();
      wbuf_.clear();
      woff_ = 0;
      if (wbuf_.capacity() > kKeepSendCapacity) std::vector<uint8_t>().swap(wbuf_);
      if (closing_) {
        MaybeFinishClose();
        return;
      }
      if (wrote) NotifyDrained();
    }
  }

  void NotifyDrained() {
    if (!on_drain_) return;
    auto fn = on_drain_;  // the handler may replace or clear itself
    fn();
  }

  // --- graceful close
  // ---------------------------------------------------------------------------------------

  // Progresses a Close(): flush the queue, stop the pending read, then (TLS) send close_notify, then close.
  void MaybeFinishClose() {
    if (closed_) return;
    if (write_in_flight_ || QueuedBytes() > 0) {
      if (!write_in_flight_ && !flush_posted_) StartWrite();
      return;  // the write completion comes back here
    }
    if (read_in_flight_) {
      error_code ignored;
      socket().cancel(ignored);  // the read completes (aborted) and comes back here
      return;
    }
    if constexpr (kTls) {
      if (tls_shutdown_started_) return;
      tls_shutdown_started_ = true;
      // Send close_notify without waiting for the peer's (RFC 8446 §6.1 does not require it, and most peers
      // just close): marking the peer's as already received makes SSL_shutdown complete once ours is written.
      SSL_set_shutdown(stream_.native_handle(),
                       SSL_get_shutdown(stream_.native_handle()) | SSL_RECEIVED_SHUTDOWN);
      ArmTimer(kTlsShutdownTimeout, "TLS shutdown");  // a peer that does not read cannot hold the connection
      stream_.async_shutdown([self = this->shared_from_this()](const error_code&) { self->HardClose(); });
    } else {
      ::shutdown(socket().native_handle(), SHUT_WR);  // FIN after the data
      HardClose();
    }
  }

  std::shared_ptr<ServerState> server_;
  Stream stream_;
  asio::steady_timer timer_;  // TLS handshake, then idle timeout, then TLS shutdown
  const uint64_t id_;
  const SocketAddress remote_;
  const SocketAddress local_;
  std::chrono::steady_clock::time_point last_receive_{};

  std::vector<uint8_t> rbuf_;          // received, not yet consumed by on_data
  std::vector<uint8_t> tls_rbuf_;      // TLS: target of the pending read
  std::vector<uint8_t> wbuf_;          // queued by Send(), not yet written
  size_t woff_ = 0;                    // TCP: bytes of wbuf_ already written
  std::vector<uint8_t> tls_inflight_;  // TLS: the buffer async_write is writing

  bool opened_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool read_in_flight_ = false;
  bool write_in_flight_ = false;
  bool flush_posted_ = false;
  bool tls_shutdown_started_ = false;
  bool paused_ = false;
  std::function<void()> on_drain_;
};

void ServerState::Accept() {
  if (shut_down) return;
  acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    self->OnAccept(ec, std::move(socket));
  });
}

void ServerState::OnAccept(const error_code& ec, tcp::socket socket) {
  if (shut_down || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or memory: back off instead of spinning on a listener that stays readable.
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory) {
      LOG_WARN(kLog, "accept failed: " << ec.message() << "; retrying shortly");
      retry_timer.expires_after(kAcceptRetryDelay);
      retry_timer.async_wait([self = shared_from_this()](const error_code& e) {
        if (!e) self->Accept();
      });
      return;
    }
    LOG_DEBUG(kLog, "accept failed: " << ec.message());
    Accept();
    return;
  }
  error_code e1, e2;
  tcp::endpoint remote = socket.remote_endpoint(e1);
  tcp::endpoint local_ep = socket.local_endpoint(e2);
  if (e1 || e2) {
    Accept();  // the peer is already gone
    return;
  }
  if (connections.size() >= options.max_connections) {
    LOG_DEBUG(kLog, "connection limit " << options.max_connections << " reached; refusing one");
    socket.close(e1);
    Accept();
    return;
  }
  std::shared_ptr<ConnectionBase> conn;
  if (tls) {
    conn = std::make_shared<Connection<true>>(shared_from_this(), std::move(socket), ToSocketAddress(remote),
                                              ToSocketAddress(local_ep));
  } else {
    conn = std::make_shared<Connection<false>>(shared_from_this(), std::move(socket), ToSocketAddress(remote),
                                               ToSocketAddress(local_ep));
  }
  connections.emplace(conn->id(), conn);
  conn->Start();  // may run on_open, which may shut the server down
  Accept();
}

void ServerState::Shutdown() {
  if (shut_down) return;
  shut_down = true;
  error_code ignored;
  acceptor.close(ignored);
  retry_timer.cancel();
  std::vector<std::shared_ptr<ConnectionBase>> all;
  all.reserve(connections.size());
  for (auto& [id, conn] : connections) all.push_back(conn);
  for (auto& conn : all) conn->HardClose();  // each removes itself, breaking the state <-> connection cycle
  connections.clear();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// StreamServer

struct StreamServer::Impl {
  std::shared_ptr<ServerState> state;
};

StreamServer::StreamServer() : impl_(std::make_unique<Impl>()) {}

StreamServer::~StreamServer() { Shutdown(); }

Result<std::unique_ptr<StreamServer>> StreamServer::Listen(EventLoop& loop, const SocketAddress& local,
                                                           std::shared_ptr<TlsServerContext> tls,
                                                           StreamHandlers handlers,
                                                           const StreamServerOptions& options) {
  if (!local.IsSet()) return MakeError(ErrorCode::kInvalidArgument, "listen address unspecified");
  auto state = std::make_shared<ServerState>(loop);
  state->tls = std::move(tls);
  state->handlers = std::move(handlers);
  state->options = options;

  sockaddr_storage ss;
  socklen_t len = local.ToSockaddr(&ss);
  tcp::endpoint endpoint;
  std::memcpy(endpoint.data(), &ss, len);
  endpoint.resize(len);

  tcp::acceptor& acceptor = state->acceptor;
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) {
    LOG_WARN(kLog, "listen socket failed: " << ec.message());
    return MakeError(ErrorCode::kUnavailable, "listen socket failed");
  }
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (options.reuse_port) {
    int one = 1;
    if (setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      LOG_WARN(kLog, "SO_REUSEPORT failed: " << std::strerror(errno));
      return MakeError(ErrorCode::kUnsupported, "SO_REUSEPORT not supported");
    }
  }
  if (local.ip().is_v6()) acceptor.set_option(asio::ip::v6_only(options.ipv6_only), ec);
  acceptor.bind(endpoint, ec);
  if (ec) {
    LOG_DEBUG(kLog, "bind " << log::Redact(local.ToString()) << " failed: " << ec.message());
    if (ec == asio::error::address_in_use)
      return MakeError(ErrorCode::kAlreadyExists, "TCP address already in use");
    if (ec == asio::error::access_denied) return MakeError(ErrorCode::kForbidden, "TCP bind not permitted");
    return MakeError(ErrorCode::kUnavailable, "TCP bind failed");
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    LOG_WARN(kLog, "listen failed: " << ec.message());
    return MakeError(ErrorCode::kUnavailable, "TCP listen failed");
  }
  acceptor.non_blocking(true, ec);
  state->local = ToSocketAddress(acceptor.local_endpoint(ec));
  state->Accept();

  std::unique_ptr<StreamServer> server(new StreamServer());
  server->impl_->state = std::move(state);
  return server;
}

SocketAddress StreamServer::local_address() const {
  return impl_->state ? impl_->state->local : SocketAddress();
}

size_t StreamServer::connection_count() const { return impl_->state ? impl_->state->connections.size() : 0; }

void StreamServer::Shutdown() {
  if (impl_ && impl_->state) impl_->state->Shutdown();
}

}  // namespace tandem::net
