// TcpSocket, TcpListener and TcpConnection (see tcp_connection.h).
//
// Sockets are created with the system calls (so that options are set before bind) and then handed to an Asio
// socket only to wait for readiness; reads and writes are non-blocking recv()/send(), as for StreamServer's plain
// TCP connections. Every pending wait holds a shared_ptr to the state, so a completion that arrives after the
// owner is gone finds `closed` and does nothing.
#include "net/tcp_connection.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/log.h"
#include "net/event_loop.h"

namespace tandem::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr char kLog[] = "net.tcp";
constexpr size_t kReadBytes = 64 * 1024;
constexpr size_t kMaxReadsPerWake = 4;
constexpr size_t kMaxAcceptsPerWake = 16;
constexpr size_t kKeepCapacity = 256 * 1024;
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

// Handlers on one loop run one at a time, so each thread's loop can share one receive buffer.
uint8_t* ReadScratch() {
  thread_local std::unique_ptr<uint8_t[]> scratch;
  if (!scratch) scratch = std::make_unique_for_overwrite<uint8_t[]>(kReadBytes);
  return scratch.get();
}

tcp Protocol(int family) { return family == AF_INET6 ? tcp::v6() : tcp::v4(); }

std::optional<SocketAddress> SockName(int fd, bool peer) {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return std::nullopt;
  auto a = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (a && a->ip().IsV4Mapped()) return SocketAddress(a->ip().Unmapped(), a->port());
  return a;
}

ErrorCode BindErrorCode(int err) {
  if (err == EADDRINUSE || err == EADDRNOTAVAIL) return ErrorCode::kAlreadyExists;
  if (err == EACCES || err == EPERM) return ErrorCode::kForbidden;
  return ErrorCode::kUnavailable;
}

