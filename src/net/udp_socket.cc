// UdpSocket: recvmmsg/sendmmsg batching on top of Asio's reactor, which is used only for readiness
// (async_wait).
//
// Receive: async_wait(read) -> up to kMaxReceiveRoundsPerWake recvmmsg(kBatch, MSG_DONTWAIT) calls, each
// batch handed to the handler -> async_wait(read) again. A short batch means the queue is (almost certainly)
// drained, so we re-arm instead of paying for a recvmmsg that returns EAGAIN: Asio re-arms with
// EPOLL_CTL_MOD, which reports a still-readable socket at once. After the round cap the socket goes back
// through epoll even if still readable, so one flooded socket cannot starve the others on its loop.
//
// Send: Send() copies the datagram into the loop's staging area and links it onto the socket's chain; the
// first datagram staged in a loop iteration Post()s one flush for the whole loop. A socket that reaches
// kBatch staged datagrams is sent at once. sendmmsg sends a chain kBatch at a time; on EAGAIN the unsent rest
// moves to the socket's own bounded backlog and the socket waits for writability (async_wait(write)).
#include "net/udp_socket.h"

#include <utility>

#include <errno.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <optional>
#include <vector>

#include "core/log.h"
#include "net/event_loop.h"
#include "net/udp_socket_testing.h"

namespace tandem::net {

namespace asio = boost::asio;

namespace {

constexpr char kLog[] = "net.udp";
constexpr size_t kBatch = UdpSocket::kBatch;
// 4 x 64 datagrams per wake-up, then back to the reactor.
constexpr size_t kMaxReceiveRoundsPerWake = 4;
// Receive slots hold a maximal datagram. The 64-byte stagger keeps the slots' first bytes (headers, read
// first by every handler) in different cache sets instead of all aliasing at a 64 KiB stride.
constexpr size_t kSlotStride = UdpSocket::kMaxDatagram + 64;
// The staging area is flushed early once it holds this much (a handler fanning out a very large burst).
constexpr size_t kMaxStagedBytes = 2 << 20;
constexpr uint32_t kNoEntry = UINT32_MAX;

test_hooks::SendmmsgFunction g_sendmmsg = &::sendmmsg;

union SockAddr {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

// Writes `to` in the socket's family; 0 when it cannot be expressed there.
socklen_t FillSockAddr(const SocketAddress& to, int family, SockAddr* out) {
  const IpAddress& ip = to.ip();
  if (family == AF_INET) {
    if (!ip.is_v4() && !ip.IsV4Mapped()) return 0;
    IpAddress v4 = ip.Unmapped();
    out->v4 = sockaddr_in{};
    out->v4.sin_family = AF_INET;
    out->v4.sin_port = htons(to.port());
    std::memcpy(&out->v4.sin_addr, v4.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  out->v6 = sockaddr_in6{};
  out->v6.sin6_family = AF_INET6;
  out->v6.sin6_port = htons(to.port());
  if (ip.is_v6()) {
    std::memcpy(&out->v6.sin6_addr, ip.bytes().data(), 16);
  } else if (ip.is_v4()) {
    // ::ffff:a.b.c.d reaches an IPv4 peer from a dual-stack socket (an ipv6_only socket fails it: counted).
    out->v6.sin6_addr.s6_addr[10] = 0xff;
    out->v6.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&out->v6.sin6_addr.s6_addr[12], ip.bytes().data(), 4);
  } else {
    return 0;
  }
  return sizeof(sockaddr_in6);
}

SocketAddress ToSocketAddress(const SockAddr& a, socklen_t len) {
  std::optional<SocketAddress> s = SocketAddress::FromSockaddr(&a.sa, len);
  if (!s) return {};
  if (s->ip().IsV4Mapped()) return SocketAddress(s->ip().Unmapped(), s->port());
  return *s;
}

// Datagrams waiting for the kernel, in order: payloads packed in one byte vector.
struct DatagramQueue {
  struct Entry {
    uint32_t offset;
    uint32_t len;
    socklen_t addr_len;
    SockAddr addr;
  };
  std::vector<Entry> entries;
  std::vector<uint8_t> bytes;
  size_t head = 0;  // first unsent entry

  size_t size() const { return entries.size() - head; }
  void Push(const SockAddr& addr, socklen_t addr_len, ByteSpan a, ByteSpan b, ByteSpan c) {
    entries.push_back(Entry{static_cast<uint32_t>(bytes.size()),
                            static_cast<uint32_t>(a.size() + b.size() + c.size()), addr_len, addr});
    bytes.insert(bytes.end(), a.begin(), a.end());
    bytes.insert(bytes.end(), b.begin(), b.end());
    bytes.insert(bytes.end(), c.begin(), c.end());
  }
};

}  // namespace

class UdpLoopService;

// A socket's own state; shared with its pending completions, which may outlive the UdpSocket briefly.
struct UdpSocketState : std::enable_shared_from_this<UdpSocketState> {
  UdpSocketState(asio::io_context& io, UdpLoopService& service) : socket(io), svc(service) {}

