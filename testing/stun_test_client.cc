#include "testing/stun_test_client.h"

#include <netinet/tcp.h>

#include <cstring>

#include "core/bytes.h"
#include "turn/channel_data.h"

namespace tandem::testing {
namespace {

bool WaitReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

}  // namespace

StunTestClient::StunTestClient(Transport transport, SocketAddress server, std::string user, std::string password)
    : transport_(transport), server_(server), user_(std::move(user)), password_(std::move(password)) {
  int family = server.ip().is_v6() ? AF_INET6 : AF_INET;
  fd_ = ::socket(family, transport == Transport::kUdp ? SOCK_DGRAM : SOCK_STREAM, 0);
  sockaddr_storage ss;
  socklen_t len = server.ToSockaddr(&ss);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

StunTestClient::~StunTestClient() {
  if (fd_ >= 0) ::close(fd_);
}

SocketAddress StunTestClient::local_address() const {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  return *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

void StunTestClient::SendRaw(ByteSpan bytes) { (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }

bool StunTestClient::ReceiveFrame(std::vector<uint8_t>& out, int timeout_ms) {
  if (transport_ == Transport::kUdp) {
    if (!WaitReadable(fd_, timeout_ms)) return false;
    out.resize(65536);
    ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
    if (n <= 0) return false;
    out.resize(static_cast<size_t>(n));
    return true;
  }
  // TCP: read until one STUN message or (padded) ChannelData frame is buffered.
  while (true) {
    if (stream_buffer_.size() >= 4) {
      size_t need;
      if ((stream_buffer_[0] & 0xc0) == 0) {
        need = 20 + LoadBe16(&stream_buffer_[2]);
      } else {
        need = 4 + ((LoadBe16(&stream_buffer_[2]) + 3) & ~size_t{3});
      }
      if (stream_buffer_.size() >= need) {
        out.assign(stream_buffer_.begin(), stream_buffer_.begin() + static_cast<long>(need));
        stream_buffer_.erase(stream_buffer_.begin(), stream_buffer_.begin() + static_cast<long>(need));
        return true;
      }
    }
    if (!WaitReadable(fd_, timeout_ms)) return false;
    uint8_t buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    stream_buffer_.insert(stream_buffer_.end(), buf, buf + n);
  }
}

std::optional<std::vector<uint8_t>> StunTestClient::ReceiveRaw(int timeout_ms) {
  std::vector<uint8_t> out;
  if (!ReceiveFrame(out, timeout_ms)) return std::nullopt;
  return out;
}

std::optional<StunTestClient::Response> StunTestClient::Request(stun::Method method,
                                                                const AttributeAdder& add_attributes,
                                                                int timeout_ms) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    uint8_t tid_bytes[12];
    rng_.Fill(tid_bytes);
    stun::TransactionId tid = stun::MakeTransactionId(std::span<const uint8_t, 12>(tid_bytes, 12));
    std::vector<uint8_t> buffer;
    stun::MessageBuilder b(buffer, method, stun::MessageClass::kRequest, tid);
    if (add_attributes) add_attributes(b);
    std::vector<uint8_t> key;
    if (!nonce_.empty()) {
      b.AddString(stun::attr::kUsername, user_);
      b.AddString(stun::attr::kRealm, realm_);
      b.AddString(stun::attr::kNonce, nonce_);
      key = stun::LongTermKey(user_, realm_, password_);
      b.AddMessageIntegrity(key);
    }
    b.AddFingerprint();
    ByteSpan message = b.Finish();
    SendRaw(message);
    // Wait for the response with this transaction id, skipping unrelated frames (Data indications etc.).
    std::vector<uint8_t> frame;
    bool retry = false;
    while (!retry && ReceiveFrame(frame, timeout_ms)) {
      auto view = stun::MessageView::Parse(frame);
      if (!view.ok() || view->transaction_id() != tid) continue;
      Response response{frame};
      uint16_t code = response.error_code();
      if ((code == stun::error::kUnauthorized && nonce_.empty()) || code == stun::error::kStaleNonce) {
        auto realm = view->GetString(stun::attr::kRealm);
        auto nonce = view->GetString(stun::attr::kNonce);
        if (realm && nonce && !user_.empty()) {
          realm_ = std::string(*realm);
          nonce_ = std::string(*nonce);
          retry = true;
          continue;
        }
      }
      return response;
    }
    if (!retry) return std::nullopt;
  }
  return std::nullopt;
}

std::optional<SocketAddress> StunTestClient::Allocate(uint32_t lifetime) {
  auto r = Request(stun::Method::kAllocate, [&](stun::MessageBuilder& b) {
    b.AddRequestedTransport(stun::kTransportUdp);
    if (lifetime) b.AddU32(stun::attr::kLifetime, lifetime);
  });
  if (!r || r->cls() != stun::MessageClass::kSuccessResponse) return std::nullopt;
  return r->view().GetXorAddress(stun::attr::kXorRelayedAddress);
}

bool StunTestClient::CreatePermission(const SocketAddress& peer) {
  auto r = Request(stun::Method::kCreatePermission,
                   [&](stun::MessageBuilder& b) { b.AddXorAddress(stun::attr::kXorPeerAddress, peer); });
  return r && r->cls() == stun::MessageClass::kSuccessResponse;
}

bool StunTestClient::ChannelBind(uint16_t channel, const SocketAddress& peer) {
  auto r = Request(stun::Method::kChannelBind, [&](stun::MessageBuilder& b) {
    b.AddChannelNumber(channel);
    b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
  });
  return r && r->cls() == stun::MessageClass::kSuccessResponse;
}

void StunTestClient::SendIndication(const SocketAddress& peer, ByteSpan data) {
  uint8_t tid_bytes[12];
  rng_.Fill(tid_bytes);
  std::vector<uint8_t> buffer;
  stun::MessageBuilder b(buffer, stun::Method::kSend, stun::MessageClass::kIndication,
                         stun::MakeTransactionId(std::span<const uint8_t, 12>(tid_bytes, 12)));
  b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
  b.AddBytes(stun::attr::kData, data);
  SendRaw(b.Finish());
}

void StunTestClient::SendChannelData(uint16_t channel, ByteSpan data) {
  std::vector<uint8_t> frame(4 + data.size());
  turn::WriteChannelDataHeader(frame.data(), channel, static_cast<uint16_t>(data.size()));
  std::memcpy(frame.data() + 4, data.data(), data.size());
  if (transport_ == Transport::kTcp) frame.resize((frame.size() + 3) & ~size_t{3}, 0);  // RFC 8656 §12.5
  SendRaw(frame);
}

UdpPeer::UdpPeer(const IpAddress& ip) {
  fd_ = ::socket(ip.is_v6() ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  sockaddr_storage ss;
  socklen_t len = SocketAddress(ip, 0).ToSockaddr(&ss);
  ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len);
}

UdpPeer::~UdpPeer() { ::close(fd_); }

SocketAddress UdpPeer::address() const {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  return *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

void UdpPeer::SendTo(const SocketAddress& to, ByteSpan data) {
  sockaddr_storage ss;
  socklen_t len = to.ToSockaddr(&ss);
  (void)!::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
}

std::optional<std::pair<SocketAddress, std::vector<uint8_t>>> UdpPeer::Receive(int timeout_ms) {
  if (!WaitReadable(fd_, timeout_ms)) return std::nullopt;
  std::vector<uint8_t> buf(65536);
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return std::make_pair(*SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len), std::move(buf));
}

}  // namespace tandem::testing