// A non-blocking TCP socket with SO_REUSEADDR and SO_REUSEPORT, bound to `local`. -errno on failure.
int BoundSocket(const SocketAddress& local) {
  const int family = local.ip().is_v6() ? AF_INET6 : AF_INET;
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      (family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  sockaddr_storage ss;
  const socklen_t len = local.ToSockaddr(&ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// TcpSocket

TcpSocket& TcpSocket::operator=(TcpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

TcpSocket::~TcpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

// ---------------------------------------------------------------------------------------------------------------
// TcpListener

struct TcpListener::State : std::enable_shared_from_this<State> {
  explicit State(EventLoop& l) : loop(l), acceptor(l.context()), retry(l.context()) {}

  void Wait() {
    if (closed) return;
    acceptor.async_wait(tcp::acceptor::wait_read, [self = shared_from_this()](const error_code& ec) {
      self->OnReadable(ec);
    });
  }

  void OnReadable(const error_code& ec) {
    if (closed || ec == asio::error::operation_aborted) return;
    auto self = shared_from_this();  // the handler may destroy the listener
    for (size_t i = 0; i < kMaxAcceptsPerWake && !closed; ++i) {
      sockaddr_storage ss;
      socklen_t len = sizeof(ss);
      const int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        // Out of descriptors or memory: back off instead of spinning on a listener that stays readable.
        LOG_WARN(kLog, "accept failed: " << std::strerror(errno) << "; retrying shortly");
        retry.expires_after(kAcceptRetryDelay);
        retry.async_wait([self](const error_code& e) {
          if (!e) self->Wait();
        });
        return;
      }
      auto remote = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
      if (!remote) {
        ::close(fd);
        continue;
      }
      if (remote->ip().IsV4Mapped()) remote = SocketAddress(remote->ip().Unmapped(), remote->port());
      if (!on_accept) {
        ::close(fd);
        continue;
      }
      auto handler = on_accept;  // the handler may destroy the listener, and with it `on_accept`
      handler(TcpSocket(fd), *remote);
    }
    Wait();
  }

  void Close() {
    if (closed) return;
    closed = true;
    on_accept = nullptr;
    error_code ignored;
    retry.cancel();
    acceptor.close(ignored);
  }

  EventLoop& loop;
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  AcceptHandler on_accept;
  SocketAddress local;
  bool closed = false;
};

Result<std::unique_ptr<TcpListener>> TcpListener::Listen(EventLoop& loop, const SocketAddress& local,
                                                         AcceptHandler on_accept, int backlog) {
  if (!local.IsSet()) return MakeError(ErrorCode::kInvalidArgument, "listen address unspecified");
  const int fd = BoundSocket(local);
  if (fd < 0) {
    LOG_DEBUG(kLog, "bind " << log::Redact(local.ToString()) << " failed: " << std::strerror(-fd));
    return MakeError(BindErrorCode(-fd), "TCP relay bind failed");
  }
  if (::listen(fd, backlog) != 0) {
    LOG_WARN(kLog, "listen failed: " << std::strerror(errno));
    ::close(fd);
    return MakeError(ErrorCode::kUnavailable, "TCP listen failed");
  }
  auto state = std::make_shared<State>(loop);
  error_code ec;
  state->acceptor.assign(Protocol(local.ip().is_v6() ? AF_INET6 : AF_INET), fd, ec);
  if (ec) {
    ::close(fd);
    return MakeError(ErrorCode::kInternal, "cannot register the listener");
  }
  state->local = SockName(fd, false).value_or(local);
  state->on_accept = std::move(on_accept);
  state->Wait();
  std::unique_ptr<TcpListener> listener(new TcpListener());
  listener->state_ = std::move(state);
  return listener;
}

TcpListener::~TcpListener() {
  if (state_) state_->Close();
}

SocketAddress TcpListener::local_address() const { return state_->local; }

// ---------------------------------------------------------------------------------------------------------------
// TcpConnection

struct TcpConnection::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(EventLoop& l) : loop(l), socket(l.context()), id(NextStreamConnectionId()) {}

  // --- connect

  void OnConnectWritable(const error_code& ec) {
    if (closed) return;
    int err = 0;
    socklen_t len = sizeof(err);
    if (ec || ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = ECONNABORTED;
    connecting = false;
    auto done = std::move(on_connected);
    on_connected = nullptr;
    if (err != 0) {
      LOG_DEBUG(kLog, "connection " << id << ": connect failed: " << std::strerror(err));
      Shut();
    } else {
      connected = true;
      remote = SockName(socket.native_handle(), true).value_or(remote);
      local = SockName(socket.native_handle(), false).value_or(local);
    }
    if (done) done(err == 0);
  }

  // --- receive

  void StartRead() {
    if (!started || read_in_flight || closing || closed || paused) return;
    read_in_flight = true;
    socket.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
      self->read_in_flight = false;
      self->OnReadable(ec);
    });
  }

  void OnReadable(const error_code& ec) {
    if (closed) return;
    if (closing) {
      MaybeFinishClose();
      return;
    }
    if (ec) {
      HardClose();
      return;
    }
    if (paused) return;
    auto self = shared_from_this();
    uint8_t* scratch = ReadScratch();
    for (size_t round = 0; round < kMaxReadsPerWake; ++round) {
      const ssize_t n = ::recv(socket.native_handle(), scratch, kReadBytes, MSG_DONTWAIT);
      if (n > 0) {
        if (!Deliver(scratch, static_cast<size_t>(n))) return;
        if (static_cast<size_t>(n) < kReadBytes) break;
        continue;
      }
      if (n == 0) {  // EOF: send what is queued, then close
        closing = true;
        MaybeFinishClose();
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      LOG_DEBUG(kLog, "connection " << id << ": recv failed: " << std::strerror(errno));
      HardClose();
      return;
    }
    StartRead();
  }

  // Hands the bytes (plus any left over) to on_data. False when reading stopped (closed, closing or paused).
  bool Deliver(const uint8_t* data, size_t n) {
    const bool direct = rbuf.empty();
    if (!direct) rbuf.insert(rbuf.end(), data, data + n);
    const ByteSpan buffered = direct ? ByteSpan(data, n) : ByteSpan(rbuf);
    long consumed = static_cast<long>(buffered.size());
    if (handlers.on_data && owner != nullptr) consumed = handlers.on_data(*owner, buffered);
    if (closed) return false;
    if (consumed < 0 || static_cast<size_t>(consumed) > buffered.size()) {
      HardClose();
      return false;
    }
    const auto used = static_cast<size_t>(consumed);
    if (direct) {
      if (used < n) rbuf.assign(data + used, data + n);
    } else {
      rbuf.erase(rbuf.begin(), rbuf.begin() + static_cast<std::ptrdiff_t>(used));
    }
    if (rbuf.size() > 2 * kReadBytes) {  // on_data keeps declining while reading goes on: not a pipe any more
      LOG_DEBUG(kLog, "connection " << id << ": " << rbuf.size() << " unconsumed bytes: closing");
      HardClose();
      return false;
    }
    if (rbuf.empty() && rbuf.capacity() > kKeepCapacity) std::vector<uint8_t>().swap(rbuf);
    return !closing && !paused;
  }

  // --- send

  bool Send(ByteSpan a, ByteSpan b, ByteSpan c) {
    if (closed || closing || !connected) return false;
    const size_t total = a.size() + b.size() + c.size();
    const size_t queued = Queued();
    if (queued > 0 && queued + total > kMaxSendBuffer) return false;
    wbuf.insert(wbuf.end(), a.begin(), a.end());
    wbuf.insert(wbuf.end(), b.begin(), b.end());
    wbuf.insert(wbuf.end(), c.begin(), c.end());
    ScheduleFlush();
    return true;
  }

  size_t Queued() const { return wbuf.size() - woff; }

  void ScheduleFlush() {
    if (flush_posted || write_in_flight) return;
    flush_posted = true;
    asio::post(loop.context(), [self = shared_from_this()] {
      self->flush_posted = false;
      self->StartWrite();
    });
  }

  void StartWrite() {
    if (closed || write_in_flight) return;
    const int fd = socket.native_handle();
    const bool had_data = woff < wbuf.size();
    while (woff < wbuf.size()) {
      const ssize_t n = ::send(fd, wbuf.data() + woff, wbuf.size() - woff, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        woff += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wbuf.erase(wbuf.begin(), wbuf.begin() + static_cast<std::ptrdiff_t>(woff));
        woff = 0;
        write_in_flight = true;
        socket.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const error_code& ec) {
          self->write_in_flight = false;
          if (self->closed) return;
          if (ec) {
            self->HardClose();
            return;
          }
          self->StartWrite();
        });
        return;
      }
      LOG_DEBUG(kLog, "connection " << id << ": send failed: " << std::strerror(n < 0 ? errno : EIO));
      HardClose();
      return;
    }
    wbuf.clear();
    woff = 0;
    if (wbuf.capacity() > kKeepCapacity) std::vector<uint8_t>().swap(wbuf);
    if (closing) {
      MaybeFinishClose();
      return;
    }
    if (had_data && on_drain) {
      auto fn = on_drain;  // may replace or clear itself
      fn();
    }
  }

  // --- close

  void Close() {
    if (closed || closing) return;
    closing = true;
    asio::post(loop.context(), [self = shared_from_this()] { self->MaybeFinishClose(); });
  }

  void MaybeFinishClose() {
    if (closed) return;
    if (write_in_flight || Queued() > 0) {
      if (!write_in_flight && !flush_posted && connected) StartWrite();
      if (connected) return;  // the write completion comes back here
    }
    if (connected) ::shutdown(socket.native_handle(), SHUT_WR);  // FIN after the data
    HardClose();
  }

  // Closes the socket now; runs on_close once for a started connection.
  void HardClose() {
    if (closed) return;
    auto self = shared_from_this();  // alive through on_close
    Shut();
    StreamConnection* const who = owner;
    auto on_close = std::move(handlers.on_close);
    handlers = {};
    if (started && on_close && who != nullptr) on_close(*who);
  }

  // Closes the socket with no callback.
  void Shut() {
    closed = true;
    connected = false;
    error_code ignored;
    socket.close(ignored);  // pending waits complete with operation_aborted and find `closed`
    on_drain = nullptr;
    on_connected = nullptr;
    std::vector<uint8_t>().swap(rbuf);
    std::vector<uint8_t>().swap(wbuf);
    woff = 0;
  }

  EventLoop& loop;
  tcp::socket socket;
  uint64_t id;
  SocketAddress local, remote;
  StreamConnection* owner = nullptr;  // the TcpConnection; null once it is destroyed
  StreamHandlers handlers;
  std::function<void(bool)> on_connected;
  std::function<void()> on_drain;
  std::vector<uint8_t> rbuf;  // received, not consumed by on_data
  std::vector<uint8_t> wbuf;  // queued by Send(), not yet written
  size_t woff = 0;
  bool connecting = false;
  bool connected = false;
  bool started = false;
  bool paused = false;
  bool closing = false;
  bool closed = false;
  bool read_in_flight = false;
  bool write_in_flight = false;
  bool flush_posted = false;
};

