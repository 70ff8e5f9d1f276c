// TURN relay load worker: allocation set-up with long-term credentials, channel binding, then paced ChannelData
// traffic in both directions with sendmmsg/recvmmsg.
#include <errno.h>
#include <netinet/udp.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "bench/turn/load_worker.h"
#include "core/crypto.h"

namespace tandem::bench {
namespace {

// Payload carried by every relayed packet (host byte order: the tool reads only its own packets).
inline constexpr uint32_t kPayloadMagic = 0x4c444e54;  // "TNDL"
inline constexpr size_t kPayloadHeader = 28;
// Layout: magic u32 | allocation index u32 | step u16 | measure flag u8 | direction u8 | sequence u64 |
// send time (CLOCK_MONOTONIC ns) i64.
void WritePayloadHeader(uint8_t* p, uint32_t alloc, int step, bool measure, int dir, uint64_t seq, int64_t now) {
  std::memcpy(p, &kPayloadMagic, 4);
  std::memcpy(p + 4, &alloc, 4);
  auto s = static_cast<uint16_t>(step);
  std::memcpy(p + 8, &s, 2);
  p[10] = measure ? 1 : 0;
  p[11] = static_cast<uint8_t>(dir);
  std::memcpy(p + 12, &seq, 8);
  std::memcpy(p + 20, &now, 8);
}

inline constexpr int64_t kInitialRtoNs = 500'000'000;  // RFC 8489 §6.2.1
inline constexpr uint8_t kMaxAttempts = 5;
inline constexpr uint8_t kMaxStaleNonces = 3;
inline constexpr uint8_t kMaxReopens = 3;

}  // namespace

RelayWorker::RelayWorker(const Config& cfg, size_t steps, uint32_t first_alloc, uint32_t alloc_count,
                         uint32_t peer_count, uint32_t tid_prefix)
    : LoadWorker(cfg, steps), first_alloc_(first_alloc), tid_prefix_(tid_prefix), allocs_(alloc_count) {
  peer_fds_.assign(std::max<uint32_t>(1, peer_count), -1);
  peer_addrs_.resize(peer_fds_.size());
  const int64_t expiry = static_cast<int64_t>(time(nullptr)) + 24 * 3600;
  for (uint32_t i = 0; i < alloc_count; ++i) {
    Allocation& a = allocs_[i];
    a.index = first_alloc + i;
    a.peer = static_cast<uint16_t>(i % peer_fds_.size());
    a.channel = static_cast<uint16_t>(0x4000 + a.index % 0x1000);  // RFC 8656 §12: 0x4000-0x4FFF
    if (cfg.secret.empty()) {
      a.username = cfg.user;
      a.password = cfg.password;
    } else {
      // TURN REST API credentials (draft-uberti-behave-turn-rest): "expiry:name", base64(HMAC-SHA1(secret, user)).
      a.username = std::to_string(expiry) + ":load" + std::to_string(a.index);
      auto mac = crypto::HmacSha1(AsBytes(cfg.secret), AsBytes(a.username));
      a.password = crypto::Base64Encode(ByteSpan(mac.data(), mac.size()));
    }
  }
}

RelayWorker::~RelayWorker() {
  for (auto& a : allocs_) {
    if (a.fd >= 0) close(a.fd);
  }
  for (int fd : peer_fds_) {
    if (fd >= 0) close(fd);
  }
}

void RelayWorker::AppendPorts(std::vector<uint16_t>& out) const {
  for (const auto& a : allocs_) out.push_back(a.local_port);
  for (const auto& p : peer_addrs_) out.push_back(p.port());
}

bool RelayWorker::Setup(int64_t deadline_ns) {
  if (!OpenEpoll()) return false;
  const SocketAddress local(cfg_.local_ip, 0);
  for (uint32_t p = 0; p < peer_fds_.size(); ++p) {
    peer_fds_[p] = OpenUdpSocket(local, nullptr, cfg_.rcvbuf, &peer_addrs_[p]);
    if (peer_fds_[p] < 0) return false;
    Watch(peer_fds_[p], (uint64_t{1} << 32) | p);
  }
  for (uint32_t i = 0; i < allocs_.size(); ++i) {
    SocketAddress bound;
    allocs_[i].fd = OpenUdpSocket(local, &cfg_.server, cfg_.rcvbuf, &bound);
    if (allocs_[i].fd < 0) return false;
    allocs_[i].local_port = bound.port();
    Watch(allocs_[i].fd, i);
  }

  // Receive buffers: kBatch datagrams of kRxSize with room for the source address.
  rx_msgs_.resize(kBatch);
  rx_iovs_.resize(kBatch);
  rx_names_.resize(kBatch);
  rx_arena_.resize(kBatch * kRxSize);
  for (uint32_t i = 0; i < kBatch; ++i) {
    rx_iovs_[i] = {rx_arena_.data() + i * kRxSize, kRxSize};
    rx_msgs_[i] = {};
    rx_msgs_[i].msg_hdr.msg_iov = &rx_iovs_[i];
    rx_msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  // Client → server batches: ChannelData header + payload, on connected sockets.
  const size_t c2p_len = 4 + cfg_.size;
  tx_msgs_.resize(kBatch);
  tx_iovs_.resize(kBatch);
  tx_arena_.assign(kBatch * c2p_len, 0xA5);
  for (uint32_t i = 0; i < kBatch; ++i) {
    tx_iovs_[i] = {tx_arena_.data() + i * c2p_len, c2p_len};
    tx_msgs_[i] = {};
    tx_msgs_[i].msg_hdr.msg_iov = &tx_iovs_[i];
    tx_msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  gso_ctrl_.assign(kCtrlSize, 0);
  // Peer → relayed address batches: plain payload, one batch per peer socket.
  peer_batches_.resize(peer_fds_.size());
  for (auto& pb : peer_batches_) {
    pb.msgs.resize(kBatch);
    pb.iovs.resize(kBatch);
    pb.arena.assign(kBatch * cfg_.size, 0x5A);
    pb.segments.assign(kBatch, 0);
    pb.ctrl.assign(kBatch * kCtrlSize, 0);
    for (uint32_t i = 0; i < kBatch; ++i) {
      pb.iovs[i] = {pb.arena.data() + i * cfg_.size, cfg_.size};
      pb.msgs[i] = {};
      pb.msgs[i].msg_hdr.msg_iov = &pb.iovs[i];
      pb.msgs[i].msg_hdr.msg_iovlen = 1;
    }
  }

  std::vector<uint32_t> order(allocs_.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  RunTransactions(deadline_ns, order, State::kAllocate);
  for (uint32_t i = 0; i < allocs_.size(); ++i) {
    if (allocs_[i].state == State::kReady) ready_.push_back(i);
  }
  return true;
}

void RelayWorker::Teardown(int64_t deadline_ns) {
  std::vector<uint32_t> order;
  if (cfg_.dealloc && epoll_fd_ >= 0) {
    for (uint32_t i = 0; i < allocs_.size(); ++i) {
      if (allocs_[i].relayed.IsSet() && allocs_[i].state != State::kFailed) order.push_back(i);
    }
    RunTransactions(deadline_ns, order, State::kRelease);
  }
  for (auto& a : allocs_) {
    if (a.fd >= 0) close(a.fd);
    a.fd = -1;
  }
  for (int& fd : peer_fds_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

// Moves the allocations of `order` to `start` (kAllocate or kRelease) and runs their transactions with at most
// setup_window/threads allocations in flight, until all are done or the deadline passes.
bool RelayWorker::RunTransactions(int64_t deadline_ns, const std::vector<uint32_t>& order, State start) {
  const size_t total = order.size();
  const uint32_t window = std::max<uint32_t>(1, cfg_.setup_window / std::max<uint32_t>(1, cfg_.threads));
  size_t next = 0;
  in_flight_ = 0;
  int64_t next_scan = 0;
  for (;;) {
    int64_t now = NowNs();
    while (in_flight_ < window && next < total) {
      // --reuse-nonce: one allocation alone until the first REALM/NONCE is known.
      if (start == State::kAllocate && cfg_.reuse_nonce && shared_nonce_.empty() && in_flight_ > 0) break;
      Allocation& a = allocs_[order[next++]];
      a.state = start;
      a.stale_count = 0;
      if (start == State::kAllocate && cfg_.reuse_nonce && !shared_nonce_.empty() && !a.authenticated) {
        // Skip the unauthenticated round trip with the REALM/NONCE another allocation of this worker got.
        a.realm = shared_realm_;
        a.nonce = shared_nonce_;
        a.key = cfg_.secret.empty() ? static_key_ : stun::LongTermKey(a.username, a.realm, a.password);
        a.authenticated = true;
        a.reused_nonce = true;
      }
      ++in_flight_;
      StartTransaction(a, now);
    }
    if (in_flight_ == 0 && next == total) return true;
    if (now >= deadline_ns) {
      for (auto& a : allocs_) {
        if (a.state == State::kAllocate || a.state == State::kChannelBind || a.state == State::kRelease) Fail(a, 0);
      }
      return false;
    }
    if (now >= next_scan) {
      Retransmit(now);
      next_scan = now + 10'000'000;
    }
    int n = Wait(10'000'000);
    now = NowNs();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events_[i].data.u64;
      if (tag >> 32) {
        ReceivePeer(static_cast<uint32_t>(tag), now, nullptr);
      } else {
        ReceiveClient(allocs_[tag], now, nullptr);
      }
    }
  }
}

bool RelayWorker::ReopenSocket(Allocation& a) {
  SocketAddress bound;
  int fd = OpenUdpSocket(SocketAddress(cfg_.local_ip, 0), &cfg_.server, cfg_.rcvbuf, &bound);
  if (fd < 0) return false;
  close(a.fd);  // also removes it from the epoll set
  a.fd = fd;
  a.local_port = bound.port();
  Watch(fd, static_cast<uint64_t>(&a - allocs_.data()));
  return true;
}

void RelayWorker::Retransmit(int64_t now) {
  for (auto& a : allocs_) {
    if (a.state != State::kAllocate && a.state != State::kChannelBind && a.state != State::kRelease) continue;
    if (now < a.retransmit_at_ns) continue;
    if (a.attempts >= kMaxAttempts) {
      Fail(a, 0);
    } else {
      SendRequest(a, now);
    }
  }
}

void RelayWorker::StartTransaction(Allocation& a, int64_t now) {
  ++a.generation;
  a.attempts = 0;
  a.rto_ns = kInitialRtoNs;
  SendRequest(a, now);
}

void RelayWorker::SendRequest(Allocation& a, int64_t now) {
  stun::TransactionId tid;
  StoreBe32(&tid[0], tid_prefix_);
  StoreBe32(&tid[4], a.index);
  StoreBe32(&tid[8], a.generation);
  stun::Method method = stun::Method::kAllocate;
  if (a.state == State::kChannelBind) method = stun::Method::kChannelBind;
  if (a.state == State::kRelease) method = stun::Method::kRefresh;
  stun::MessageBuilder b(scratch_, method, stun::MessageClass::kRequest, tid);
  switch (a.state) {
    case State::kAllocate:
      b.AddRequestedTransport(stun::kTransportUdp);  // RFC 8656 §7.1
      break;
    case State::kChannelBind:
      b.AddChannelNumber(a.channel);  // RFC 8656 §11.1
      b.AddXorAddress(stun::attr::kXorPeerAddress, peer_addrs_[a.peer]);
      break;
    case State::kRelease:
      b.AddU32(stun::attr::kLifetime, 0);  // RFC 8656 §8.1: deletes the allocation
      break;
    default:
      return;
  }
  if (a.authenticated) {
    // RFC 8489 §9.2.4: USERNAME, REALM, NONCE, then MESSAGE-INTEGRITY over the long-term key.
    b.AddString(stun::attr::kUsername, a.username);
    b.AddString(stun::attr::kRealm, a.realm);
    b.AddString(stun::attr::kNonce, a.nonce);
    b.AddMessageIntegrity(a.key);
  }
  b.AddFingerprint();
  ByteSpan msg = b.Finish();
  if (a.attempts == 0) {
    ++setup_.requests;
  } else {
    ++setup_.retransmits;
  }
  ++a.attempts;
  a.retransmit_at_ns = now + a.rto_ns;
  a.rto_ns *= 2;
  // A failed send (e.g. ECONNREFUSED before the server listens) is retried by the retransmission timer.
  (void)send(a.fd, msg.data(), msg.size(), 0);
}

void RelayWorker::TakeRealmNonce(Allocation& a, const stun::MessageView& m) {
  if (auto realm = m.GetString(stun::attr::kRealm)) a.realm = std::string(*realm);
  if (auto nonce = m.GetString(stun::attr::kNonce)) a.nonce = std::string(*nonce);
  shared_realm_ = a.realm;
  shared_nonce_ = a.nonce;
  if (cfg_.secret.empty()) {
    if (static_key_.empty() || static_key_realm_ != a.realm) {
      static_key_ = stun::LongTermKey(a.username, a.realm, a.password);
      static_key_realm_ = a.realm;
    }
    a.key = static_key_;
  } else {
    a.key = stun::LongTermKey(a.username, a.realm, a.password);
  }
}

void RelayWorker::Fail(Allocation& a, int code) {
  if (a.state == State::kRelease) {
    a.state = State::kReleased;
  } else {
    std::string reason = std::to_string(code);
    if (code == 0) {
      reason = a.state == State::kChannelBind ? "timeout:channel-bind"
               : a.authenticated              ? "timeout:allocate"
                                              : "timeout:first-allocate";
    } else if (code == 1) {
      reason = "no-relayed-address";
    }
    a.state = State::kFailed;
    ++setup_.failed;
    ++setup_.failures[reason];
  }
  Finish(a);
}

void RelayWorker::Finish(Allocation& a) {
  if (in_flight_ > 0) --in_flight_;
}

void RelayWorker::HandleStun(Allocation& a, ByteSpan bytes, int64_t now) {
  auto parsed = stun::MessageView::Parse(bytes);
  if (!parsed.ok()) {
    other_packets_.Add();
    return;
  }
  const stun::MessageView& m = *parsed;
  const stun::MessageClass cls = m.message_class();
  if (cls != stun::MessageClass::kSuccessResponse && cls != stun::MessageClass::kErrorResponse) {
    other_packets_.Add();  // a Data indication: the server did not use the channel
    return;
  }
  const auto& tid = m.transaction_id();
  if (LoadBe32(&tid[0]) != tid_prefix_ || LoadBe32(&tid[4]) != a.index || LoadBe32(&tid[8]) != a.generation) {
    return;  // the answer to an earlier transmission of a finished transaction
  }
  stun::Method expected = a.state == State::kChannelBind ? stun::Method::kChannelBind
                          : a.state == State::kRelease  ? stun::Method::kRefresh
                                                        : stun::Method::kAllocate;
  if (m.method() != expected) return;
  const bool success = cls == stun::MessageClass::kSuccessResponse;
  int code = 0;
  if (!success) {
    auto ec = m.GetErrorCode();
    code = ec ? ec->code : 500;
  }
  if (success && a.authenticated && m.Has(stun::attr::kMessageIntegrity) && !m.VerifyMessageIntegrity(a.key)) {
    ++setup_.integrity_failures;
  }
  if (code == stun::error::kStaleNonce && a.stale_count < kMaxStaleNonces) {
    // RFC 8489 §9.2.5: retry with the new NONCE.
    ++a.stale_count;
    ++setup_.stale_nonces;
    TakeRealmNonce(a, m);
    StartTransaction(a, now);
    return;
  }
  switch (a.state) {
    case State::kAllocate:
      if (success) {
        auto relayed = m.GetXorAddress(stun::attr::kXorRelayedAddress);
        if (!relayed) {
          Fail(a, 1);
          return;
        }
        a.relayed = *relayed;
        a.relayed_len = relayed->ToSockaddr(&a.relayed_ss);
        a.state = State::kChannelBind;
        a.stale_count = 0;
        StartTransaction(a, now);
      } else if (code == stun::error::kAllocationMismatch && a.reopen_count < kMaxReopens && ReopenSocket(a)) {
        // The server still holds an allocation for this 5-tuple (e.g. one deleted moments ago by a previous run
        // whose client had the same port): start again from a new local port.
        ++a.reopen_count;
        ++setup_.reopened;
        a.authenticated = false;
        StartTransaction(a, now);
      } else if (code == stun::error::kUnauthorized && (!a.authenticated || a.reused_nonce)) {
        // RFC 8489 §9.2.3: the first request goes without credentials; the 401 carries REALM and NONCE. (With
        // --reuse-nonce a server that does not accept another 5-tuple's nonce may answer 401 too: one retry.)
        a.reused_nonce = false;
        TakeRealmNonce(a, m);
        if (a.realm.empty() || a.nonce.empty()) {
          Fail(a, code);
          return;
        }
        a.authenticated = true;
        StartTransaction(a, now);
      } else {
        Fail(a, code);
      }
      return;
    case State::kChannelBind:
      if (success) {
        a.state = State::kReady;
        ++setup_.ready;
        Finish(a);
      } else {
        Fail(a, code);
      }
      return;
    case State::kRelease:
      if (success || code == stun::error::kAllocationMismatch) ++setup_.released;
      a.state = State::kReleased;
      Finish(a);
      return;
    default:
      return;
  }
}

void RelayWorker::ReceiveClient(Allocation& a, int64_t now, const std::vector<Step>* steps) {
  for (uint32_t i = 0; i < kBatch; ++i) rx_msgs_[i].msg_hdr.msg_namelen = 0;
  int n = recvmmsg(a.fd, rx_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  for (int i = 0; i < n; ++i) {
    const uint8_t* p = rx_arena_.data() + static_cast<size_t>(i) * kRxSize;
    const size_t len = rx_msgs_[i].msg_len;
    if (len >= 4 && (p[0] & 0xC0) == 0x40) {
      // ChannelData (RFC 8656 §12.4); over UDP the datagram may carry padding after `length`.
      const size_t dlen = LoadBe16(p + 2);
      if (dlen + 4 > len || LoadBe16(p) != a.channel) {
        other_packets_.Add();
        continue;
      }
      if (steps != nullptr) CountPayload(1, p + 4, dlen, now, steps, 0);
    } else if (len >= stun::kHeaderSize && p[0] < 4) {
      HandleStun(a, ByteSpan(p, len), now);
    } else {
      other_packets_.Add();
    }
  }
}

void RelayWorker::ReceivePeer(uint32_t peer, int64_t now, const std::vector<Step>* steps) {
  for (uint32_t i = 0; i < kBatch; ++i) {
    rx_msgs_[i].msg_hdr.msg_name = &rx_names_[i];
    rx_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
  }
  int n = recvmmsg(peer_fds_[peer], rx_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  for (int i = 0; i < n; ++i) {
    const uint8_t* p = rx_arena_.data() + static_cast<size_t>(i) * kRxSize;
    uint16_t from_port = 0;
    const auto& ss = rx_names_[i];
    if (ss.ss_family == AF_INET) {
      from_port = ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      from_port = ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
    }
    if (steps != nullptr) CountPayload(0, p, rx_msgs_[i].msg_len, now, steps, from_port);
  }
  for (uint32_t i = 0; i < kBatch; ++i) rx_msgs_[i].msg_hdr.msg_name = nullptr;
}

void RelayWorker::CountPayload(int dir, const uint8_t* p, size_t len, int64_t now, const std::vector<Step>* steps,
                               uint16_t from_port) {
  uint32_t magic = 0;
  if (len < kPayloadHeader || (std::memcpy(&magic, p, 4), magic != kPayloadMagic) || p[11] != dir) {
    other_packets_.Add();
    return;
  }
  uint32_t alloc;
  uint16_t step;
  int64_t sent_ns;
  std::memcpy(&alloc, p + 4, 4);
  std::memcpy(&step, p + 8, 2);
  std::memcpy(&sent_ns, p + 20, 8);
  if (step >= steps->size()) {
    other_packets_.Add();
    return;
  }
  StepCounters& c = counters_[step];
  if (dir == 0) {
    // c2p: the datagram must come from that allocation's relayed address.
    uint32_t local = alloc - first_alloc_;
    if (local >= allocs_.size() || allocs_[local].relayed.port() != from_port) {
      c.invalid.Add();
      return;
    }
  }
  if (!p[10]) return;  // sent during warm-up
  c.dir[dir].delivered.Add();
  c.dir[dir].latency.Add((now - sent_ns) / 1000);
}

void RelayWorker::FillPayload(uint8_t* p, const Allocation& a, int step, bool measure, int dir, int64_t now) {
  WritePayloadHeader(p, a.index, step, measure, dir, seq_++, now);
}

namespace {

// UDP GSO (UDP_SEGMENT, Linux 4.18): one send of `count` equal segments of `seg` bytes; the receiving socket sees
// separate datagrams unless it enabled UDP_GRO. Fills `ctrl` (CMSG_SPACE(sizeof(uint16_t)) bytes) into `h`.
void SetGso(msghdr& h, uint8_t* ctrl, uint32_t count, size_t seg) {
  if (count < 2) {
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    return;
  }
  h.msg_control = ctrl;
  h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
  cmsghdr* cm = CMSG_FIRSTHDR(&h);
  cm->cmsg_level = SOL_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const auto s = static_cast<uint16_t>(seg);
  std::memcpy(CMSG_DATA(cm), &s, sizeof(s));
}

}  // namespace

uint32_t RelayWorker::MaxSegments(size_t seg) const {
  if (!cfg_.gso) return 1;
  return static_cast<uint32_t>(std::clamp<size_t>(60000 / seg, 1, kBatch));
}

void RelayWorker::SendC2p(uint64_t count, int step, bool measure, int64_t now) {
  const uint32_t r = static_cast<uint32_t>(ready_.size());
  if (r == 0 || count == 0) return;
  const uint64_t per = count / r;
  const uint32_t extra = static_cast<uint32_t>(count % r);
  const uint32_t n_allocs = per > 0 ? r : extra;
  const size_t pkt = 4 + cfg_.size;
  const uint32_t max_segs = MaxSegments(pkt);
  DirCounters& dc = counters_[step].dir[0];
  for (uint32_t k = 0; k < n_allocs; ++k) {
    const Allocation& a = allocs_[ready_[(c2p_cursor_ + k) % r]];
    uint64_t n = per + (k < extra ? 1 : 0);
    while (n > 0) {
      // Without GSO: b datagrams in one sendmmsg. With GSO: b segments in one sendmsg.
      const auto b = static_cast<uint32_t>(std::min<uint64_t>(n, cfg_.gso ? max_segs : kBatch));
      for (uint32_t j = 0; j < b; ++j) {
        uint8_t* p = tx_arena_.data() + j * pkt;
        StoreBe16(p, a.channel);  // RFC 8656 §12.4 ChannelData header
        StoreBe16(p + 2, static_cast<uint16_t>(cfg_.size));
        FillPayload(p + 4, a, step, measure, 0, now);
      }
      uint32_t sent = 0;
      if (cfg_.gso) {
        iovec iov{tx_arena_.data(), b * pkt};
        msghdr h{};
        h.msg_iov = &iov;
        h.msg_iovlen = 1;
        SetGso(h, gso_ctrl_.data(), b, pkt);
        if (sendmsg(a.fd, &h, 0) >= 0) sent = b;
      } else {
        int rc = sendmmsg(a.fd, tx_msgs_.data(), b, 0);
        sent = rc > 0 ? static_cast<uint32_t>(rc) : 0;
      }
      if (measure) {
        dc.offered.Add(sent);
        dc.send_errors.Add(b - sent);
      }
      n -= b;
    }
  }
  c2p_cursor_ = (c2p_cursor_ + extra) % r;
}

void RelayWorker::FlushPeer(uint32_t peer, int step, bool measure) {
  PeerBatch& pb = peer_batches_[peer];
  if (pb.count == 0) return;
  int rc = sendmmsg(peer_fds_[peer], pb.msgs.data(), pb.count, 0);
  const uint32_t sent_msgs = rc > 0 ? static_cast<uint32_t>(rc) : 0;
  if (measure) {
    uint64_t sent = 0, failed = 0;
    for (uint32_t i = 0; i < pb.count; ++i) (i < sent_msgs ? sent : failed) += pb.segments[i];
    DirCounters& dc = counters_[step].dir[1];
    dc.offered.Add(sent);
    dc.send_errors.Add(failed);
  }
  pb.count = 0;
  pb.slots = 0;
}

void RelayWorker::SendP2c(uint64_t count, int step, bool measure, int64_t now) {
  const uint32_t r = static_cast<uint32_t>(ready_.size());
  if (r == 0 || count == 0) return;
  const uint64_t per = count / r;
  const uint32_t extra = static_cast<uint32_t>(count % r);
  const uint32_t n_allocs = per > 0 ? r : extra;
  const uint32_t max_segs = MaxSegments(cfg_.size);
  for (uint32_t k = 0; k < n_allocs; ++k) {
    Allocation& a = allocs_[ready_[(p2c_cursor_ + k) % r]];
    PeerBatch& pb = peer_batches_[a.peer];
    uint64_t n = per + (k < extra ? 1 : 0);
    while (n > 0) {
      if (pb.slots == kBatch || pb.count == kBatch) FlushPeer(a.peer, step, measure);
      // One message per datagram, or (GSO) one message per run of datagrams to this relayed address.
      const auto take = static_cast<uint32_t>(std::min<uint64_t>({n, kBatch - pb.slots, max_segs}));
      uint8_t* base = pb.arena.data() + pb.slots * cfg_.size;
      for (uint32_t j = 0; j < take; ++j) FillPayload(base + j * cfg_.size, a, step, measure, 1, now);
      msghdr& h = pb.msgs[pb.count].msg_hdr;
      h.msg_name = &a.relayed_ss;
      h.msg_namelen = a.relayed_len;
      pb.iovs[pb.count] = {base, take * cfg_.size};
      SetGso(h, pb.ctrl.data() + pb.count * kCtrlSize, take, cfg_.size);
      pb.segments[pb.count] = take;
      ++pb.count;
      pb.slots += take;
      n -= take;
    }
  }
  for (uint32_t p = 0; p < peer_batches_.size(); ++p) FlushPeer(p, step, measure);
  p2c_cursor_ = (p2c_cursor_ + extra) % r;
}

void RelayWorker::Run(const std::vector<Step>& steps, const std::atomic<int>& last_step) {
  if (ready_.empty()) return;
  // This worker's share of the tool's offered rate.
  const double share = static_cast<double>(allocs_.size()) / static_cast<double>(cfg_.allocations);
  int current = -1;
  uint64_t done[2] = {0, 0};
  int64_t next_slice = steps.front().warm_start_ns;
  for (;;) {
    int64_t now = NowNs();
    const int last = std::min<int>(last_step.load(std::memory_order_relaxed), static_cast<int>(steps.size()) - 1);
    if (now >= steps[last].end_ns) break;
    if (now >= next_slice) {
      const int s = ActiveStep(steps, now);
      if (s >= 0 && s <= last) {
        if (s != current) {
          current = s;
          done[0] = done[1] = 0;
        }
        const Step& st = steps[s];
        const bool measure = now >= st.measure_start_ns && now < st.measure_end_ns;
        const double elapsed_s = static_cast<double>(now - st.warm_start_ns) / 1e9;
        const double rate = st.rate * share;
        // Catch up at most two slices' worth at once; anything beyond is recorded as lag (the tool fell behind).
        const auto max_burst = static_cast<uint64_t>(
            std::max(64.0, 2.0 * rate * static_cast<double>(cfg_.slice_ns) / 1e9));
        const bool enabled[2] = {cfg_.c2p, cfg_.p2c};
        for (int d = 0; d < 2; ++d) {
          if (!enabled[d]) continue;
          auto due = static_cast<uint64_t>(rate * elapsed_s);
          if (due <= done[d]) continue;
          uint64_t want = due - done[d];
          if (want > max_burst) {
            if (measure) counters_[s].dir[d].lag.Add(want - max_burst);
            done[d] += want - max_burst;
            want = max_burst;
          }
          if (d == 0) {
            SendC2p(want, s, measure, now);
          } else {
            SendP2c(want, s, measure, now);
          }
          done[d] += want;
        }
      }
      next_slice += cfg_.slice_ns;
      if (next_slice < now) next_slice = now + cfg_.slice_ns;
    }
    int n = Wait(next_slice - NowNs());
    now = NowNs();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events_[i].data.u64;
      if (tag >> 32) {
        ReceivePeer(static_cast<uint32_t>(tag), now, &steps);
      } else {
        ReceiveClient(allocs_[tag], now, &steps);
      }
    }
  }
}

}  // namespace tandem::bench