  void ArmRead();
  void OnReadable(const boost::system::error_code& ec);
  void ArmWrite();
  void FlushBacklog();
  void Close();

  asio::ip::udp::socket socket;
  UdpLoopService& svc;
  int fd = -1;
  int family = AF_INET;
  SocketAddress local;
  UdpSocketOptions options;
  UdpSocketStats stats;

  UdpSocket::ReceiveHandler handler;
  UdpSocket::ReceiveHandler replacement;  // StartReceiving() from inside the handler lands here
  bool has_replacement = false;
  bool in_handler = false;
  bool read_armed = false;
  bool write_armed = false;
  bool closed = false;

  // This socket's datagrams in the loop's staging area: a singly linked chain through the entries.
  uint32_t chain_head = kNoEntry;
  uint32_t chain_tail = kNoEntry;
  uint32_t chain_count = 0;
  int32_t dirty_index = -1;  // position in the loop's dirty list; >= 0 whenever the chain is non-empty
  // Datagrams the kernel refused with EAGAIN, in order; allocated only while non-empty.
  std::unique_ptr<DatagramQueue> backlog;
};

// The part of a UDP socket that belongs to the loop: the receive arena and the send staging area. One per
// io_context (an Asio service, found with use_service), used only from the loop's thread.
class UdpLoopService : public asio::execution_context::service {
 public:
  using key_type = UdpLoopService;
  static asio::execution_context::id id;

  // Only ever created for an io_context (see UdpSocket::Bind), so the downcast is exact.
  explicit UdpLoopService(asio::execution_context& ctx)
      : service(ctx), io_(static_cast<asio::io_context&>(ctx)) {}
  ~UdpLoopService() override {
    if (arena_ && arena_->slots != nullptr) munmap(arena_->slots, kBatch * kSlotStride);
  }

  struct ReceiveArena {
    uint8_t* slots = nullptr;
    std::array<mmsghdr, UdpSocket::kBatch> msgs{};
    std::array<iovec, UdpSocket::kBatch> iov{};
    std::array<SockAddr, UdpSocket::kBatch> addrs{};
    std::array<ReceivedDatagram, UdpSocket::kBatch> out{};
  };