Result<std::unique_ptr<TcpConnection>> TcpConnection::Connect(EventLoop& loop, const SocketAddress& local,
                                                              const SocketAddress& remote,
                                                              std::function<void(bool ok)> on_connected) {
  if (!local.IsSet() || !remote.IsSet() || local.family() != remote.family())
    return MakeError(ErrorCode::kInvalidArgument, "bad connect addresses");
  const int fd = BoundSocket(local);
  if (fd < 0) {
    LOG_DEBUG(kLog, "bind " << log::Redact(local.ToString()) << " failed: " << std::strerror(-fd));
    return MakeError(BindErrorCode(-fd), "cannot bind the relay address");
  }
  std::unique_ptr<TcpConnection> conn(new TcpConnection());
  auto impl = std::make_shared<Impl>(loop);
  conn->impl_ = impl;
  impl->owner = conn.get();
  impl->local = local;
  impl->remote = remote;
  error_code ec;
  impl->socket.assign(Protocol(local.ip().is_v6() ? AF_INET6 : AF_INET), fd, ec);
  if (ec) {
    ::close(fd);
    return MakeError(ErrorCode::kInternal, "cannot register the socket");
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_storage ss;
  const socklen_t len = remote.ToSockaddr(&ss);
  impl->on_connected = std::move(on_connected);
  impl->connecting = true;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 || errno == EINPROGRESS || errno == EINTR) {
    // Writable means connected or failed (SO_ERROR says which); also when it connected at once.
    impl->socket.async_wait(tcp::socket::wait_write,
                            [impl](const error_code& e) { impl->OnConnectWritable(e); });
    return conn;
  }
  const int err = errno;
  if (err == EADDRINUSE || err == EADDRNOTAVAIL) {
    impl->Shut();
    return MakeError(ErrorCode::kAlreadyExists, "relay address and peer already connected");
  }
  // Refused or unreachable at once: report it like a late failure, from the loop.
  LOG_DEBUG(kLog, "connection " << impl->id << ": connect failed: " << std::strerror(err));
  asio::post(loop.context(), [impl] {
    if (impl->closed && !impl->on_connected) return;
    auto done = std::move(impl->on_connected);
    impl->connecting = false;
    impl->Shut();
    if (done) done(false);
  });
  return conn;
}