  // Allocated the first time a socket on this loop has something to read. The slots are an anonymous mapping:
  // its pages cost memory only once a datagram has been written into them, so small datagrams touch little.
  ReceiveArena* arena() {
    if (arena_) return arena_.get();
    void* p = mmap(nullptr, kBatch * kSlotStride, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    auto a = std::make_unique<ReceiveArena>();
    a->slots = static_cast<uint8_t*>(p);
    for (size_t i = 0; i < kBatch; ++i) {
      a->iov[i] = iovec{a->slots + i * kSlotStride, UdpSocket::kMaxDatagram};
      msghdr& h = a->msgs[i].msg_hdr;
      h.msg_iov = &a->iov[i];
      h.msg_iovlen = 1;
      h.msg_name = &a->addrs[i];
    }
    arena_ = std::move(a);
    return arena_.get();
  }

  void Stage(UdpSocketState& s, const SockAddr& addr, socklen_t addr_len, ByteSpan a, ByteSpan b,
             ByteSpan c) {
    auto index = static_cast<uint32_t>(staged_.size());
    staged_.push_back(Staged{kNoEntry, static_cast<uint32_t>(staged_bytes_.size()),
                             static_cast<uint32_t>(a.size() + b.size() + c.size()), addr_len, addr});
    staged_bytes_.insert(staged_bytes_.end(), a.begin(), a.end());
    staged_bytes_.insert(staged_bytes_.end(), b.begin(), b.end());
    staged_bytes_.insert(staged_bytes_.end(), c.begin(), c.end());
    if (s.chain_tail == kNoEntry) {
      s.chain_head = index;
    } else {
      staged_[s.chain_tail].next = index;
    }
    s.chain_tail = index;
    ++s.chain_count;
    if (s.dirty_index < 0) {
      s.dirty_index = static_cast<int32_t>(dirty_.size());
      dirty_.push_back(&s);
    }
    if (!flush_posted_) {
      flush_posted_ = true;
      asio::post(io_, [this] {
        flush_posted_ = false;
        FlushAll();
      });
    }
    if (s.chain_count >= kBatch) {
      SendChain(s);
    } else if (staged_bytes_.size() >= kMaxStagedBytes) {
      FlushAll();
    }
  }

  // Sends the socket's staged chain; what the kernel refuses moves to its backlog (or is dropped when
  // closing).
  void SendChain(UdpSocketState& s) {
    uint32_t e = s.chain_head;
    s.chain_head = s.chain_tail = kNoEntry;
    s.chain_count = 0;
    while (e != kNoEntry) {
      size_t n = 0;
      uint32_t first = e;
      for (; e != kNoEntry && n < kBatch; e = staged_[e].next, ++n) {
        Staged& st = staged_[e];
        Prepare(n, &st.addr, st.addr_len, staged_bytes_.data() + st.offset, st.len);
      }
      size_t done = SendPrepared(s, n);
      if (done == n) continue;
      // EAGAIN: keep the rest, in order.
      uint32_t rest = first;
      for (size_t i = 0; i < done; ++i) rest = staged_[rest].next;
      for (; rest != kNoEntry; rest = staged_[rest].next) {
        Staged& st = staged_[rest];
        EnqueueBacklog(s, st.addr, st.addr_len, ByteSpan(staged_bytes_.data() + st.offset, st.len), {}, {});
      }
      s.ArmWrite();
      return;
    }
  }

  // Queues one datagram in the socket's backlog; false (counted) when full or closing.
  static bool EnqueueBacklog(UdpSocketState& s, const SockAddr& addr, socklen_t addr_len, ByteSpan a,
                             ByteSpan b, ByteSpan c) {
    if (s.closed) {
      ++s.stats.send_errors;
      return false;
    }
    if (!s.backlog) s.backlog = std::make_unique<DatagramQueue>();
    if (s.backlog->size() >= s.options.max_send_queue) {
      ++s.stats.send_errors;
      ++s.stats.send_queue_dropped;
      return false;
    }
    s.backlog->Push(addr, addr_len, a, b, c);
    return true;
  }

  // Sends every dirty socket's chain, then recycles the staging area (capacity kept).
  void FlushAll() {
    // Indexing, not iterators: nothing here can stage (no user code runs), but stay robust anyway.
    for (size_t i = 0; i < dirty_.size(); ++i) {
      UdpSocketState* s = dirty_[i];
      if (s == nullptr) continue;
      s->dirty_index = -1;
      SendChain(*s);
    }
    dirty_.clear();
    staged_.clear();
    staged_bytes_.clear();
    if (staged_bytes_.capacity() > 4 * kMaxStagedBytes) {
      std::vector<uint8_t>().swap(staged_bytes_);
      std::vector<Staged>().swap(staged_);
    }
  }

  void Unregister(UdpSocketState& s) {
    if (s.dirty_index >= 0) dirty_[static_cast<size_t>(s.dirty_index)] = nullptr;
    s.dirty_index = -1;
  }

  void Prepare(size_t i, const SockAddr* addr, socklen_t addr_len, const uint8_t* data, size_t len) {
    send_iov_[i] = iovec{const_cast<uint8_t*>(data), len};
    msghdr& h = send_msgs_[i].msg_hdr;
    h = msghdr{};
    h.msg_name = const_cast<SockAddr*>(addr);
    h.msg_namelen = addr_len;
    h.msg_iov = &send_iov_[i];
    h.msg_iovlen = 1;
  }

  // sendmmsg()s the n prepared messages. Returns how many were dealt with (sent, or dropped with an error
  // that belongs to that datagram); fewer than n means the kernel's buffer is full (EAGAIN).
  size_t SendPrepared(UdpSocketState& s, size_t n) {
    size_t done = 0;
    int refused_retries = 0;
    while (done < n) {
      int r = g_sendmmsg(s.fd, send_msgs_.data() + done, static_cast<unsigned>(n - done), MSG_DONTWAIT);
      if (r > 0) {
        done += static_cast<size_t>(r);
        s.stats.datagrams_sent += static_cast<uint64_t>(r);
        ++s.stats.send_batches;
        continue;
      }
      int err = r < 0 ? errno : EAGAIN;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        ++s.stats.would_block;
        return done;
      }
      // An ICMP error reported on the socket is consumed by this call without sending the datagram: try
      // again.
      if (err == ECONNREFUSED && refused_retries++ < 2) continue;
      // The error is about the first datagram (EMSGSIZE, EHOSTUNREACH, EACCES, EAFNOSUPPORT, ...): drop it.
      ++s.stats.send_errors;
      LOG_TRACE(kLog, "socket " << s.fd << ": datagram dropped: " << std::strerror(err));
      ++done;
    }
    return done;
  }

 private:
  void shutdown() override {}

  struct Staged {
    uint32_t next;
    uint32_t offset;
    uint32_t len;
    socklen_t addr_len;
    SockAddr addr;
  };

  asio::io_context& io_;
  std::unique_ptr<ReceiveArena> arena_;
  std::vector<Staged> staged_;
  std::vector<uint8_t> staged_bytes_;
  std::vector<UdpSocketState*> dirty_;
  bool flush_posted_ = false;
  std::array<mmsghdr, UdpSocket::kBatch> send_msgs_{};
  std::array<iovec, UdpSocket::kBatch> send_iov_{};
};

asio::execution_context::id UdpLoopService::id;

struct UdpSocket::Impl : UdpSocketState {
  using UdpSocketState::UdpSocketState;
};

// ---------------------------------------------------------------------------------------------------------------
// UdpSocketState

void UdpSocketState::ArmRead() {
  if (read_armed || closed || !handler) return;
  read_armed = true;
  socket.async_wait(asio::socket_base::wait_read,
                    [self = shared_from_this()](const boost::system::error_code& ec) {
                      self->read_armed = false;
                      self->OnReadable(ec);
                    });
}

void UdpSocketState::OnReadable(const boost::system::error_code& ec) {
  if (closed || ec == asio::error::operation_aborted) return;
  if (ec) {
    LOG_WARN(kLog, "socket " << fd << ": wait failed: " << ec.message());
    return;
  }
  UdpLoopService::ReceiveArena* ar = svc.arena();
  if (ar == nullptr) {
    LOG_ERROR(kLog, "socket " << fd << ": cannot map the receive arena");
    return;
  }
  for (size_t round = 0; round < kMaxReceiveRoundsPerWake; ++round) {
    for (mmsghdr& m : ar->msgs) {
      m.msg_hdr.msg_namelen = sizeof(SockAddr);
      m.msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(fd, ar->msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      // EINTR, and ICMP errors reported on the socket (port unreachable from an earlier send): keep reading.
      if (err == EINTR || err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
          err == ECONNRESET)
        continue;
      LOG_WARN(kLog, "socket " << fd << ": recvmmsg failed: " << std::strerror(err));
      break;
    }
    size_t count = 0;
    for (int i = 0; i < n; ++i) {
      const mmsghdr& m = ar->msgs[static_cast<size_t>(i)];
      if (m.msg_hdr.msg_flags & MSG_TRUNC) {
        ++stats.truncated_dropped;
        continue;
      }
      ar->out[count++] =
          ReceivedDatagram{ToSocketAddress(ar->addrs[static_cast<size_t>(i)], m.msg_hdr.msg_namelen),
                           ByteSpan(ar->slots + static_cast<size_t>(i) * kSlotStride, m.msg_len)};
    }
    ++stats.receive_batches;
    stats.datagrams_received += count;
    if (count > 0 && handler) {
      // The completion that called us holds a reference, so this Impl outlives a handler that destroys the
      // UdpSocket; Close() then leaves `handler` (running right now) alone.
      in_handler = true;
      handler(std::span<const ReceivedDatagram>(ar->out.data(), count));
      in_handler = false;
      if (has_replacement) {
        has_replacement = false;
        handler = std::move(replacement);
        replacement = nullptr;
      }
      if (closed) return;
    }
    if (static_cast<size_t>(n) < kBatch) break;
  }
  ArmRead();
}

void UdpSocketState::ArmWrite() {
  if (write_armed || closed) return;
  write_armed = true;
  socket.async_wait(asio::socket_base::wait_write,
                    [self = shared_from_this()](const boost::system::error_code& ec) {
                      self->write_armed = false;
                      if (self->closed || ec == asio::error::operation_aborted) return;
                      self->FlushBacklog();
                    });
}

void UdpSocketState::FlushBacklog() {
  if (!backlog) return;
  DatagramQueue& q = *backlog;
  while (q.head < q.entries.size()) {
    size_t n = std::min(kBatch, q.entries.size() - q.head);
    for (size_t i = 0; i < n; ++i) {
      const DatagramQueue::Entry& e = q.entries[q.head + i];
      svc.Prepare(i, &e.addr, e.addr_len, q.bytes.data() + e.offset, e.len);
    }
    size_t done = svc.SendPrepared(*this, n);
    q.head += done;
    if (done < n) {
      ArmWrite();
      return;
    }
  }
  backlog.reset();  // drained: an idle socket keeps no send memory
}

void UdpSocketState::Close() {
  if (closed) return;
  closed = true;
  // Best effort: what was queued goes out now; what the kernel refuses is dropped (and counted).
  if (chain_count > 0) svc.SendChain(*this);
  svc.Unregister(*this);
  backlog.reset();
  boost::system::error_code ignored;
  socket.close(ignored);
  if (!in_handler) handler = nullptr;
  replacement = nullptr;
}

// ---------------------------------------------------------------------------------------------------------------
// UdpSocket

namespace {

void SetBufferSize(int fd, int force_option, int option, int bytes) {
  if (bytes <= 0) return;
  // The FORCE variants (CAP_NET_ADMIN) are not capped by net.core.[rw]mem_max; fall back to the capped ones.
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof(bytes)) == 0) return;
  if (setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof(bytes)) != 0)
    LOG_DEBUG(kLog, "socket " << fd << ": buffer size " << bytes << " refused: " << std::strerror(errno));
}

bool ApplyDontFragment(int fd, int family, bool on) {
  int v4 = on ? IP_PMTUDISC_DO : IP_PMTUDISC_WANT;
  int v6 = on ? IPV6_PMTUDISC_DO : IPV6_PMTUDISC_WANT;
  if (family == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof(v6)) != 0) return false;
    // Also covers IPv4-mapped traffic on a dual-stack socket; harmless where it does not apply.
    (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4));
    return true;
  }
  return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4)) == 0;
}