Result<std::unique_ptr<TcpConnection>> TcpConnection::Adopt(EventLoop& loop, TcpSocket socket) {
  if (!socket.valid()) return MakeError(ErrorCode::kInvalidArgument, "no socket");
  const auto local = SockName(socket.fd(), false);
  const auto remote = SockName(socket.fd(), true);
  if (!local || !remote) return MakeError(ErrorCode::kUnavailable, "socket not connected");
  std::unique_ptr<TcpConnection> conn(new TcpConnection());
  auto impl = std::make_shared<Impl>(loop);
  conn->impl_ = impl;
  impl->owner = conn.get();
  impl->local = *local;
  impl->remote = *remote;
  const int fd = socket.fd();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  error_code ec;
  impl->socket.assign(Protocol(local->ip().is_v6() ? AF_INET6 : AF_INET), fd, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot register the socket");
  socket.release();
  impl->connected = true;
  return conn;
}

TcpConnection::~TcpConnection() {
  if (!impl_) return;
  // The handlers stay with the state (one of them may be running right now); with no owner they are never called.
  impl_->owner = nullptr;
  if (!impl_->closed) impl_->Shut();
}

void TcpConnection::Start(StreamHandlers handlers) {
  Impl& s = *impl_;
  if (s.closed || s.started || !s.connected) return;
  s.handlers = std::move(handlers);
  s.started = true;
  s.StartRead();
}

TcpSocket TcpConnection::Release() {
  Impl& s = *impl_;
  if (s.closed || !s.connected || s.started || s.Queued() > 0) return TcpSocket();
  error_code ec;
  const int fd = s.socket.release(ec);  // cancels the (here: no) pending waits
  if (ec) return TcpSocket();
  s.Shut();
  return TcpSocket(fd);
}

bool TcpConnection::connected() const { return impl_->connected; }
uint64_t TcpConnection::id() const { return impl_->id; }
SocketAddress TcpConnection::remote_address() const { return impl_->remote; }
SocketAddress TcpConnection::local_address() const { return impl_->local; }
bool TcpConnection::Send(ByteSpan a, ByteSpan b, ByteSpan c) { return impl_->Send(a, b, c); }
void TcpConnection::Close() {
  if (!impl_->started) {  // nobody to tell: just close
    impl_->Shut();
    return;
  }
  impl_->Close();
}

void TcpConnection::PauseReading() { impl_->paused = true; }

void TcpConnection::ResumeReading() {
  Impl& s = *impl_;
  if (!s.paused) return;
  s.paused = false;
  if (s.closed || s.closing || !s.started) return;
  asio::post(s.loop.context(), [self = impl_] {
    if (self->closed || self->closing || self->paused) return;
    if (!self->rbuf.empty() && !self->Deliver(nullptr, 0)) return;
    self->StartRead();
  });
}

size_t TcpConnection::queued_bytes() const { return impl_->Queued(); }

void TcpConnection::SetDrainHandler(std::function<void()> fn) {
  if (impl_->closed) return;
  impl_->on_drain = std::move(fn);
}

}  // namespace tandem::net