Error BindError(int err) {
  switch (err) {
    case EADDRINUSE:
      return MakeError(ErrorCode::kAlreadyExists, "UDP address already in use");
    case EACCES:
    case EPERM:
      return MakeError(ErrorCode::kForbidden, "UDP bind not permitted");
    case EADDRNOTAVAIL:
      return MakeError(ErrorCode::kInvalidArgument, "UDP bind address not available");
    default:
      return MakeError(ErrorCode::kUnavailable, "UDP bind failed");
  }
}

}  // namespace

UdpSocket::UdpSocket() = default;

UdpSocket::~UdpSocket() {
  if (impl_) impl_->Close();
}

Result<UdpPortHold> UdpPortHold::Bind(const SocketAddress& local, const UdpSocketOptions& options) {
  if (!local.IsSet()) return MakeError(ErrorCode::kInvalidArgument, "UDP bind address unspecified");
  int family = local.ip().is_v6() ? AF_INET6 : AF_INET;
  int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    LOG_WARN(kLog, "socket() failed: " << std::strerror(errno));
    return MakeError(ErrorCode::kUnavailable, "UDP socket() failed");
  }
  int one = 1;
  // On UDP, SO_REUSEADDR lets sockets share a port. Only for an explicit port: the kernel may hand an
  // ephemeral bind (port 0) a port that another SO_REUSEADDR socket holds, and two relays on one port would
  // split traffic.
  if (options.reuse_address && local.port() != 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    int err = errno;
    ::close(fd);
    LOG_WARN(kLog, "SO_REUSEPORT failed: " << std::strerror(err));
    return MakeError(ErrorCode::kUnsupported, "SO_REUSEPORT not supported");
  }
  if (family == AF_INET6) {
    int v6only = options.ipv6_only ? 1 : 0;
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  SetBufferSize(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.receive_buffer_bytes);
  SetBufferSize(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.send_buffer_bytes);
  if (options.dont_fragment && !ApplyDontFragment(fd, family, true))
    LOG_DEBUG(kLog, "socket " << fd << ": cannot set don't-fragment: " << std::strerror(errno));

  sockaddr_storage ss;
  socklen_t len = local.ToSockaddr(&ss);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    int err = errno;
    ::close(fd);
    LOG_DEBUG(kLog, "bind " << log::Redact(local.ToString()) << " failed: " << std::strerror(err));
    return BindError(err);
  }
  len = sizeof(ss);
  SocketAddress bound = local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (auto a = SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len)) bound = *a;
  }
  UdpPortHold hold;
  hold.fd_ = fd;
  hold.family_ = family;
  hold.local_ = bound;
  hold.options_ = options;
  return hold;
}

UdpPortHold::UdpPortHold(UdpPortHold&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), family_(o.family_), local_(o.local_), options_(o.options_) {}

UdpPortHold& UdpPortHold::operator=(UdpPortHold&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    family_ = o.family_;
    local_ = o.local_;
    options_ = o.options_;
  }
  return *this;
}

UdpPortHold::~UdpPortHold() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<UdpSocket>> UdpSocket::Bind(EventLoop& loop, const SocketAddress& local,
                                                   const UdpSocketOptions& options) {
  auto hold = UdpPortHold::Bind(local, options);
  if (!hold.ok()) return hold.error();
  return Adopt(loop, std::move(*hold));
}

Result<std::unique_ptr<UdpSocket>> UdpSocket::Adopt(EventLoop& loop, UdpPortHold hold) {
  const int fd = std::exchange(hold.fd_, -1);
  const int family = hold.family_;
  const SocketAddress bound = hold.local_;
  const UdpSocketOptions options = hold.options_;
  asio::io_context& io = loop.context();
  auto& service = asio::use_service<UdpLoopService>(static_cast<asio::execution_context&>(io));
  auto impl = std::make_shared<Impl>(io, service);
  boost::system::error_code ec;
  impl->socket.assign(family == AF_INET6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    LOG_WARN(kLog, "cannot register socket with the loop: " << ec.message());
    return MakeError(ErrorCode::kInternal, "UDP socket registration failed");
  }
  impl->fd = fd;
  impl->family = family;
  impl->local = bound;
  impl->options = options;
  std::unique_ptr<UdpSocket> socket(new UdpSocket());
  socket->impl_ = std::move(impl);
  return socket;
}

void UdpSocket::StartReceiving(ReceiveHandler handler) {
  Impl& s = *impl_;
  if (s.closed) return;
  if (s.in_handler) {
    s.replacement = std::move(handler);
    s.has_replacement = true;
    return;
  }
  s.handler = std::move(handler);
  s.ArmRead();
}

void UdpSocket::Send(const SocketAddress& to, ByteSpan a, ByteSpan b, ByteSpan c) {
  Impl& s = *impl_;
  if (s.closed) return;
  SockAddr addr;
  socklen_t addr_len = FillSockAddr(to, s.family, &addr);
  if (addr_len == 0 || a.size() + b.size() + c.size() > kMaxDatagram) {
    ++s.stats.send_errors;
    return;
  }
  // Once the kernel has refused datagrams, later ones queue behind them so the order holds.
  if (s.backlog) {
    UdpLoopService::EnqueueBacklog(s, addr, addr_len, a, b, c);
    return;
  }
  s.svc.Stage(s, addr, addr_len, a, b, c);
}

void UdpSocket::Flush() {
  Impl& s = *impl_;
  if (s.closed) return;
  if (s.backlog) s.FlushBacklog();
  if (s.chain_count > 0) s.svc.SendChain(s);
}

void UdpSocket::SetDontFragment(bool on) {
  Impl& s = *impl_;
  s.options.dont_fragment = on;
  if (!ApplyDontFragment(s.fd, s.family, on))
    LOG_DEBUG(kLog, "socket " << s.fd << ": cannot set don't-fragment: " << std::strerror(errno));
}

SocketAddress UdpSocket::local_address() const { return impl_->local; }

const UdpSocketStats& UdpSocket::stats() const { return impl_->stats; }

int UdpSocket::native_handle() const { return impl_->fd; }

namespace test_hooks {

SendmmsgFunction SetSendmmsgForTesting(SendmmsgFunction fn) {
  SendmmsgFunction previous = g_sendmmsg;
  g_sendmmsg = fn != nullptr ? fn : &::sendmmsg;
  return previous;
}

}  // namespace test_hooks

}  // namespace tandem::net
